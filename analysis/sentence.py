"""What moved the readout of one text, token by token: the token's own push and what the
dynamics did without it.

Notation as in ``analysis.linearization_error``: ``F(h, x)`` is the network's update (state
h before a token, x the token's embedding), ``ℓ(h) = w·h + b`` the binary readout logit
(positive minus negative class). ``s_0`` is the initial state and ``s_t = F(s_{t−1}, x_t)``
the state after token t. The readout change of step t splits exactly in two::

    ℓ(s_t) − ℓ(s_{t−1}) = [ℓ(F(s_{t−1}, x_t)) − ℓ(F(s_{t−1}, 0))]    push_t
                        + [ℓ(F(s_{t−1}, 0)) − ℓ(s_{t−1})]             drift_t

``push_t`` is what the token itself did, against zero input (the input the fixed points are
found for; the readout of the same vector ``F(h, x) − F(h, 0)`` whose linear prediction
``J_inp x`` the report's ``rel_error_input`` checks). ``drift_t`` is what the zero-input
dynamics did at that state: the decay of earlier evidence, or the relaxation of the state
towards the fixed points (zero on an exact line attractor when the state lies on it). Their
sums telescope: ``ℓ(s_T) = ℓ(s_0) + Σ push + Σ drift``.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch


@dataclass(frozen=True)
class ReadoutSteps:
    """The readout of one text, step by step (T tokens), in logit units.

    Attributes
    ----------
    start_logit : float
        ℓ(s_0), the readout of the initial state.
    logit : float64 ndarray of shape (T,)
        ℓ(s_t), the readout after token t.
    push : float64 ndarray of shape (T,)
        ℓ(F(s_{t−1}, x_t)) − ℓ(F(s_{t−1}, 0)): the token's own effect on the readout.
    drift : float64 ndarray of shape (T,)
        ℓ(F(s_{t−1}, 0)) − ℓ(s_{t−1}): what the dynamics without input did at that step.
    drift_states : float64 ndarray of shape (T, D)
        F(s_{t−1}, 0), where the state would have gone without the token (the token's
        push moves it from there to s_t).
    """

    start_logit: float
    logit: np.ndarray
    push: np.ndarray
    drift: np.ndarray
    drift_states: np.ndarray

    def __len__(self) -> int:
        return len(self.logit)

    def account(self, top: int = 3) -> dict:
        """``readout_account`` of these steps."""
        return readout_account(self.start_logit, self.logit, self.push, self.drift, top)


def drift_after(drift) -> np.ndarray:
    """(T,) Σ_{u>t} drift_u for ``drift`` (T,): how much the zero-input dynamics moved the
    readout after token t, up to the end of the text (what became of token t's push and
    of everything before it; 0 for the last token). Logit units."""
    drift = np.asarray(drift, dtype=np.float64)
    rest = np.cumsum(drift[::-1])[::-1]
    return np.append(rest[1:], 0.0) if len(rest) else rest


def readout_account(start_logit: float, logit, push, drift, top: int = 3) -> dict:
    """The numbers a sentence's account in words needs, in logit units.

    Parameters
    ----------
    start_logit : float
        ℓ(s_0).
    logit, push, drift : array-like of shape (T,)
        As in ``ReadoutSteps``.
    top : int
        How many tokens ``top_push`` and ``top_drift`` list.

    Returns
    -------
    dict with ``start`` ℓ(s_0), ``final`` ℓ(s_T), ``total_push`` Σ push, ``total_drift``
    Σ drift, ``top_push`` and ``top_drift`` (up to ``top`` token indices by decreasing
    |push| / |drift|, ties by position), ``largest`` (the index of the largest |push|, None
    for no tokens), ``drift_after_largest`` (Σ drift after that token) and ``residual``
    ``final − start − Σ push − Σ drift`` (rounding only, for a consistent trace).
    """
    logit, push, drift = (np.asarray(v, dtype=np.float64) for v in (logit, push, drift))
    n = len(logit)
    order_push = np.argsort(-np.abs(push), kind="stable")[:top]
    order_drift = np.argsort(-np.abs(drift), kind="stable")[:top]
    final = float(logit[-1]) if n else float(start_logit)
    largest = int(order_push[0]) if n else None
    return {
        "start": float(start_logit), "final": final,
        "total_push": float(push.sum()), "total_drift": float(drift.sum()),
        "top_push": [int(t) for t in order_push], "top_drift": [int(t) for t in order_drift],
        "largest": largest,
        "drift_after_largest": float(drift_after(drift)[largest]) if n else 0.0,
        "residual": final - float(start_logit) - float(push.sum()) - float(drift.sum()),
    }


@torch.no_grad()
def readout_steps(net, start, states, readout, bias: float) -> ReadoutSteps:
    """Split the readout change of every step of one text into the token's push and the
    zero-input drift (module docstring).

    Parameters
    ----------
    net : object with ``step(s (B, D), x (B, E)) -> (B, D)`` and ``embed_dim``
        The network's update F (an ``RNNClassifier``, or any map with that signature).
    start : Tensor of shape (D,) or (1, D)
        The initial state s_0.
    states : Tensor of shape (T, D)
        The states after each token, s_1 … s_T (``net.run(tokens)[0]``).
    readout : array-like of shape (D,)
        The readout direction w (``net.readout_vector()``: positive minus negative class).
    bias : float
        The readout bias b (positive minus negative class).

    Returns
    -------
    ReadoutSteps
        Everything in float64, logit units.
    """
    states = torch.as_tensor(states)
    start = torch.as_tensor(start, dtype=states.dtype, device=states.device).reshape(1, -1)
    w = np.asarray(torch.as_tensor(readout).detach().cpu(), dtype=np.float64).reshape(-1)
    start_logit = float(start.double().cpu().numpy()[0] @ w + float(bias))
    if len(states) == 0:
        empty = np.zeros(0)
        return ReadoutSteps(start_logit, empty, empty, empty, np.zeros((0, len(w))))
    prev = torch.cat([start, states[:-1]])
    drift_states = net.step(prev, prev.new_zeros(len(prev), net.embed_dim))
    to64 = lambda t: t.detach().double().cpu().numpy()  # noqa: E731
    logit = to64(states) @ w + float(bias)
    before = np.append(start_logit, logit[:-1])
    without = to64(drift_states) @ w + float(bias)
    return ReadoutSteps(start_logit=start_logit, logit=logit, push=logit - without,
                        drift=without - before, drift_states=to64(drift_states))
