"""The per-token readout split of ``rnnscope.analysis.sentence`` against answers worked out by hand."""
import numpy as np
import pytest
import torch

from rnnscope.analysis.model import Model, RNNClassifier
from rnnscope.analysis.reference_models import _with_cell
from rnnscope.analysis.sentence import drift_after, readout_account, readout_steps, trace_sentence
from rnnscope.analysis.tokenizer import Tokenizer, Vocab


class LinearNet:
    """h' = A h + B x, by hand: the readout changes are closed forms."""

    def __init__(self, A, B):
        self.A, self.B = torch.as_tensor(A, dtype=torch.float64), torch.as_tensor(B, dtype=torch.float64)
        self.embed_dim = self.B.shape[1]

    def step(self, s, x):
        return s @ self.A.T + x @ self.B.T

    def run(self, start, xs):
        out, s = [], torch.as_tensor(start, dtype=torch.float64)
        for x in torch.as_tensor(xs, dtype=torch.float64):
            s = self.step(s[None], x[None])[0]
            out.append(s)
        return torch.stack(out)


def test_linear_network_worked_by_hand():
    # A halves the first coordinate and keeps the second; w = (1, 1), b = 0.5
    net = LinearNet(np.diag([0.5, 1.0]), np.eye(2))
    xs = [[2.0, 0.0], [0.0, -1.0], [0.0, 0.0]]
    states = net.run([0.0, 0.0], xs)          # (2, 0), (1, -1), (0.5, -1)
    steps = readout_steps(net, torch.zeros(2, dtype=torch.float64), states, [1.0, 1.0], 0.5)
    assert steps.start_logit == 0.5
    np.testing.assert_allclose(steps.logit, [2.5, 0.5, 0.0])
    np.testing.assert_allclose(steps.push, [2.0, -1.0, 0.0])     # w·B x_t
    np.testing.assert_allclose(steps.drift, [0.0, -1.0, -0.5])   # w·(A − I) s_{t−1}
    np.testing.assert_allclose(steps.drift_states, [[0, 0], [1, 0], [0.5, -1]])
    acc = steps.account(top=2)
    assert acc["top_push"] == [0, 1] and acc["top_drift"] == [1, 2]
    assert (acc["total_push"], acc["total_drift"], acc["final"]) == (1.0, -1.5, 0.0)
    assert acc["largest"] == 0 and acc["drift_after_largest"] == -1.5
    assert acc["residual"] == 0.0


def test_a_line_attractor_keeps_every_push_and_a_leaky_one_loses_a_known_share():
    xs = [[2.0], [0.0], [0.0], [0.0]]  # one push, then three tokens of zero input
    kept = LinearNet([[1.0]], [[1.0]])
    steps = readout_steps(kept, torch.zeros(1, dtype=torch.float64), kept.run([0.0], xs), [1.0], 0.0)
    np.testing.assert_array_equal(steps.drift, 0.0)
    np.testing.assert_allclose(steps.logit, 2.0)
    leaky = LinearNet([[0.5]], [[1.0]])
    steps = readout_steps(leaky, torch.zeros(1, dtype=torch.float64), leaky.run([0.0], xs), [1.0], 0.0)
    # λ = 0.5: after three steps 0.5³ of the push is left, so 2 (1 − 1/8) = 1.75 decayed
    assert steps.account()["drift_after_largest"] == pytest.approx(-1.75)
    np.testing.assert_allclose(drift_after(steps.drift), [-1.75, -0.75, -0.25, 0.0])


def test_memoryless_tanh_network_loses_everything_in_one_step():
    """W_hh = 0 and zero biases: F(h, 0) = 0, so each step's drift is ℓ(0) − ℓ(h_{t−1}) (all
    earlier evidence gone) and each push is w·tanh(W_ih x_t) + b − ℓ(0) = w·tanh(W_ih x_t)."""
    torch.manual_seed(0)
    net = RNNClassifier("vrnn", 30, 4, 5).eval()
    with torch.no_grad():
        net.cell.weight_hh_l0.zero_()
        net.cell.bias_hh_l0.zero_()
        net.cell.bias_ih_l0.zero_()
        net.readout.bias.fill_(0.3)
    ids = torch.tensor([[3, 7, 11, 2]])
    with torch.no_grad():
        states = net.run(ids)[0]
        x = net.embedding(ids)[0]
    w = net.readout_vector().double().numpy()
    steps = readout_steps(net, net.initial_state(1), states, w, 0.3)
    expected_push = np.tanh(x.double().numpy() @ net.cell.weight_ih_l0.detach().double().numpy().T) @ w
    np.testing.assert_allclose(steps.push, expected_push, rtol=1e-5, atol=1e-6)
    prev_logit = np.r_[0.3, steps.logit[:-1]]
    np.testing.assert_allclose(steps.drift, 0.3 - prev_logit, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("arch,classes", [("gru", 1), ("lstm", 2), ("ugrnn", 1)])
def test_real_networks_split_the_readout_change_exactly(arch, classes):
    torch.manual_seed(1)
    net = RNNClassifier(arch, 40, 6, 5, num_classes=classes).eval()
    ids = torch.randint(2, 40, (1, 9))
    with torch.no_grad():
        states = net.run(ids)[0]
        logits = net.logits_from_state(states)
        x = net.embedding(ids)[0]
        prev = torch.cat([net.initial_state(1), states[:-1]])
        zero_step = net.step(prev, torch.zeros_like(x))
    binary = (logits[:, 0] if classes == 1 else logits[:, 1] - logits[:, 0]).double().numpy()
    b = net.readout.bias.detach()
    bias = float(b[0] if classes == 1 else b[1] - b[0])
    steps = readout_steps(net, net.initial_state(1), states, net.readout_vector(), bias)
    np.testing.assert_allclose(steps.logit, binary, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(steps.drift_states, zero_step.double().numpy(), rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(np.diff(np.r_[steps.start_logit, steps.logit]), steps.push + steps.drift,
                               atol=1e-12)
    assert abs(steps.account()["residual"]) < 1e-12


def test_account_of_no_tokens_and_of_ties():
    empty = readout_account(0.2, [], [], [])
    assert empty["final"] == 0.2 and empty["largest"] is None and empty["top_push"] == []
    acc = readout_account(0.0, [1.0, 0.0, 1.0], [1.0, -1.0, 1.0], [0.0, 0.0, 0.0])
    assert acc["top_push"] == [0, 1, 2]  # equal |push|: in reading order


class NegatorCell(torch.nn.Module):
    """State (v, n): v counts valence, n remembers a "not" for one token, which flips the
    next token's valence: F((v, n), x) = (v + (1 − 2n) x_0, x_1). With zero input every
    (v, 0) is a fixed point; there J_rec = diag(1, 0) and J_inp = I."""

    arch = "linear"
    hidden_size = input_size = state_size = 2

    def hidden(self, s):
        return s

    def step(self, s, x):
        return torch.stack([s[:, 0] + (1 - 2 * s[:, 1]) * x[:, 0], x[:, 1]], dim=1)

    def jacobians(self, s, x):
        zero, one = torch.zeros_like(s[:, 0]), torch.ones_like(s[:, 0])
        j_rec = torch.stack([torch.stack([one, -2 * x[:, 0]], 1), torch.stack([zero, zero], 1)], 1)
        j_inp = torch.stack([torch.stack([1 - 2 * s[:, 1], zero], 1), torch.stack([zero, one], 1)], 1)
        return j_rec, j_inp


def negator_model():
    net = _with_cell(NegatorCell(), np.array([[0, 0], [0, 0], [1.0, 0], [0, 1.0]]), np.array([1.0, 0.0]),
                     torch.float64)
    return Model(net=net.eval(), vocab=Vocab(["<pad>", "<unk>", "good", "not"]), tokenizer=Tokenizer())


def test_the_linear_integrator_push_matches_on_the_line_and_misses_a_negator():
    """On the line of fixed points "good" adds +1 to the readout, as the linear integrator
    along r1 = ℓ1 = e_0 says; after "not" the network adds −1 while the integrator still
    says +1 (the integrator cannot see context)."""
    line = np.array([[-1.0, 0.0], [0.0, 0.0], [1.0, 0.0]])
    arrays = {"fixed_points": line, "mode_coef": np.tile([1.0, 0.0], (3, 1)), "r1": np.tile([1.0, 0.0], (3, 1)),
              "readout": np.array([1.0, 0.0]), "state_pca_components": np.eye(2), "state_pca_mean": np.zeros(2)}
    model = negator_model()
    good = trace_sentence(model, arrays, "good good")
    np.testing.assert_allclose(good.push, [1.0, 1.0])
    np.testing.assert_allclose(good.linear_push, good.push)
    negated = trace_sentence(model, arrays, "not good good")
    np.testing.assert_allclose(negated.push, [0.0, -1.0, 1.0])  # "not" flips the next token only
    np.testing.assert_allclose(negated.linear_push, [0.0, 1.0, 1.0])
    assert np.isnan(trace_sentence(model, {**arrays, "fixed_points": np.zeros((0, 2)), "mode_coef": np.zeros((0, 2)),
                                           "r1": np.zeros((0, 2))}, "good").linear_push).all()
