"""Relaxation ``s <- F(s, x)`` of a block of fixed-point seeds, batched over seeds.

:func:`anderson_relax` is the first stage of the Newton solver (and its final polish): steps
kept only while they cut ``q``, Anderson-accelerated. :func:`plain_iterate` is the long plain
relaxation given to seeds Newton could not finish (every step kept). Both count their forward
evaluations in ``stats["forward_evals"]``; see :mod:`rnnscope.analysis.fixed_points`.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from rnnscope.analysis.fixed_point_residual import residual


def anderson_relax(cell, x: Tensor, s: Tensor, *, steps: int, rate: float, anderson: int, floor: float,
                   stats: dict) -> tuple[Tensor, Tensor]:
    """Relaxation ``s <- F(s, x)`` per seed, Anderson-accelerated, in the precision of ``x``,
    while each accepted step cuts q by the factor ``rate``; returns the best states (float64)
    and the accepted step counts (B,).

    Anderson acceleration (type II, memory ``m = anderson``): with ``f = F(s) - s`` and the
    last m differences ``ΔS``, ``ΔF`` of iterates and of ``f``, the next iterate is
    ``s + f - (ΔS + ΔF) γ`` where ``γ = argmin |f - ΔF γ|``; with no history it is the plain
    step ``F(s)``. On a linearization it extrapolates the slowly decaying modes that plain
    iteration needs many steps for. An accelerated step that is refused (q does not fall)
    or slow (q falls by less than ``rate``) restarts the seed's history; a plain step that is
    refused or slow ends the seed's relaxation, as does a ``q`` below ``floor``.

    Works on the whole block with masked updates, and compacts the block only when fewer
    than half of its seeds are still relaxing.

    Parameters
    ----------
    cell : the cell (``step``), in the working precision
    x : Tensor of shape (1, E)
    s : Tensor of shape (B, D)
    """
    s = s.to(x.dtype).clone()
    g, q = residual(cell, s, x)
    stats["forward_evals"] += s.shape[0]
    n = torch.zeros(s.shape[0], dtype=torch.long, device=s.device)
    rows = torch.nonzero(torch.isfinite(q) & (q >= floor) & (q > 0))[:, 0]  # the working set
    w = _WorkingSet.start(rows, s, g, q, anderson)
    for step in range(steps):
        if w.rows.numel() == 0:
            break
        f = -w.g  # F(s) - s
        s_new = w.s + f
        if anderson > 0 and w.have:
            s_new = s_new - _anderson_correction(w.dS, w.dF, f)
        g_new, q_new = residual(cell, s_new, x)
        stats["forward_evals"] += w.s.shape[0]
        w.accept(step, anderson, rate, floor, s_new, g_new, q_new)
        if step % 4 == 3 or step == steps - 1:
            n_live = int(w.live.sum())
            if n_live == 0 or n_live < w.live.numel() // 2 or step == steps - 1:
                s[w.rows], n[w.rows] = w.s, w.n
                w.keep_live()
    if w.rows.numel():
        s[w.rows], n[w.rows] = w.s, w.n
    return s.to(torch.float64), n


def _anderson_correction(dS: Tensor, dF: Tensor, f: Tensor) -> Tensor:
    """``(ΔS + ΔF) γ`` (b, D) with ``γ = argmin |f - ΔF γ|`` per seed, from the histories ``dS``,
    ``dF`` (b, m, D) and ``f = F(s) - s`` (b, D); regularized normal equations, ``γ = 0`` for a
    seed whose solve is not finite (or whose history is empty)."""
    m = dF.shape[1]
    A = (dF[:, :, None, :] * dF[:, None, :, :]).sum(-1)  # (b, m, m)
    reg = 1e-10 * A.diagonal(dim1=-2, dim2=-1).sum(-1) + 1e-20  # empty history: γ = 0
    A = A + reg[:, None, None] * torch.eye(m, dtype=f.dtype, device=f.device)
    gamma, _ = torch.linalg.solve_ex(A, (dF * f[:, None, :]).sum(-1))  # (b, m)
    gamma = torch.where(torch.isfinite(gamma).all(1, keepdim=True), gamma, 0.0)
    return (gamma[:, :, None] * (dS + dF)).sum(1)


@dataclass
class _WorkingSet:
    """The seeds still relaxing: their ``rows`` in the block, iterates ``s`` (b, D), residuals
    ``g``, speeds ``q`` and accepted steps ``n`` (b,), whether each goes on (``live``), and the
    Anderson history: differences ``dS``, ``dF`` (b, m, D) of iterates and of ``f``, ``hist``
    (b,) whether a seed has any, ``have`` whether any history was recorded yet."""

    rows: Tensor
    s: Tensor
    g: Tensor
    q: Tensor
    n: Tensor
    live: Tensor
    dS: Tensor
    dF: Tensor
    hist: Tensor
    have: bool = False

    @classmethod
    def start(cls, rows: Tensor, s: Tensor, g: Tensor, q: Tensor, m: int) -> _WorkingSet:
        b, dev = rows.numel(), s.device
        ws = s[rows]
        dS = ws.new_zeros(b, max(m, 1), ws.shape[1])
        return cls(rows=rows, s=ws, g=g[rows], q=q[rows], n=torch.zeros(b, dtype=torch.long, device=dev),
                   live=torch.ones(b, dtype=torch.bool, device=dev), dS=dS, dF=torch.zeros_like(dS),
                   hist=torch.zeros(b, dtype=torch.bool, device=dev))

    def accept(self, step: int, m: int, rate: float, floor: float, s_new: Tensor, g_new: Tensor,
               q_new: Tensor) -> None:
        """Keep the improving trial steps, decide who goes on, and record the history."""
        better = self.live & (q_new < self.q)  # only improving steps are kept
        fast = better & (q_new < rate * self.q)
        # A refused or slow accelerated step restarts the seed's history (its next step is
        # plain); a seed stops when a plain step is refused or slow, or it has converged.
        restart = self.live & ~fast & self.hist
        self.live = (fast | restart) & ~(better & (q_new < floor))
        if m > 0:
            self._record(step % m, better, restart, s_new, g_new)
        self.s = torch.where(better[:, None], s_new, self.s)
        self.g = torch.where(better[:, None], g_new, self.g)
        self.q = torch.where(better, q_new, self.q)
        self.n += better

    def _record(self, k: int, better: Tensor, restart: Tensor, s_new: Tensor, g_new: Tensor) -> None:
        """Slot ``k`` of the history: the accepted step's differences (restarted seeds: cleared)."""
        kept = (~restart).to(self.s.dtype)[:, None, None]
        self.dS.mul_(kept)
        self.dF.mul_(kept)
        ok = (better & ~restart)[:, None]
        self.dS[:, k] = torch.where(ok, s_new - self.s, 0.0)
        self.dF[:, k] = torch.where(ok, self.g - g_new, 0.0)  # f_new - f
        self.hist = (better & ~restart) | (self.hist & ~restart)
        self.have = True

    def keep_live(self) -> None:
        """Drop the seeds that stopped."""
        keep = torch.nonzero(self.live)[:, 0]
        self.rows, self.s, self.g, self.q, self.n = (self.rows[keep], self.s[keep], self.g[keep], self.q[keep],
                                                     self.n[keep])
        self.live, self.dS, self.dF, self.hist = self.live[keep], self.dS[keep], self.dF[keep], self.hist[keep]


def plain_iterate(cell, x: Tensor, s: Tensor, steps: int, *, stop_q: float, stats: dict) -> tuple[Tensor, Tensor]:
    """Plain iteration ``s <- F(s, x)`` for ``steps`` steps in the precision of ``x``, every step
    kept (q need not fall monotonically on the way to an attractor); a seed stops once its
    q is below ``stop_q``. Returns the states (B, D) float64 and the steps taken (B,).
    """
    s = s.to(x.dtype).clone()
    n = torch.zeros(s.shape[0], dtype=torch.long, device=s.device)
    rows = torch.arange(s.shape[0], device=s.device)
    ws = s
    for step in range(steps):
        if rows.numel() == 0:
            break
        f = cell.step(ws, x.expand(ws.shape[0], -1))
        stats["forward_evals"] += ws.shape[0]
        live = ((ws - f) ** 2).mean(-1) >= stop_q
        ws = torch.where(live[:, None], f, ws)
        n[rows] += live
        if step % 8 == 7 or step == steps - 1:
            s[rows] = ws
            keep = torch.nonzero(live)[:, 0]
            if keep.numel() < live.numel():
                rows, ws = rows[keep], ws[keep]
    if rows.numel():
        s[rows] = ws
    return s.to(torch.float64), n
