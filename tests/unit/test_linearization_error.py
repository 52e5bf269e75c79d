"""Single-step linearization error and the linearized model, against closed forms."""
import numpy as np
import pytest
import torch

from rnnscope.analysis.linearization_error import (linearized_accuracy, linearized_step, nearest_fixed_point,
                                          one_step_errors, step_error_vectors, summarize_one_step)
from rnnscope.analysis.model import RNNClassifier
from rnnscope.analysis.states import collect_states


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
        # h_star is not a fixed point: the expansion keeps F(h*, 0), not h*
        f_star = net.step(h_star, torch.zeros_like(x))
        expected = f_star + (J_rec @ (h - h_star)[..., None])[..., 0] + (J_inp @ x[..., None])[..., 0]
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
    from rnnscope.analysis.reference_models import line_attractor_linear, random_linear_rnn

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


VARIANTS = ("rel_error", "rel_error_recurrent", "rel_error_input", "rel_error_previous")
ARCHS = ["gru", "lstm", "ugrnn", "vrnn"]


def _trained_like_steps(arch, n_docs=6, seed=0):
    """A float64 trained-like net, its visited states and (h, x) of every step."""
    from rnnscope.analysis.reference_models import trained_like_net

    net = trained_like_net(arch, seed=seed).eval()
    v = collect_states(net, _docs(n_docs, seed=seed, V=30))
    h = torch.as_tensor(v.previous(), dtype=torch.float64)
    with torch.no_grad():
        x = net.embedding(torch.as_tensor(v.token))
    return net, v, h, x


def _slow_points(net, v, n=5, seed=0):
    """Visited states pushed a few zero-input steps toward the attractor: F(p, 0) != p."""
    rng = np.random.default_rng(seed)
    p = torch.as_tensor(v.states[rng.choice(len(v), n, replace=False)], dtype=torch.float64)
    with torch.no_grad():
        for _ in range(3):
            p = net.step(p, torch.zeros(n, net.embed_dim, dtype=torch.float64))
    return p.numpy()


def test_linear_rnn_with_bias_every_variant_is_exact_away_from_fixed_points():
    # F(s, x) = A s + B x + b with b != 0 and "points" that are not fixed points
    # (F(p, 0) != p): every expansion of an affine map is exact, so all four variants are
    # round-off only, and the F(h*, 0) term is what makes it so.
    from rnnscope.analysis.reference_models import random_linear_rnn

    net = random_linear_rnn(D=6, E=2, spectral_radius=0.95, seed=0)
    rng = np.random.default_rng(0)
    with torch.no_grad():
        net.cell.bias.copy_(torch.as_tensor(rng.normal(size=6)))
    docs = [rng.integers(2, 6, size=12) for _ in range(20)]
    v = collect_states(net, docs)
    points = rng.normal(size=(4, 6)) * 3
    with torch.no_grad():
        P = torch.as_tensor(points)
        residual = torch.linalg.vector_norm(net.step(P, torch.zeros(4, 2, dtype=P.dtype)) - P, dim=1)
    assert residual.min() > 0.5  # really not fixed points
    err = one_step_errors(net, v, points)
    for key in VARIANTS:
        assert err[key].max() < 1e-12, key
    assert err["nearest_dist"].min() > 0.1
    # the old expansion at h* (without F(h*, 0) - h*) would be off by the residual
    h = torch.as_tensor(v.previous()[err["step"]], dtype=torch.float64)
    with torch.no_grad():
        x = net.embedding(torch.as_tensor(v.token[err["step"]]))
        h_star = P[err["nearest"]]
        f_next = net.step(h, x)
        old = h_star + (h - h_star) @ net.cell.weight_hh.T + x @ net.cell.weight_ih.T
    old_error = torch.linalg.vector_norm(f_next - old, dim=1) / torch.linalg.vector_norm(f_next, dim=1)
    assert np.median(old_error.numpy()) > 0.1
    np.testing.assert_allclose(err["step_norm"], torch.linalg.vector_norm(f_next - h, dim=1).numpy(), rtol=1e-6)
    res = linearized_accuracy(net, docs, np.zeros(20, np.int64), points)
    np.testing.assert_allclose(res["linearized_logit"], res["full_logit"], atol=1e-10)


@pytest.mark.parametrize("arch", ARCHS)
def test_error_is_recurrent_plus_input_part_as_vectors(arch):
    net, v, h, x = _trained_like_steps(arch)
    points = torch.as_tensor(_slow_points(net, v))
    h_star = points[nearest_fixed_point(h, points)]
    with torch.no_grad():
        vec = step_error_vectors(net, h, x, h_star)
        # e from the single-jvp linearized_step, e_rec and e_inp from the stacked jvp
        e = net.step(h, x) - linearized_step(net, h, x, h_star)
    torch.testing.assert_close(vec["e"], e, atol=1e-13, rtol=0)
    torch.testing.assert_close(vec["e_rec"] + vec["e_inp"], e, atol=1e-13, rtol=0)
    norm = torch.linalg.vector_norm
    assert norm(vec["e_rec"], dim=1).median() > 1e-4 and norm(vec["e_inp"], dim=1).median() > 1e-4  # both parts present


def _independent_errors(net, h, x, h_star):
    """All four error vectors per step from explicit float64 Jacobians (torch.func.jacrev)."""
    from torch.func import jacrev

    def F(s, u):
        return net.step(s[None], u[None])[0]

    out = {k: [] for k in ("e", "e_rec", "e_inp", "e_prev")}
    zero = torch.zeros(net.embed_dim, dtype=torch.float64)
    for hi, xi, pi in zip(h, x, h_star):
        J_rec_star, J_inp_star = jacrev(F, argnums=(0, 1))(pi, zero)
        J_inp_prev = jacrev(F, argnums=1)(hi, zero)
        f_next, f_zero, f_star = F(hi, xi), F(hi, zero), F(pi, zero)
        out["e"].append(f_next - (f_star + J_rec_star @ (hi - pi) + J_inp_star @ xi))
        out["e_rec"].append(f_zero - (f_star + J_rec_star @ (hi - pi)))
        out["e_inp"].append(f_next - f_zero - J_inp_star @ xi)
        out["e_prev"].append(f_next - (f_zero + J_inp_prev @ xi))
    return {k: torch.stack(vs).detach() for k, vs in out.items()}


@pytest.mark.parametrize("arch", ARCHS)
def test_variants_match_explicit_jacobians_in_float64(arch):
    net, v, h, x = _trained_like_steps(arch)
    points = _slow_points(net, v)
    err = one_step_errors(net, v, points, n_samples=8, seed=1)
    sel = err["step"]
    P = torch.as_tensor(points)
    h_star = P[err["nearest"]]
    with torch.no_grad():
        got = step_error_vectors(net, h[sel], x[sel], h_star)
    ref = _independent_errors(net, h[sel], x[sel], h_star)
    for key in ref:
        torch.testing.assert_close(got[key], ref[key], atol=1e-10, rtol=1e-10, msg=key)
    f_norm = torch.linalg.vector_norm(net.step(h[sel], x[sel]), dim=1).detach()
    for key, e in zip(VARIANTS, ("e", "e_rec", "e_inp", "e_prev")):
        expected = (torch.linalg.vector_norm(ref[e], dim=1) / f_norm).numpy()
        assert np.abs(expected).max() > 1e-6  # a nonlinear net: non-trivial errors
        np.testing.assert_allclose(err[key], expected, rtol=1e-5, atol=1e-9, err_msg=key)  # float32 arrays
    np.testing.assert_allclose(err["nearest_dist"], torch.linalg.vector_norm(h[sel] - h_star, dim=1).numpy(), rtol=1e-6)
    np.testing.assert_allclose(err["step_norm"],
                               torch.linalg.vector_norm(net.step(h[sel], x[sel]) - h[sel], dim=1).detach().numpy(),
                               rtol=1e-6)


@pytest.mark.parametrize("arch", ARCHS)
def test_at_the_point_itself_only_the_input_part_remains(arch):
    # h* = h: e_rec = 0, e = e_inp, and the expansion is the previous-state one (ICML 2020)
    net, v, h, x = _trained_like_steps(arch)
    err = one_step_errors(net, v, v.previous().astype(np.float64))
    assert np.all(err["nearest_dist"] == 0)
    assert err["rel_error_recurrent"].max() < 1e-13
    assert np.median(err["rel_error"]) > 1e-4
    np.testing.assert_allclose(err["rel_error"], err["rel_error_input"], rtol=1e-6, atol=1e-12)
    np.testing.assert_allclose(err["rel_error_previous"], err["rel_error"], rtol=1e-6, atol=1e-12)


def test_zero_next_state_gives_nan_in_every_variant_and_summary_skips_it():
    from rnnscope.analysis.reference_models import random_linear_rnn

    net = random_linear_rnn(D=4, E=2, seed=0)  # no bias; token 1 embeds as 0
    v = collect_states(net, [np.array([1, 2, 3]), np.array([2, 3])])
    err = one_step_errors(net, v, np.ones((1, 4)))
    first = v.position == 0
    zero = first & (v.token == 1)  # F(0, 0) = 0
    for key in VARIANTS:
        assert np.isnan(err[key][zero]).all() and np.isfinite(err[key][~zero]).all(), key
    assert err["step_norm"][zero] == 0
    s = summarize_one_step(err)
    assert s["n_steps"] == len(v) == 5 and s["n_undefined"] == 1
    assert s["rel_error_median"] == pytest.approx(float(np.median(err["rel_error"][~zero])))
    assert np.isfinite(s["nearest_dist_in_steps_median"])


def test_summarize_one_step_known_values():
    err = {"rel_error": np.array([0.1, 0.2, 0.3, np.nan], np.float32),
           "rel_error_recurrent": np.array([0.0, 1.0, 2.0, np.nan]),
           "rel_error_input": np.array([1.0, 1.0, 1.0, np.nan]),
           "rel_error_previous": np.array([0.5, 0.5, 0.5, np.nan]),
           "nearest_dist": np.array([1.0, 2.0, 3.0, 4.0]), "step_norm": np.array([0.5, 1.0, 0.0, 2.0])}
    s = summarize_one_step(err)
    assert s["rel_error_median"] == pytest.approx(0.2)
    assert s["rel_error_p90"] == pytest.approx(0.28)
    assert s["rel_error_recurrent_median"] == 1.0 and s["rel_error_recurrent_p90"] == pytest.approx(1.8)
    assert s["rel_error_input_median"] == 1.0 and s["rel_error_previous_p90"] == 0.5
    assert s["nearest_dist_median"] == 2.5 and s["step_norm_median"] == 0.75
    assert s["nearest_dist_in_steps_median"] == 2.0  # ratios 2, 2, 2 (step_norm 0 left out)
    assert s["nearest_dist_over_median_step"] == pytest.approx(2.5 / 0.75)
    assert s["n_steps"] == 4 and s["n_undefined"] == 1
    net = _tanh_net(0.5)
    empty = summarize_one_step(one_step_errors(net, collect_states(net, _docs()), np.zeros((0, 6))))
    assert empty["rel_error_median"] is None and empty["nearest_dist_over_median_step"] is None
    assert empty["n_steps"] == 0


def test_all_keys_are_labelled_float32_of_one_length():
    net = _tanh_net(0.5)
    v = collect_states(net, _docs())
    err = one_step_errors(net, v, np.zeros((2, 6)), n_samples=25)
    for key in (*VARIANTS, "nearest_dist", "step_norm"):
        assert err[key].dtype == np.float32 and err[key].shape == (25,), key
    assert err["nearest"].dtype == np.int64 and err["step"].dtype == np.int64
    empty = one_step_errors(net, v, np.zeros((0, 6)))
    assert set(empty) == set(err) and all(a.shape == (0,) for a in empty.values())
