"""Which converged seeds the fixed-point search keeps: outliers far from the seed cloud are
dropped, points within ``unique_tol`` of each other are one fixed point (greedy, in increasing
``q``), and the search's per-seed arrays become a :class:`FixedPointResult`.
"""
from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from rnnscope.analysis.fixed_point_residual import grad_ratios
from rnnscope.analysis.fixed_point_types import CONVERGED, FixedPointResult


def finalize(s, q, seeds, iters, relax, status, *, tol, unique_tol, outlier_threshold, seconds,
             method, x, stats, net=None) -> FixedPointResult:
    """The :class:`FixedPointResult` of a search.

    ``s`` (S, D) end states, ``q`` (S,), ``seeds`` (S, D) start states (float64 tensors),
    ``iters``/``relax`` (S,) counters, ``status`` (S,) of each seed; the converged seeds
    within ``outlier_threshold`` of the seed cloud are de-duplicated within ``unique_tol``.
    ``seed_grad_ratio`` is computed with ``net`` (zeros without it).
    """
    S = s.shape[0]
    finite = torch.isfinite(q) & torch.isfinite(s).all(1) if S else torch.zeros(0, dtype=torch.bool)
    converged = (q < tol) & finite
    outlier = _outliers(s, seeds, converged, outlier_threshold)
    unique_index, reps = _representatives(s, q, converged & ~outlier, unique_tol)
    status = np.asarray(status, dtype=object)
    status[converged.cpu().numpy()] = CONVERGED
    q_np, s_np = q.cpu().numpy(), s.cpu().numpy()
    return FixedPointResult(
        points=s_np[reps], q=q_np[reps], seed_points=s_np, seed_q=q_np,
        seed_iters=iters.cpu().numpy().astype(np.int64), seed_relax_steps=relax.cpu().numpy().astype(np.int64),
        seed_converged=converged.cpu().numpy(), seed_outlier=outlier.cpu().numpy(),
        seed_unique_index=unique_index, seed_status=status.astype(str),
        n_seeds=S, n_converged=int(converged.sum()), n_unique=int(len(reps)), n_outliers=int(outlier.sum()),
        tol=float(tol), seconds=float(seconds), method=method, x=x, stats=dict(stats),
        seed_grad_ratio=grad_ratios(net, s, x) if net is not None else np.zeros(S))


def _outliers(s: Tensor, seeds: Tensor, converged: Tensor, threshold: float | None) -> Tensor:
    """(S,) bool: converged end states farther from the finite seeds' centroid than
    ``threshold`` times the seed cloud's radius (none when ``threshold`` is None)."""
    outlier = torch.zeros_like(converged)
    if threshold is not None and s.shape[0]:
        ok_seeds = seeds[torch.isfinite(seeds).all(1)]
        if ok_seeds.shape[0]:
            centre = ok_seeds.mean(0)
            # radius of the seed cloud, floored so that (nearly) identical seeds do not make
            # every point an outlier
            scale = torch.maximum((ok_seeds - centre).norm(dim=1).mean(), 0.1 * ok_seeds.norm(dim=1).mean())
            dist = (s - centre).norm(dim=1)
            outlier = converged & (dist > threshold * scale) & (scale > 0)
    return outlier


def _representatives(s: Tensor, q: Tensor, keep: Tensor, unique_tol: float) -> tuple[np.ndarray, np.ndarray]:
    """``unique_index`` (S,): each kept seed's fixed point (-1 for the others), and ``reps`` (K,):
    the seed row representing each fixed point, in increasing ``q``."""
    unique_index = np.full(s.shape[0], -1, dtype=np.int64)
    kept = torch.nonzero(keep)[:, 0]
    reps = np.zeros(0, dtype=np.int64)
    if kept.numel():
        order = kept[torch.argsort(q[kept], stable=True)]
        labels, rep_rows = deduplicate(s[order], unique_tol)
        unique_index[order.cpu().numpy()] = labels
        reps = order.cpu().numpy()[rep_rows]
    return unique_index, reps


def deduplicate(points: Tensor, radius: float, block: int = 512) -> tuple[np.ndarray, np.ndarray]:
    """Greedy clustering of ``points`` (N, D) in the given order.

    Each point joins the nearest earlier representative within ``radius``; otherwise it
    becomes a representative. Returns ``labels (N,)`` (0..K-1) and ``rep_rows (K,)``.
    Cost O(N K D), done as blocked distance matrices.
    """
    N = points.shape[0]
    labels = np.full(N, -1, dtype=np.int64)
    rep_rows: list[int] = []
    reps = points.new_zeros(0, points.shape[1])
    for a in range(0, N, block):
        blk = points[a: a + block]
        lab = np.full(blk.shape[0], -1, dtype=np.int64)
        if reps.shape[0]:
            dmin, arg = torch.cdist(blk, reps).min(1)
            hit = (dmin <= radius).cpu().numpy()
            lab[hit] = arg.cpu().numpy()[hit]
        within = (torch.cdist(blk, blk) <= radius).cpu().numpy()
        new = []
        for i in range(blk.shape[0]):
            if lab[i] >= 0:
                continue
            k = len(rep_rows)
            rep_rows.append(a + i)
            new.append(i)
            lab[i] = k
            later = within[i] & (lab < 0)
            later[: i + 1] = False
            lab[later] = k
        if new:
            reps = torch.cat([reps, blk[new]])
        labels[a: a + blk.shape[0]] = lab
    return labels, np.asarray(rep_rows, dtype=np.int64)
