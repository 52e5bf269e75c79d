"""Single-step linearization error and the linearized model, against closed forms."""
import numpy as np
import pytest
import torch

from analysis.linearization_error import (linearized_accuracy, linearized_step, nearest_fixed_point,
                                          one_step_errors)
from analysis.model import RNNClassifier
from analysis.states import collect_states


def _tanh_net(scale, seed=0, H=6, E=4, V=40):
    """Vanilla tanh RNN with zero biases, so h* = 0 is a fixed point; weights times ``scale``."""
    torch.manual_seed(seed)
    net = RNNClassifier("vrnn", V, E, H).eval()
    with torch.no_grad():
        for name, p in net.cell.named_parameters():
            p.copy_(torch.zeros_like(p) if "bias" in name else scale * torch.randn_like(p) / np.sqrt(H))
        net.embedding.weight[1:] = torch.randn(V - 1, E)
    return net


def _docs(n=30, seed=0, V=40):
    rng = np.random.default_rng(seed)
    return [rng.integers(2, V, size=rng.integers(3, 15)) for _ in range(n)]


@pytest.mark.parametrize("arch", ["gru", "lstm", "ugrnn", "vrnn"])
def test_linearized_step_equals_explicit_jacobians(arch):
    torch.manual_seed(0)
    net = RNNClassifier(arch, 20, 5, 4).eval()
    D = net.state_size
    h, h_star, x = torch.randn(3, D), 0.3 * torch.randn(3, D), torch.randn(3, 5)
    with torch.no_grad():
        J_rec, J_inp = net.jacobians(h_star)
        expected = h_star + (J_rec @ (h - h_star)[..., None])[..., 0] + (J_inp @ x[..., None])[..., 0]
        torch.testing.assert_close(linearized_step(net, h, x, h_star), expected, atol=1e-5, rtol=1e-5)


def test_linearized_step_is_safe_from_many_threads():
    """The dashboard serves sentences from a thread pool; forward-mode AD levels are global."""
    from concurrent.futures import ThreadPoolExecutor

    torch.manual_seed(0)
    net = RNNClassifier("gru", 20, 5, 16).eval()
    h, h_star, x = torch.randn(64, 16), 0.3 * torch.randn(64, 16), torch.randn(64, 5)
    expected = linearized_step(net, h, x, h_star)
    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(lambda _: linearized_step(net, h, x, h_star), range(400)))
    for got in results:
        torch.testing.assert_close(got, expected)


@pytest.mark.parametrize("scale", [0.05, 0.5, 2.0])
def test_one_step_error_matches_closed_form_for_tanh(scale):
    # At h* = 0: F(h, x) = tanh(z), the linearization is z = W h + U x, so the error is
    # ||tanh z - z|| / ||tanh z|| exactly.
    net = _tanh_net(scale)
    v = collect_states(net, _docs())
    err = one_step_errors(net, v, np.zeros((1, net.state_size), np.float32), n_samples=10_000)
    assert len(err["rel_error"]) == len(v)  # every step sampled when there are fewer
    h = torch.as_tensor(v.previous()[err["step"]])
    with torch.no_grad():
        z = net.cell.weight_hh_l0 @ h.T + net.cell.weight_ih_l0 @ net.embedding(torch.as_tensor(v.token[err["step"]])).T
        z = z.T.double()
    expected = (torch.linalg.norm(torch.tanh(z) - z, dim=1) / torch.linalg.norm(torch.tanh(z), dim=1)).numpy()
    np.testing.assert_allclose(err["rel_error"], expected, rtol=2e-3, atol=1e-6)
    np.testing.assert_allclose(err["nearest_dist"], np.linalg.norm(h.numpy(), axis=1), rtol=1e-5)


def test_error_grows_with_nonlinearity():
    medians = []
    for scale in (0.02, 0.2, 1.0, 3.0):
        net = _tanh_net(scale)
        with torch.no_grad():
            net.embedding.weight.mul_(scale)  # small inputs too: the tanh stays near its linear range
        v = collect_states(net, _docs())
        medians.append(np.median(one_step_errors(net, v, np.zeros((1, net.state_size)))["rel_error"]))
    assert medians[0] < 1e-3
    assert all(a < b for a, b in zip(medians, medians[1:]))


def test_nearest_fixed_point_and_sampling():
    points = torch.tensor([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0]])
    states = torch.tensor([[1.0, 1.0], [9.0, -1.0], [2.0, 7.0], [5.1, 0.0]])
    assert nearest_fixed_point(states, points, chunk=3).tolist() == [0, 1, 2, 1]
    net = _tanh_net(0.5)
    v = collect_states(net, _docs())
    a = one_step_errors(net, v, np.zeros((1, 6)), n_samples=20, seed=3)
    b = one_step_errors(net, v, np.zeros((1, 6)), n_samples=20, seed=3)
    assert len(a["step"]) == 20 == len(set(a["step"].tolist()))
    np.testing.assert_array_equal(a["rel_error"], b["rel_error"])
    empty = one_step_errors(net, v, np.zeros((0, 6)))
    assert empty["rel_error"].shape == (0,)


def test_linearized_model_tracks_a_nearly_linear_network():
    net = _tanh_net(0.05)
    with torch.no_grad():
        net.embedding.weight.mul_(0.01)
        net.readout.weight.normal_()
        net.readout.bias.zero_()
    docs = _docs(60)
    labels = np.random.default_rng(0).integers(0, 2, 60)
    res = linearized_accuracy(net, docs, labels, np.zeros((1, 6), np.float32), batch_size=16)
    assert res["n_docs"] == 60 and res["n_diverged"] == 0
    np.testing.assert_allclose(res["linearized_logit"], res["full_logit"], rtol=1e-3, atol=1e-7)
    assert res["agreement"] == 1.0
    assert res["accuracy"] == res["full_accuracy"]


def test_linearized_model_diverges_cleanly_when_unstable():
    # a linearization with |lambda| >> 1 blows up over long documents: counted wrong, no crash
    net = _tanh_net(40.0)
    docs = [np.full(400, 5)] * 4
    res = linearized_accuracy(net, docs, np.array([1, 0, 1, 0]), np.zeros((1, 6), np.float32))
    assert res["n_docs"] == 4
    assert 0.0 <= res["accuracy"] <= 1.0
    with pytest.raises(ValueError, match="at least one fixed point"):
        linearized_accuracy(net, docs, np.zeros(4), np.zeros((0, 6)))


def test_linear_rnn_is_its_own_linearization():
    # F(s, x) = A s + B x: the linearization at the fixed point 0 is exact, at any distance
    from analysis.reference_models import line_attractor_linear, random_linear_rnn

    net = random_linear_rnn(D=6, E=2, spectral_radius=0.95, seed=0)
    docs = [np.random.default_rng(i).integers(2, 6, size=12) for i in range(20)]
    v = collect_states(net, docs)
    err = one_step_errors(net, v, np.zeros((1, 6)))
    # float64 round-off only (relative to |F|, which can be small by cancellation)
    assert np.median(err["rel_error"]) < 1e-14 and err["rel_error"].max() < 1e-6
    assert err["nearest_dist"].max() > 0.1  # far from h*, still exact
    res = linearized_accuracy(net, docs, np.zeros(20, np.int64), np.zeros((1, 6)))
    np.testing.assert_allclose(res["linearized_logit"], res["full_logit"], atol=1e-12)
    # a line of fixed points: any point on it linearizes the net exactly too
    net, u = line_attractor_linear(D=4, seed=1)
    v = collect_states(net, docs)
    line = np.outer(np.linspace(-3, 3, 7), u)
    line_err = one_step_errors(net, v, line)["rel_error"]
    assert np.median(line_err) < 1e-14 and line_err.max() < 1e-6
