r"""Linearization of the dynamics around fixed points (paper §4.3-4.5).

Around a fixed point ``s*`` with input ``x* = 0``

.. math::  s_t - s^* \approx J^{rec} (s_{t-1} - s^*) + J^{inp} x_t,
           \qquad J^{rec} = \partial F/\partial s,\; J^{inp} = \partial F/\partial x,

and with the eigendecomposition ``J_rec = R Λ L``, ``L = R⁻¹``, the effect of an input
``k`` steps before the end is ``Σ_a λ_a^k r_a ℓ_aᵀ J_inp x``. Conventions:

- eigenvalues sorted by modulus, descending (ties: larger imaginary part first);
- right eigenvectors ``r_a`` (columns of ``R``) have unit Euclidean norm;
- left eigenvectors ``ℓ_a`` are the rows of ``R⁻¹`` -- *not* eigenvectors of ``J_recᵀ``
  normalized on their own -- so that ``ℓ_aᵀ r_b = δ_ab`` (plain transpose, no conjugate);
- time constants ``τ_a = |1 / ln|λ_a||`` in tokens (``inf`` for ``|λ| = 1``, 0 for ``λ = 0``).

For many points only the top ``n_modes`` eigenvectors are kept (a full ``R`` for 500 points
of a 512-dimensional LSTM state is 2 GB of complex numbers); the left ones come from one
LU solve ``Rᵀ ℓ_a = e_a`` per point rather than a full inverse. :func:`eigenmodes_at` gives
the full decomposition at one point (what the dashboard inspects).

Memory: the points go through the Jacobians and the eigensolver in chunks that fit the
``memory_budget`` (bytes, default 2 GiB): ``8 D (7 D + 2 E)`` bytes a point for
:func:`linearize` (56 MiB at D = 1,024), ``32 D (D + E)`` for :func:`jacobians_at`
(:mod:`rnnscope.analysis.memory_budget` says what they count). The chunks' temporaries live on
the net's device; the returned arrays (host memory) come on top.
"""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from rnnscope.analysis.fixed_point_residual import as_tensor, cell_copy, constant_input, net_device
from rnnscope.analysis.memory_budget import DEFAULT_MEMORY_BUDGET, jacobian_bytes, linearize_bytes, rows_within


@dataclass
class Linearization:
    """Top eigenmodes of ``J_rec`` at K points.

    Attributes
    ----------
    points : ndarray of shape (K, D)
    eigvals : ndarray of shape (K, D), complex128
        All eigenvalues, sorted by modulus, descending.
    tau : ndarray of shape (K, D)
        Time constants ``|1/ln|λ||`` in tokens.
    right : ndarray of shape (K, D, n_modes), complex128
        Unit-norm right eigenvectors ``r_a`` (columns) of the top modes.
    left : ndarray of shape (K, n_modes, D), complex128
        Left eigenvectors ``ℓ_a`` (rows of ``R⁻¹``), ``ℓ_aᵀ r_b = δ_ab``.
    left_inp : ndarray of shape (K, n_modes, E), complex128
        ``ℓ_aᵀ J_inp``: the input projection of any embedding ``x`` onto mode ``a`` is
        ``left_inp[k, a] @ x`` (one matrix product for a whole vocabulary).
    n_modes : int
    """

    points: np.ndarray
    eigvals: np.ndarray
    tau: np.ndarray
    right: np.ndarray
    left: np.ndarray
    left_inp: np.ndarray
    n_modes: int

    def input_projection(self, embeddings, mode: int = 0) -> np.ndarray:
        """``ℓ_aᵀ J_inp x`` for every point and embedding: (K, W) complex, from ``(W, E)``."""
        return self.left_inp[:, mode] @ np.asarray(embeddings).T


@dataclass
class Eigenmodes:
    """Full linearization at one point.

    Attributes
    ----------
    point : ndarray of shape (D,)
    eigvals : ndarray of shape (D,), complex128, sorted by modulus, descending
    tau : ndarray of shape (D,)
    right : ndarray of shape (D, D), complex128: unit-norm columns ``r_a``
    left : ndarray of shape (D, D), complex128: ``R⁻¹``, rows ``ℓ_a``
    j_rec : ndarray of shape (D, D)
    j_inp : ndarray of shape (D, E)
    """

    point: np.ndarray
    eigvals: np.ndarray
    tau: np.ndarray
    right: np.ndarray
    left: np.ndarray
    j_rec: np.ndarray
    j_inp: np.ndarray


def time_constants(eigvals) -> np.ndarray:
    """``τ = |1 / ln|λ||`` in tokens, elementwise (``inf`` where ``|λ| = 1``, 0 where ``λ = 0``)."""
    mod = np.abs(np.asarray(eigvals))
    with np.errstate(divide="ignore"):
        return np.abs(1.0 / np.log(mod))


def _iter_jacobians(net, points, x, chunk: int) -> Iterator[tuple[slice, Tensor, Tensor]]:
    """Yield ``(rows, J_rec (c, D, D), J_inp (c, D, E))`` in float64 over chunks of ``chunk`` points."""
    device = net_device(net)
    cell = cell_copy(net, torch.float64, device)
    P = as_tensor(points, torch.float64, device).reshape(-1, net.state_size)
    xin = constant_input(net, x, torch.float64, device)
    for a in range(0, P.shape[0], chunk):
        s = P[a: a + chunk]
        j_rec, j_inp = cell.jacobians(s, xin.expand(s.shape[0], -1))
        yield slice(a, a + s.shape[0]), j_rec, j_inp


def _chunk(net, chunk: int | None, budget: int, bytes_per_point: int, what: str) -> int:
    """Points per chunk: ``chunk`` when given, else as many as ``budget`` holds."""
    return chunk if chunk else rows_within(budget, bytes_per_point, f"{what} at one point of D = {net.state_size:,}")


@torch.no_grad()
def jacobians_at(net, points, x=None, *, chunk: int | None = None,
                 memory_budget: int = DEFAULT_MEMORY_BUDGET) -> tuple[np.ndarray, np.ndarray]:
    """Recurrent and input Jacobians at each point, in float64.

    Parameters
    ----------
    net : RNNClassifier
    points : array of shape (K, D)
    x : array of shape (E,), optional
        Input (default zero).
    chunk : int, optional
        Points per batch (default: as many as ``memory_budget`` holds at ``32 D (D + E)`` bytes
        a point).
    memory_budget : int
        Bytes the chunks' work may hold at once on the net's device. The returned arrays
        (``8 K D (D + E)`` bytes of host memory) come on top.

    Returns
    -------
    J_rec : ndarray of shape (K, D, D)
        ``∂F/∂s`` at ``(s_k, x)``.
    J_inp : ndarray of shape (K, D, E)
        ``∂F/∂x`` at ``(s_k, x)``.
    """
    K, D, E = len(points), net.state_size, net.embed_dim
    j_rec = np.empty((K, D, D))
    j_inp = np.empty((K, D, E))
    c = _chunk(net, chunk, memory_budget, jacobian_bytes(D, E), "the Jacobians")
    for rows, jr, ji in _iter_jacobians(net, points, x, c):
        j_rec[rows], j_inp[rows] = jr.cpu().numpy(), ji.cpu().numpy()
    return j_rec, j_inp


def _sorted_eig(j_rec: Tensor) -> tuple[Tensor, Tensor]:
    """Eigenvalues (c, D) sorted by |λ| desc (ties: larger imag first) and unit-norm R (c, D, D)."""
    lam, R = torch.linalg.eig(j_rec)
    # round the modulus so that conjugate pairs tie exactly and order by imaginary part
    key_mod = torch.round(lam.abs() * 1e12) / 1e12
    order = torch.argsort(lam.imag, dim=-1, descending=True, stable=True)
    order = order.gather(-1, torch.argsort(key_mod.gather(-1, order), dim=-1, descending=True, stable=True))
    lam = lam.gather(-1, order)
    R = R.gather(-1, order[:, None, :].expand_as(R))
    R /= torch.linalg.vector_norm(R, dim=-2, keepdim=True)  # in place: one (c, D, D) complex array less
    return lam, R


@torch.no_grad()
def linearize(net, points, *, x=None, n_modes: int = 3, chunk: int | None = None,
              memory_budget: int = DEFAULT_MEMORY_BUDGET) -> Linearization:
    """Eigendecomposition of ``J_rec`` at each point, keeping the top ``n_modes`` vectors.

    Parameters
    ----------
    net : RNNClassifier
    points : array of shape (K, D)
        Usually fixed points from :func:`rnnscope.analysis.fixed_points.find_fixed_points`.
    x : array of shape (E,), optional
        Input the Jacobians are taken at (default zero).
    n_modes : int
        Number of slowest modes whose eigenvectors are kept.
    chunk : int, optional
        Points per batch (default: as many as ``memory_budget`` holds at ``8 D (7 D + 2 E)``
        bytes a point).
    memory_budget : int
        Bytes the chunks' Jacobians and eigendecompositions may hold at once (on the net's
        device; the host copy of a chunk's eigenvectors counts too on the CPU). The returned
        arrays, ``16 K (2 D + n (2 D + E))`` bytes of host memory, come on top.

    Returns
    -------
    Linearization
        ``eigvals (K, D)``, ``tau (K, D)``, ``right (K, D, n)``, ``left (K, n, D)`` with
        ``left[k] @ right[k] = I_n``, and ``left_inp (K, n, E) = ℓ_aᵀ J_inp``.
    """
    P = np.asarray(points.detach().cpu() if isinstance(points, Tensor) else points, dtype=np.float64)
    P = P.reshape(-1, net.state_size)
    K, D, E = P.shape[0], net.state_size, net.embed_dim
    n = max(0, min(n_modes, D))
    eigvals = np.empty((K, D), dtype=np.complex128)
    right = np.empty((K, D, n), dtype=np.complex128)
    left = np.empty((K, n, D), dtype=np.complex128)
    left_inp = np.empty((K, n, E), dtype=np.complex128)
    c = _chunk(net, chunk, memory_budget, linearize_bytes(D, E), "the linearization")
    for rows, j_rec, j_inp in _iter_jacobians(net, P, x, c):
        lam, R = _sorted_eig(j_rec)
        # rows a < n of R⁻¹: solve Rᵀ X = [e_0 ... e_{n-1}], then ℓ_a = X[:, a]
        R_np = R.cpu().numpy()
        rhs = np.broadcast_to(np.eye(D, n, dtype=R_np.dtype), (R_np.shape[0], D, n))
        ell = _complex_solve(np.swapaxes(R_np, 1, 2), rhs).swapaxes(1, 2)  # (c, n, D)
        eigvals[rows] = lam.cpu().numpy()
        right[rows] = R_np[..., :n]
        left[rows] = ell
        left_inp[rows] = ell @ j_inp.cpu().numpy().astype(ell.dtype)
    return Linearization(points=P, eigvals=eigvals, tau=time_constants(eigvals), right=right, left=left,
                         left_inp=left_inp, n_modes=n)


def _complex_solve(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``a⁻¹ b`` for complex (..., D, D) and (..., D, n), by numpy's LAPACK.

    Not torch: torch 2.13's CPU build (oneMKL) fails on batched complex LU solves when it
    runs with more than one thread ("Parameter 6 was incorrect on entry to ZLASWP", then
    "Pivots given to lu_solve must all be >= 1"), seen on the demo LSTM's fixed points.
    """
    return np.linalg.solve(a, b)


@torch.no_grad()
def eigenmodes_at(net, point, x=None) -> Eigenmodes:
    """Full eigendecomposition ``J_rec = R Λ R⁻¹`` at one point (D,), with both Jacobians."""
    _, j_rec, j_inp = next(_iter_jacobians(net, np.asarray(point, dtype=np.float64).reshape(1, -1), x, 1))
    lam, R = _sorted_eig(j_rec)
    R_np = R[0].cpu().numpy()
    L = _complex_solve(R_np, np.eye(R_np.shape[0], dtype=R_np.dtype))
    lam_np = lam[0].cpu().numpy()
    return Eigenmodes(point=np.asarray(point, dtype=np.float64).reshape(-1), eigvals=lam_np,
                      tau=time_constants(lam_np), right=R_np, left=L,
                      j_rec=j_rec[0].cpu().numpy(), j_inp=j_inp[0].cpu().numpy())
