r"""Is a point set a line attractor, or the tolerance region of one isolated point?

Points with ``q < tol`` around one *isolated* stable fixed point ``s*`` spread along its
slowest mode: a point at distance ``d`` along a mode with eigenvalue ``λ`` has
``‖s − F(s, 0)‖ ≈ (1 − |λ|) d``, so ``q < tol`` admits

.. math::  d \le w_{tol} = \frac{\sqrt{tol \cdot D}}{1 - |\lambda_1|}

(the *tolerance half-width*; D the state size). With ``|λ1| = 0.994`` and D = 256 that is
0.27 state units, enough to look like a short line. Geometry alone cannot tell this smear
from a line attractor; the dynamics can. A line attractor is a point set that keeps its
extent under the zero-input dynamics ``s -> F(s, 0)``; the smear around one point
collapses onto it at the rate ``|λ1|`` per step.

:func:`attractor_verdict` iterates ``F(·, 0)`` from (a sample of) the points for a
horizon of ``n_steps`` tokens and measures:

- ``extent``: the spread of a set along its own first principal axis (max − min of the
  projections), in state units, before (``extent_initial``) and after (``extent_final``);
- ``inner_extent``: the end states grouped by single linkage at ``link_frac`` times the
  initial extent (at least 1.5 times the points' median nearest-neighbour distance); the
  sum of the groups' extents. Two isolated attractors far apart keep
  the global extent (their distance) while each group shrinks to a point, so this is
  the quantity that tells a continuum from a few points;
- ``displacement``: median distance each point moved, relative to the initial extent;
- the fraction of points whose Jacobian has an eigenvalue outside the unit circle.

Verdicts (``kind``), in the order they are tested:

``none``      no points.
``unstable``  the iterates become non-finite or run off, or the set's extent grows by
              more than ``1 / keep_frac``: it repels the state.
``line``      at least 2 points; the set keeps ``keep_frac`` of its extent (and grows by
              no more than ``1 / keep_frac``) and its end
              states keep ``inner_frac`` of it inside their groups; most points are fixed
              points (``q < tol``). "Line attractor" over the horizon: a document
              shorter than ``n_steps`` tokens cannot tell it from an exact one.
``slow``      as ``line``, but most points are slow points (``q >= tol``): a slow
              manifold, along which the state drifts at the points' speed.
``unstable``  the set does not keep its extent and its iterates never come to rest
              (median q of the end states above ``settle_factor · tol``: they oscillate
              or wander).
``isolated``  otherwise: the set collapses onto ``n_attractors`` isolated point(s) where
              the state rests; the slow mode's time constant τ1 says how long the
              collapse takes. Found points with ``|λ| > 1`` are saddles between them.

Everything is measured; the words in :attr:`AttractorVerdict.text` quote the numbers.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch
from scipy.cluster.hierarchy import fcluster, linkage
from scipy.spatial import cKDTree

from rnnscope.analysis.fixed_point_residual import cell_copy, constant_input, net_device, residual

#: Steps of ``F(·, 0)`` at which the extent curve is recorded (those <= n_steps, and n_steps).
CURVE_STEPS = (1, 3, 10, 30, 100, 300, 1000, 3000, 10000)

KINDS = ("none", "unstable", "line", "slow", "isolated")

#: What each verdict is called in words (report, dashboard, docs).
KIND_NAMES = {"none": "no fixed or slow points", "unstable": "unstable",
              "line": "line attractor", "slow": "slow manifold without fixed points",
              "isolated": "isolated stable fixed point(s) with a slow mode"}


@dataclass
class AttractorVerdict:
    """What the zero-input dynamics do to a point set.

    Attributes
    ----------
    kind : str
        One of ``KINDS`` (see the module docstring).
    text : str
        The verdict in words, with its evidence.
    n_points : int
        Points in the set (K).
    n_iterated : int
        Points actually iterated (a sample of at most ``max_points``, spread along the set).
    n_steps : int
        Horizon: steps of ``F(·, 0)`` taken (fewer if the set collapsed earlier).
    extent_initial, extent_final : float
        Spread along the set's own first principal axis, state units (0 for one point).
    extent_ratio : float
        ``extent_final / extent_initial`` (nan for one point).
    inner_ratio : float
        Sum of the end groups' extents over ``extent_initial`` (nan for one point).
    displacement : float
        Median distance moved over the horizon, state units.
    n_attractors : int
        Groups of end states (single linkage at ``link_frac`` × the initial extent, or
        at 1e-6 state units for one point): isolated attractors when the set collapsed.
    tolerance_half_width : float
        ``sqrt(tol D) / (1 − |λ1|)`` with λ1 the slowest stable mode (median over points);
        inf when that mode has ``|λ1| >= 1``.
    abs_lambda_slow : float
        Median over points of the largest ``|λ| < 1``.
    tau_slow : float
        ``1 / |ln abs_lambda_slow|``, tokens.
    unstable_fraction : float
        Fraction of points with an eigenvalue ``|λ| > 1`` (saddles or repellers).
    end_q : float
        Median q of the iterates after the horizon (near 0: they came to rest).
    fixed_fraction : float
        Fraction of points with ``q < tol``.
    curve_steps, curve_extent, curve_inner : ndarray of shape (n,)
        The extent (and inner extent) after each step in ``curve_steps``.
    sample : int ndarray of shape (n_iterated,)
        Rows of the point set that were iterated.
    end_states : ndarray of shape (n_iterated, D)
        Where they were after the horizon (for :func:`tolerance_sweep`).
    """

    kind: str
    text: str
    n_points: int
    n_iterated: int = 0
    n_steps: int = 0
    extent_initial: float = 0.0
    extent_final: float = 0.0
    extent_ratio: float = float("nan")
    inner_ratio: float = float("nan")
    displacement: float = float("nan")
    n_attractors: int = 0
    tolerance_half_width: float = float("nan")
    abs_lambda_slow: float = float("nan")
    tau_slow: float = float("nan")
    unstable_fraction: float = float("nan")
    end_q: float = float("nan")
    fixed_fraction: float = float("nan")
    curve_steps: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    curve_extent: np.ndarray = field(default_factory=lambda: np.zeros(0))
    curve_inner: np.ndarray = field(default_factory=lambda: np.zeros(0))
    sample: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    end_states: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)))

    @property
    def name(self) -> str:
        """The verdict's name in words (``KIND_NAMES``)."""
        return KIND_NAMES[self.kind]

    @property
    def is_continuous(self) -> bool:
        """True for a line attractor or a slow manifold: θ and m describe a real continuum."""
        return self.kind in ("line", "slow")

    def summary(self) -> dict:
        """Plain numbers for the report (JSON)."""
        keys = ("kind", "text", "n_points", "n_iterated", "n_steps", "extent_initial", "extent_final",
                "extent_ratio", "inner_ratio", "displacement", "n_attractors", "tolerance_half_width",
                "abs_lambda_slow", "tau_slow", "unstable_fraction", "end_q", "fixed_fraction")
        return {"name": self.name, **{k: _plain(getattr(self, k)) for k in keys}}


def _plain(v):
    if isinstance(v, (np.floating, float)):
        return float(v)
    if isinstance(v, (np.integer, int)) and not isinstance(v, bool):
        return int(v)
    return v


# --------------------------------------------------------------------------- geometry


def extent(points: np.ndarray) -> float:
    """Spread of points (K, D) along their own first principal axis: max − min, state units.

    0 for fewer than 2 points or identical points.
    """
    pts = np.asarray(points, np.float64)
    if len(pts) < 2:
        return 0.0
    centred = pts - pts.mean(0)
    if not np.any(centred):
        return 0.0
    _, _, vt = np.linalg.svd(centred, full_matrices=False)
    return float(np.ptp(centred @ vt[0]))


def group_points(points: np.ndarray, radius: float) -> np.ndarray:
    """Single-linkage groups of points (K, D): labels (K,) 0..G-1, points closer than
    ``radius`` (through a chain of such links) share a group."""
    pts = np.asarray(points, np.float64)
    if len(pts) == 0:
        return np.zeros(0, np.int64)
    if len(pts) == 1:
        return np.zeros(1, np.int64)
    labels = fcluster(linkage(pts, "single"), max(radius, 0.0), "distance")
    return np.unique(labels, return_inverse=True)[1].astype(np.int64)


def inner_extent(points: np.ndarray, radius: float) -> tuple[float, int]:
    """Sum of the extents of the single-linkage groups of points at ``radius``, and the
    number of groups."""
    labels = group_points(points, radius)
    if labels.size == 0:
        return 0.0, 0
    total = sum(extent(points[labels == g]) for g in range(labels.max() + 1))
    return float(total), int(labels.max() + 1)


def grouping_radius(points: np.ndarray, full_extent: float, link_frac: float) -> float:
    """Single-linkage radius for end states: ``link_frac`` of the set's extent, but at least
    1.5 times the median nearest-neighbour distance of the (sampled) points, so that a
    sparsely sampled line still links into one group; 1e-6 for a single point."""
    pts = np.asarray(points, np.float64)
    if len(pts) < 2 or full_extent <= 0:
        return 1e-6
    nn = cKDTree(pts).query(pts, 2)[0][:, 1]
    return float(max(link_frac * full_extent, 1.5 * np.median(nn)))


def spread_sample(points: np.ndarray, n: int) -> np.ndarray:
    """Indices of at most ``n`` points spread evenly by rank along the set's first
    principal axis (both extremes included); all indices when K <= n."""
    K = len(points)
    if K <= n:
        return np.arange(K)
    centred = np.asarray(points, np.float64) - np.mean(points, 0)
    _, _, vt = np.linalg.svd(centred, full_matrices=False)
    order = np.argsort(centred @ vt[0], kind="stable")
    return np.sort(order[np.unique(np.round(np.linspace(0, K - 1, n)).astype(np.int64))])


def tolerance_half_width(tol: float, state_size: int, abs_lambda: float) -> float:
    """``sqrt(tol · D) / (1 − |λ|)``: how far from one isolated fixed point ``q < tol``
    reaches along a mode with eigenvalue modulus ``|λ|`` (state units; inf for ``|λ| >= 1``)."""
    if not np.isfinite(abs_lambda) or abs_lambda >= 1:
        return float("inf")
    return float(np.sqrt(tol * state_size) / (1 - abs_lambda))


# --------------------------------------------------------------------------- dynamics


@torch.no_grad()
def iterate_zero_input(net, points: np.ndarray, n_steps: int, *, record=CURVE_STEPS,
                       callback=None) -> tuple[np.ndarray, dict[int, np.ndarray]]:
    """Iterate ``s <- F(s, 0)`` from points (K, D) for ``n_steps`` steps, batched, in the
    network's own precision (float32 for trained checkpoints: the network as it runs).

    Parameters
    ----------
    net : RNNClassifier
    points : ndarray of shape (K, D)
    n_steps : int
    record : iterable of int
        Steps after which the states are kept (those <= n_steps).
    callback : callable(step, states) -> bool, optional
        Called at every recorded step with the (K, D) states; returning True stops early.

    Returns
    -------
    end : ndarray of shape (K, D)
        States after the last step taken.
    snapshots : dict step -> ndarray (K, D)
    """
    cell, s, x = _own_precision(net, points)
    marks = sorted({int(r) for r in record if 0 < int(r) <= n_steps} | {int(n_steps)})
    snaps: dict[int, np.ndarray] = {}
    step = 0
    for mark in marks:
        while step < mark:
            s = cell.step(s, x)
            step += 1
        snaps[mark] = s.cpu().numpy().astype(np.float64)
        if callback is not None and callback(mark, snaps[mark]):
            break
    return (s.cpu().numpy().astype(np.float64) if len(marks) else np.asarray(points, np.float64)), snaps


def slowest_stable(eigvals: np.ndarray) -> np.ndarray:
    """Largest ``|λ| < 1`` at each point: eigvals (K, D) complex -> (K,) (nan if none)."""
    mod = np.abs(np.asarray(eigvals))
    if mod.ndim != 2 or mod.shape[1] == 0:
        return np.full(len(mod), np.nan)
    stable = np.where(mod < 1, mod, -np.inf).max(1)
    return np.where(np.isfinite(stable), stable, np.nan)


# --------------------------------------------------------------------------- verdict


@dataclass(frozen=True)
class VerdictRule:
    """Thresholds of :func:`attractor_verdict` (documented in the module docstring).

    Attributes
    ----------
    n_steps : int           horizon, tokens of zero input
    max_points : int        points iterated (a sample spread along the set)
    keep_frac : float       extent kept for a continuum
    inner_frac : float      inner extent kept for a continuum
    link_frac : float       grouping radius, times the initial extent
    settle_factor : float   the iterates have come to rest when their median q is below
                            this many times tol
    """

    n_steps: int = 3000
    max_points: int = 64
    keep_frac: float = 0.5
    inner_frac: float = 0.01
    link_frac: float = 0.02
    settle_factor: float = 100.0


def attractor_verdict(net, points: np.ndarray, q: np.ndarray, eigvals: np.ndarray, *, tol: float,
                      rule: VerdictRule = VerdictRule()) -> AttractorVerdict:
    """Classify a point set by what ``F(·, 0)`` does to it (see the module docstring).

    Parameters
    ----------
    net : RNNClassifier
    points : ndarray of shape (K, D)
        Fixed and/or slow points.
    q : ndarray of shape (K,)
        Their speed ``q``; points with ``q < tol`` count as fixed.
    eigvals : ndarray of shape (K, D) complex
        Eigenvalues of ``J_rec`` at each point (all of them).
    tol : float
        Fixed-point tolerance (for the tolerance half-width and the fixed fraction).
    rule : VerdictRule

    Returns
    -------
    AttractorVerdict
    """
    pts = np.asarray(points, np.float64).reshape(-1, net.state_size)
    K, D = pts.shape
    if K == 0:
        return AttractorVerdict("none", "No fixed or slow point was found, so there is no attractor to describe.", 0)
    v, radius, scale = _iterate_points(net, pts, q, eigvals, tol, rule)
    start, end = pts[v.sample], v.end_states
    finite = bool(np.all(np.isfinite(end))) and np.abs(end).max() <= 1e3 * scale
    if not finite:
        v.kind = "unstable"
        v.text = (f"Unstable: iterating F(·, 0) from the {K} points for {v.n_steps} steps runs off "
                  f"(the state grows without bound); {_pct(v.unstable_fraction)} of the points have an eigenvalue |λ| > 1.")
        return v
    e0 = v.extent_initial
    v.displacement = float(np.median(np.linalg.norm(end - start, axis=1)))
    v.extent_final = float(v.curve_extent[-1]) if len(v.curve_extent) else 0.0
    if e0 > 0:
        v.extent_ratio = v.extent_final / e0
        v.inner_ratio = float(v.curve_inner[-1]) / e0
    _, v.n_attractors = inner_extent(end, radius)
    v.end_q = float(np.median(_speed_q(net, end)))
    v.kind = _kind(v, tol, rule)
    v.text = _verdict_text(v, tol, D)
    return v


def _iterate_points(net, pts: np.ndarray, q: np.ndarray, eigvals: np.ndarray, tol: float,
                    rule: VerdictRule) -> tuple[AttractorVerdict, float, float]:
    """Iterate ``F(·, 0)`` from a spread sample of the points (K, D) and record the curves.

    Returns the verdict so far (kind "isolated", the spectrum's numbers, the extent curves
    scaled to the whole set's initial extent, the sample and its end states), the grouping
    radius (state units) and the state scale (1 + the largest |coordinate|): a state beyond
    1e3 times it has run off.
    """
    K, D = pts.shape
    q = np.asarray(q, np.float64)
    mod = np.abs(np.asarray(eigvals))
    lam_slow = float(np.nanmedian(slowest_stable(eigvals))) if mod.size else float("nan")
    unstable = float(np.mean(mod.max(1) > 1)) if mod.size else float("nan")
    fixed = float(np.mean(q < tol))
    hw = tolerance_half_width(tol, D, lam_slow)
    e0 = extent(pts)
    sample = spread_sample(pts, rule.max_points)
    start = pts[sample]
    radius = grouping_radius(start, e0, rule.link_frac)
    scale = 1.0 + float(np.abs(pts).max())

    def collapsed(step, states):  # stop early once the set has certainly collapsed or run off
        if not np.all(np.isfinite(states)) or np.abs(states).max() > 1e3 * scale:
            return True
        return e0 > 0 and extent(states) < 1e-6 * e0

    end, snaps = iterate_zero_input(net, start, rule.n_steps, callback=collapsed)
    steps = np.array(sorted(snaps), np.int64)
    curve_e = np.array([extent(snaps[s]) if np.all(np.isfinite(snaps[s])) else np.nan for s in steps])
    curve_i = np.array([inner_extent(snaps[s], radius)[0] if np.all(np.isfinite(snaps[s])) else np.nan
                        for s in steps])
    e_start = extent(start)
    v = AttractorVerdict(kind="isolated", text="", n_points=K, n_iterated=len(start), n_steps=int(steps[-1]),
                         extent_initial=e0, tolerance_half_width=hw, abs_lambda_slow=lam_slow,
                         tau_slow=float(abs(1 / np.log(lam_slow))) if 0 < lam_slow < 1 else float("nan"),
                         unstable_fraction=unstable, fixed_fraction=fixed, curve_steps=steps,
                         sample=sample, end_states=end,
                         curve_extent=curve_e / e_start * e0 if e_start > 0 else curve_e,
                         curve_inner=curve_i / e_start * e0 if e_start > 0 else curve_i)
    return v, radius, scale


def _kind(v: AttractorVerdict, tol: float, rule: VerdictRule) -> str:
    """The kind of a point set whose iterates stayed finite, from its measured verdict ``v``."""
    K, e0 = v.n_points, v.extent_initial
    kept = rule.keep_frac <= v.extent_ratio <= 1 / rule.keep_frac
    if K >= 2 and e0 > 0 and v.extent_ratio > 1 / rule.keep_frac:
        return "unstable"  # the set spreads out: it repels the state
    if K >= 2 and e0 > 0 and kept and v.inner_ratio >= rule.inner_frac:
        return "line" if v.fixed_fraction >= 0.5 else "slow"
    if v.end_q > rule.settle_factor * tol:
        return "unstable"  # collapsed or not, the state never comes to rest
    return v.kind


def _own_precision(net, states) -> tuple[torch.nn.Module, torch.Tensor, torch.Tensor]:
    """A frozen copy of the cell in the network's own dtype, the states (n, D) and a zero
    input (n, E) in that dtype: the network as it runs."""
    device = net_device(net)
    dtype = next(net.cell.parameters()).dtype
    s = torch.as_tensor(np.asarray(states), dtype=dtype, device=device).reshape(-1, net.state_size)
    return cell_copy(net, dtype, device), s, constant_input(net, None, dtype, device).expand(s.shape[0], -1)


@torch.no_grad()
def _speed_q(net, states: np.ndarray) -> np.ndarray:
    """``q`` of states (n, D) in the network's own precision (what its iteration can reach)."""
    cell, s, x = _own_precision(net, states)
    return residual(cell, s, x)[1].double().cpu().numpy()


def _pct(x: float) -> str:
    return "n/a" if not np.isfinite(x) else f"{100 * x:.0f}%"


def _fmt(x: float, spec: str = ".3g") -> str:
    return "n/a" if x is None or not np.isfinite(x) else format(x, spec)


def _verdict_text(v: AttractorVerdict, tol: float, D: int) -> str:
    """The verdict in words, quoting the evidence."""
    over = f"over {v.n_steps} steps of zero input"
    kept = (f"its extent goes from {_fmt(v.extent_initial)} to {_fmt(v.extent_final)} state units "
            f"({_pct(v.extent_ratio)}) {over}, and the end states keep {_pct(v.inner_ratio)} of it "
            f"inside their groups")
    tol_note = ""
    if np.isfinite(v.tolerance_half_width) and v.extent_initial <= 2 * v.tolerance_half_width:
        tol_note = (f" Its extent is within the tolerance region of a single point "
                    f"(2·sqrt(tol·D)/(1 − |λ1|) = {_fmt(2 * v.tolerance_half_width)} units at |λ1| = "
                    f"{_fmt(v.abs_lambda_slow, '.4f')}), so it may be one fixed point whose slow mode "
                    f"(τ1 = {_fmt(v.tau_slow, '.0f')} tokens) acts as a line over this horizon.")
    if v.kind == "unstable" and v.extent_ratio > 1:
        return (f"Unstable: iterating F(·, 0) from the {v.n_points} points spreads them out: their extent goes "
                f"from {_fmt(v.extent_initial)} to {_fmt(v.extent_final)} state units ({over}); "
                f"{_pct(v.unstable_fraction)} of the points have an eigenvalue |λ| > 1. The state is pushed "
                f"away from them, not held.")
    if v.kind == "unstable":
        return (f"Unstable: iterating F(·, 0) from the {v.n_points} points never comes to rest ({over} the "
                f"iterates still move: median q = {_fmt(v.end_q)}, against tol = {tol:g}); "
                f"{_pct(v.unstable_fraction)} of the points have an eigenvalue |λ| > 1.")
    n = v.n_attractors
    if v.kind in ("line", "slow"):
        what = ("Line attractor" if v.kind == "line"
                else "Slow manifold without fixed points (most points have q ≥ tol and drift)")
        return (f"{what}: the {v.n_points} points keep their extent under the dynamics: {kept}. "
                f"Median drift {_fmt(v.displacement)} units over the horizon.{tol_note}")
    stable = f"τ1 = {_fmt(v.tau_slow, '.0f')} tokens, |λ1| = {_fmt(v.abs_lambda_slow, '.4f')}"
    tol_cmp = ""
    hw = v.tolerance_half_width
    if np.isfinite(hw) and 0 < v.extent_initial <= 4 * hw:
        tol_cmp = (f" The set's extent ({_fmt(v.extent_initial)} units) is that of the tolerance region of one "
                   f"point (half-width sqrt(tol·D)/(1 − |λ1|) = {_fmt(hw)} units): points with q < {tol:g} "
                   f"spread along its slow mode.")
    elif np.isfinite(hw) and v.extent_initial > 0:
        tol_cmp = (f" The set ({_fmt(v.extent_initial)} units) is far wider than the tolerance region of one point "
                   f"(half-width {_fmt(hw)} units): its points flow into the attractor rather than rest.")
    if v.fixed_fraction < 1:
        tol_cmp += (f" {_pct(1 - v.fixed_fraction)} of the points are slow points (q ≥ {tol:g}), which drift into "
                    f"{'it' if n == 1 else 'them'}.")
    if v.unstable_fraction > 0:
        tol_cmp += (f" {_pct(v.unstable_fraction)} of the points are unstable (|λ| > 1): saddles the state leaves "
                    f"for the attractor{'s' if n != 1 else ''}.")
    if v.n_points == 1:
        return f"One isolated fixed point with a slow mode ({stable}); no line to describe."
    return (f"Isolated: the {v.n_points} points collapse onto {n} isolated stable fixed point{'s' if n != 1 else ''} "
            f"with a slow mode ({stable}): {kept}.{tol_cmp} θ, m and r1·m describe that spread, "
            f"not a line attractor.")


# --------------------------------------------------------------------------- tolerance sweep


def tolerance_sweep(points: np.ndarray, q: np.ndarray, end_states: np.ndarray, sample: np.ndarray,
                    tolerances: np.ndarray, *, rule: VerdictRule = VerdictRule()) -> dict[str, np.ndarray]:
    """Number of points and extent, kept extent and continuity against the q threshold.

    Uses one iteration of a sample of all candidate points (``end_states`` are the
    iterates of ``points[sample]``), so the sweep costs no further dynamics.

    Parameters
    ----------
    points : ndarray of shape (K, D)   every candidate point (fixed and slow)
    q : ndarray of shape (K,)
    end_states : ndarray of shape (n, D)  iterates of ``points[sample]`` after the horizon
    sample : int ndarray of shape (n,)
    tolerances : ndarray of shape (T,)
    rule : VerdictRule

    Returns
    -------
    dict of arrays of shape (T,): ``tolerance``, ``n_points``, ``extent``, ``extent_ratio``,
    ``inner_ratio``, ``continuous`` (bool: kept extent and inner extent, as the verdict's
    ``line``/``slow`` test).
    """
    tolerances = np.asarray(tolerances, np.float64)
    out = {k: np.full(len(tolerances), np.nan) for k in ("extent", "extent_ratio", "inner_ratio")}
    n_pts = np.zeros(len(tolerances), np.int64)
    cont = np.zeros(len(tolerances), bool)
    for i, t in enumerate(tolerances):
        sel = q < t
        n_pts[i] = int(sel.sum())
        e0 = extent(points[sel])
        out["extent"][i] = e0
        sub = sel[sample]
        if sub.sum() >= 2 and e0 > 0:
            ends = end_states[sub]
            out["extent_ratio"][i] = extent(ends) / max(extent(points[sample][sub]), 1e-300)
            radius = grouping_radius(points[sample][sub], e0, rule.link_frac)
            out["inner_ratio"][i] = inner_extent(ends, radius)[0] / e0
            cont[i] = out["extent_ratio"][i] >= rule.keep_frac and out["inner_ratio"][i] >= rule.inner_frac
    return {"tolerance": tolerances, "n_points": n_pts, **out, "continuous": cont}
