"""The iterative methods of the fixed-point search, batched over seeds: relaxation, (inexact)
Newton with a backtracking line search, the second relaxation and Newton round,
Levenberg-Marquardt, the polish (:class:`NewtonSolver`), and the Adam reference (:func:`adam`).

The algorithm, its stop rules and its costs are described in
:mod:`rnnscope.analysis.fixed_points`, whose ``find_fixed_points`` runs these on blocks of seeds.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from rnnscope.analysis.fixed_point_relaxation import anderson_relax, plain_iterate
from rnnscope.analysis.fixed_point_residual import cell_copy, constant_input, residual
from rnnscope.analysis.fixed_point_types import CONVERGED, MAX_ITER, NONFINITE, RUNNING, STALLED, Progress
from rnnscope.analysis.krylov import cgls, gmres
from rnnscope.analysis.memory_budget import LINE_SEARCH_TRIALS

# CGLS iterations per Levenberg-Marquardt step (an inexact solve is enough).
_LM_CG_ITERS = 30
# Step halvings tried by the line search (1/2 ... 1/2**_BACKTRACKS) after the full step fails
# (the memory budget counts these trial points).
_BACKTRACKS = LINE_SEARCH_TRIALS
#: Working precision of relaxation, finite-difference Jacobian-vector products and GMRES.
PRECISIONS = {"mixed": torch.float32, "double": torch.float64}


@dataclass
class _Block:
    """The per-seed state of one block of seeds in :meth:`NewtonSolver.run`.

    ``s`` (B, D) float64 is the caller's tensor, updated in place; ``g`` (B, D) and ``q`` (B,)
    its residual and speed; ``status`` (B,) object; ``iters`` and ``relax`` (B,) the counters
    returned; ``fails`` (B,) failed line searches in a row; ``hi`` (B,) bool: the seed's Krylov
    solves run in float64 (escalated after a failed working-precision step).
    """

    s: Tensor
    g: Tensor
    q: Tensor
    status: np.ndarray
    iters: Tensor
    relax: Tensor
    fails: Tensor
    hi: Tensor
    progress: Progress | None
    done_before: int
    total: int

    def mark_converged(self, tol: float) -> None:
        self.status[(self.status == RUNNING) & (self.q < tol).cpu().numpy()] = CONVERGED

    def unfinished(self) -> np.ndarray:
        """Rows of the seeds Newton stalled on or left running."""
        return np.flatnonzero((self.status == STALLED) | (self.status == RUNNING))

    def report(self, n_left: int, message: str) -> None:
        if self.progress is not None:
            self.progress((self.done_before + self.s.shape[0] - n_left) / self.total, message)


class NewtonSolver:
    """Relaxation + globalized (inexact) Newton on a block of seeds; see
    :mod:`rnnscope.analysis.fixed_points`."""

    def __init__(self, net, x, device, *, tol, max_iter, dense, relax_steps, relax_rate,
                 krylov_dim, krylov_rtol, patience, work_dtype, lm_iter, anderson, polish_steps,
                 lm_window=30, lm_window_drop=1e-3, retry_relax_steps=300):
        self.cell64 = cell_copy(net, torch.float64, device)
        self.x64 = constant_input(net, x, torch.float64, device)
        self.dense = dense
        # The working precision of relaxation and Krylov solves; residuals are float64.
        self.work_dtype = work_dtype
        self.cell_w = self.cell64 if work_dtype == torch.float64 else cell_copy(net, work_dtype, device)
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
        """``G`` (B, D) and ``q`` (B,) in float64, counted in ``stats["forward_evals"]``."""
        self.stats["forward_evals"] += s.shape[0]
        return residual(self.cell64, s, self.x64)

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
        """Newton steps from the dense Jacobians of the seeds ``s`` (b, D): ``(I - J_rec) d = -g``
        by batched LU. ``b`` is at most a block, which the memory budget sizes for this work
        (:func:`~rnnscope.analysis.memory_budget.block_bytes` with ``dense``: ``4 (D + E)``
        float64 vectors of D a seed)."""
        j_rec, _ = self.cell64.jacobians(s, self.x64.expand(s.shape[0], -1))
        M = torch.eye(s.shape[1], dtype=torch.float64, device=s.device) - j_rec
        del j_rec
        d, info = torch.linalg.solve_ex(M, -g[:, :, None])
        d = d[..., 0]
        bad = (info != 0) | ~torch.isfinite(d).all(1)
        d[bad] = -g[bad]  # singular Jacobian: fall back to a relaxation step
        self.stats["dense_solves"] += s.shape[0]
        return d

    def relax(self, s: Tensor, *, steps: int | None = None, rate: float | None = None,
              anderson: int | None = None, polish: bool = False) -> tuple[Tensor, Tensor]:
        """:func:`~rnnscope.analysis.fixed_point_relaxation.anderson_relax` in working precision
        down to ``tol`` (``polish``: in float64, below ``tol`` too), with the solver's
        ``relax_steps``, ``relax_rate`` and ``anderson`` unless given."""
        cell, x = (self.cell64, self.x64) if polish else (self.cell_w, self.x_w)
        return anderson_relax(cell, x, s, steps=self.relax_steps if steps is None else steps,
                              rate=self.relax_rate if rate is None else rate,
                              anderson=self.anderson if anderson is None else anderson,
                              floor=0.0 if polish else self.tol,  # polishing goes on below tol
                              stats=self.stats)

    def iterate(self, s: Tensor, steps: int) -> tuple[Tensor, Tensor]:
        """:func:`~rnnscope.analysis.fixed_point_relaxation.plain_iterate` in working precision,
        a seed stopping once its working-precision q is below ``tol / 10``."""
        return plain_iterate(self.cell_w, self.x_w, s, steps, stop_q=0.1 * self.tol, stats=self.stats)

    def run(self, s: Tensor, progress: Progress | None, done_before: int, total: int):
        """Iterate the block ``s`` (B, D) in place; returns per-seed arrays
        ``q`` (B,), ``iters`` (B,), ``relax`` (B,) and ``status`` (B,)."""
        B, dev = s.shape[0], s.device
        g, q = self.residual(s)
        status = np.full(B, RUNNING, dtype=object)
        status[~torch.isfinite(q).cpu().numpy()] = NONFINITE
        counters = [torch.zeros(B, dtype=torch.long, device=dev) for _ in range(3)]
        b = _Block(s, g, q, status, *counters, hi=torch.zeros(B, dtype=torch.bool, device=dev),
                   progress=progress, done_before=done_before, total=total)
        b.mark_converged(self.tol)
        self._relax_stage(b)  # 1. relaxation: s <- F(s) while q keeps falling fast
        self._newton(b)  # 2-3. Newton with backtracking
        self._retry_stage(b)  # 3b. a long plain relaxation, then Newton again
        self._lm_stage(b)  # 4. Levenberg-Marquardt for the seeds Newton could not move
        self._polish_stage(b)  # 5. plain float64 steps for converged seeds while q still falls
        b.status[b.status == RUNNING] = MAX_ITER
        b.status[(b.status != CONVERGED) & ~torch.isfinite(b.q).cpu().numpy()] = NONFINITE
        return b.q, b.iters, b.relax, b.status

    def _relax_stage(self, b: _Block) -> None:
        idx = np.flatnonzero(b.status == RUNNING)
        if self.relax_steps > 0 and idx.size:
            act = torch.as_tensor(idx, device=b.s.device)
            s_r, n_r = self.relax(b.s[act])
            moved = n_r > 0
            rows = act[moved]
            if rows.numel():
                b.s[rows] = s_r[moved]
                b.g[rows], b.q[rows] = self.residual(b.s[rows])
                b.relax[rows] = n_r[moved]
        b.mark_converged(self.tol)

    def _newton(self, b: _Block) -> None:
        """Up to ``max_iter`` Newton iterations on the running seeds."""
        for it in range(self.max_iter):
            idx = np.flatnonzero(b.status == RUNNING)
            if idx.size == 0:
                break
            b.report(idx.size, f"Newton iteration {it + 1}: {idx.size} of {b.total} seeds still moving")
            self._newton_step(b, torch.as_tensor(idx, device=b.s.device))

    def _newton_step(self, b: _Block, act: Tensor) -> None:
        """One Newton iteration of the seeds ``act``: the direction, the full step or else the
        line search, and the patience count (a seed out of patience is ``stalled``)."""
        sa, ga, qa = b.s[act], b.g[act], b.q[act]
        hia = b.hi[act]
        d = self.direction(sa, ga, hia)
        self.stats["newton_iters"] += 1
        b.iters[act] += 1
        s_new = sa + d
        g_new, q_new = self.residual(s_new)
        ok = torch.isfinite(q_new) & (q_new <= (1 - 1e-4) * qa)
        # A working-precision step that fails the full-step test may be the precision's
        # fault (see module docstring): that seed's next directions are float64.
        b.hi[act[~ok]] = True
        self._line_search(sa, qa, d, ok, s_new, g_new, q_new)
        acc = act[ok]
        b.s[acc], b.g[acc], b.q[acc] = s_new[ok], g_new[ok], q_new[ok]
        b.fails[acc] = 0
        # a failure counts towards patience only for a float64 direction
        b.fails[act[~ok & (hia | (self.work_dtype == torch.float64))]] += 1
        b.mark_converged(self.tol)
        stalled = (b.status == RUNNING) & (b.fails >= self.patience).cpu().numpy()
        b.status[stalled] = STALLED

    def _line_search(self, sa: Tensor, qa: Tensor, d: Tensor, ok: Tensor, s_new: Tensor, g_new: Tensor,
                     q_new: Tensor) -> None:
        """Backtracking for the seeds whose full step failed (``~ok``): steps ``α d`` for
        ``α = 1/2 ... 1/2**12`` all at once, the largest with Armijo decrease, else the best if
        it lowers q at all. Writes the accepted trial points into ``s_new``, ``g_new``, ``q_new``
        and marks them in ``ok``."""
        bad = torch.nonzero(~ok)[:, 0]
        if not bad.numel():
            return
        n_a, D = self.alphas.numel(), sa.shape[1]
        trial = sa[bad, None, :] + self.alphas[None, :, None] * d[bad, None, :]
        g_t, q_flat = self.residual(trial.reshape(-1, D))
        q_t = q_flat.reshape(-1, n_a)
        q_t = torch.where(torch.isfinite(q_t), q_t, torch.inf)
        ok_t = q_t <= (1 - 1e-4 * self.alphas)[None] * qa[bad, None]
        # the largest step with sufficient decrease, else the best step if it decreases q at all
        first = torch.where(ok_t.any(1), ok_t.float().argmax(1), q_t.argmin(1))
        has = q_t.gather(1, first[:, None])[:, 0] < qa[bad]
        rows = bad[has]
        pick = torch.arange(bad.numel(), device=sa.device)[has] * n_a + first[has]
        s_new[rows] = trial.reshape(-1, D)[pick]
        g_new[rows] = g_t[pick]
        q_new[rows] = q_flat[pick]
        ok[rows] = True

    def _retry_stage(self, b: _Block) -> None:
        """Seeds Newton could not finish: a long plain relaxation towards the attractor they
        are heading to, then Newton again with float64 directions."""
        idx = b.unfinished()
        if self.retry_relax_steps > 0 and idx.size:
            b.report(idx.size, f"relaxing {idx.size} seeds where Newton stalled")
            act = torch.as_tensor(idx, device=b.s.device)
            s_r, n_r = self.iterate(b.s[act], self.retry_relax_steps)
            g_r, q_r = self.residual(s_r)
            better = torch.isfinite(q_r)
            rows = act[better]
            b.s[rows], b.g[rows], b.q[rows] = s_r[better], g_r[better], q_r[better]
            b.relax[act] += n_r
            b.status[idx] = RUNNING
            b.fails[act] = 0
            b.hi[act] = True
            b.mark_converged(self.tol)
            self._newton(b)

    def _lm_stage(self, b: _Block) -> None:
        idx = b.unfinished()
        if self.lm_iter > 0 and idx.size:
            b.report(idx.size, f"Levenberg-Marquardt on {idx.size} seeds where Newton stalled")
            act = torch.as_tensor(idx, device=b.s.device)
            s_l, n_l, st_l = self.levenberg_marquardt(b.s[act])
            b.s[act] = s_l
            b.g[act], b.q[act] = self.residual(s_l)
            b.iters[act] += n_l
            b.status[idx] = st_l
            b.status[idx[(b.q[act] < self.tol).cpu().numpy()]] = CONVERGED

    def _polish_stage(self, b: _Block) -> None:
        idx = np.flatnonzero(b.status == CONVERGED)
        if self.polish_steps > 0 and idx.size:
            act = torch.as_tensor(idx, device=b.s.device)
            s_p, n_p = self.relax(b.s[act], steps=self.polish_steps, rate=1.0, anderson=0, polish=True)
            b.s[act] = s_p
            b.g[act], b.q[act] = self.residual(s_p)

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
        s = s.clone()
        B, D = s.shape
        n = torch.zeros(B, dtype=torch.long, device=s.device)
        mu = torch.full((B,), 1e-2, dtype=torch.float64, device=s.device)
        nu = torch.full((B,), 2.0, dtype=torch.float64, device=s.device)
        g, q = self.residual(s)
        status = np.full(B, MAX_ITER, dtype=object)
        status[~torch.isfinite(q).cpu().numpy()] = NONFINITE
        active = torch.nonzero(torch.isfinite(q) & (q >= self.tol))[:, 0]
        hist = q[:, None].repeat(1, max(1, self.lm_window))  # q at the last W iterations (ring buffer)
        for it in range(self.lm_iter):
            if active.numel() == 0:
                break
            sa, ga, qa, m = s[active], g[active], q[active], mu[active]
            d, res = self._lm_step(sa, ga, m)
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
            active = self._lm_still_active(active, it, n, q, mu, hist, status)
        return s, n, status

    def _lm_step(self, sa: Tensor, ga: Tensor, mu: Tensor) -> tuple[Tensor, Tensor]:
        """The damped step ``d`` (b, D) of ``min |G + M d|² + μ |d|²`` by CGLS at the states ``sa``
        (b, D) with residuals ``ga``, and its data residual ``-G - M d``."""
        cell, xa = self.cell64, self.x64.expand(sa.shape[0], -1)
        fa = sa - ga
        h = torch.finfo(torch.float64).eps ** 0.5 * (1 + sa.norm(dim=1, keepdim=True))
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

        d, res, k = cgls(mv, rmv, -ga, mu, max_iter=_LM_CG_ITERS)
        self.stats["jvps"] += k * sa.shape[0]
        self.stats["vjps"] += k * sa.shape[0]
        self.stats["lm_iters"] += 1
        return d, res

    def _lm_still_active(self, active: Tensor, it: int, n: Tensor, q: Tensor, mu: Tensor, hist: Tensor,
                         status: np.ndarray) -> Tensor:
        """The seeds of ``active`` that go on after iteration ``it``; the others get their status.

        Done: converged, or on a plateau of q above tol (damping so large that no step helps,
        or q fell by less than ``lm_window_drop`` over the last W iterations, ``hist`` (B, W)).
        """
        W = hist.shape[1]
        slot = it % W
        q_then = hist[active, slot].clone()  # q W iterations ago (the start for it < W)
        hist[active, slot] = q[active]
        flat = (n[active] >= W) & (q[active] > (1 - self.lm_window_drop) * q_then)
        stuck = (mu[active] >= 1e12) | flat
        status[active[stuck & (q[active] >= self.tol)].cpu().numpy()] = STALLED
        status[active[~torch.isfinite(q[active])].cpu().numpy()] = NONFINITE
        return active[(q[active] >= self.tol) & ~stuck & torch.isfinite(q[active])]


def adam(net, s: Tensor, x64: Tensor, *, tol, max_iter, lr=1.0, lr_factor=0.95, lr_patience=2,
         dtype=torch.float32, progress=None):
    """Adam on q (FixedPointFinder-style) from the seeds ``s`` (S, D) float64, with the input
    ``x64`` (1, E); writes the final states into ``s``. Returns ``q`` (S,) float64 (recomputed
    in float64), ``iters`` (S,) (iterations until a seed first met ``tol``), ``status`` (S,)
    and the work counters."""
    device = s.device
    cell = cell_copy(net, dtype, device)
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
    q64 = residual(cell_copy(net, torch.float64, device), s, x64)[1]
    iters = torch.where(first_hit >= 0, first_hit, torch.full_like(first_hit, n + 1))
    conv = (q64 < tol).cpu().numpy()
    status = np.where(conv, CONVERGED, np.where(torch.isfinite(q64).cpu().numpy(), MAX_ITER, NONFINITE))
    return q64, iters, status.astype(object), {"forward_evals": S * (n + 1), "adam_iters": n + 1}
