"""Batched, matrix-free Krylov solvers: GMRES for ``A y = b`` and CGLS for damped least
squares ``min |A d - b|² + mu |d|²``, each over a batch of systems at once (one system per
fixed-point seed), with the matrix given only as a function ``v (B, D) -> A v (B, D)``.
"""
from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor


def gmres(matvec: Callable[[Tensor], Tensor], b: Tensor, *, max_dim: int = 40,
          rtol: float = 1e-2, atol: Tensor | float = 0.0, anorm: float = 0.0) -> tuple[Tensor, int]:
    """Solve ``A_i y_i = b_i`` for a batch of systems by GMRES without restarts.

    Parameters
    ----------
    matvec : callable
        ``v (B, D) -> A v (B, D)``, applying every system's matrix to its own vector.
    b : Tensor of shape (B, D)
    max_dim : int
        Largest Krylov dimension.
    rtol : float
    atol : float or Tensor of shape (B,)
        Each system stops growing its Krylov space once ``|A y - b| <= max(rtol |b|, atol)``.
    anorm : float
        Scale of ``A`` (0: unknown). Krylov vectors whose Hessenberg pivot is below
        ``10 sqrt(eps) max(anorm, largest pivot)`` are dropped (numerically singular).

    Returns
    -------
    y : Tensor of shape (B, D)
        Minimizer of ``|A y - b|`` over each system's Krylov space.
    k : int
        Krylov vectors built (= matrix-vector products) for the slowest system.

    Notes
    -----
    Arnoldi with classical Gram-Schmidt applied twice (batched matrix products), Givens
    rotations for the running residual. Systems that have converged keep being carried in
    the batch but their solution uses only their own first ``k_i`` vectors, so a lucky
    breakdown (an exact solution) never reaches the triangular solve.
    """
    B, D = b.shape
    m = max(1, min(max_dim, D))
    beta = b.norm(dim=1)
    V = b.new_zeros(B, m + 1, D)
    V[:, 0] = b / beta.clamp_min(1e-30)[:, None]
    R = b.new_zeros(B, m, m)
    cs, sn = b.new_zeros(B, m), b.new_zeros(B, m)
    g = b.new_zeros(B, m + 1)
    g[:, 0] = beta
    stop = torch.maximum(rtol * beta, torch.as_tensor(atol, dtype=b.dtype, device=b.device))
    k_i = torch.full((B,), m, dtype=torch.long, device=b.device)
    done = beta == 0
    k_i[done] = 0
    k = 0
    for j in range(m):
        k = j + 1
        w, h = _orthogonalize(V[:, : j + 1], matvec(V[:, j]))
        hn = w.norm(dim=1)
        V[:, j + 1] = w / hn.clamp_min(1e-30)[:, None]
        col = torch.cat([h, hn[:, None]], 1)
        r = _givens(col, cs, sn, j)
        R[:, : j + 1, j] = col[:, : j + 1]
        R[:, j, j] = r
        g[:, j + 1] = -sn[:, j] * g[:, j]
        g[:, j] = cs[:, j] * g[:, j]
        newly = (~done) & (g[:, j + 1].abs() <= stop)
        k_i[newly] = j + 1
        done |= newly
        if bool(done.all()):
            break
    return _krylov_solution(R[:, :k, :k].clone(), g[:, :k].clone(), V[:, :k], k_i, anorm), k


def _orthogonalize(Vj: Tensor, w: Tensor) -> tuple[Tensor, Tensor]:
    """``w`` (B, D) made orthogonal to the basis ``Vj`` (B, j, D) by classical Gram-Schmidt
    applied twice (orthogonality to eps); -> (the new ``w``, its coefficients ``h`` (B, j))."""
    # (broadcast products: batched matrix-vector bmm is slow on CPUs)
    h = (Vj * w[:, None, :]).sum(-1)
    w = w - (h[:, :, None] * Vj).sum(1)
    h2 = (Vj * w[:, None, :]).sum(-1)  # second pass: orthogonality to eps
    w = w - (h2[:, :, None] * Vj).sum(1)
    return w, h + h2


def _givens(col: Tensor, cs: Tensor, sn: Tensor, j: int) -> Tensor:
    """Apply the earlier rotations (``cs``, ``sn`` (B, m)) to the Hessenberg column ``col``
    (B, j + 2) in place, and store the rotation ``j`` that zeroes its last entry; -> the new
    diagonal entry ``r`` (B,)."""
    for i in range(j):  # apply the earlier rotations to the new column
        a, c = col[:, i], col[:, i + 1]
        col[:, i], col[:, i + 1] = cs[:, i] * a + sn[:, i] * c, -sn[:, i] * a + cs[:, i] * c
    r = torch.hypot(col[:, j], col[:, j + 1])
    r_safe = r.clamp_min(1e-30)
    cs[:, j], sn[:, j] = col[:, j] / r_safe, col[:, j + 1] / r_safe
    return r


def _krylov_solution(R: Tensor, gk: Tensor, Vk: Tensor, k_i: Tensor, anorm: float) -> Tensor:
    """``x = V y`` (B, D) with ``R y = g`` solved per system over its own first ``k_i`` vectors
    (``R`` (B, k, k) upper triangular, ``gk`` (B, k) and ``Vk`` (B, k, D); ``R`` and ``gk`` are
    modified), after cutting ``k_i`` at the first numerically singular pivot."""
    k = R.shape[1]
    # Solve each system with its own first k_i vectors: pad the rest with identity rows.
    idx = torch.arange(k, device=R.device)
    # A numerically singular Hessenberg matrix (|R_jj| below the accuracy of a forward-
    # difference product, ~sqrt(eps) relative: A is singular on the Krylov space, e.g. b has a
    # part outside A's range, as at a slow point or off a drifting line) would make the step
    # huge along the null direction (measured: 1e7-1e14 on a linear drifting line, where the
    # state's rounding then fakes q = 0); keep only the vectors before the first such j.
    dg = R.diagonal(dim1=-2, dim2=-1).abs()
    floor = 10 * torch.finfo(R.dtype).eps ** 0.5 * dg.amax(1, keepdim=True).clamp_min(anorm)
    tiny = (dg <= floor) & (idx[None, :] < k_i[:, None])
    k_i = torch.where(tiny.any(1), tiny.float().argmax(1), k_i)
    beyond = idx[None, :] >= k_i[:, None]
    R.masked_fill_(beyond[:, None, :] | beyond[:, :, None], 0.0)
    diag = R.diagonal(dim1=-2, dim2=-1)
    diag.copy_(torch.where(beyond | (diag == 0), torch.ones_like(diag), diag))
    gk.masked_fill_(beyond, 0.0)
    y = torch.linalg.solve_triangular(R, gk[:, :, None], upper=True)[..., 0]
    return (y[:, :, None] * Vk).sum(1)


def cgls(matvec, rmatvec, b: Tensor, mu: Tensor, *, max_iter: int = 40,
         rtol: float = 1e-6) -> tuple[Tensor, Tensor, int]:
    """Batched CGLS for ``min_d |A d - b|² + mu |d|²`` per system.

    ``matvec(v) = A v`` and ``rmatvec(r) = Aᵀ r`` on (B, D) batches; ``b`` (B, D); ``mu`` (B,).
    Returns ``d`` (B, D), the data residual ``b - A d`` (B, D) and the iterations done.
    """
    d = torch.zeros_like(b)
    r = b.clone()
    sv = rmatvec(r)
    p = sv.clone()
    gamma = (sv * sv).sum(1)
    stop = rtol * gamma.sqrt()
    live = gamma > 0
    k = 0
    for k in range(1, max_iter + 1):
        Ap = matvec(p)
        delta = (Ap * Ap).sum(1) + mu * (p * p).sum(1)
        alpha = torch.where(live, gamma / delta.clamp_min(1e-300), torch.zeros_like(gamma))
        d = d + alpha[:, None] * p
        r = r - alpha[:, None] * Ap
        sv = rmatvec(r) - mu[:, None] * d
        gamma_new = (sv * sv).sum(1)
        live = live & (gamma_new.sqrt() > stop)
        beta = torch.where(live, gamma_new / gamma.clamp_min(1e-300), torch.zeros_like(gamma))
        p = sv + beta[:, None] * p
        gamma = gamma_new
        if not bool(live.any()):
            break
    return d, r, k
