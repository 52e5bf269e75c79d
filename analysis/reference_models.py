"""Tiny hand-built networks whose fixed points and eigenmodes are known exactly.

Every constructor returns an :class:`~analysis.model.RNNClassifier` (float64 by default),
so the analysis code sees the same interface as for a trained network. Used by the tests
of fixed points, linearization and everything downstream.

- :func:`linear_rnn`: ``F(s, x) = A s + B x``. One fixed point, ``s* = 0`` (when 1 is not
  an eigenvalue of ``A``), with ``J_rec = A`` everywhere, so the eigenvalues are ``A``'s.
- :func:`line_attractor_linear`: a linear RNN with eigenvalue exactly 1 along a chosen unit
  vector ``u``: every point ``t u`` is a fixed point, ``r1 = ±u``, and the input moves the
  state along the line.
- :func:`line_attractor_lstm`: a 2-unit PyTorch-equation LSTM with an exact, curved line
  attractor (forget gate saturated to exactly 1.0 in float64) whose points, tangent and
  spectrum are known in closed form; positive and negative "words" move it along the line.
- :func:`identity_rnn`: ``F(s, 0) = s``: every state is a fixed point; nothing may move.
- :func:`isolated_slow_point`: one stable fixed point at 0 with a slow mode ``λ1`` along
  ``e_0``: points with ``q < tol`` spread along it, yet there is no line.
- :func:`drifting_line`: no fixed point at all; a line of slow points (local minima of q)
  along ``e_0`` on which the state drifts at a known constant speed.
- :func:`saddle_line`: a line of fixed points (λ = 1 along it) with a larger, unstable
  eigenvalue off the line: the largest ``|λ|`` is not the integration mode.
- :func:`trained_like_net`: a small random network of any architecture scaled so that its
  zero-input dynamics are contracting with slow gates, like a trained sentiment network.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor, nn

from rnnscope.analysis.model import RNNClassifier


class LinearCell(nn.Module):
    """Linear recurrent cell ``F(s, x) = A s + B x + b`` with the interface of ``rnnscope.analysis.cells``.

    Parameters
    ----------
    A : array of shape (D, D)
    B : array of shape (D, E)
    b : array of shape (D,), optional
    """

    arch = "linear"

    def __init__(self, A, B, b=None):
        super().__init__()
        A = torch.as_tensor(np.asarray(A, dtype=np.float64))
        B = torch.as_tensor(np.asarray(B, dtype=np.float64))
        if A.ndim != 2 or A.shape[0] != A.shape[1] or B.ndim != 2 or B.shape[0] != A.shape[0]:
            raise ValueError(f"need A (D, D) and B (D, E); got {tuple(A.shape)} and {tuple(B.shape)}")
        self.weight_hh = nn.Parameter(A)
        self.weight_ih = nn.Parameter(B)
        self.bias = nn.Parameter(torch.zeros(A.shape[0], dtype=torch.float64) if b is None
                                 else torch.as_tensor(np.asarray(b, dtype=np.float64)))
        self.hidden_size = A.shape[0]
        self.input_size = B.shape[1]

    @property
    def state_size(self) -> int:
        return self.hidden_size

    def hidden(self, s: Tensor) -> Tensor:
        return s

    def step(self, s: Tensor, x: Tensor) -> Tensor:
        return s @ self.weight_hh.T + x @ self.weight_ih.T + self.bias

    def jacobians(self, s: Tensor, x: Tensor) -> tuple[Tensor, Tensor]:
        B = s.shape[0]
        return (self.weight_hh.expand(B, -1, -1).clone(), self.weight_ih.expand(B, -1, -1).clone())

    def sequence(self, x: Tensor, lengths: Tensor) -> Tensor:
        s = x.new_zeros(x.shape[0], self.hidden_size)
        lengths = lengths.to(x.device)
        for t in range(int(lengths.max())):
            s = torch.where((t < lengths).unsqueeze(-1), self.step(s, x[:, t]), s)
        return s


def _with_cell(cell: nn.Module, embedding: np.ndarray, readout: np.ndarray | None,
               dtype: torch.dtype) -> RNNClassifier:
    """An RNNClassifier around ``cell`` with the given embedding (V, E) and readout (H,)."""
    V, E = embedding.shape
    net = RNNClassifier("vrnn", V, E, cell.hidden_size)
    net.cell = cell
    net.arch = getattr(cell, "arch", "vrnn")
    with torch.no_grad():
        net.embedding.weight.copy_(torch.as_tensor(embedding))
        net.readout.weight.zero_()
        if readout is not None:
            net.readout.weight[0] = torch.as_tensor(np.asarray(readout, dtype=np.float64))
        net.readout.bias.zero_()
    return net.to(dtype)


def _word_embedding(E: int, vocab_size: int) -> np.ndarray:
    """Rows: <pad>=0, <unk>=0, then ``+e_0`` ("good"), ``-e_0`` ("bad"), ``e_1`` (neutral)...."""
    emb = np.zeros((vocab_size, E))
    if vocab_size > 2:
        emb[2, 0] = 1.0
    if vocab_size > 3:
        emb[3, 0] = -1.0
    for k in range(4, vocab_size):
        emb[k, (k - 3) % E] = 0.5
    return emb


def linear_rnn(A, B=None, *, vocab_size: int = 6, dtype: torch.dtype = torch.float64) -> RNNClassifier:
    """Linear RNN ``F(s, x) = A s + B x``.

    Parameters
    ----------
    A : array of shape (D, D)
    B : array of shape (D, E), optional
        Default: the first column of the identity (E = 1).
    vocab_size : int
        Token 2 embeds as ``+e_0``, token 3 as ``-e_0``.

    Returns
    -------
    RNNClassifier whose ``cell`` is a :class:`LinearCell`; its only fixed point is 0 (if
    1 is not an eigenvalue of ``A``) and its Jacobian is ``A`` everywhere.
    """
    A = np.asarray(A, dtype=np.float64)
    B = np.eye(A.shape[0], 1) if B is None else np.asarray(B, dtype=np.float64)
    return _with_cell(LinearCell(A, B), _word_embedding(B.shape[1], vocab_size), None, dtype)


def random_linear_rnn(D: int = 6, E: int = 2, *, spectral_radius: float = 0.9, seed: int = 0,
                      dtype: torch.dtype = torch.float64) -> RNNClassifier:
    """A linear RNN with a random non-normal ``A`` (complex eigenvalues included) scaled to
    the given spectral radius."""
    rng = np.random.default_rng(seed)
    A = rng.normal(size=(D, D))
    A *= spectral_radius / np.abs(np.linalg.eigvals(A)).max()
    return linear_rnn(A, rng.normal(size=(D, E)), dtype=dtype)


def line_attractor_linear(u=None, *, D: int = 4, other_eigvals=(0.5, -0.3, 0.1), seed: int = 0,
                          dtype: torch.dtype = torch.float64) -> tuple[RNNClassifier, np.ndarray]:
    """Linear RNN with a line of fixed points ``{t u}``: eigenvalue exactly 1 along ``u``.

    ``A = U diag(1, λ_2, ...) U⁻¹`` with ``u`` as the first column of ``U`` (the others random),
    ``B = u`` so the input moves the state along the line. ``I - A`` is exactly singular.

    Returns
    -------
    net : RNNClassifier
    u : ndarray of shape (D,), unit norm
    """
    rng = np.random.default_rng(seed)
    u = rng.normal(size=D) if u is None else np.asarray(u, dtype=np.float64)
    D = u.shape[0]
    u = u / np.linalg.norm(u)
    lam = np.array([1.0, *other_eigvals][:D])
    if lam.shape[0] < D:
        lam = np.concatenate([lam, np.linspace(0.4, 0.05, D - lam.shape[0])])
    U = np.column_stack([u, rng.normal(size=(D, D - 1))])
    A = U @ np.diag(lam) @ np.linalg.inv(U)
    return linear_rnn(A, u[:, None], dtype=dtype), u


def identity_rnn(D: int = 4, E: int = 2, *, seed: int = 0, dtype: torch.dtype = torch.float64) -> RNNClassifier:
    """``F(s, x) = s + B x``: with zero input every state is a fixed point (q = 0 exactly)."""
    B = np.random.default_rng(seed).normal(size=(D, E))
    return linear_rnn(np.eye(D), B, dtype=dtype)


def isolated_slow_point(lam1: float = 0.99, *, D: int = 4, dtype: torch.dtype = torch.float64) -> RNNClassifier:
    """``F(s, x) = A s + B x`` with ``A = diag(lam1, 0.5, 0.3, ...)``: the only fixed point is 0.

    Along ``e_0`` a point ``t e_0`` has ``q = ((1 − lam1) t)² / D``, so every ``|t| <
    sqrt(tol D) / (1 − lam1)`` passes ``q < tol``: the tolerance region is a short line.
    """
    lam = np.concatenate([[lam1], np.linspace(0.5, 0.1, D - 1)])
    return linear_rnn(np.diag(lam), dtype=dtype)


def drifting_line(speed: float = 1e-3, *, D: int = 3, dtype: torch.dtype = torch.float64) -> RNNClassifier:
    """``F(s, x) = A s + e_0 x + speed e_0`` with ``A = diag(1, 0.5, 0.3, ...)``: no fixed point.

    ``G = s − F(s, 0) = (−speed, 0.5 s_1, 0.7 s_2, ...)`` is smallest on the line
    ``{t e_0}``, where ``q = speed² / D`` and the gradient ``(I − A)ᵀ G`` vanishes: a line
    of slow points on which the state drifts by ``speed`` per token along ``e_0``.
    """
    lam = np.concatenate([[1.0], np.linspace(0.5, 0.3, D - 1)])
    b = np.zeros(D)
    b[0] = speed
    cell = LinearCell(np.diag(lam), np.eye(D, 1), b)
    return _with_cell(cell, _word_embedding(1, 6), np.eye(D)[0], dtype)


def saddle_line(lam_unstable: float = 1.2, *, D: int = 3, seed: int = 0,
                dtype: torch.dtype = torch.float64) -> tuple[RNNClassifier, np.ndarray, np.ndarray]:
    """A linear line attractor along ``u`` (λ = 1) with an unstable mode ``lam_unstable``
    along ``v`` off the line, and the rest contracting (0.5, ...).

    Returns ``(net, u, v)``; the readout is ``u`` (it sees the line), the input is ``u``.
    """
    rng = np.random.default_rng(seed)
    U = np.linalg.qr(rng.normal(size=(D, D)))[0]
    u, v = U[:, 0], U[:, 1]
    lam = np.concatenate([[1.0, lam_unstable], np.linspace(0.5, 0.1, D - 2)])
    A = U @ np.diag(lam) @ U.T
    cell = LinearCell(A, u[:, None])
    return _with_cell(cell, _word_embedding(1, 6), u, dtype), u, v


@dataclass
class LineAttractor:
    """A network with a known curve of fixed points ``point(t)``, t ∈ R.

    Attributes
    ----------
    net : RNNClassifier
    point : callable t -> ndarray (D,)
        The fixed point with coordinate ``t``.
    tangent : callable t -> ndarray (D,)
        Unit tangent of the curve at ``point(t)``; it is the right eigenvector of ``J_rec``
        with eigenvalue exactly 1.
    eigvals : ndarray of shape (D,)
        The spectrum of ``J_rec`` at every point of the curve, sorted by modulus, descending.
    on_curve : callable points (K, D) -> ndarray (K,)
        Distance of each point from the curve.
    """

    net: RNNClassifier
    point: Callable[[float], np.ndarray]
    tangent: Callable[[float], np.ndarray]
    eigvals: np.ndarray
    on_curve: Callable[[np.ndarray], np.ndarray]


def line_attractor_lstm(*, coupling: float = 1.5, gain: float = 1.0, vocab_size: int = 6,
                        dtype: torch.dtype = torch.float64) -> LineAttractor:
    """LSTM (PyTorch equations, H = 2, state ``[h0, h1, c0, c1]``) with an exact line attractor.

    Unit 0 integrates: forget bias 40 makes ``f0 = σ(40) = 1.0`` exactly in float64 (and
    float32), input and output gates are ``σ(0) = 1/2``, and ``g0 = tanh(gain · x_0)`` is
    zero at zero input, so ``c0' = c0``. Unit 1 is a fast follower: ``f1 = i1 = o1 = 1/2``,
    ``g1 = tanh(coupling · h0)``. At zero input the fixed points are exactly

    ``c0 = t,  h0 = tanh(t)/2,  c1 = tanh(coupling · h0),  h1 = tanh(c1)/2``

    for every real ``t``, and the Jacobian there has eigenvalues ``{1, 1/2, 0, 0}``: the
    curve's tangent with eigenvalue 1 (a perfect integrator), ``c1`` decaying by half per
    step, and two modes that are forgotten at once. Token 2 (``+e_0``) pushes ``c0`` up by
    ``tanh(gain)/2``, token 3 (``-e_0``) down: a two-word sentiment integrator.
    """
    H, E = 2, 2
    net = RNNClassifier("lstm", vocab_size, E, H)
    cell = net.cell
    with torch.no_grad():
        for p in cell.parameters():
            p.zero_()
        # rows: gate blocks i, f, g, o of size H
        cell.bias_ih_l0[H + 0] = 40.0           # f0 = 1 exactly
        cell.weight_ih_l0[2 * H + 0, 0] = gain  # g0 = tanh(gain x_0)
        cell.weight_hh_l0[2 * H + 1, 0] = coupling  # g1 = tanh(coupling h0)
    emb = _word_embedding(E, vocab_size)
    with torch.no_grad():
        net.embedding.weight.copy_(torch.as_tensor(emb))
        net.readout.weight.zero_()
        net.readout.weight[0, 0] = 1.0
        net.readout.bias.zero_()
    net = net.to(dtype)

    def point(t: float) -> np.ndarray:
        h0 = np.tanh(t) / 2
        c1 = np.tanh(coupling * h0)
        return np.array([h0, np.tanh(c1) / 2, t, c1])

    def tangent(t: float) -> np.ndarray:
        h0 = np.tanh(t) / 2
        dh0 = (1 - np.tanh(t) ** 2) / 2
        c1 = np.tanh(coupling * h0)
        dc1 = (1 - c1 ** 2) * coupling * dh0
        dh1 = (1 - np.tanh(c1) ** 2) / 2 * dc1
        v = np.array([dh0, dh1, 1.0, dc1])
        return v / np.linalg.norm(v)

    def on_curve(points: np.ndarray) -> np.ndarray:
        points = np.atleast_2d(points)
        return np.linalg.norm(points - np.stack([point(t) for t in points[:, 2]]), axis=1)

    return LineAttractor(net=net, point=point, tangent=tangent,
                         eigvals=np.array([1.0, 0.5, 0.0, 0.0]), on_curve=on_curve)


def trained_like_net(arch: str, *, hidden: int = 12, embed: int = 4, vocab_size: int = 30, seed: int = 0,
                     dtype: torch.dtype = torch.float64) -> RNNClassifier:
    """A random network that behaves like a trained sentiment network at small scale.

    Recurrent weights ``N(0, (0.8/√H)²)`` keep the zero-input map contracting; gated cells
    get "remember" biases (GRU update gate and LSTM forget gate +2, UGRNN update gate +2),
    so some modes are slow; embeddings are ``N(0, 1)``. Its visited states (``net.run``)
    relax to a few fixed points, which is what the finder tests need.
    """
    gen = torch.Generator().manual_seed(seed)
    net = RNNClassifier(arch, vocab_size, embed, hidden)
    H = hidden
    with torch.no_grad():
        for name, p in net.named_parameters():
            if name.startswith("cell.weight_hh"):
                p.copy_(torch.randn(p.shape, generator=gen) * 0.8 / H ** 0.5)
            elif name.startswith("cell.weight_ih"):
                p.copy_(torch.randn(p.shape, generator=gen) * 0.5)
            elif name.startswith("cell.bias"):
                p.copy_(torch.randn(p.shape, generator=gen) * 0.1)
            elif name == "embedding.weight":
                p.copy_(torch.randn(p.shape, generator=gen))
            else:
                p.copy_(torch.randn(p.shape, generator=gen) * 0.3)
        cell = net.cell
        if arch == "gru":
            cell.bias_ih_l0[H: 2 * H] += 2.0
        elif arch == "lstm":
            cell.bias_ih_l0[H: 2 * H] += 2.0
        elif arch == "ugrnn":
            cell.bias_l0[:H] += 2.0
        net.embedding.weight[0] = 0.0
    return net.to(dtype)
