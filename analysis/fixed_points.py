r"""Fixed points of the input-held-constant dynamics ``s -> F(s, x)`` (paper §3.3).

A fixed point is a state with ``s* = F(s*, x)``; numerically we accept every state whose
speed

.. math::  q(s) = \frac{1}{D}\,\lVert s - F(s, x)\rVert_2^2

is below ``tol`` (1e-8 in the paper), with ``D`` the state size (``H``; ``2H`` for the
LSTM state ``[h; c]``) and ``x = 0`` unless given. Seeds are states the network visited.

Method (``method="newton-krylov"``, the default)
------------------------------------------------
We solve ``G(s) = s - F(s, x) = 0`` by Newton's method rather than minimizing ``q`` by
gradient descent. Near a line attractor the Jacobian ``M = I - J_rec`` of ``G`` is nearly
singular along the slow direction, so the gradient ``∇q = (2/D) Mᵀ G`` is tiny there and
first-order methods (FixedPointFinder's Adam) crawl; Newton's step ``M δ = -G`` is not
slowed by that. Five stages, all batched over seeds, each seed leaving a stage as soon as
it is done with it:

1. **Relaxation** (``relax_steps``). Iterate ``s <- F(s, x)`` while it keeps cutting ``q``
   by at least the factor ``relax_rate`` per step. In a linearization the residual along
   mode ``a`` shrinks by ``|λ_a|`` per step and its size is ``|1 - λ_a|`` times the mode's
   amplitude, so fast modes die in a few steps while slow modes (``λ ≈ 1``) carry almost no
   residual: a handful of cheap steps takes a visited state to within Newton's quadratic
   basin (the paper's §4.2 observation that states quickly settle with zero input).
   Anderson acceleration (memory ``anderson``) extrapolates the intermediate modes that
   plain iteration needs many steps for (measured on trained 256-unit networks: GRU 81 -> 15
   steps per seed, LSTM 49 -> 11, in ``bench/fixed_points.py``'s networks). Only improving steps
   are kept; a seed whose ``q`` stops falling goes on to Newton.
2. **Inexact Newton-Krylov.** The step solves ``M δ = -G`` by GMRES to relative residual
   ``krylov_rtol``, matrix-free: each Krylov vector costs one Jacobian-vector product
   ``J_rec v ≈ (F(s + h v) - F(s)) / h`` (a forward difference: one forward pass, batched
   over all seeds as one matrix product, and no autodiff machinery, whose first use costs
   seconds). GMRES also stops once the linear model predicts ``q < tol/10``, so it does not
   resolve the slow modes' residual when it does not have to (which would move points along
   a line attractor). With ``precision="mixed"`` relaxation and Krylov solves run in float32;
   ``G`` and ``q`` are always evaluated in float64, so the final points are as accurate as
   float64 allows (inexact Newton only needs the step to within ``krylov_rtol``). GMRES also
   handles an exactly singular ``M`` (an exact line attractor): it returns the
   minimum-residual step inside the Krylov space, dropping Krylov vectors whose pivot is
   below the forward difference's accuracy (``~sqrt(eps)``), which would otherwise send the
   step along the null direction (on a linear drifting line, to ``|s| ~ 1e13``, where the
   state's rounding faked ``q = 0``).

   *Precision escalation.* A float32 forward difference gives ``J_rec v`` to ``~3e-4``
   relative, so where ``M`` is nearly singular (trained LSTMs: forget gates near 1 make
   slow ``c`` modes) the float32 step is wrong, the line search fails and the seed used to
   stall. A seed whose full working-precision step fails the line search therefore gets
   float64 directions from then on, and only float64 failures count towards ``patience``.
   Measured on the IMDB LSTM (512 pipeline seeds, no Levenberg-Marquardt): Newton converged
   30 of 512 with float32 directions, 322 with escalation.
3. **Backtracking line search** on ``q`` along ``δ`` (``α = 1``, then ``1/2 ... 1/4096``
   all at once, the largest with Armijo decrease ``1 - 1e-4 α``, else the best if it lowers
   ``q`` at all); all trial points of all failing seeds go through ``F`` as one batch. When
   no trial point lowers ``q`` the iteration fails; after ``patience`` failures in a row
   the seed leaves Newton.
3b. **Second relaxation, second Newton round.** Seeds Newton could not finish take
   ``retry_relax_steps`` (300) plain steps ``s <- F(s, x)``, every step kept, and then Newton
   again with float64 directions. The first relaxation stops as soon as q falls by less
   than ``relax_rate`` per step, but on trained LSTMs q falls slowly and non-monotonically
   for hundreds of steps (IMDB LSTM, 64 seeds: median q 0.011 after 10 steps, 0.0057 after
   200, 0.0011 after 500) while the state moves towards the attractor's basin: Newton from
   the 10-step state converged 30 of 64 seeds (float64), from the 200-step state 60 of 64,
   and it moves seeds off slow points (minima of q above tol) onto the fixed points the
   dynamics actually reach. Only the failing seeds pay for it.
4. **Levenberg-Marquardt** for those seeds: ``min |G + M d|² + μ|d|²`` by CGLS (``M v`` by
   a forward difference, ``Mᵀ r`` by reverse-mode autodiff), ``μ`` adapted per seed from the
   ratio of actual to predicted decrease. Where ``M`` is nearly singular and ``G`` is not in
   its range (near a minimum of ``q``), Newton's steps are huge and useless; the damping
   keeps the steps short along those directions and turns into gradient descent far from a
   root. A seed stops when it converges; when ``μ`` exceeds 1e12, or ``q`` fell by less
   than ``lm_window_drop`` (1e-3) over the last ``lm_window`` (30) iterations: a local
   minimum or plateau of ``q`` above ``tol`` (status ``stalled``); or when ``lm_iter`` is
   spent while ``q`` still falls (``max_iter``). A window, not the former per-step rule
   (stop when one step lowers q by less than a millionth), because LM's q plateaus for
   tens of iterations on its way to a root (measured on the IMDB LSTM: plateaus near
   iterations 80-110, then drops again).
5. **Polish.** Each converged point takes up to ``polish_steps`` plain float64 steps
   ``s <- F(s, x)`` as long as they lower ``q``. Stopping right at ``q < tol`` leaves points
   near an isolated attractor up to ``~sqrt(tol D) / (1 - |λ|)`` away from it, so seeds
   converging to one attractor from different sides would count as several fixed points;
   a few steps of the dynamics contract those gaps by ``|λ|`` per step, while points on a
   line attractor (``λ ≈ 1`` along the line) do not drift along it and unstable fixed
   points (where a step raises ``q``) do not move at all.

``method="newton"`` is the same algorithm with the dense exact Jacobian ``I - J_rec`` from
``net.jacobians`` and a batched LU solve (``torch.linalg.solve_ex``, float64);
``method="adam"`` is the reference first-order finder (:func:`adam_fixed_points`, configured
like FixedPointFinder's PyTorch defaults).

Memory
------
The search holds its state (``32 D`` bytes a seed: a working and an untouched float64 copy of
every seed, and two temporaries of that size when outliers are measured at the end) and runs
the Newton methods' seeds in equal blocks sized so that a block's work fits in what
``memory_budget`` (bytes; default 2 GiB) leaves: ``8 D (8 + max(2 (k + 1) + 12, 168, m² + 5 m,
20))`` bytes a seed with the Krylov basis (``k = krylov_dim``, ``m = anderson``; 1.4 MiB at
D = 1,024), or ``4 (D + E)`` vectors of D in place of the basis for the dense method's
Jacobians and LU factors (32 MiB a seed at D = 1,024). The gradient ratios at the end take
the same rest in chunks. The formulas and what they count are in
:mod:`rnnscope.analysis.memory_budget`. Blocks run one after the other. A seed's dense-Newton
iteration does not depend on its block (measured: identical to 2e-16 with 14-seed blocks and
one block of 128); Newton-Krylov's does to the last bits of batched matrix products (MKL's
float32 and float64 products of fewer than ~100 rows round differently for different row
counts), which the inexact Krylov solves carry to ~1e-9 (float64) or more along slow
directions, within what the search resolves anyway.

Cost per Newton iteration and seed (the FLOP budget)
----------------------------------------------------
Write ``P = 2 n_g H (H_in + E)`` for the multiply-adds-times-two of one ``F`` evaluation,
with ``n_g`` gates (1 vanilla, 2 UGRNN, 3 GRU, 4 LSTM) and ``H_in = H`` the recurrent input.

- dense Newton: building ``J_rec`` touches ``~c D²`` numbers (memory bound, ``c ≈ 5-15``)
  and the LU solve costs ``(2/3) D³`` flops: for ``D = 512`` that is ``9·10⁷`` flops per
  seed per iteration, ``4.6·10¹⁰`` for 512 seeds. Batched small-matrix LU runs far below
  matrix-multiply speed on CPUs (we measured 4-7 GFLOP/s against 20-80 for the products),
  so one dense iteration on 512 seeds costs about as much as 300-1000 Adam iterations;
  building the Jacobians alone took 3-6 s for 512 seeds at D = 256-512 here.
- Newton-Krylov: ``k`` Jacobian-vector products (``P`` each: one forward difference, a
  batched matrix product over all seeds at full matrix-multiply speed) plus ``~4 k² D``
  for the twice-applied Gram-Schmidt. With ``k ≈ 10-30`` this is ``~10-30 P`` per
  iteration, a few Adam iterations' worth (each ``≈ 3P``: forward and backward); the
  relaxation steps cost ``P`` each (plus ``~4 m D`` for Anderson's least squares).

``bench/fixed_points.py`` measures both methods and the reference on trained 256-unit
networks and reports achieved rates against these budgets.

Why a seed stopped
------------------
``seed_status`` is ``converged``; ``stalled`` (Newton's line search kept failing and LM
found a plateau or local minimum of q above tol, or its damping maxed out); ``max_iter``
(a budget ran out while q was still falling); or ``nonfinite``. ``seed_grad_ratio`` is
``‖(I − J_rec)ᵀ G‖ / ‖G‖`` at each seed's end state (one float64 vector-Jacobian product;
0 where ``G = 0``): ``∇q = (2/D)(I − J_rec)ᵀ G``, so the ratio is ``~0`` at a local minimum
of q (a slow point: ``G`` orthogonal to the range of ``I − J_rec``) and at least the
smallest singular value of ``I − J_rec`` elsewhere. A ``stalled`` seed with a tiny ratio
(say < 1e-6) is a slow point; a larger ratio means the search gave up on a slope.

Measured yield (``q < 1e-8``, the 512 seeds ``rnnscope.analysis.pipeline.run_analysis`` draws,
2 shared CPU cores) before -> after the escalation and the second relaxation:
IMDB LSTM 46 -> 446, MR LSTM 91 -> 512, tweets LSTM 12 -> 512, tweets UGRNN 298 -> 324, no
loss on any of the 12 shipped models (see the commit
message for the table of all 12 shipped models).

Deduplication and outliers
--------------------------
Converged points within ``unique_tol`` (Euclidean) of each other are one fixed point: the
lowest-``q`` point of each group represents it (greedy, in increasing ``q``), and
``seed_unique_index`` maps every seed to its representative. A converged point farther
from the centroid of the seeds than ``outlier_threshold`` times the seeds' mean distance
from that centroid is flagged as an outlier and not kept (FixedPointFinder's
``outlier_distance_scale`` rule): such points lie outside the region the network visits.
The mean distance is floored at a tenth of the seeds' mean norm, so that a cloud of
(nearly) identical seeds does not make every point an outlier.

Where the code lives
--------------------
This module is the entry point (:func:`find_fixed_points`, :func:`adam_fixed_points`,
:class:`FixedPointFinder`). The methods above are in :mod:`rnnscope.analysis.fixed_point_solvers`
(Newton, line search, Levenberg-Marquardt, Adam) and :mod:`rnnscope.analysis.fixed_point_relaxation`
(relaxation, Anderson acceleration); GMRES and CGLS in :mod:`rnnscope.analysis.krylov`; ``G``,
``q`` and the gradient ratio in :mod:`rnnscope.analysis.fixed_point_residual`; deduplication and
outliers in :mod:`rnnscope.analysis.fixed_point_dedup`; the result type and seed statuses in
:mod:`rnnscope.analysis.fixed_point_types`; the memory budget's formulas and chunk sizes in
:mod:`rnnscope.analysis.memory_budget`.
"""
from __future__ import annotations

import time

import numpy as np
import torch

from rnnscope.analysis.fixed_point_dedup import finalize
from rnnscope.analysis.fixed_point_residual import as_tensor, constant_input, grad_ratios, net_device, q_values
from rnnscope.analysis.fixed_point_solvers import PRECISIONS, NewtonSolver, adam
from rnnscope.analysis.fixed_point_types import METHODS, FixedPointResult, Progress
from rnnscope.analysis.memory_budget import DEFAULT_MEMORY_BUDGET, search_block

__all__ = ["METHODS", "FixedPointFinder", "FixedPointResult", "adam_fixed_points", "find_fixed_points",
           "grad_ratios", "q_values"]


@torch.no_grad()
def find_fixed_points(net, seeds, *, x=None, tol: float = 1e-8, max_iter: int | None = None,
                      unique_tol: float = 1e-3, outlier_threshold: float | None = 10.0,
                      method: str = "newton-krylov", relax_steps: int = 200, relax_rate: float = 0.98,
                      anderson: int = 5, krylov_dim: int = 40, krylov_rtol: float = 1e-2, patience: int = 3,
                      lm_iter: int = 100, polish_steps: int = 20, precision: str = "mixed", progress: Progress | None = None,
                      device=None, retry_relax_steps: int = 300, lm_window: int = 30,
                      lm_window_drop: float = 1e-3, memory_budget: int = DEFAULT_MEMORY_BUDGET) -> FixedPointResult:
    """Find fixed points ``s* = F(s*, x)`` of ``net`` starting from ``seeds``.

    Parameters
    ----------
    net : RNNClassifier
        Any object with ``cell`` (``step``, ``jacobians``, ``state_size``), ``state_size``
        and ``embed_dim``. It is not modified; the search runs on float64 copies of the cell.
    seeds : array or tensor of shape (S, D)
        Initial states, typically states visited on held-out documents.
    x : array of shape (E,), optional
        Input held constant (default: zeros, the paper's choice).
    tol : float
        A seed has converged when ``q < tol``.
    max_iter : int, optional
        Iteration cap: Newton iterations (default 50) or Adam iterations (default 5000).
    unique_tol : float
        Converged points closer than this (Euclidean) are one fixed point.
    outlier_threshold : float or None
        Converged points farther from the seeds' centroid than this many times the seeds'
        mean distance from it are outliers (dropped). ``None`` disables the check.
    method : {"newton-krylov", "newton", "adam"}
        See the module docstring. ``"adam"`` ignores the relaxation/Krylov options.
    relax_steps : int
        Most relaxation steps ``s <- F(s, x)`` before Newton (0 disables).
    relax_rate : float
        A seed keeps relaxing while each step multiplies its ``q`` by less than this.
    anderson : int
        Memory of the Anderson acceleration of the relaxation (0: plain iteration).
    krylov_dim, krylov_rtol : int, float
        Largest Krylov space and relative residual at which GMRES stops (newton-krylov).
    patience : int
        A seed whose line search fails this many iterations in a row leaves Newton.
    lm_iter : int
        Most Levenberg-Marquardt iterations for the seeds that left Newton (0: none).
    polish_steps : int
        Most float64 steps ``s <- F(s, x)`` taken by each converged point while they lower
        ``q`` further (0: none); see the module docstring.
    precision : {"mixed", "double"}
        Working precision of relaxation and Krylov solves: float32 ("mixed") or float64.
        Residuals, q, line searches and the returned points are float64 either way.
    progress : callable(fraction, message), optional
    device : str or torch.device, optional
        Where to compute (default: the net's device).
    retry_relax_steps : int
        Plain steps ``s <- F(s, x)`` (every step kept) for the seeds Newton could not finish,
        before a second Newton round with float64 directions (0: no second round).
    lm_window, lm_window_drop : int, float
        Levenberg-Marquardt stops a seed as ``stalled`` when its q fell by less than the
        fraction ``lm_window_drop`` over the last ``lm_window`` iterations.
    memory_budget : int
        Bytes the search state, the Newton methods' blocks and the gradient ratios at the end
        may hold at once on the device (see "Memory" in the module docstring;
        ``RNNSCOPE_MEMORY_BUDGET_MB`` for jobs). The Adam reference's iterations run all seeds
        at once, outside the budget.

    Returns
    -------
    FixedPointResult

    Raises
    ------
    rnnscope.analysis.memory_budget.MemoryBudgetError
        The search state, or one seed's block or gradient ratio alone, would exceed
        ``memory_budget``.
    """
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; expected one of {', '.join(METHODS)}")
    if precision not in PRECISIONS:
        raise ValueError(f"unknown precision {precision!r}; expected one of {', '.join(PRECISIONS)}")
    device, s, seeds64, x_in = _problem(net, seeds, x, device)
    block, grad_block = search_block(s.shape[0], s.shape[1], net.embed_dim, krylov_dim=krylov_dim, anderson=anderson,
                                     dense=method == "newton", budget=memory_budget)
    t0 = time.perf_counter()
    if method == "adam":
        q, iters, status, stats = adam(net, s, x_in, tol=tol, max_iter=5000 if max_iter is None else max_iter,
                                       progress=progress)
        relax = torch.zeros(s.shape[0], dtype=torch.long, device=s.device)
    else:
        solver = NewtonSolver(net, x_in, device, tol=tol, max_iter=50 if max_iter is None else max_iter,
                              dense=method == "newton", relax_steps=relax_steps, relax_rate=relax_rate,
                              krylov_dim=krylov_dim, krylov_rtol=krylov_rtol, patience=patience,
                              work_dtype=PRECISIONS[precision], lm_iter=lm_iter, anderson=anderson,
                              polish_steps=polish_steps, retry_relax_steps=retry_relax_steps,
                              lm_window=lm_window, lm_window_drop=lm_window_drop)
        q, iters, relax, status = _run_blocks(solver, s, block, progress)
        stats = solver.stats
    seconds = time.perf_counter() - t0
    if progress is not None:
        progress(1.0, "deduplicating")
    x_np = x_in[0].cpu().numpy()
    res = finalize(s, q, seeds64, iters, relax, status, tol=tol, unique_tol=unique_tol,
                   outlier_threshold=outlier_threshold, seconds=seconds, method=method, x=x_np, stats=stats)
    # the gradient ratios in the chunks the budget holds (finalize's own call takes 4,096 at once)
    res.seed_grad_ratio = grad_ratios(net, s, x_np, block=grad_block)
    return res


def _problem(net, seeds, x, device) -> tuple[torch.device, torch.Tensor, torch.Tensor, torch.Tensor]:
    """The device, the seeds as (S, D) float64 (a working copy and an untouched one) and the
    constant input as (1, E) float64."""
    device = torch.device(device) if device is not None else net_device(net)
    s = as_tensor(seeds, torch.float64, device).reshape(-1, net.state_size).clone()
    return device, s, s.clone(), constant_input(net, x, torch.float64, device)


def _run_blocks(solver: NewtonSolver, s: torch.Tensor, block: int, progress: Progress | None):
    """``solver.run`` on the seeds ``s`` (S, D) in blocks of ``block`` rows (``s`` is updated in
    place); -> ``q``, ``iters``, ``relax`` (S,) tensors and ``status`` (S,) of the whole set."""
    S = s.shape[0]
    parts = [solver.run(s[a: a + block], progress, a, S) for a in range(0, S, block)]
    if not parts:
        return (s.new_zeros(0), torch.zeros(0, dtype=torch.long, device=s.device),
                torch.zeros(0, dtype=torch.long, device=s.device), np.zeros(0, dtype=object))
    return (torch.cat([p[0] for p in parts]), torch.cat([p[1] for p in parts]), torch.cat([p[2] for p in parts]),
            np.concatenate([p[3] for p in parts]))


def adam_fixed_points(net, seeds, *, x=None, tol: float = 1e-8, max_iter: int = 5000,
                      unique_tol: float = 1e-3, outlier_threshold: float | None = 10.0,
                      lr: float = 1.0, lr_factor: float = 0.95, lr_patience: int = 2,
                      dtype: torch.dtype = torch.float32, progress: Progress | None = None,
                      device=None) -> FixedPointResult:
    """Reference finder: minimize ``mean_seeds q`` with Adam, like FixedPointFinder (PyTorch).

    Defaults follow FixedPointFinder's PyTorch implementation: Adam with learning rate 1.0,
    ``ReduceLROnPlateau`` on the loss (factor 0.95, patience 2), float32, at most 5000
    iterations, stopping early when every seed has ``q < tol``. Final ``q`` values are
    recomputed in float64. Kept for comparison (``bench/fixed_points.py``) and as a
    fallback; :func:`find_fixed_points` is far faster.

    Parameters and returns as in :func:`find_fixed_points`.
    """
    device, s, seeds64, x_in = _problem(net, seeds, x, device)
    t0 = time.perf_counter()
    q, iters, status, stats = adam(net, s, x_in, tol=tol, max_iter=max_iter, lr=lr, lr_factor=lr_factor,
                                   lr_patience=lr_patience, dtype=dtype, progress=progress)
    seconds = time.perf_counter() - t0
    return finalize(s, q, seeds64, iters, torch.zeros_like(iters), status, tol=tol, unique_tol=unique_tol,
                    outlier_threshold=outlier_threshold, seconds=seconds, method="adam",
                    x=x_in[0].cpu().numpy(), stats=stats, net=net)


class FixedPointFinder:
    """scikit-learn-style wrapper of :func:`find_fixed_points`.

    ``__init__`` only stores the parameters (they make a cache key, see ``get_params``);
    ``fit`` runs the search.

    Parameters
    ----------
    tol, max_iter, unique_tol, outlier_threshold, method, relax_steps, relax_rate, anderson,
    krylov_dim, krylov_rtol, patience, lm_iter, polish_steps, precision, device,
    retry_relax_steps, lm_window, lm_window_drop, memory_budget
        As in :func:`find_fixed_points`. ``device`` and ``memory_budget`` say where and in
        how much memory to compute, not what: they are not in ``get_params`` (the cache key).

    Attributes
    ----------
    fixed_points_ : ndarray of shape (K, D)
        Unique converged fixed points.
    q_ : ndarray of shape (K,)
    n_iter_ : ndarray of shape (S,)
        Iterations per seed.
    converged_ : ndarray of shape (S,), bool
    unique_index_ : ndarray of shape (S,)
        Row of ``fixed_points_`` for each seed, -1 if none.
    result_ : FixedPointResult
        Everything else.

    Examples
    --------
    >>> from analysis.reference_models import linear_rnn
    >>> net = linear_rnn([[0.5, 0.0], [0.0, 0.25]])
    >>> fpf = FixedPointFinder(tol=1e-10).fit(net, [[1.0, 2.0], [-1.0, 0.5]])
    >>> fpf.fixed_points_.shape, fpf.converged_.tolist()
    ((1, 2), [True, True])
    >>> bool(abs(fpf.fixed_points_).max() < 1e-4)  # the only fixed point of F(s) = A s
    True
    """

    def __init__(self, *, tol: float = 1e-8, max_iter: int | None = None, unique_tol: float = 1e-3,
                 outlier_threshold: float | None = 10.0, method: str = "newton-krylov",
                 relax_steps: int = 200, relax_rate: float = 0.98, anderson: int = 5, krylov_dim: int = 40,
                 krylov_rtol: float = 1e-2, patience: int = 3, lm_iter: int = 100, polish_steps: int = 20,
                 precision: str = "mixed", device=None, retry_relax_steps: int = 300, lm_window: int = 30,
                 lm_window_drop: float = 1e-3, memory_budget: int = DEFAULT_MEMORY_BUDGET):
        self.tol = tol
        self.max_iter = max_iter
        self.unique_tol = unique_tol
        self.outlier_threshold = outlier_threshold
        self.method = method
        self.relax_steps = relax_steps
        self.relax_rate = relax_rate
        self.anderson = anderson
        self.krylov_dim = krylov_dim
        self.krylov_rtol = krylov_rtol
        self.patience = patience
        self.lm_iter = lm_iter
        self.lm_window, self.lm_window_drop = lm_window, lm_window_drop
        self.retry_relax_steps = retry_relax_steps
        self.polish_steps = polish_steps
        self.precision = precision
        self.device = device
        self.memory_budget = memory_budget

    def get_params(self) -> dict:
        """The constructor parameters (for cache keys)."""
        keys = ("tol", "max_iter", "unique_tol", "outlier_threshold", "method", "relax_steps",
                "relax_rate", "anderson", "krylov_dim", "krylov_rtol", "patience", "lm_iter",
                "polish_steps", "precision", "retry_relax_steps", "lm_window", "lm_window_drop")
        return {k: getattr(self, k) for k in keys}

    def fit(self, net, seeds, x=None, progress: Progress | None = None) -> FixedPointFinder:
        """Search from ``seeds`` (S, D) with input ``x`` (E,) held constant; returns self."""
        res = find_fixed_points(net, seeds, x=x, progress=progress, device=self.device,
                                memory_budget=self.memory_budget, **self.get_params())
        self.result_ = res
        self.fixed_points_ = res.points
        self.q_ = res.q
        self.n_iter_ = res.seed_iters
        self.converged_ = res.seed_converged
        self.unique_index_ = res.seed_unique_index
        return self
