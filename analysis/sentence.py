"""What moved the readout of one text, token by token: the token's own push and what the
dynamics did without it.

Notation as in ``rnnscope.analysis.linearization_error``: ``F(h, x)`` is the network's update (state
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

from dataclasses import dataclass, field

import numpy as np
import torch

from rnnscope.analysis.linearization_error import nearest_fixed_point, step_rel_errors
from rnnscope.analysis.model import Model, RNNClassifier, binary_logit
from rnnscope.analysis.pca import project
from rnnscope.analysis.tokenizer import UNK_ID


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


# --------------------------------------------------------------------------- one sentence, traced
@dataclass
class SentenceTrace:
    """What the network does, token by token, with one sentence (T tokens).

    Attributes
    ----------
    tokens : list of str, length T
        Tokens as the model's tokenizer splits the text.
    known : bool ndarray of shape (T,)
        False for tokens outside the vocabulary (read as ``<unk>``).
    states_pc : float64 ndarray of shape (T, 2)
        State after each token on the visited-state PC1/PC2.
    start_pc : float64 ndarray of shape (2,)
        The initial state on PC1/PC2.
    logit : float64 ndarray of shape (T,)
        Readout logit after each token (> 0 reads as positive).
    probability : float64 ndarray of shape (T,)
        P(positive) after each token.
    input_projection : float64 ndarray of shape (T,)
        ℓ1ᵀ J_inp x_t of token t at ``nearest[t]``.
    nearest : int64 ndarray of shape (T,)
        Fixed point nearest to the state *before* token t (where the step is linearized).
    nearest_distance : float64 ndarray of shape (T,)
        ‖s_{t-1} − h*‖, in state units.
    linearization_error : float64 ndarray of shape (T,)
        ‖F(s,x) − (h* + J_rec(s − h*) + J_inp x)‖ / ‖F(s,x)‖ for step t.
    dropped : int
        Tokens beyond ``max_tokens`` that were not run.
    start_logit : float
        Readout logit of the initial state.
    push, drift : float64 ndarray of shape (T,)
        The readout change of step t split as in ``rnnscope.analysis.sentence``: the token's own push
        ℓ(F(s,x)) − ℓ(F(s,0)) and the zero-input drift ℓ(F(s,0)) − ℓ(s), logit units.
    drift_pc : float64 ndarray of shape (T, 2)
        F(s_{t−1}, 0), where the state would have gone without token t, on PC1/PC2.
    end_point : int
        The point nearest to the final state (-1 without points).
    end_point_logit, end_point_distance : float
        That point's readout logit and its distance to the final state (state units).
    linear_push : float64 ndarray of shape (T,)
        What a linear integrator would have added to the readout for token t: its input
        projection times the readout of the integration mode at ``nearest[t]``,
        ``(w · r1) ℓ1ᵀ J_inp x_t`` (logit units; the push of a token on the attractor,
        whatever came before it). Set against ``push``, it shows context: after a negator
        the network's push has the other sign. NaN without points.
    """

    tokens: list[str]
    known: np.ndarray
    states_pc: np.ndarray
    start_pc: np.ndarray
    logit: np.ndarray
    probability: np.ndarray
    input_projection: np.ndarray
    nearest: np.ndarray
    nearest_distance: np.ndarray
    linearization_error: np.ndarray
    dropped: int = 0
    start_logit: float = float("nan")
    push: np.ndarray = field(default_factory=lambda: np.zeros(0))
    drift: np.ndarray = field(default_factory=lambda: np.zeros(0))
    drift_pc: np.ndarray = field(default_factory=lambda: np.zeros((0, 2)))
    end_point: int = -1
    end_point_logit: float = float("nan")
    end_point_distance: float = float("nan")
    linear_push: np.ndarray = field(default_factory=lambda: np.zeros(0))

    def __len__(self) -> int:
        return len(self.tokens)

    def account(self, top: int = 3) -> dict:
        """``rnnscope.analysis.sentence.readout_account`` of this trace (logit units)."""
        return readout_account(self.start_logit, self.logit, self.push, self.drift, top)


@torch.no_grad()
def trace_sentence(model: Model, arrays: dict[str, np.ndarray], text: str,
                   max_tokens: int = 2000) -> SentenceTrace:
    """Run ``text`` through the network and read every step against the report.

    Parameters
    ----------
    model : Model
        The analysed network (same checkpoint as the report).
    arrays : dict
        Report arrays; uses ``fixed_points`` (K, D), ``mode_coef`` (K, E), ``r1`` (K, D),
        ``readout`` (D,), ``state_pca_components`` (n, D), ``state_pca_mean`` (D,).
    text : str
        Any text; tokenized exactly as in training.
    max_tokens : int
        Run at most this many tokens (the rest is reported in ``dropped``).
    """
    tokens = model.tokenizer(text or "")
    dropped = max(0, len(tokens) - max_tokens)
    tokens = tokens[:max_tokens]
    ids = model.vocab.encode(tokens)
    net = model.net
    device = net.readout.weight.device
    comps, mean = arrays["state_pca_components"], arrays["state_pca_mean"]
    start = net.initial_state(1)
    start_pc = project(start.cpu().numpy()[0], comps, mean, 2)
    if not len(ids):
        empty = np.zeros(0)
        return SentenceTrace([], np.zeros(0, bool), np.zeros((0, 2)), start_pc, empty, empty,
                             empty, np.zeros(0, np.int64), empty, empty, dropped,
                             start_logit=float(binary_logit(net, start)[0]))
    tok = torch.as_tensor(ids, device=device)[None]
    states = net.run(tok)[0]                                  # (T, D)
    prev = torch.cat([start, states[:-1]])                    # state before each token
    x = net.embedding(tok)[0]                                 # (T, E)
    points = torch.as_tensor(arrays["fixed_points"], dtype=states.dtype, device=device)
    if len(points):
        nearest_t = nearest_fixed_point(prev, points)
        h_star = points[nearest_t]
        nearest = nearest_t.cpu().numpy().astype(np.int64)
        dist = torch.linalg.vector_norm(prev - h_star, dim=1).cpu().numpy()
        err = step_rel_errors(net, prev, x, h_star)["rel_error"].cpu().numpy()
        proj = np.einsum("te,te->t", arrays["mode_coef"][nearest].astype(np.float64),
                         x.cpu().numpy().astype(np.float64))
        linear = proj * (arrays["r1"][nearest].astype(np.float64) @ arrays["readout"].astype(np.float64))
    else:
        nearest = np.full(len(ids), -1, np.int64)
        dist = err = proj = linear = np.full(len(ids), np.nan)
    parts = _readout_parts(net, start, states, points, comps, mean)
    logit = parts.pop("logit")
    return SentenceTrace(
        tokens=list(tokens), known=ids != UNK_ID, states_pc=project(states.cpu().numpy(), comps, mean, 2),
        start_pc=start_pc, logit=logit, probability=1.0 / (1.0 + np.exp(-logit)),
        input_projection=np.asarray(proj, np.float64), nearest=nearest,
        nearest_distance=np.asarray(dist, np.float64),
        linearization_error=np.asarray(err, np.float64), dropped=dropped,
        linear_push=np.asarray(linear, np.float64), **parts)


def _readout_parts(net: RNNClassifier, start: torch.Tensor, states: torch.Tensor, points: torch.Tensor,
                   comps: np.ndarray, mean: np.ndarray) -> dict:
    """The readout of each step split into the token's push and the zero-input drift
    (``rnnscope.analysis.sentence.readout_steps``), and the point nearest to the final state with its
    readout: the ``SentenceTrace`` fields ``logit``, ``start_logit``, ``push``, ``drift``,
    ``drift_pc``, ``end_point``, ``end_point_logit``, ``end_point_distance``."""
    w = net.readout_vector()
    bias = float(binary_logit(net, torch.zeros_like(start))[0].detach())
    steps = readout_steps(net, start, states, w, bias)
    out = {"logit": steps.logit, "start_logit": steps.start_logit, "push": steps.push,
           "drift": steps.drift, "drift_pc": project(steps.drift_states, comps, mean, 2)}
    if len(points):
        gap = torch.linalg.vector_norm(points - states[-1], dim=1)
        k = int(gap.argmin())
        out.update(end_point=k, end_point_distance=float(gap[k]),
                   end_point_logit=float(points[k].double().cpu().numpy() @ w.double().cpu().numpy() + bias))
    return out
