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
``net.jacobians`` and a batched LU solve (``torch.linalg.solve_ex``, float64), chunked over
seeds to bound memory; ``method="adam"`` is the reference first-order finder
(:func:`adam_fixed_points`, configured like FixedPointFinder's PyTorch defaults).

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
"""
from __future__ import annotations

import copy
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import Tensor

Progress = Callable[[float, str], None]

METHODS = ("newton-krylov", "newton", "adam")
RUNNING, CONVERGED, STALLED, MAX_ITER, NONFINITE = "running", "converged", "stalled", "max_iter", "nonfinite"

# Bytes a dense-Newton chunk may use for its (chunk, D, D) float64 temporaries.
_DENSE_CHUNK_BYTES = 256 * 2**20
# Bytes for the Krylov basis (block, krylov_dim + 1, D); seeds are processed in blocks.
_KRYLOV_BLOCK_BYTES = 256 * 2**20
# CGLS iterations per Levenberg-Marquardt step (an inexact solve is enough).
_LM_CG_ITERS = 30
# Step halvings tried by the line search (1/2 ... 1/2**_BACKTRACKS) after the full step fails.
_BACKTRACKS = 12
# Working precision of relaxation, finite-difference Jacobian-vector products and GMRES.
_PRECISIONS = {"mixed": torch.float32, "double": torch.float64}


@dataclass
class FixedPointResult:
    """What :func:`find_fixed_points` found.

    Attributes
    ----------
    points : ndarray of shape (K, D)
        The unique, converged, non-outlier fixed points (float64), in increasing ``q``.
    q : ndarray of shape (K,)
        ``q`` of each point (float64).
    seed_points : ndarray of shape (S, D)
        Where every seed ended up (converged or not).
    seed_q : ndarray of shape (S,)
        Final ``q`` of every seed.
    seed_iters : ndarray of shape (S,)
        Iterations of the method per seed (Newton iterations; Adam iterations until the
        seed first met ``tol``, or ``max_iter``).
    seed_relax_steps : ndarray of shape (S,)
        Accepted relaxation steps ``s <- F(s, x)`` per seed (0 for Adam).
    seed_converged : ndarray of shape (S,), bool
        ``seed_q < tol``.
    seed_outlier : ndarray of shape (S,), bool
        Converged, but too far from the seed cloud (see module docstring); not kept.
    seed_unique_index : ndarray of shape (S,), int64
        Row of ``points`` each seed converged to, -1 if it did not converge or is an outlier.
    seed_status : ndarray of shape (S,), str
        ``converged``; ``stalled`` (Newton's line search kept failing and Levenberg-Marquardt
        found no progress over its window or maxed out its damping: a local minimum or
        plateau of q above tol); ``max_iter`` (a budget ran out while q still fell); or
        ``nonfinite``.
    n_seeds, n_converged, n_unique, n_outliers : int
    tol : float
    seconds : float
        Wall-clock time of the search (without deduplication).
    method : str
    x : ndarray of shape (E,)
        The constant input the dynamics were held at.
    stats : dict
        Work counters: ``forward_evals`` (seed-evaluations of F), ``jvps`` (seed-Jacobian-vector
        products), ``dense_solves`` (seed LU solves), ``newton_iters`` (batched iterations).
    seed_grad_ratio : ndarray of shape (S,)
        ``‖(I − J_rec)ᵀ G‖ / ‖G‖`` at each seed's end state, ``G = s − F(s, x)`` (float64, one
        vector-Jacobian product; 0 where ``G = 0``). ~0 at a local minimum of q (a slow
        point); at least the smallest singular value of ``I − J_rec`` elsewhere. See
        :func:`grad_ratios`.
    """

    points: np.ndarray
    q: np.ndarray
    seed_points: np.ndarray
    seed_q: np.ndarray
    seed_iters: np.ndarray
    seed_relax_steps: np.ndarray
    seed_converged: np.ndarray
    seed_outlier: np.ndarray
    seed_unique_index: np.ndarray
    seed_status: np.ndarray
    n_seeds: int
    n_converged: int
    n_unique: int
    n_outliers: int
    tol: float
    seconds: float
    method: str
    x: np.ndarray
    stats: dict = field(default_factory=dict)
    seed_grad_ratio: np.ndarray | None = None


# --- helpers ------------------------------------------------------------------------------
def _net_device(net) -> torch.device:
    for p in net.cell.parameters():
        return p.device
    return torch.device("cpu")


def _cell_copy(net, dtype: torch.dtype, device: torch.device) -> torch.nn.Module:
    """A frozen copy of ``net.cell`` in ``dtype`` on ``device`` (the net is not touched)."""
    cell = copy.deepcopy(net.cell).to(device=device, dtype=dtype)
    for p in cell.parameters():
        p.requires_grad_(False)
    return cell


def _as_tensor(a, dtype: torch.dtype, device: torch.device) -> Tensor:
    if isinstance(a, Tensor):
        return a.detach().to(device=device, dtype=dtype)
    return torch.as_tensor(np.asarray(a), dtype=dtype, device=device)


def _input(net, x, dtype: torch.dtype, device: torch.device) -> Tensor:
    """The constant input as a (1, E) tensor (zeros by default)."""
    E = net.embed_dim
    if x is None:
        return torch.zeros(1, E, dtype=dtype, device=device)
    x = _as_tensor(x, dtype, device).reshape(-1)
    if x.shape[0] != E:
        raise ValueError(f"x has {x.shape[0]} entries; the network's input size is {E}")
    return x[None]


def _residual(cell, s: Tensor, x: Tensor) -> tuple[Tensor, Tensor]:
    """``G = s - F(s, x)`` (B, D) and ``q = |G|² / D`` (B,)."""
    g = s - cell.step(s, x.expand(s.shape[0], -1))
    return g, (g * g).mean(-1)


@torch.no_grad()
def q_values(net, states, x=None) -> np.ndarray:
    """Speed ``q(s) = |s - F(s, x)|² / D`` of each state, computed in float64.

    Parameters
    ----------
    net : RNNClassifier
    states : array or tensor of shape (S, D)
    x : array of shape (E,), optional
        Constant input (default zero).

    Returns
    -------
    ndarray of shape (S,), float64
    """
    cell, s, x_in = _float64_problem(net, states, x)
    return _residual(cell, s, x_in)[1].cpu().numpy()


def _float64_problem(net, states, x) -> tuple[torch.nn.Module, Tensor, Tensor]:
    """A float64 copy of the cell, the states as (S, D) float64 and the input as (1, E)."""
    device = _net_device(net)
    cell = _cell_copy(net, torch.float64, device)
    s = _as_tensor(states, torch.float64, device).reshape(-1, net.state_size)
    return cell, s, _input(net, x, torch.float64, device)


def grad_ratios(net, states, x=None, *, block: int = 4096) -> np.ndarray:
    r"""``‖(I - J_rec)ᵀ G‖ / ‖G‖`` per state, ``G = s - F(s, x)``, in float64 (0 where G = 0).

    ``∇q = (2/D) (I - J_rec)ᵀ G``, so this is the gradient of q relative to the residual: it
    vanishes at a local minimum of q (a slow point, where ``G`` is orthogonal to the range of
    ``I - J_rec``) and is at least the smallest singular value of ``I - J_rec`` elsewhere.
    One reverse-mode vector-Jacobian product per state.

    Parameters
    ----------
    net : RNNClassifier
    states : array or tensor of shape (S, D)
    x : array of shape (E,), optional

    Returns
    -------
    ndarray of shape (S,), float64
    """
    cell, s, x_in = _float64_problem(net, states, x)
    out = np.zeros(s.shape[0])
    for a in range(0, s.shape[0], block):
        with torch.enable_grad():
            leaf = s[a: a + block].clone().requires_grad_(True)
            g = leaf - cell.step(leaf, x_in.expand(leaf.shape[0], -1))
            gd = g.detach()
            mtg = torch.autograd.grad(g, leaf, gd)[0]  # (I - J)ᵀ G
        gn = gd.norm(dim=1)
        r = torch.where(gn > 0, mtg.norm(dim=1) / gn.clamp_min(1e-300), torch.zeros_like(gn))
        out[a: a + block] = torch.nan_to_num(r, nan=np.inf).cpu().numpy()
    return out


# --- GMRES (batched, matrix-free) -----------------------------------------------------------
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
        w = matvec(V[:, j])
        Vj = V[:, : j + 1]
        # (broadcast products: batched matrix-vector bmm is slow on CPUs)
        h = (Vj * w[:, None, :]).sum(-1)
        w = w - (h[:, :, None] * Vj).sum(1)
        h2 = (Vj * w[:, None, :]).sum(-1)  # second pass: orthogonality to eps
        w = w - (h2[:, :, None] * Vj).sum(1)
        h = h + h2
        hn = w.norm(dim=1)
        V[:, j + 1] = w / hn.clamp_min(1e-30)[:, None]
        col = torch.cat([h, hn[:, None]], 1)
        for i in range(j):  # apply the earlier rotations to the new column
            a, c = col[:, i], col[:, i + 1]
            col[:, i], col[:, i + 1] = cs[:, i] * a + sn[:, i] * c, -sn[:, i] * a + cs[:, i] * c
        r = torch.hypot(col[:, j], col[:, j + 1])
        r_safe = r.clamp_min(1e-30)
        cs[:, j], sn[:, j] = col[:, j] / r_safe, col[:, j + 1] / r_safe
        R[:, : j + 1, j] = col[:, : j + 1]
        R[:, j, j] = r
        g[:, j + 1] = -sn[:, j] * g[:, j]
        g[:, j] = cs[:, j] * g[:, j]
        newly = (~done) & (g[:, j + 1].abs() <= stop)
        k_i[newly] = j + 1
        done |= newly
        if bool(done.all()):
            break
    # Solve each system with its own first k_i vectors: pad the rest with identity rows.
    R, gk = R[:, :k, :k].clone(), g[:, :k].clone()
    idx = torch.arange(k, device=b.device)
    # A numerically singular Hessenberg matrix (|R_jj| below the accuracy of a forward-
    # difference product, ~sqrt(eps) relative: A is singular on the Krylov space, e.g. b has a
    # part outside A's range, as at a slow point or off a drifting line) would make the step
    # huge along the null direction (measured: 1e7-1e14 on a linear drifting line, where the
    # state's rounding then fakes q = 0); keep only the vectors before the first such j.
    dg = R.diagonal(dim1=-2, dim2=-1).abs()
    floor = 10 * torch.finfo(b.dtype).eps ** 0.5 * dg.amax(1, keepdim=True).clamp_min(anorm)
    tiny = (dg <= floor) & (idx[None, :] < k_i[:, None])
    k_i = torch.where(tiny.any(1), tiny.float().argmax(1), k_i)
    beyond = idx[None, :] >= k_i[:, None]
    R.masked_fill_(beyond[:, None, :] | beyond[:, :, None], 0.0)
    diag = R.diagonal(dim1=-2, dim2=-1)
    diag.copy_(torch.where(beyond | (diag == 0), torch.ones_like(diag), diag))
    gk.masked_fill_(beyond, 0.0)
    y = torch.linalg.solve_triangular(R, gk[:, :, None], upper=True)[..., 0]
    return (y[:, :, None] * V[:, :k]).sum(1), k


def _cgls(matvec, rmatvec, b: Tensor, mu: Tensor, *, max_iter: int = 40,
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


# --- the Newton solver ----------------------------------------------------------------------
class _NewtonSolver:
    """Relaxation + globalized (inexact) Newton on a block of seeds; see the module docstring."""

    def __init__(self, net, x, device, *, tol, max_iter, dense, relax_steps, relax_rate,
                 krylov_dim, krylov_rtol, patience, work_dtype, lm_iter, anderson, polish_steps,
                 lm_window=30, lm_window_drop=1e-3, retry_relax_steps=300):
        self.cell64 = _cell_copy(net, torch.float64, device)
        self.x64 = _input(net, x, torch.float64, device)
        self.dense = dense
        # The working precision of relaxation and Krylov solves; residuals are float64.
        self.work_dtype = work_dtype
        self.cell_w = self.cell64 if work_dtype == torch.float64 else _cell_copy(net, work_dtype, device)
        self.x_w = self.x64.to(work_dtype)
        self.tol, self.max_iter, self.patience = tol, max_iter, patience
        self.relax_steps, self.relax_rate = relax_steps, relax_rate
        self.krylov_dim, self.krylov_rtol = krylov_dim, krylov_rtol
        self.lm_iter = lm_iter
        self.lm_window, self.lm_window_drop = lm_window, lm_window_drop
        self.retry_relax_steps = retry_relax_steps
        self.anderson = anderson
        self.polish_steps = polish_steps
        self.alphas = 0.5 ** torch.arange(1, _BACKTRACKS + 1, dtype=torch.float64, device=device)
        self.stats = {"forward_evals": 0, "jvps": 0, "dense_solves": 0, "newton_iters": 0, "lm_iters": 0,
                      "vjps": 0}

    def residual(self, s: Tensor) -> tuple[Tensor, Tensor]:
        self.stats["forward_evals"] += s.shape[0]
        return _residual(self.cell64, s, self.x64)

    # Newton direction: solve (I - J_rec) d = -g
    def direction(self, s: Tensor, g: Tensor, hi: Tensor | None = None) -> Tensor:
        """The Newton step: solve ``(I - J_rec) d = -g`` per seed.

        ``hi`` (B,) bool marks seeds whose Krylov solves run in float64 whatever the working
        precision (seeds whose working-precision step failed the line search).
        """
        if self.dense:
            return self._dense_direction(s, g)
        if hi is None or self.work_dtype == torch.float64 or not bool(hi.any()):
            return self._krylov_direction(s, g)
        out = torch.empty_like(s)
        lo = ~hi
        if bool(lo.any()):
            out[lo] = self._krylov_direction(s[lo], g[lo])
        out[hi] = self._krylov_direction(s[hi], g[hi], dtype=torch.float64)
        return out

    def _krylov_direction(self, s: Tensor, g: Tensor, dtype: torch.dtype | None = None) -> Tensor:
        # Matrix-free (I - J_rec) v by a forward difference, J v ≈ (F(s + h v) - F(s)) / h,
        # with h = sqrt(eps)(1 + |s|) for the unit-norm Krylov vectors: relative accuracy
        # ~sqrt(eps) (1e-8 in float64), far inside the Krylov tolerance, at the price of one
        # batched forward pass and no autodiff machinery.
        dt = self.work_dtype if dtype is None else dtype
        cell, xw = (self.cell64, self.x64) if dt == torch.float64 else (self.cell_w, self.x_w)
        sk = s.to(dt)
        xk = xw.expand(sk.shape[0], -1)
        f0 = (s - g).to(dt) if dt == torch.float64 else cell.step(sk, xk)
        h = (torch.finfo(dt).eps ** 0.5) * (1 + sk.norm(dim=1, keepdim=True))

        def matvec(v: Tensor) -> Tensor:
            return v - (cell.step(sk + h * v, xk) - f0) / h

        # Stop as soon as the linear model predicts q < tol/10: resolving the residual further
        # would only move the point along slow directions (see module docstring).
        atol = (0.1 * self.tol * s.shape[1]) ** 0.5
        # anorm = 1: M = I - J_rec, whose norm is ~1 or more (J_rec contracting in most directions)
        d, k = gmres(matvec, (-g).to(dt), max_dim=self.krylov_dim, rtol=self.krylov_rtol, atol=atol, anorm=1.0)
        self.stats["jvps"] += k * s.shape[0]
        return d.to(torch.float64)

    def _dense_direction(self, s: Tensor, g: Tensor) -> Tensor:
        B, D = s.shape
        chunk = max(1, _DENSE_CHUNK_BYTES // (8 * D * D * 6))
        eye = torch.eye(D, dtype=torch.float64, device=s.device)
        out = torch.empty_like(s)
        for a in range(0, B, chunk):
            sl = slice(a, a + chunk)
            j_rec, _ = self.cell64.jacobians(s[sl], self.x64.expand(s[sl].shape[0], -1))
            M = eye - j_rec
            d, info = torch.linalg.solve_ex(M, -g[sl, :, None])
            d = d[..., 0]
            bad = (info != 0) | ~torch.isfinite(d).all(1)
            d[bad] = -g[sl][bad]  # singular Jacobian: fall back to a relaxation step
            out[sl] = d
        self.stats["dense_solves"] += B
        return out

    def relax(self, s: Tensor, *, steps: int | None = None, rate: float | None = None,
              anderson: int | None = None, polish: bool = False) -> tuple[Tensor, Tensor]:
        """Relaxation ``s <- F(s, x)`` per seed, Anderson-accelerated, in working precision,
        while each accepted step cuts q by the factor ``relax_rate``; returns the best states
        and the accepted step counts.

        Anderson acceleration (type II, memory ``m = self.anderson``): with ``f = F(s) - s``
        and the last m differences ``ΔS``, ``ΔF`` of iterates and of ``f``, the next iterate is
        ``s + f - (ΔS + ΔF) γ`` where ``γ = argmin |f - ΔF γ|``; with no history it is the plain
        step ``F(s)``. On a linearization it extrapolates the slowly decaying modes that plain
        iteration needs many steps for. An accelerated step that is refused (q does not fall)
        or slow (q falls by less than ``relax_rate``) restarts the seed's history; a plain
        step that is refused or slow ends the seed's relaxation.

        Works on the whole block with masked updates, and compacts the block only when fewer
        than half of its seeds are still relaxing.
        """
        steps = self.relax_steps if steps is None else steps
        rate = self.relax_rate if rate is None else rate
        cell, x = (self.cell64, self.x64) if polish else (self.cell_w, self.x_w)
        floor = 0.0 if polish else self.tol  # polishing goes on below tol
        s = s.to(x.dtype).clone()
        g, q = _residual(cell, s, x)
        self.stats["forward_evals"] += s.shape[0]
        n = torch.zeros(s.shape[0], dtype=torch.long, device=s.device)
        rows = torch.nonzero(torch.isfinite(q) & (q >= floor) & (q > 0))[:, 0]  # the working set
        m = self.anderson if anderson is None else anderson
        ws, wg, wq = s[rows], g[rows], q[rows]
        wn = torch.zeros(rows.numel(), dtype=torch.long, device=s.device)
        live = torch.ones(rows.numel(), dtype=torch.bool, device=s.device)
        dS = ws.new_zeros(rows.numel(), max(m, 1), ws.shape[1])
        dF = torch.zeros_like(dS)
        hist = torch.zeros(rows.numel(), dtype=torch.bool, device=s.device)  # seed has history
        have = False  # any history yet
        for step in range(steps):
            if rows.numel() == 0:
                break
            f = -wg  # F(s) - s
            s_new = ws + f
            if m > 0 and have:
                A = (dF[:, :, None, :] * dF[:, None, :, :]).sum(-1)  # (b, m, m)
                reg = 1e-10 * A.diagonal(dim1=-2, dim2=-1).sum(-1) + 1e-20  # empty history: γ = 0
                A = A + reg[:, None, None] * torch.eye(m, dtype=ws.dtype, device=ws.device)
                gamma, _ = torch.linalg.solve_ex(A, (dF * f[:, None, :]).sum(-1))  # (b, m)
                gamma = torch.where(torch.isfinite(gamma).all(1, keepdim=True), gamma, 0.0)
                s_new = s_new - (gamma[:, :, None] * (dS + dF)).sum(1)
            g_new, q_new = _residual(cell, s_new, x)
            self.stats["forward_evals"] += ws.shape[0]
            better = live & (q_new < wq)  # only improving steps are kept
            fast = better & (q_new < rate * wq)
            # A refused or slow accelerated step restarts the seed's history (its next step is
            # plain); a seed stops when a plain step is refused or slow, or it has converged.
            restart = live & ~fast & hist
            live = (fast | restart) & ~(better & (q_new < floor))
            if m > 0:
                k = step % m
                kept = (~restart).to(ws.dtype)[:, None, None]
                dS.mul_(kept)
                dF.mul_(kept)
                ok = (better & ~restart)[:, None]
                dS[:, k] = torch.where(ok, s_new - ws, 0.0)
                dF[:, k] = torch.where(ok, wg - g_new, 0.0)  # f_new - f
                hist = (better & ~restart) | (hist & ~restart)
                have = True
            ws = torch.where(better[:, None], s_new, ws)
            wg = torch.where(better[:, None], g_new, wg)
            wq = torch.where(better, q_new, wq)
            wn += better
            if step % 4 == 3 or step == steps - 1:
                n_live = int(live.sum())
                if n_live == 0 or n_live < live.numel() // 2 or step == steps - 1:
                    s[rows], g[rows], q[rows], n[rows] = ws, wg, wq, wn
                    keep = torch.nonzero(live)[:, 0]
                    rows, ws, wg, wq, wn = rows[keep], ws[keep], wg[keep], wq[keep], wn[keep]
                    live, dS, dF, hist = live[keep], dS[keep], dF[keep], hist[keep]
        if rows.numel():
            s[rows], n[rows] = ws, wn
        return s.to(torch.float64), n

    def iterate(self, s: Tensor, steps: int) -> tuple[Tensor, Tensor]:
        """Plain iteration ``s <- F(s, x)`` for ``steps`` steps in working precision, every step
        kept (q need not fall monotonically on the way to an attractor); a seed stops once its
        working-precision q is below ``tol / 10``. Returns the states (float64) and steps taken.
        """
        cell, x = self.cell_w, self.x_w
        s = s.to(x.dtype).clone()
        n = torch.zeros(s.shape[0], dtype=torch.long, device=s.device)
        rows = torch.arange(s.shape[0], device=s.device)
        ws = s
        for step in range(steps):
            if rows.numel() == 0:
                break
            f = cell.step(ws, x.expand(ws.shape[0], -1))
            self.stats["forward_evals"] += ws.shape[0]
            live = ((ws - f) ** 2).mean(-1) >= 0.1 * self.tol
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

    def run(self, s: Tensor, progress: Progress | None, done_before: int, total: int):
        """Iterate the block ``s`` (B, D) in place; returns per-seed arrays."""
        B = s.shape[0]
        dev = s.device
        g, q = self.residual(s)
        status = np.full(B, RUNNING, dtype=object)
        finite = torch.isfinite(q).cpu().numpy()
        status[~finite] = NONFINITE
        iters = torch.zeros(B, dtype=torch.long, device=dev)
        relax = torch.zeros(B, dtype=torch.long, device=dev)
        fails = torch.zeros(B, dtype=torch.long, device=dev)
        # seeds whose Krylov solves run in float64 (escalated after a failed working-precision step)
        hi = torch.zeros(B, dtype=torch.bool, device=dev)

        def mark_converged():
            status[(status == RUNNING) & (q < self.tol).cpu().numpy()] = CONVERGED

        mark_converged()
        # 1. relaxation: s <- F(s) while q keeps falling fast
        idx = np.flatnonzero(status == RUNNING)
        if self.relax_steps > 0 and idx.size:
            act = torch.as_tensor(idx, device=dev)
            s_r, n_r = self.relax(s[act])
            moved = n_r > 0
            rows = act[moved]
            if rows.numel():
                s[rows] = s_r[moved]
                g[rows], q[rows] = self.residual(s[rows])
                relax[rows] = n_r[moved]
        mark_converged()
        # 2-3. Newton with backtracking
        def newton(rounds: int) -> None:
            for it in range(rounds):
                idx = np.flatnonzero(status == RUNNING)
                if idx.size == 0:
                    break
                if progress is not None:
                    progress((done_before + B - idx.size) / total,
                             f"Newton iteration {it + 1}: {idx.size} of {total} seeds still moving")
                act = torch.as_tensor(idx, device=dev)
                sa, ga, qa = s[act], g[act], q[act]
                hia = hi[act]
                d = self.direction(sa, ga, hia)
                self.stats["newton_iters"] += 1
                iters[act] += 1
                s_new = sa + d
                g_new, q_new = self.residual(s_new)
                ok = torch.isfinite(q_new) & (q_new <= (1 - 1e-4) * qa)
                # A working-precision step that fails the full-step test may be the precision's
                # fault (see module docstring): that seed's next directions are float64.
                hi[act[~ok]] = True
                bad = torch.nonzero(~ok)[:, 0]
                if bad.numel():
                    n_a = self.alphas.numel()
                    trial = sa[bad, None, :] + self.alphas[None, :, None] * d[bad, None, :]
                    g_t, q_flat = self.residual(trial.reshape(-1, s.shape[1]))
                    q_t = q_flat.reshape(-1, n_a)
                    q_t = torch.where(torch.isfinite(q_t), q_t, torch.inf)
                    ok_t = q_t <= (1 - 1e-4 * self.alphas)[None] * qa[bad, None]
                    # the largest step with sufficient decrease, else the best step if it decreases q at all
                    first = torch.where(ok_t.any(1), ok_t.float().argmax(1), q_t.argmin(1))
                    has = q_t.gather(1, first[:, None])[:, 0] < qa[bad]
                    rows = bad[has]
                    pick = torch.arange(bad.numel(), device=dev)[has] * n_a + first[has]
                    s_new[rows] = trial.reshape(-1, s.shape[1])[pick]
                    g_new[rows] = g_t[pick]
                    q_new[rows] = q_flat[pick]
                    ok[rows] = True
                acc = act[ok]
                s[acc], g[acc], q[acc] = s_new[ok], g_new[ok], q_new[ok]
                fails[acc] = 0
                # a failure counts towards patience only for a float64 direction
                fails[act[~ok & (hia | (self.work_dtype == torch.float64))]] += 1
                mark_converged()
                stalled = (status == RUNNING) & (fails >= self.patience).cpu().numpy()
                status[stalled] = STALLED

        newton(self.max_iter)
        # 3b. seeds Newton could not finish: a long plain relaxation towards the attractor
        # they are heading to, then Newton again with float64 directions
        idx = np.flatnonzero((status == STALLED) | (status == RUNNING))
        if self.retry_relax_steps > 0 and idx.size:
            if progress is not None:
                progress((done_before + B - idx.size) / total,
                         f"relaxing {idx.size} seeds where Newton stalled")
            act = torch.as_tensor(idx, device=dev)
            s_r, n_r = self.iterate(s[act], self.retry_relax_steps)
            g_r, q_r = self.residual(s_r)
            better = torch.isfinite(q_r)
            rows = act[better]
            s[rows], g[rows], q[rows] = s_r[better], g_r[better], q_r[better]
            relax[act] += n_r
            status[idx] = RUNNING
            fails[act] = 0
            hi[act] = True
            mark_converged()
            newton(self.max_iter)
        # 4. Levenberg-Marquardt for the seeds Newton could not move
        idx = np.flatnonzero((status == STALLED) | (status == RUNNING))
        if self.lm_iter > 0 and idx.size:
            if progress is not None:
                progress((done_before + B - idx.size) / total,
                         f"Levenberg-Marquardt on {idx.size} seeds where Newton stalled")
            act = torch.as_tensor(idx, device=dev)
            s_l, n_l, st_l = self.levenberg_marquardt(s[act])
            s[act] = s_l
            g[act], q[act] = self.residual(s_l)
            iters[act] += n_l
            status[idx] = st_l
            status[idx[(q[act] < self.tol).cpu().numpy()]] = CONVERGED
        # 5. polish: plain float64 steps s <- F(s) for converged seeds while q still falls
        idx = np.flatnonzero(status == CONVERGED)
        if self.polish_steps > 0 and idx.size:
            act = torch.as_tensor(idx, device=dev)
            s_p, n_p = self.relax(s[act], steps=self.polish_steps, rate=1.0, anderson=0, polish=True)
            s[act] = s_p
            g[act], q[act] = self.residual(s_p)
        status[status == RUNNING] = MAX_ITER
        status[(status != CONVERGED) & ~torch.isfinite(q).cpu().numpy()] = NONFINITE
        return q, iters, relax, status

    def levenberg_marquardt(self, s: Tensor) -> tuple[Tensor, Tensor, np.ndarray]:
        """Minimize q from ``s`` (B, D) by Levenberg-Marquardt, matrix-free, in float64.

        Each iteration solves ``min |G + M d|² + μ |d|²`` (``M = I - J_rec``) by CGLS, with
        ``M p`` by a forward difference and ``Mᵀ r`` by reverse-mode autodiff, and adapts
        ``μ`` per seed from the ratio of actual to predicted decrease (Nielsen's rule). The
        damping keeps steps short along the near-singular directions where Newton's steps
        blow up, and turns into gradient descent far from a root, so it reaches roots (or
        minima of q) that Newton's line search cannot.

        A seed stops when it converges; when ``μ`` exceeds ``1e12`` (no step, however short,
        lowers q: status ``stalled``); when ``q`` fell by less than the fraction
        ``lm_window_drop`` over the last ``lm_window`` iterations (a plateau of q: ``stalled``);
        or when the budget ``lm_iter`` is spent while q still falls (``max_iter``). The window
        rather than a per-step test, because LM's q plateaus for tens of iterations on its way
        to a root (measured on the IMDB LSTM: plateaus near iterations 80-110, then a drop).
        Returns the states, iterations and statuses.
        """
        cell, x = self.cell64, self.x64
        s = s.clone()
        B, D = s.shape
        n = torch.zeros(B, dtype=torch.long, device=s.device)
        mu = torch.full((B,), 1e-2, dtype=torch.float64, device=s.device)
        nu = torch.full((B,), 2.0, dtype=torch.float64, device=s.device)
        g, q = self.residual(s)
        status = np.full(B, MAX_ITER, dtype=object)
        status[~torch.isfinite(q).cpu().numpy()] = NONFINITE
        active = torch.nonzero(torch.isfinite(q) & (q >= self.tol))[:, 0]
        W = max(1, self.lm_window)
        hist = q[:, None].repeat(1, W)  # q at the last W iterations (ring buffer)
        eps_h = torch.finfo(torch.float64).eps ** 0.5
        for it in range(self.lm_iter):
            if active.numel() == 0:
                break
            sa, ga, qa, m = s[active], g[active], q[active], mu[active]
            xa = x.expand(sa.shape[0], -1)
            fa = sa - ga
            h = eps_h * (1 + sa.norm(dim=1, keepdim=True))
            with torch.enable_grad():
                leaf = sa.clone().requires_grad_(True)
                out = cell.step(leaf, xa)

            def mv(v: Tensor) -> Tensor:  # M v
                nv = v.norm(dim=1, keepdim=True).clamp_min(1e-300)
                return v - (cell.step(sa + h * v / nv, xa) - fa) / h * nv

            def rmv(r: Tensor) -> Tensor:  # Mᵀ r
                with torch.enable_grad():
                    jt = torch.autograd.grad(out, leaf, r, retain_graph=True)[0]
                return r - jt

            d, res, k = _cgls(mv, rmv, -ga, m, max_iter=_LM_CG_ITERS)
            self.stats["jvps"] += k * sa.shape[0]
            self.stats["vjps"] += k * sa.shape[0]
            self.stats["lm_iters"] += 1
            s_new = sa + d
            g_new, q_new = self.residual(s_new)
            n[active] += 1
            predicted = (ga * ga).sum(1) - (res * res).sum(1)
            rho = (qa - q_new) * D / predicted.clamp_min(1e-300)
            ok = torch.isfinite(q_new) & (q_new < qa)
            acc = active[ok]
            s[acc], g[acc], q[acc] = s_new[ok], g_new[ok], q_new[ok]
            mu[active] = torch.where(ok, m * torch.clamp(1 - (2 * rho - 1) ** 3, min=1 / 3), m * nu[active])
            nu[active] = torch.where(ok, torch.full_like(m, 2.0), nu[active] * 2)
            # done: converged, or on a plateau of q above tol (damping so large that no step
            # helps, or q fell by less than lm_window_drop over the last W iterations)
            slot = it % W
            q_then = hist[active, slot].clone()  # q W iterations ago (the start for it < W)
            hist[active, slot] = q[active]
            flat = (n[active] >= W) & (q[active] > (1 - self.lm_window_drop) * q_then)
            stuck = (mu[active] >= 1e12) | flat
            status[active[stuck & (q[active] >= self.tol)].cpu().numpy()] = STALLED
            status[active[~torch.isfinite(q[active])].cpu().numpy()] = NONFINITE
            active = active[(q[active] >= self.tol) & ~stuck & torch.isfinite(q[active])]
        return s, n, status


def _block_size(S: int, D: int, krylov_dim: int, dense: bool) -> int:
    if dense:
        return S  # the dense path chunks its D×D work itself
    return max(1, min(S, _KRYLOV_BLOCK_BYTES // (4 * (krylov_dim + 2) * D)))


# --- public API -------------------------------------------------------------------------------
@torch.no_grad()
def find_fixed_points(net, seeds, *, x=None, tol: float = 1e-8, max_iter: int | None = None,
                      unique_tol: float = 1e-3, outlier_threshold: float | None = 10.0,
                      method: str = "newton-krylov", relax_steps: int = 200, relax_rate: float = 0.98,
                      anderson: int = 5, krylov_dim: int = 40, krylov_rtol: float = 1e-2, patience: int = 3,
                      lm_iter: int = 100, polish_steps: int = 20, precision: str = "mixed", progress: Progress | None = None,
                      device=None, retry_relax_steps: int = 300, lm_window: int = 30,
                      lm_window_drop: float = 1e-3) -> FixedPointResult:
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

    Returns
    -------
    FixedPointResult
    """
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; expected one of {', '.join(METHODS)}")
    if precision not in _PRECISIONS:
        raise ValueError(f"unknown precision {precision!r}; expected one of {', '.join(_PRECISIONS)}")
    device = torch.device(device) if device is not None else _net_device(net)
    D = net.state_size
    s = _as_tensor(seeds, torch.float64, device).reshape(-1, D).clone()
    seeds64 = s.clone()
    x_in = _input(net, x, torch.float64, device)
    S = s.shape[0]
    t0 = time.perf_counter()
    if method == "adam":
        q, iters, status, stats = _adam(net, s, x_in, tol=tol, max_iter=5000 if max_iter is None else max_iter,
                                        progress=progress)
        relax = torch.zeros(S, dtype=torch.long)
    else:
        solver = _NewtonSolver(net, x_in, device, tol=tol, max_iter=50 if max_iter is None else max_iter,
                               dense=method == "newton", relax_steps=relax_steps, relax_rate=relax_rate,
                               krylov_dim=krylov_dim, krylov_rtol=krylov_rtol, patience=patience,
                               work_dtype=_PRECISIONS[precision], lm_iter=lm_iter, anderson=anderson,
                               polish_steps=polish_steps, retry_relax_steps=retry_relax_steps,
                               lm_window=lm_window, lm_window_drop=lm_window_drop)
        block = _block_size(S, D, krylov_dim, method == "newton")
        parts = []
        for a in range(0, S, block):
            parts.append(solver.run(s[a: a + block], progress, a, S))
        if parts:
            q = torch.cat([p[0] for p in parts])
            iters = torch.cat([p[1] for p in parts])
            relax = torch.cat([p[2] for p in parts])
            status = np.concatenate([p[3] for p in parts])
        else:
            q = torch.zeros(0, dtype=torch.float64)
            iters = relax = torch.zeros(0, dtype=torch.long)
            status = np.zeros(0, dtype=object)
        stats = solver.stats
    seconds = time.perf_counter() - t0
    if progress is not None:
        progress(1.0, "deduplicating")
    return _finalize(s, q, seeds64, iters, relax, status, tol=tol, unique_tol=unique_tol,
                     outlier_threshold=outlier_threshold, seconds=seconds, method=method,
                     x=x_in[0].cpu().numpy(), stats=stats, net=net)


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
    device = torch.device(device) if device is not None else _net_device(net)
    D = net.state_size
    s = _as_tensor(seeds, torch.float64, device).reshape(-1, D).clone()
    seeds64 = s.clone()
    x_in = _input(net, x, torch.float64, device)
    t0 = time.perf_counter()
    q, iters, status, stats = _adam(net, s, x_in, tol=tol, max_iter=max_iter, lr=lr, lr_factor=lr_factor,
                                    lr_patience=lr_patience, dtype=dtype, progress=progress)
    seconds = time.perf_counter() - t0
    return _finalize(s, q, seeds64, iters, torch.zeros_like(iters), status, tol=tol, unique_tol=unique_tol,
                     outlier_threshold=outlier_threshold, seconds=seconds, method="adam",
                     x=x_in[0].cpu().numpy(), stats=stats, net=net)


def _adam(net, s: Tensor, x64: Tensor, *, tol, max_iter, lr=1.0, lr_factor=0.95, lr_patience=2,
          dtype=torch.float32, progress=None):
    """Adam on q (FixedPointFinder-style); writes the final states into ``s`` (float64)."""
    device = s.device
    cell = _cell_copy(net, dtype, device)
    x = x64.to(dtype).expand(s.shape[0], -1)
    S = s.shape[0]
    first_hit = torch.full((S,), -1, dtype=torch.long, device=device)
    with torch.enable_grad():
        z = s.to(dtype).clone().requires_grad_(True)
        opt = torch.optim.Adam([z], lr=lr)
        sched = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, factor=lr_factor, patience=lr_patience)
        n = 0
        for n in range(max_iter):
            g = z - cell.step(z, x)
            q = (g * g).mean(-1)
            hit = (q.detach() < tol) & (first_hit < 0)
            first_hit[hit] = n
            if bool((q.detach() < tol).all()):
                break
            loss = q.mean()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step(loss.item())
            if progress is not None and n % 100 == 0:
                progress(n / max_iter, f"Adam iteration {n}")
    s.copy_(z.detach().to(torch.float64))
    q64 = _residual(_cell_copy(net, torch.float64, device), s, x64)[1]
    iters = torch.where(first_hit >= 0, first_hit, torch.full_like(first_hit, n + 1))
    conv = (q64 < tol).cpu().numpy()
    status = np.where(conv, CONVERGED, np.where(torch.isfinite(q64).cpu().numpy(), MAX_ITER, NONFINITE))
    return q64, iters, status.astype(object), {"forward_evals": S * (n + 1), "adam_iters": n + 1}


def _finalize(s, q, seeds, iters, relax, status, *, tol, unique_tol, outlier_threshold, seconds,
              method, x, stats, net=None) -> FixedPointResult:
    S = s.shape[0]
    finite = torch.isfinite(q) & torch.isfinite(s).all(1) if S else torch.zeros(0, dtype=torch.bool)
    converged = (q < tol) & finite
    outlier = torch.zeros_like(converged)
    if outlier_threshold is not None and S:
        ok_seeds = seeds[torch.isfinite(seeds).all(1)]
        if ok_seeds.shape[0]:
            centre = ok_seeds.mean(0)
            # radius of the seed cloud, floored so that (nearly) identical seeds do not make
            # every point an outlier
            scale = torch.maximum((ok_seeds - centre).norm(dim=1).mean(), 0.1 * ok_seeds.norm(dim=1).mean())
            dist = (s - centre).norm(dim=1)
            outlier = converged & (dist > outlier_threshold * scale) & (scale > 0)
    keep = converged & ~outlier
    unique_index = np.full(S, -1, dtype=np.int64)
    kept = torch.nonzero(keep)[:, 0]
    reps = np.zeros(0, dtype=np.int64)
    if kept.numel():
        order = kept[torch.argsort(q[kept], stable=True)]
        labels, rep_rows = _deduplicate(s[order], unique_tol)
        unique_index[order.cpu().numpy()] = labels
        reps = order.cpu().numpy()[rep_rows]
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


def _deduplicate(points: Tensor, radius: float, block: int = 512) -> tuple[np.ndarray, np.ndarray]:
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


class FixedPointFinder:
    """scikit-learn-style wrapper of :func:`find_fixed_points`.

    ``__init__`` only stores the parameters (they make a cache key, see ``get_params``);
    ``fit`` runs the search.

    Parameters
    ----------
    tol, max_iter, unique_tol, outlier_threshold, method, relax_steps, relax_rate, anderson,
    krylov_dim, krylov_rtol, patience, lm_iter, polish_steps, precision, device,
    retry_relax_steps, lm_window, lm_window_drop
        As in :func:`find_fixed_points`.

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
                 lm_window_drop: float = 1e-3):
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

    def get_params(self) -> dict:
        """The constructor parameters (for cache keys)."""
        keys = ("tol", "max_iter", "unique_tol", "outlier_threshold", "method", "relax_steps",
                "relax_rate", "anderson", "krylov_dim", "krylov_rtol", "patience", "lm_iter",
                "polish_steps", "precision", "retry_relax_steps", "lm_window", "lm_window_drop")
        return {k: getattr(self, k) for k in keys}

    def fit(self, net, seeds, x=None, progress: Progress | None = None) -> FixedPointFinder:
        """Search from ``seeds`` (S, D) with input ``x`` (E,) held constant; returns self."""
        res = find_fixed_points(net, seeds, x=x, progress=progress, device=self.device, **self.get_params())
        self.result_ = res
        self.fixed_points_ = res.points
        self.q_ = res.q
        self.n_iter_ = res.seed_iters
        self.converged_ = res.seed_converged
        self.unique_index_ = res.seed_unique_index
        return self
