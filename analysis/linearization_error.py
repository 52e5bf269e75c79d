"""How well the linearization around the nearest fixed (or slow) point approximates the
network (paper §4.6, Fig. 5, and the linearized-model accuracy of §5).

Notation. ``F(h, x)`` is the network's update (state h before a token, x the token's
embedding). The points ``h*`` handed in may be *slow points*, approximate fixed points with
``F(h*, 0) ≠ h*``, so the expansion keeps ``F(h*, 0)`` instead of assuming it equals ``h*``.
``J_rec(p)`` and ``J_inp(p)`` are the Jacobians of F with respect to the state and the input,
taken at ``(p, 0)`` (zero input, as for the fixed points). Let ``d = h − h*``.

Linearization at the nearest point (the paper's)::

    h_lin = F(h*, 0) + J_rec(h*) d + J_inp(h*) x

For an exact fixed point this is the paper's ``h* + J_rec d + J_inp x``; for a slow point the
two differ by the point's residual ``F(h*, 0) − h*``, which is not a linearization error.

Single-step errors, per sampled visited step, all relative to ``‖F(h, x)‖`` (the true next
state), returned by :func:`one_step_errors`:

``rel_error`` (the paper's one-step error)
    ``e = F(h, x) − h_lin``; ``‖e‖ / ‖F(h, x)‖``.
``rel_error_recurrent`` (zero-input step, linearized at h*)
    ``e_rec = F(h, 0) − [F(h*, 0) + J_rec(h*) d]``. It is the error of the recurrence alone
    and grows with the distance ``‖d‖`` to the point (second order in ``d``): large when
    the visited state is far from every fixed point, whatever the word.
``rel_error_input`` (the word's effect, linearized at h*)
    ``e_inp = [F(h, x) − F(h, 0)] − J_inp(h*) x``: the word's actual effect at h against
    its linear prediction at h*. It is large when the word drives the cell out of its
    linear range (big embeddings, saturating gates) *or* when the input Jacobian at h
    differs from the one at h* (again a distance effect, through ``J_inp``).
    ``e = e_rec + e_inp`` exactly (as vectors), so the two parts attribute the full error,
    although their norms need not add (they can partly cancel).
``rel_error_previous`` (linearize at the previous state, Maheswaranathan & Sussillo, ICML 2020)
    ``‖F(h, x) − [F(h, 0) + J_inp(h, 0) x]‖ / ‖F(h, x)‖``. The recurrence is exact at the
    expansion point, only the input is linearized: it measures the input's nonlinearity
    alone, with no distance effect. When h* = h it equals ``rel_error`` (and
    ``rel_error_input``).

Reading them: if ``rel_error`` is large but ``rel_error_previous`` is small, the error comes
from being far from the nearest point (check ``nearest_dist`` against ``step_norm``, the
per-token step ``‖F(h, x) − h‖``: a point many steps away is not "near"); if
``rel_error_previous`` is itself large, the words act nonlinearly and no single-point
linearization can be accurate. :func:`summarize_one_step` gives medians and 90th percentiles.

Division by zero. A relative error is undefined when ``‖F(h, x)‖ = 0`` (the true next state
is the origin); such steps get NaN in all four ``rel_error*`` arrays (never inf), and
:func:`summarize_one_step` leaves them out and counts them (``n_undefined``). Likewise its
median of the per-step ratio ``nearest_dist / step_norm`` leaves out steps with
``step_norm = 0``, and the ratio of medians is None when the median step is 0.

Linearized model. Starting from the initial state, each document is read with the
linearized update at the point nearest to the *current linearized* state; the readout of
the final linearized state gives its label.

Every linear term is a Jacobian-vector product (``torch.func.jvp`` of F along a tangent),
never a D×D Jacobian, so memory does not grow with the number of fixed points (no J_rec is
ever held). :func:`linearized_step` is one jvp of F at (h*, 0) along (h − h*, x), about two
forward steps; gathering stored per-point Jacobians (K, D, D) for each step's batch was
measured 2x slower (memory bound) on a 128-unit GRU. :func:`step_error_vectors` (used by
:func:`one_step_errors`) needs the terms separately, so it takes one jvp over a batch three
times as large (expansions at h*, h* and h along (d, 0), (0, x) and (0, x)) plus one forward
step for F(h, x). The first ``jvp`` in a process imports ``torch._dynamo`` once (a few
seconds).
"""
from __future__ import annotations

import threading
from collections.abc import Sequence

import numpy as np
import torch
from torch import Tensor
from torch.func import jvp

from rnnscope.analysis.model import RNNClassifier, binary_logit, binary_logit_from_logits, pad_batch
from rnnscope.analysis.states import VisitedStates


def _device(net: RNNClassifier) -> torch.device:
    return net.readout.weight.device


def nearest_fixed_point(states: Tensor, points: Tensor, chunk: int = 4096) -> Tensor:
    """Index (N,) of the point (K, D) nearest to each state (N, D), Euclidean."""
    out = []
    for i in range(0, len(states), chunk):
        out.append(torch.cdist(states[i: i + chunk], points).argmin(1))
    return torch.cat(out) if out else torch.zeros(0, dtype=torch.long, device=states.device)


#: torch's forward-mode AD levels are process-wide, not per thread: two threads inside ``jvp``
#: at once break each other ("no level exists", seen under 20 concurrent dashboard users), so
#: the calls are serialized. Each takes about two forward steps.
_FORWARD_AD = threading.Lock()


def linearized_step(net: RNNClassifier, h: Tensor, x: Tensor, h_star: Tensor) -> Tensor:
    """F(h*, 0) + J_rec(h*)(h − h*) + J_inp(h*) x, batched: h, h_star (B, D), x (B, E) -> (B, D).

    The Jacobians are taken at zero input, as for the fixed points. ``F(h*, 0)`` (not ``h*``)
    keeps the expansion exact to first order at slow points too; at an exact fixed point
    the two agree. Forward-mode AD works under ``torch.no_grad``, so no graph is built.
    """
    zero = torch.zeros_like(x)
    with _FORWARD_AD:
        f_star, delta = jvp(net.step, (h_star, zero), (h - h_star, x))
    return f_star + delta


def step_error_vectors(net: RNNClassifier, h: Tensor, x: Tensor, h_star: Tensor) -> dict[str, Tensor]:
    """The single-step error vectors of a batch, from Jacobian-vector products only.

    Parameters
    ----------
    net : RNNClassifier
    h, h_star : tensors of shape (B, D)
        States before the token, and the points each is linearized at.
    x : tensor of shape (B, E)
        Input embeddings.

    Returns
    -------
    dict of tensors of shape (B, D)
        ``f_next`` = F(h, x); ``h_lin`` = F(h*,0) + J_rec(h*)(h − h*) + J_inp(h*) x;
        ``e`` = F(h, x) − h_lin; ``e_rec`` = F(h, 0) − F(h*, 0) − J_rec(h*)(h − h*);
        ``e_inp`` = F(h, x) − F(h, 0) − J_inp(h*) x (so e = e_rec + e_inp up to round-off);
        ``e_prev`` = F(h, x) − F(h, 0) − J_inp(h, 0) x (linearized at the previous state).

    One jvp over the stacked batch [h*, h*, h] at zero input, along [(h − h*, 0), (0, x),
    (0, x)], gives F(h*, 0), J_rec(h*)(h − h*), J_inp(h*) x, F(h, 0) and J_inp(h, 0) x; one
    forward step gives F(h, x). No D×D matrix is formed.
    """
    B = h.shape[0]
    zs, zx = torch.zeros_like(h), torch.zeros_like(x)
    tangent_x = torch.cat([zx, x, x])
    with _FORWARD_AD:
        out, tan = jvp(net.step, (torch.cat([h_star, h_star, h]), torch.zeros_like(tangent_x)),
                       (torch.cat([h - h_star, zs, zs]), tangent_x))
    f_star, jrec_d, jinp_star_x = out[:B], tan[:B], tan[B: 2 * B]
    f_zero, jinp_prev_x = out[2 * B:], tan[2 * B:]
    f_next = net.step(h, x)
    h_lin = f_star + jrec_d + jinp_star_x
    return {"f_next": f_next, "h_lin": h_lin, "e": f_next - h_lin, "e_rec": f_zero - (f_star + jrec_d),
            "e_inp": (f_next - f_zero) - jinp_star_x, "e_prev": f_next - (f_zero + jinp_prev_x)}


def _relative(num: Tensor, den: Tensor) -> Tensor:
    """num / den with NaN where den == 0 (a relative error of a zero target is undefined)."""
    return torch.where(den > 0, num / torch.where(den > 0, den, torch.ones_like(den)),
                       torch.full_like(num, float("nan")))


_ERROR_KEYS = ("rel_error", "rel_error_recurrent", "rel_error_input", "rel_error_previous")


def step_rel_errors(net: RNNClassifier, h: Tensor, x: Tensor, h_star: Tensor) -> dict[str, Tensor]:
    """The four relative one-step errors (B,) of steps from states ``h`` (B, D) with inputs
    ``x`` (B, E), each linearized at ``h_star`` (B, D): ``rel_error`` (the paper's),
    ``rel_error_recurrent``, ``rel_error_input``, ``rel_error_previous`` (see
    :func:`one_step_errors`), NaN where ‖F(h, x)‖ = 0; plus ``f_next`` = F(h, x) (B, D)."""
    v = step_error_vectors(net, h, x, h_star)
    norm = torch.linalg.vector_norm
    den = norm(v["f_next"], dim=1)
    out = {key: _relative(norm(v[e], dim=1), den)
           for key, e in zip(_ERROR_KEYS, ("e", "e_rec", "e_inp", "e_prev"))}
    return {**out, "f_next": v["f_next"]}


@torch.no_grad()
def one_step_errors(net: RNNClassifier, visited: VisitedStates, fixed_points: np.ndarray, *,
                    n_samples: int = 5000, seed: int = 0, batch_size: int = 4096) -> dict[str, np.ndarray]:
    """Single-step relative errors of the nearest-point linearization on visited steps.

    See the module docstring for the formulas and how to read them.

    Parameters
    ----------
    net : RNNClassifier
    visited : VisitedStates
        Trajectories (e.g. of test documents); each step pairs the state before a token
        with that token.
    fixed_points : float ndarray of shape (K, D)
        Fixed or slow points; each step is linearized at the nearest one.
    n_samples : int
        Steps sampled uniformly without replacement (all steps if fewer).
    seed : int
    batch_size : int
        Steps per jvp (the jvp batch is three times this).

    Returns
    -------
    dict with float32 arrays of shape (N,):

    - ``rel_error``: ‖F(h,x) − h_lin‖ / ‖F(h,x)‖, h_lin = F(h*,0) + J_rec(h*)(h − h*) + J_inp(h*) x
      (the paper's one-step error);
    - ``rel_error_recurrent``: ‖F(h,0) − F(h*,0) − J_rec(h*)(h − h*)‖ / ‖F(h,x)‖;
    - ``rel_error_input``: ‖F(h,x) − F(h,0) − J_inp(h*) x‖ / ‖F(h,x)‖;
    - ``rel_error_previous``: ‖F(h,x) − F(h,0) − J_inp(h,0) x‖ / ‖F(h,x)‖ (linearized at h);
    - ``nearest_dist``: ‖h − h*‖ (state units);
    - ``step_norm``: ‖F(h,x) − h‖, the per-token step (state units);

    (the four ``rel_error*`` are NaN where ‖F(h,x)‖ = 0), and int64 arrays ``nearest``
    (index of h*) and ``step`` (index into ``visited``).
    """
    n_total = len(visited)
    if n_total == 0 or len(fixed_points) == 0:
        empty = np.zeros(0, np.float32)
        out = {key: empty.copy() for key in (*_ERROR_KEYS, "nearest_dist", "step_norm")}
        out.update(nearest=np.zeros(0, np.int64), step=np.zeros(0, np.int64))
        return out
    rng = np.random.default_rng(seed)
    step = np.sort(rng.choice(n_total, size=min(n_samples, n_total), replace=False))
    dev = _device(net)
    dtype = net.readout.weight.dtype
    prev_all = visited.previous()
    points = torch.as_tensor(np.asarray(fixed_points), dtype=dtype, device=dev)
    cols: dict[str, list[Tensor]] = {key: [] for key in (*_ERROR_KEYS, "nearest_dist", "step_norm", "nearest")}
    norm = torch.linalg.vector_norm
    for i in range(0, len(step), batch_size):
        sel = step[i: i + batch_size]
        h = torch.as_tensor(prev_all[sel], dtype=dtype, device=dev)
        x = net.embedding(torch.as_tensor(visited.token[sel], device=dev))
        k = nearest_fixed_point(h, points)
        h_star = points[k]
        rel = step_rel_errors(net, h, x, h_star)
        for key in _ERROR_KEYS:
            cols[key].append(rel[key].cpu())
        cols["nearest_dist"].append(norm(h - h_star, dim=1).cpu())
        cols["step_norm"].append(norm(rel["f_next"] - h, dim=1).cpu())
        cols["nearest"].append(k.cpu())
    out = {key: torch.cat(cols[key]).float().numpy() for key in (*_ERROR_KEYS, "nearest_dist", "step_norm")}
    out.update(nearest=torch.cat(cols["nearest"]).numpy().astype(np.int64), step=step.astype(np.int64))
    return out


def summarize_one_step(err: dict) -> dict:
    """Summary statistics of :func:`one_step_errors`' output, as plain floats (None when empty).

    Returns
    -------
    dict
        - ``{v}_median`` and ``{v}_p90`` for ``v`` in ``rel_error``, ``rel_error_recurrent``,
          ``rel_error_input``, ``rel_error_previous``: median and 90th percentile (numpy's
          default linear interpolation) of the relative errors, dimensionless (fractions of
          ‖F(h, x)‖), over the steps where they are defined;
        - ``nearest_dist_median``: median ‖h − h*‖, in state units;
        - ``step_norm_median``: median per-token step ‖F(h, x) − h‖, in state units;
        - ``nearest_dist_in_steps_median``: median over steps of ``nearest_dist / step_norm``,
          dimensionless: how many of that step's own per-token moves away the nearest
          point is (steps with ``step_norm = 0`` left out);
        - ``nearest_dist_over_median_step``: ``nearest_dist_median / step_norm_median``,
          dimensionless: the typical distance in units of the typical per-token step;
        - ``n_steps``: steps sampled; ``n_undefined``: steps with ‖F(h, x)‖ = 0, whose
          relative errors are NaN and left out.
    """
    def array(key):
        return np.asarray(err.get(key, np.zeros(0)), np.float64)

    def median(v):
        return float(np.median(v)) if v.size else None

    out: dict = {}
    for key in _ERROR_KEYS:
        v = array(key)
        v = v[~np.isnan(v)]  # NaN: ‖F(h, x)‖ = 0, relative error undefined
        out[f"{key}_median"] = median(v)
        out[f"{key}_p90"] = float(np.percentile(v, 90)) if v.size else None
    dist, step_norm = array("nearest_dist"), array("step_norm")
    moving = step_norm > 0
    out["nearest_dist_median"] = median(dist)
    out["step_norm_median"] = median(step_norm)
    out["nearest_dist_in_steps_median"] = median(dist[moving] / step_norm[moving])
    d_med, s_med = out["nearest_dist_median"], out["step_norm_median"]
    out["nearest_dist_over_median_step"] = d_med / s_med if d_med is not None and s_med else None
    out["n_steps"] = int(array("rel_error").size)
    out["n_undefined"] = int(np.isnan(array("rel_error")).sum())
    return out


@torch.no_grad()
def run_linearized(net: RNNClassifier, tokens: Tensor, lengths: Tensor, points: Tensor) -> Tensor:
    """Final states (B, D) of the linearized model over padded ``tokens`` (B, T).

    At each step the update is linearized at the point nearest to the current (linearized)
    state, as in :func:`linearized_step` (so F(h*, 0) + J_rec(h*)(s − h*) + J_inp(h*) x, exact
    to first order at slow points too). States that blow up become non-finite and stay so.
    """
    B, T = tokens.shape
    s = net.initial_state(B)
    x_all = net.embedding(tokens)
    lengths = lengths.to(s.device)
    for t in range(T):
        finite = torch.isfinite(s).all(1, keepdim=True)
        k = nearest_fixed_point(torch.where(finite, s, torch.zeros_like(s)), points)
        s_new = linearized_step(net, s, x_all[:, t], points[k])
        s_new = torch.where(finite, s_new, s)
        s = torch.where((t < lengths).unsqueeze(-1), s_new, s)
    return s


@torch.no_grad()
def linearized_accuracy(net: RNNClassifier, token_seqs: Sequence[np.ndarray], labels: np.ndarray,
                        fixed_points: np.ndarray, *, max_docs: int | None = 500, max_len: int | None = 400,
                        batch_size: int = 256) -> dict:
    """Accuracy of the linearized model (and of the full network) on whole documents.

    Parameters
    ----------
    net : RNNClassifier
    token_seqs : sequence of int ndarrays
    labels : int ndarray of shape (n,), 0/1
    fixed_points : float ndarray of shape (K, D), K >= 1
        Fixed or slow points (see :func:`linearized_step`).
    max_docs, max_len : int, optional
        First ``max_docs`` documents, each truncated to ``max_len`` tokens.

    Returns
    -------
    dict
        ``accuracy`` (linearized), ``full_accuracy`` (the network on the same documents and
        truncation), ``agreement`` (same label from both), ``n_docs``, ``n_diverged`` (final
        linearized state non-finite; counted as wrong), and float32 arrays
        ``linearized_logit`` / ``full_logit`` of shape (n_docs,).
    """
    if len(fixed_points) == 0:
        raise ValueError("the linearized model needs at least one fixed point")
    seqs = [np.asarray(s, np.int64)[:max_len] for s in list(token_seqs)[:max_docs]]
    y = np.asarray(labels, np.int64)[: len(seqs)]
    dev = _device(net)
    points = torch.as_tensor(np.asarray(fixed_points), dtype=net.readout.weight.dtype, device=dev)
    lin = np.full(len(seqs), np.nan, np.float32)
    full = np.full(len(seqs), np.nan, np.float32)
    order = np.argsort([len(s) for s in seqs], kind="stable")
    was_training = net.training
    net.eval()
    try:
        for i in range(0, len(seqs), batch_size):
            idx = order[i: i + batch_size]
            tokens, lens = pad_batch([seqs[j] for j in idx])
            tokens = tokens.to(dev)
            s_lin = run_linearized(net, tokens, lens, points)
            lin[idx] = binary_logit(net, s_lin).cpu().numpy()
            full[idx] = binary_logit_from_logits(net(tokens, lens.to(dev))).cpu().numpy()
    finally:
        net.train(was_training)
    ok = np.isfinite(lin)
    pred_lin, pred_full = lin > 0, full > 0
    n = len(seqs)
    return {
        "accuracy": float(np.mean(ok & (pred_lin == (y == 1)))) if n else float("nan"),
        "full_accuracy": float(np.mean(pred_full == (y == 1))) if n else float("nan"),
        "agreement": float(np.mean(ok & (pred_lin == pred_full))) if n else float("nan"),
        "n_docs": n, "n_diverged": int((~ok).sum()),
        "linearized_logit": lin, "full_logit": full,
    }
