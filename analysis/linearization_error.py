"""How well the linearization around the nearest fixed point approximates the network
(paper §4.6, Fig. 5, and the linearized-model accuracy of §5).

Single-step error. For a visited state h and the next input x, with h* the fixed point
nearest to h (Euclidean, in state space)::

    h_lin = h* + J_rec(h*) (h − h*) + J_inp(h*) x
    error = ‖F(h, x) − h_lin‖ / ‖F(h, x)‖

Linearized model. Starting from the initial state, each document is read with the
linearized update at the fixed point nearest to the *current linearized* state; the
readout of the final linearized state gives its label.

``J_rec (h − h*) + J_inp x`` is computed as one Jacobian-vector product
(``torch.func.jvp`` of F at (h*, 0) along (h − h*, x)): exactly the linearization, without
forming any D×D Jacobian, so memory does not grow with the number of fixed points (no
J_rec is ever held). It costs about two forward steps; gathering stored per-point
Jacobians (K, D, D) for each step's batch was measured 2x slower (memory bound) on a
128-unit GRU. The first ``jvp`` in a process imports ``torch._dynamo`` once (a few seconds).
"""
from __future__ import annotations

import threading
from collections.abc import Sequence

import numpy as np
import torch
from torch import Tensor
from torch.func import jvp

from analysis.model import RNNClassifier, pad_batch
from analysis.states import VisitedStates


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
    """h* + J_rec(h*)(h − h*) + J_inp(h*) x, batched: h, h_star (B, D), x (B, E) -> (B, D).

    The Jacobians are taken at zero input, as for the fixed points. Forward-mode AD works
    under ``torch.no_grad``, so no graph is built.
    """
    zero = torch.zeros_like(x)
    with _FORWARD_AD:
        _, delta = jvp(net.step, (h_star, zero), (h - h_star, x))
    return h_star + delta


@torch.no_grad()
def one_step_errors(net: RNNClassifier, visited: VisitedStates, fixed_points: np.ndarray, *,
                    n_samples: int = 5000, seed: int = 0, batch_size: int = 4096) -> dict[str, np.ndarray]:
    """Single-step relative error of the nearest-fixed-point linearization on visited steps.

    Parameters
    ----------
    net : RNNClassifier
    visited : VisitedStates
        Trajectories (e.g. of test documents); each step pairs the state before a token
        with that token.
    fixed_points : float ndarray of shape (K, D)
    n_samples : int
        Steps sampled uniformly without replacement (all steps if fewer).
    seed : int

    Returns
    -------
    dict with float32 arrays of shape (N,): ``rel_error``, ``nearest_dist`` (‖h − h*‖),
    and int64 ``nearest`` (index of h*) and ``step`` (index into ``visited``).
    """
    n_total = len(visited)
    if n_total == 0 or len(fixed_points) == 0:
        empty = np.zeros(0, np.float32)
        return {"rel_error": empty, "nearest_dist": empty, "nearest": np.zeros(0, np.int64),
                "step": np.zeros(0, np.int64)}
    rng = np.random.default_rng(seed)
    step = np.sort(rng.choice(n_total, size=min(n_samples, n_total), replace=False))
    dev = _device(net)
    dtype = net.readout.weight.dtype
    prev_all = visited.previous()
    points = torch.as_tensor(np.asarray(fixed_points), dtype=dtype, device=dev)
    err, dist, near = [], [], []
    for i in range(0, len(step), batch_size):
        sel = step[i: i + batch_size]
        h = torch.as_tensor(prev_all[sel], dtype=dtype, device=dev)
        x = net.embedding(torch.as_tensor(visited.token[sel], device=dev))
        k = nearest_fixed_point(h, points)
        h_star = points[k]
        h_lin = linearized_step(net, h, x, h_star)
        h_next = net.step(h, x)
        err.append((torch.linalg.norm(h_next - h_lin, dim=1) / torch.linalg.norm(h_next, dim=1)).cpu())
        dist.append(torch.linalg.norm(h - h_star, dim=1).cpu())
        near.append(k.cpu())
    return {"rel_error": torch.cat(err).float().numpy(), "nearest_dist": torch.cat(dist).float().numpy(),
            "nearest": torch.cat(near).numpy().astype(np.int64), "step": step.astype(np.int64)}


@torch.no_grad()
def run_linearized(net: RNNClassifier, tokens: Tensor, lengths: Tensor, points: Tensor) -> Tensor:
    """Final states (B, D) of the linearized model over padded ``tokens`` (B, T).

    At each step the update is linearized at the fixed point nearest to the current
    (linearized) state. States that blow up become non-finite and stay so.
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
            lin[idx] = _binary_logit(net, s_lin).cpu().numpy()
            full[idx] = _binary_logit_from_logits(net(tokens, lens.to(dev))).cpu().numpy()
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


def _binary_logit(net: RNNClassifier, s: Tensor) -> Tensor:
    """Positive-minus-negative logit (B,) from states (B, D) (one logit: that logit)."""
    return _binary_logit_from_logits(net.logits_from_state(s))


def _binary_logit_from_logits(logits: Tensor) -> Tensor:
    """(B, C) logits -> (B,) positive-minus-negative logit (C = 1: the logit itself)."""
    return logits[:, 0] if logits.shape[1] == 1 else logits[:, -1] - logits[:, 0]
