"""Recurrent cells with a flat-state step ``F(s, x) -> s'`` and analytic Jacobians.

Every cell exposes the same interface, following renn's ``cells`` module:

- ``state_size`` D: H for GRU, UGRNN and vanilla RNN; 2H for the LSTM, whose state is
  the concatenation ``s = [h; c]``.
- ``step(s, x)``: one update, batched: ``s`` of shape (B, D), ``x`` of shape (B, E).
- ``jacobians(s, x)``: ``J_rec = dF/ds`` of shape (B, D, D) and ``J_inp = dF/dx`` of
  shape (B, D, E), computed in closed form (tested against ``torch.func.jacrev``).
- ``hidden(s)``: the part of the state the readout sees, shape (B, H).
- ``sequence(x, lengths)``: the fast path used for training (cuDNN/oneDNN kernels for
  the PyTorch cells), returning the final hidden ``h`` (B, H).

GRU, LSTM and vanilla RNN subclass ``nn.GRU``/``nn.LSTM``/``nn.RNN`` so that their
parameters carry PyTorch's names (``weight_ih_l0``, ``weight_hh_l0``, ``bias_ih_l0``,
``bias_hh_l0``) and plain PyTorch checkpoints load unchanged; ``step`` re-implements
PyTorch's equations exactly (reset gate applied after the recurrent matmul for the GRU).
"""
from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.nn.utils.rnn import pack_padded_sequence

ARCHS = ("lstm", "gru", "ugrnn", "vrnn")


def _dsigmoid(y: Tensor) -> Tensor:
    """Derivative of the logistic function written in terms of its output ``y``."""
    return y * (1 - y)


def _dtanh(y: Tensor) -> Tensor:
    """Derivative of tanh written in terms of its output ``y``."""
    return 1 - y * y


def _scale_rows(d: Tensor, w: Tensor) -> Tensor:
    """``diag(d) @ w`` batched: ``d`` (B, n), ``w`` (n, m) -> (B, n, m)."""
    return d.unsqueeze(-1) * w


class _TorchCell:
    """Mixin for the cells backed by a PyTorch recurrent module (single layer, batch first)."""

    @property
    def state_size(self) -> int:
        return self.hidden_size

    def hidden(self, s: Tensor) -> Tensor:
        return s[..., : self.hidden_size]

    def sequence(self, x: Tensor, lengths: Tensor) -> Tensor:
        """Final hidden state after ``lengths`` tokens; ``x`` (B, T, E) -> (B, H)."""
        packed = pack_padded_sequence(x, lengths.cpu(), batch_first=True, enforce_sorted=False)
        _, last = self(packed)  # nn.RNN/GRU/LSTM.forward: the fused kernel
        if isinstance(last, tuple):  # LSTM returns (h_n, c_n)
            last = last[0]
        return last[-1]


class VanillaRNNCell(_TorchCell, nn.RNN):
    """Vanilla RNN, ``h' = tanh(W_ih x + b_ih + W_hh h + b_hh)`` (PyTorch ``nn.RNN``)."""

    arch = "vrnn"

    def __init__(self, input_size: int, hidden_size: int):
        super().__init__(input_size, hidden_size, nonlinearity="tanh", batch_first=True)

    def step(self, s: Tensor, x: Tensor) -> Tensor:
        return torch.tanh(x @ self.weight_ih_l0.T + self.bias_ih_l0 + s @ self.weight_hh_l0.T + self.bias_hh_l0)

    def jacobians(self, s: Tensor, x: Tensor) -> tuple[Tensor, Tensor]:
        d = _dtanh(self.step(s, x))
        return _scale_rows(d, self.weight_hh_l0), _scale_rows(d, self.weight_ih_l0)


class GRUCell(_TorchCell, nn.GRU):
    """GRU with PyTorch's equations (gate order r, z, n)::

        r = σ(W_ir x + b_ir + W_hr h + b_hr)
        z = σ(W_iz x + b_iz + W_hz h + b_hz)
        n = tanh(W_in x + b_in + r ⊙ (W_hn h + b_hn))
        h' = (1 − z) ⊙ n + z ⊙ h
    """

    arch = "gru"

    def __init__(self, input_size: int, hidden_size: int):
        super().__init__(input_size, hidden_size, batch_first=True)

    def _gates(self, s: Tensor, x: Tensor):
        gi = x @ self.weight_ih_l0.T + self.bias_ih_l0
        gh = s @ self.weight_hh_l0.T + self.bias_hh_l0
        i_r, i_z, i_n = gi.chunk(3, -1)
        h_r, h_z, h_n = gh.chunk(3, -1)
        r = torch.sigmoid(i_r + h_r)
        z = torch.sigmoid(i_z + h_z)
        n = torch.tanh(i_n + r * h_n)
        return r, z, n, h_n

    def step(self, s: Tensor, x: Tensor) -> Tensor:
        _, z, n, _ = self._gates(s, x)
        return (1 - z) * n + z * s

    def jacobians(self, s: Tensor, x: Tensor) -> tuple[Tensor, Tensor]:
        r, z, n, h_n = self._gates(s, x)
        W_r, W_z, W_n = self.weight_hh_l0.chunk(3, 0)
        U_r, U_z, U_n = self.weight_ih_l0.chunk(3, 0)
        dr, dz, dn = _dsigmoid(r), _dsigmoid(z), _dtanh(n)
        c_z = (s - n) * dz  # ∂h'/∂(z preactivation)
        c_n = (1 - z) * dn  # ∂h'/∂(n preactivation)
        c_r = c_n * h_n * dr  # ∂h'/∂(r preactivation)
        j_rec = _scale_rows(c_z, W_z) + _scale_rows(c_n * r, W_n) + _scale_rows(c_r, W_r)
        j_rec = j_rec + torch.diag_embed(z)
        j_inp = _scale_rows(c_z, U_z) + _scale_rows(c_n, U_n) + _scale_rows(c_r, U_r)
        return j_rec, j_inp


class LSTMCell(_TorchCell, nn.LSTM):
    """LSTM with PyTorch's equations (gate order i, f, g, o) on the state ``s = [h; c]``::

        c' = f ⊙ c + i ⊙ g,   h' = o ⊙ tanh(c')
    """

    arch = "lstm"

    def __init__(self, input_size: int, hidden_size: int):
        super().__init__(input_size, hidden_size, batch_first=True)

    @property
    def state_size(self) -> int:
        return 2 * self.hidden_size

    def _gates(self, s: Tensor, x: Tensor):
        h, c = s.chunk(2, -1)
        g_all = x @ self.weight_ih_l0.T + self.bias_ih_l0 + h @ self.weight_hh_l0.T + self.bias_hh_l0
        i, f, g, o = g_all.chunk(4, -1)
        i, f, g, o = torch.sigmoid(i), torch.sigmoid(f), torch.tanh(g), torch.sigmoid(o)
        c_new = f * c + i * g
        return i, f, g, o, c, c_new, torch.tanh(c_new)

    def step(self, s: Tensor, x: Tensor) -> Tensor:
        *_, o, _, c_new, tc = self._gates(s, x)
        return torch.cat([o * tc, c_new], -1)

    def jacobians(self, s: Tensor, x: Tensor) -> tuple[Tensor, Tensor]:
        i, f, g, o, c, c_new, tc = self._gates(s, x)
        H = self.hidden_size
        # ∂c'/∂(preactivations) and ∂h'/∂(o preactivation); ∂h'/∂c' = o ⊙ (1 − tanh² c')
        dc = torch.cat([g * _dsigmoid(i), c * _dsigmoid(f), i * _dtanh(g)], -1)  # (B, 3H) for i,f,g
        dh_dc = o * _dtanh(tc)
        dh_do = tc * _dsigmoid(o)

        def block(weight: Tensor) -> tuple[Tensor, Tensor]:
            w_i, w_f, w_g, w_o = weight.chunk(4, 0)
            w_ifg = torch.cat([w_i, w_f, w_g], 0)  # (3H, n)
            # ∂c'/∂input = Σ_gates diag(dc_gate) W_gate
            dcn = (dc.unsqueeze(-1) * w_ifg).reshape(-1, 3, H, weight.shape[1]).sum(1)
            dhn = dh_dc.unsqueeze(-1) * dcn + _scale_rows(dh_do, w_o)
            return dhn, dcn

        dh_dh, dc_dh = block(self.weight_hh_l0)
        dh_dx, dc_dx = block(self.weight_ih_l0)
        eye = torch.diag_embed(f)
        dc_dc = eye
        dh_dcprev = dh_dc.unsqueeze(-1) * eye
        j_rec = torch.cat([torch.cat([dh_dh, dh_dcprev], -1), torch.cat([dc_dh, dc_dc], -1)], -2)
        j_inp = torch.cat([dh_dx, dc_dx], -2)
        return j_rec, j_inp


class UGRNNCell(nn.Module):
    """Update-gate RNN (Collins et al. 2016)::

        u = σ(A_u x + W_u h + b_u),  c = tanh(A_c x + W_c h + b_c),  h' = u ⊙ h + (1 − u) ⊙ c

    Parameters (rows stacked in the order u, c, like PyTorch's gate stacking):
    ``weight_ih_l0`` = [A_u; A_c] (2H, E), ``weight_hh_l0`` = [W_u; W_c] (2H, H),
    ``bias_l0`` = [b_u; b_c] (2H,). The update-gate bias starts at +1 so that the
    initial network leans toward remembering.
    """

    arch = "ugrnn"

    def __init__(self, input_size: int, hidden_size: int):
        super().__init__()
        self.input_size, self.hidden_size = input_size, hidden_size
        k = hidden_size ** -0.5
        self.weight_ih_l0 = nn.Parameter(torch.empty(2 * hidden_size, input_size).uniform_(-k, k))
        self.weight_hh_l0 = nn.Parameter(torch.empty(2 * hidden_size, hidden_size).uniform_(-k, k))
        bias = torch.zeros(2 * hidden_size)
        bias[:hidden_size] = 1.0
        self.bias_l0 = nn.Parameter(bias)

    @property
    def state_size(self) -> int:
        return self.hidden_size

    def hidden(self, s: Tensor) -> Tensor:
        return s

    def _gates(self, s: Tensor, x: Tensor):
        pre = x @ self.weight_ih_l0.T + s @ self.weight_hh_l0.T + self.bias_l0
        p_u, p_c = pre.chunk(2, -1)
        return torch.sigmoid(p_u), torch.tanh(p_c)

    def step(self, s: Tensor, x: Tensor) -> Tensor:
        u, c = self._gates(s, x)
        return u * s + (1 - u) * c

    def jacobians(self, s: Tensor, x: Tensor) -> tuple[Tensor, Tensor]:
        u, c = self._gates(s, x)
        d_u = (s - c) * _dsigmoid(u)
        d_c = (1 - u) * _dtanh(c)
        W_u, W_c = self.weight_hh_l0.chunk(2, 0)
        A_u, A_c = self.weight_ih_l0.chunk(2, 0)
        j_rec = _scale_rows(d_u, W_u) + _scale_rows(d_c, W_c) + torch.diag_embed(u)
        j_inp = _scale_rows(d_u, A_u) + _scale_rows(d_c, A_c)
        return j_rec, j_inp

    def sequence(self, x: Tensor, lengths: Tensor) -> Tensor:
        """Final hidden state after ``lengths`` tokens; ``x`` (B, T, E) -> (B, H).

        The input projection is done for all steps at once; only the recurrent
        matmul runs in the Python loop.
        """
        B, T, _ = x.shape
        h = x.new_zeros(B, self.hidden_size)
        xin = x @ self.weight_ih_l0.T + self.bias_l0  # (B, T, 2H)
        W = self.weight_hh_l0.T
        lengths = lengths.to(x.device)
        for t in range(int(lengths.max())):
            p_u, p_c = (xin[:, t] + h @ W).chunk(2, -1)
            u = torch.sigmoid(p_u)
            h_new = u * h + (1 - u) * torch.tanh(p_c)
            h = torch.where((t < lengths).unsqueeze(-1), h_new, h)
        return h


CELLS: dict[str, type[nn.Module]] = {
    "lstm": LSTMCell,
    "gru": GRUCell,
    "ugrnn": UGRNNCell,
    "vrnn": VanillaRNNCell,
}


def make_cell(arch: str, input_size: int, hidden_size: int) -> nn.Module:
    """Build the cell named ``arch`` (one of :data:`ARCHS`)."""
    if arch not in CELLS:
        raise ValueError(f"unknown architecture {arch!r}; expected one of {', '.join(ARCHS)}")
    return CELLS[arch](input_size, hidden_size)
