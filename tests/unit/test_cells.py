"""Cells: the analysis step equals PyTorch's modules; analytic Jacobians equal jacrev."""
import pytest
import torch
from torch.func import jacrev, vmap

from rnnscope.analysis.cells import ARCHS, make_cell
from rnnscope.analysis.model import RNNClassifier, pad_batch

E, H, B = 5, 7, 4


@pytest.fixture(autouse=True)
def _float64_and_seed():
    """float64 for tight comparisons, restored afterwards so other modules are unaffected."""
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    torch.manual_seed(0)
    yield
    torch.set_default_dtype(previous)


def _randomize(cell):
    with torch.no_grad():
        for p in cell.parameters():
            p.normal_(0, 0.6)
    return cell


@pytest.mark.parametrize("arch", ["lstm", "gru", "vrnn"])
def test_step_equals_pytorch_cell(arch):
    cell = _randomize(make_cell(arch, E, H)).double()
    ref = {"lstm": torch.nn.LSTMCell, "gru": torch.nn.GRUCell, "vrnn": torch.nn.RNNCell}[arch](E, H).double()
    ref.load_state_dict({k.replace("_l0", ""): v for k, v in cell.state_dict().items()})
    s = torch.randn(B, cell.state_size)
    x = torch.randn(B, E)
    if arch == "lstm":
        h, c = ref(x, tuple(s.chunk(2, -1)))
        expected = torch.cat([h, c], -1)
    else:
        expected = ref(x, s)
    assert torch.allclose(cell.step(s, x), expected, atol=1e-12)


def test_ugrnn_equals_formula():
    cell = _randomize(make_cell("ugrnn", E, H)).double()
    h, x = torch.randn(B, H), torch.randn(B, E)
    A_u, A_c = cell.weight_ih_l0.chunk(2)
    W_u, W_c = cell.weight_hh_l0.chunk(2)
    b_u, b_c = cell.bias_l0.chunk(2)
    u = torch.sigmoid(x @ A_u.T + h @ W_u.T + b_u)
    c = torch.tanh(x @ A_c.T + h @ W_c.T + b_c)
    assert torch.allclose(cell.step(h, x), u * h + (1 - u) * c, atol=1e-12)


@pytest.mark.parametrize("arch", ARCHS)
def test_jacobians_match_jacrev(arch):
    cell = _randomize(make_cell(arch, E, H)).double()
    s, x = torch.randn(B, cell.state_size), torch.randn(B, E)
    j_rec, j_inp = cell.jacobians(s, x)
    f = lambda s1, x1: cell.step(s1[None], x1[None])[0]  # noqa: E731
    ref_rec = vmap(jacrev(f, argnums=0))(s, x)
    ref_inp = vmap(jacrev(f, argnums=1))(s, x)
    assert j_rec.shape == (B, cell.state_size, cell.state_size)
    assert j_inp.shape == (B, cell.state_size, E)
    assert torch.allclose(j_rec, ref_rec, atol=1e-10)
    assert torch.allclose(j_inp, ref_inp, atol=1e-10)


@pytest.mark.parametrize("arch", ARCHS)
def test_fused_sequence_equals_step_loop(arch):
    """The training path (fused kernels, packing) and the analysis path agree to 1e-6."""
    net = RNNClassifier(arch, 50, E, H).float()
    _randomize(net.cell)
    seqs = [torch.randint(2, 50, (n,)).numpy() for n in (9, 3, 1, 6)]
    tokens, lengths = pad_batch(seqs)
    fast = net(tokens, lengths)
    slow = net.final_logits(tokens, lengths)
    assert torch.allclose(fast, slow, atol=1e-6), (fast - slow).abs().max()


def test_lstm_readout_vector_has_zero_c_half():
    net = RNNClassifier("lstm", 20, E, H)
    r = net.readout_vector()
    assert r.shape == (2 * H,)
    assert torch.equal(r[:H], net.readout.weight[0].detach())
    assert torch.count_nonzero(r[H:]) == 0
