r"""Slow points as a result: classify every seed's end state, choose the point set.

The paper's "approximate fixed points" include *slow points*: local minima of
``q(s) = ‖s − F(s, 0)‖² / D`` above the fixed-point tolerance, where the state drifts
slowly instead of resting. Every seed of the fixed-point search ends as one of

``fixed``      ``q < tol`` (and not an outlier far outside the visited states);
``outlier``    ``q < tol`` but far outside the seed cloud (the finder's outlier rule);
``slow``       a local minimum of q with ``tol <= q < 1e-3`` (or the chosen bound if
               larger); the chosen set uses those below ``slow_q_max``: the search stalled
               with a small gradient, ``‖(I − J_rec)ᵀ G‖ / ‖G‖ <= grad_ratio_max`` (at a
               minimum of q above 0 the gradient ``(2/D)(I − J_rec)ᵀ G`` vanishes while
               ``G = s − F(s, 0)`` does not);
``stalled``    the search stopped without reaching ``tol`` or a minimum of q below 1e-3;
``max_iter``   the iteration budget ran out while q was still falling;
``nonfinite``  the state or q became NaN/inf.

A slow point's *speed* is ``‖F(s, 0) − s‖ = sqrt(q · D)`` state units per token; its
*drift time* is how many tokens of zero input it takes to drift one typical per-token
step (the median ``‖s_t − s_{t−1}‖`` of the visited states).

Default set (``slow_q_max=None``): the fixed points plus the slow points that drift less
than 1% of a typical per-token step per token (drift time >= 100 tokens), i.e.
``slow_q_max = (0.01 · step)² / D``. ``slow_q_max=0`` keeps fixed points only.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from rnnscope.analysis.attractors import spread_sample
from rnnscope.analysis.fixed_point_dedup import deduplicate
from rnnscope.analysis.fixed_point_types import FixedPointResult

CLASSES = ("fixed", "outlier", "slow", "stalled", "max_iter", "nonfinite")

#: Slow points drift less than this fraction of a typical per-token step per token (default rule).
AUTO_SLOW_FRACTION = 0.01
#: A stalled seed whose gradient ratio is at most this is at a local minimum of q.
GRAD_RATIO_MAX = 1e-2


def typical_step(states: np.ndarray, previous: np.ndarray) -> float:
    """Median per-token step ``‖s_t − s_{t−1}‖`` (state units) over visited states (N, D)."""
    if len(states) == 0:
        return float("nan")
    return float(np.median(np.linalg.norm(np.asarray(states, np.float64) - previous, axis=1)))


def auto_slow_q(step: float, state_size: int, fraction: float = AUTO_SLOW_FRACTION) -> float:
    """The default slow-point bound: ``q`` of a point drifting ``fraction · step`` per token."""
    if not np.isfinite(step) or step <= 0:
        return 0.0
    return float((fraction * step) ** 2 / state_size)


def classify_seeds(fp: FixedPointResult, slow_q_max: float,
                   grad_ratio_max: float = GRAD_RATIO_MAX) -> np.ndarray:
    """The class (``CLASSES``) of every seed's end state: str ndarray of shape (S,)."""
    S = fp.n_seeds
    status = np.asarray(fp.seed_status, dtype=object)
    q = np.asarray(fp.seed_q, np.float64)
    # without the gradient ratio nothing shows a seed sits at a minimum of q: never "slow"
    ratio = np.full(S, np.inf) if fp.seed_grad_ratio is None else np.asarray(fp.seed_grad_ratio, np.float64)
    out = np.where(status == "nonfinite", "nonfinite", np.where(status == "max_iter", "max_iter", "stalled"))
    out = out.astype(object)
    finite = np.isfinite(q)
    slow = finite & ~fp.seed_converged & (q < slow_q_max) & (ratio <= grad_ratio_max) & (out != "nonfinite")
    out[slow] = "slow"
    out[fp.seed_converged] = "fixed"
    out[fp.seed_outlier] = "outlier"
    out[~finite] = "nonfinite"
    return out.astype(str)


@dataclass
class PointSet:
    """The points the downstream stages use (linearization, manifold, projections, errors).

    Attributes
    ----------
    points : float64 ndarray of shape (K, D)
        Unique fixed points (increasing q), then unique slow points (increasing q).
    q : float64 ndarray of shape (K,)
    is_fixed : bool ndarray of shape (K,)
    speed : float64 ndarray of shape (K,)
        ``‖F(s, 0) − s‖ = sqrt(q D)``, state units per token.
    drift_tokens : float64 ndarray of shape (K,)
        ``typical_step / speed``: tokens of zero input to drift one typical step (inf at speed 0).
    seed_class : str ndarray of shape (S,)
        Class of every seed (``CLASSES``).
    slow_q_max : float
        The bound used for slow points (0: fixed points only).
    slow_rule : str
        "auto" (the default rule), "fixed only", or "q < bound" (given by the user).
    typical_step : float
        Median per-token step of the visited states, state units.
    n_found : int
        Unique fixed and slow points below the bound before ``max_points`` thinned them.
    rows : int ndarray of shape (K,)
        Row of each point in ``candidates``.
    candidates, candidates_q : ndarray (C, D), (C,)
        Unique fixed points and unique slow points below ``max(slow_q_max, 1e-3)`` (the
        tolerance sweep's range), whether or not the chosen set uses them.
    """

    points: np.ndarray
    q: np.ndarray
    is_fixed: np.ndarray
    speed: np.ndarray
    drift_tokens: np.ndarray
    seed_class: np.ndarray
    slow_q_max: float
    slow_rule: str
    typical_step: float
    candidates: np.ndarray
    candidates_q: np.ndarray
    n_found: int = 0
    rows: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))

    @property
    def n_fixed(self) -> int:
        return int(self.is_fixed.sum())

    @property
    def n_slow(self) -> int:
        return int((~self.is_fixed).sum())

    def class_counts(self) -> dict[str, int]:
        """Seeds per class, every class listed."""
        return {c: int(np.sum(self.seed_class == c)) for c in CLASSES}


#: The slow points kept as candidates for the tolerance sweep reach up to this q.
SWEEP_Q_MAX = 1e-3


def unique_slow_points(fp: FixedPointResult, seed_class: np.ndarray, q_max: float,
                       unique_tol: float) -> tuple[np.ndarray, np.ndarray]:
    """Deduplicated slow points with ``q < q_max``: (P (n, D), q (n,)), increasing q."""
    sel = np.flatnonzero((seed_class == "slow") & (fp.seed_q < q_max))
    if sel.size == 0:
        return np.zeros((0, fp.seed_points.shape[1])), np.zeros(0)
    order = sel[np.argsort(fp.seed_q[sel], kind="stable")]
    _, reps = deduplicate(torch.as_tensor(fp.seed_points[order], dtype=torch.float64), unique_tol)
    rows = order[reps]
    return fp.seed_points[rows].astype(np.float64), fp.seed_q[rows].astype(np.float64)


def choose_point_set(fp: FixedPointResult, step: float, slow_q_max: float | None = None, *,
                     unique_tol: float = 1e-3, grad_ratio_max: float = GRAD_RATIO_MAX,
                     max_points: int | None = None) -> PointSet:
    """Fixed points plus slow points up to ``slow_q_max`` (None: the default rule).

    Parameters
    ----------
    fp : FixedPointResult
    step : float
        Typical per-token step of the visited states (state units), see :func:`typical_step`.
    slow_q_max : float or None
        None: ``auto_slow_q(step, D)``; 0: fixed points only; else the bound on q.
    unique_tol : float
        Slow points closer than this (Euclidean) are one.
    grad_ratio_max : float
        Gradient ratio below which a stalled seed is a local minimum of q.
    max_points : int, optional
        Keep at most this many points, spread evenly by rank along the set's first principal
        axis (both ends kept): the linearization costs O(K D³), and 256 points resolve a
        manifold's geometry. ``n_found`` says how many there were.
    """
    D = fp.seed_points.shape[1]
    bound = auto_slow_q(step, D) if slow_q_max is None else float(slow_q_max)
    rule = "auto" if slow_q_max is None else ("fixed only" if bound <= 0 else "q < bound")
    bound = max(bound, 0.0)
    q_max = max(bound, SWEEP_Q_MAX)
    classes = classify_seeds(fp, q_max, grad_ratio_max)
    cand_p, cand_q = unique_slow_points(fp, classes, q_max, unique_tol)
    fixed_p = np.asarray(fp.points, np.float64).reshape(-1, D)
    fixed_q = np.asarray(fp.q, np.float64)
    keep = cand_q < bound
    points = np.concatenate([fixed_p, cand_p[keep]])
    q = np.concatenate([fixed_q, cand_q[keep]])
    is_fixed = np.arange(len(points)) < len(fixed_p)
    rows = np.concatenate([np.arange(len(fixed_p)), len(fixed_p) + np.flatnonzero(keep)]).astype(np.int64)
    n_found = len(points)
    if max_points is not None and len(points) > max_points:
        keep_rows = spread_sample(points, max_points)  # sorted: fixed points stay first
        points, q, is_fixed, rows = points[keep_rows], q[keep_rows], is_fixed[keep_rows], rows[keep_rows]
    speed = np.sqrt(np.maximum(q, 0) * D)
    with np.errstate(divide="ignore"):
        drift = np.where(speed > 0, step / np.where(speed > 0, speed, 1), np.inf)
    return PointSet(points=points, q=q, is_fixed=is_fixed, speed=speed, drift_tokens=drift, seed_class=classes,
                    n_found=n_found, rows=rows,
                    slow_q_max=bound, slow_rule=rule, typical_step=float(step),
                    candidates=np.concatenate([fixed_p, cand_p]), candidates_q=np.concatenate([fixed_q, cand_q]))


def range_coverage(points: np.ndarray, axis: np.ndarray, states: np.ndarray, reach: float,
                   percentiles: tuple[float, float] = (5, 95)) -> float:
    """Fraction of the visited states' 5–95% range along ``axis`` that the points cover.

    Each point covers ``[p − reach, p + reach]`` of its coordinate ``p`` on the unit
    ``axis`` (D,) (``reach``: a typical per-token step, so a point covers what one word
    moves the state); the union of those intervals inside the visited range, over its
    length. 0 with no points; nan when the visited range is empty.
    """
    axis = np.asarray(axis, np.float64)
    v = np.asarray(states, np.float64) @ axis
    lo, hi = np.percentile(v, percentiles) if len(v) else (np.nan, np.nan)
    if not np.isfinite(hi - lo) or hi <= lo:
        return float("nan")
    if len(points) == 0:
        return 0.0
    p = np.sort(np.asarray(points, np.float64) @ axis)
    starts, ends = np.clip(p - reach, lo, hi), np.clip(p + reach, lo, hi)
    covered, cur_s, cur_e = 0.0, starts[0], ends[0]
    for s, e in zip(starts[1:], ends[1:]):
        if s > cur_e:
            covered += cur_e - cur_s
            cur_s, cur_e = s, e
        else:
            cur_e = max(cur_e, e)
    covered += cur_e - cur_s
    return float(covered / (hi - lo))
