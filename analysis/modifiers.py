r"""Modifier words: which words change how the next few words are integrated (ICML 2020).

A *modifier* (Maheswaranathan & Sussillo, "How recurrent networks implement contextual
processing in sentiment analysis", ICML 2020) changes what the following words do to the
readout: "not" flips them, "very" scales them up. This module measures that for any binary
model, word by word, against real contexts. Notation as in ``rnnscope.analysis.sentence``:
``F(s, x)`` is the update, ``ℓ(s)`` the binary readout logit, ``0`` the zero input (the pad
token's embedding).

**Design.** For a context (the state ``s`` after a real document prefix), a candidate word
``w``, a distance ``k`` (1 … K) and a probe word ``v`` (a valence word), the probe comes
``k`` tokens after ``w``, with ``k − 1`` neutral filler tokens ``u_1 … u_{k−1}`` between
them. *With* ``w`` the state before the probe is ``a_k = F(…F(F(s, x_w), u_1)…, u_{k−1})``;
*without* ``w`` a filler ``u_0`` (drawn per context) stands in its slot,
``b_k = F(…F(F(s, x_{u_0}), u_1)…, u_{k−1})``: the same fillers, the same probe, at the same
distance from the context. (Not ``w`` left out: the probe would then come one token sooner,
and at a context that ends inside a modifier's reach ("... not") every word, fillers
included, would look like a modifier as it moved the probe out of the window; measured on
the toy GRU, ``tests/unit/test_modifier_survey.py``. Not the zero input in ``w``'s place
either: a trained network never reads the pad token, and after one its next word's effect
changes, so every word would look like a modifier against it.)

**What the probe does at a state** ``a`` (two measures):

- *readout increment* (the nonlinear network): the probe's settled effect on the logit,
  ``Δ(a, v) = ℓ(G(F(a, x_v))) − ℓ(G(a))``, with ``G`` = ``H`` more filler tokens
  ``f_1 … f_H`` (``settle``; H = 0 gives the readout change of the probe's own step).
  Settling lets transients die, so what is left is what the probe added to the count.
  Logit units.
- *linearized* (the paper's input projection): ``L(a, v) = ℓ1(h*)ᵀ J_inp(a) x_v`` with
  ``h*`` the point nearest to the context's state ``s`` (of the point set the analysis
  chose: where the state sits before w and returns to), ``ℓ1(h*)`` its signed integration
  covector (report ``l1``: ``rnnscope.analysis.modes``) and ``J_inp(a) = ∂F/∂x`` at
  ``(a, 0)``. The Jacobian is taken at the state, not at ``h*`` (the previous-state
  linearization of the ICML 2020 paper, ``rnnscope.analysis.linearization_error``):
  ``J_inp(h*)`` does not depend on where the modifier moved the state, so it could not show
  any modifier. The covector is the context's for both runs, with and without w, so the
  ratio compares the same direction (a deflected state may be nearest to another point,
  whose chosen mode can differ). State units along the integration mode.

**Modulation ratio** of ``w`` at distance ``k`` (unitless): the least-squares gain that maps
the probes' effects without ``w`` onto their effects with ``w``, over contexts c and probes
v::

    r_k(w) = Σ_{c,v} Δ(a_k, v) Δ(b_k, v) / Σ_{c,v} Δ(b_k, v)²

(the same with ``L`` for the linearized ratio). ``r = 1``: ``w`` changes nothing;
``r > 1``: intensifier; ``0 <= r < 1``: attenuator; ``r < 0``: negator (the probes count
with the opposite sign). A word is a modifier when ``|r_k − 1| >= min_change`` at some
``k``; its kind is read at the peak ``k* = argmax_k |r_k − 1|``, its *reach* is the
largest such ``k`` (how many tokens the modification lasts), and words are ranked by
``|r_{k*} − 1|``.

Batched: every run steps all contexts (and a chunk of candidate words, and all probes) at
once through ``RNNClassifier.step``; the Python loops run over the K distances and the H
settling steps only.

**Cost.** Per candidate word, with N contexts, K distances, P probes and H settling tokens:
N (the word) + N (K − 1) (the fillers before the probe) + N K (P (H + 1) + H) (each probe
and its settling, and the settling without it) steps of the network, plus N K
vector-Jacobian products for ``L``: about N K P (H + 1) steps. One GRU step costs
2 · 3 · D (D + E) FLOPs per row (D = 128, E = 64: 1.5e5), so N = 32, K = 5, P = 6, H = 10
is 1.3e4 steps or 1.9 GFLOP per word, 3.8e13 FLOPs for a 20,000-word vocabulary.

**Screening** (``refine``, for large vocabularies). The word enters the measurement only
through the state after its slot, ``a = F(s, x_w) = b + d(w)``; everything downstream is a
function ``n_{c,k}(a) = Σ_v Δ(a_k(a), v) Δ(b_{c,k}, v)`` of that state, with
``n_{c,k}(b_c) = Σ_v Δ(b_{c,k}, v)²`` at the baseline ``b_c = F(s_c, x_{u_0})``. To first
order in the deflection ``d_c(w) = F(s_c, x_w) − b_c``,

    r_k(w) ≈ 1 + Σ_c g_{c,k}ᵀ d_c(w) / Σ_{c,v} Δ(b_{c,k}, v)²,   g_{c,k} = ∇_a n_{c,k}(b_c),

and the gradients g (K, N, D) come from one backward pass through the probe runs of the
contexts (about three words' worth of work), after which each word costs its N slot steps
and an N K D contraction. Every word is screened so; the ``refine`` words with the largest
screened ``max_k |r_k − 1|`` are then measured exactly. The screen is exact when the probes'
effect is linear in the deflection (the hand-built memory networks) and blind when it has
no first-order term (a gain ``1 + g n²``: tests); ``ModifierEffects.exact`` says which words
were measured. The transient dynamics and the ablation are in
``rnnscope.analysis.modifier_dynamics``.
"""
from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from rnnscope.analysis.linearization_error import nearest_fixed_point
from rnnscope.analysis.linearize import linearize
from rnnscope.analysis.model import RNNClassifier, binary_logit, pad_batch
from rnnscope.analysis.modes import IntegrationModes, select_integration_modes
from rnnscope.analysis.tokenizer import N_SPECIAL

#: Kinds a word can be given (``none``: not a modifier).
KINDS = ("negator", "intensifier", "attenuator", "none")
#: Rows of states stepped at once (bounds memory: rows × D floats per temporary).
BATCH_ROWS = 65536


# --------------------------------------------------------------------------- inputs


def frequent_words(seqs: Sequence[np.ndarray], *, min_count: int = 20, max_words: int | None = None) -> np.ndarray:
    """Ids (W,) of the words seen at least ``min_count`` times in ``seqs``, most frequent
    first (ties by id), without ``<pad>``/``<unk>``; at most ``max_words``."""
    counts = Counter()
    for ids in seqs:
        counts.update(int(i) for i in ids)
    ranked = sorted((i for i, c in counts.items() if c >= min_count and i >= N_SPECIAL),
                    key=lambda i: (-counts[i], i))
    return np.asarray(ranked[:max_words], np.int64)


def sample_contexts(seqs: Sequence[np.ndarray], n: int, seed: int = 0, *, min_len: int = 1,
                    max_len: int | None = None) -> list[np.ndarray]:
    """``n`` real contexts: prefixes of seeded random documents, cut at a seeded random
    position with at least ``min_len`` tokens (and at most ``max_len``)."""
    rng = np.random.default_rng(seed)
    usable = [s for s in seqs if len(s) >= min_len]
    if not usable:
        raise ValueError(f"no document has {min_len} tokens")
    out = []
    for i in rng.integers(len(usable), size=n):
        doc = usable[int(i)]
        top = len(doc) if max_len is None else max(min_len, min(len(doc), max_len))
        out.append(np.asarray(doc[: int(rng.integers(min_len, top + 1))], np.int64))
    return out


def draw_fillers(filler_ids, n: int, length: int, seed: int = 0) -> np.ndarray:
    """(n, length) int64: seeded uniform draws from ``filler_ids``, the neutral words that
    separate a candidate from its probe (and that the deflection decays under)."""
    filler_ids = np.asarray(filler_ids, np.int64)
    if length > 0 and filler_ids.size == 0:
        raise ValueError("need at least one filler word")
    rng = np.random.default_rng(seed)
    return filler_ids[rng.integers(len(filler_ids), size=(n, length))] if length > 0 else np.zeros((n, 0), np.int64)


@torch.no_grad()
def context_states(net: RNNClassifier, contexts: Sequence[np.ndarray], batch_size: int = 512) -> Tensor:
    """The state after each context, (N, D), on the network's device and dtype."""
    out = []
    for i in range(0, len(contexts), batch_size):
        tokens, lengths = pad_batch(contexts[i: i + batch_size])
        out.append(net.run(tokens.to(_device(net)), lengths)[:, -1])
    return torch.cat(out) if out else net.initial_state(0)


def point_integration_modes(net: RNNClassifier, points) -> IntegrationModes:
    """The integration mode at each point (K, D), chosen and signed as the report does
    (``rnnscope.analysis.modes``; its ``left`` (K, D) is the report array ``l1``, the signed
    covector ℓ1): for callers without a report. Needs at least one point."""
    points = np.asarray(points, np.float64).reshape(-1, net.state_size)
    lin = linearize(net, points, n_modes=min(8, net.state_size))
    readout = net.readout_vector().double().cpu().numpy()
    return select_integration_modes(lin.eigvals, lin.right, lin.left, lin.left_inp, points, readout,
                                    along_set=len(points) >= 2)


# --------------------------------------------------------------------------- network runs


def _device(net: RNNClassifier) -> torch.device:
    return net.readout.weight.device


def _embed(net: RNNClassifier, ids) -> Tensor:
    """Embeddings (..., E) of token ids (...) (array or tensor)."""
    ids = torch.as_tensor(np.asarray(ids, np.int64) if not isinstance(ids, Tensor) else ids, device=_device(net))
    return net.embedding(ids).detach()


@torch.no_grad()
def run_tokens(net: RNNClassifier, s: Tensor, ids: Tensor) -> Tensor:
    """States (M, D) after reading the tokens ``ids`` (M, T) from states ``s`` (M, D)."""
    for t in range(ids.shape[1]):
        s = net.step(s, _embed(net, ids[:, t]))
    return s


@torch.no_grad()
def probe_chain(net: RNNClassifier, after_slot: Tensor, between: Tensor) -> Tensor:
    """States before the probe at distances 1 … K: (K, M, D).

    Parameters
    ----------
    after_slot : Tensor of shape (M, D)
        The state right after the candidate (``F(s, x_w)``; the baseline ``F(s, x_{u_0})``
        without it; or an ablated ``F(s, x_w)``).
    between : int64 Tensor of shape (M, K − 1)
        The filler tokens between the candidate and the probe.
    """
    out = [after_slot]
    for k in range(between.shape[1]):
        out.append(net.step(out[-1], _embed(net, between[:, k])))
    return torch.stack(out)


@torch.no_grad()
def readout_increments(net: RNNClassifier, states: Tensor, probes: Tensor, settle: Tensor) -> Tensor:
    """Δ(a, v) = ℓ(G(F(a, x_v))) − ℓ(G(a)) for every state and probe.

    Parameters
    ----------
    states : Tensor of shape (M, D)
    probes : Tensor of shape (P, E)
        Probe embeddings.
    settle : int64 Tensor of shape (M, H)
        The filler tokens G reads after the probe (H = 0: the probe's own step).

    Returns
    -------
    Tensor of shape (M, P), float64, logit units.
    """
    M, P = states.shape[0], probes.shape[0]
    out = torch.empty(M, P, dtype=torch.float64, device=states.device)
    rows = max(1, BATCH_ROWS // (P + 1))
    for i in range(0, M, rows):
        s, after = states[i: i + rows], settle[i: i + rows]
        m = s.shape[0]
        moved = net.step(s.repeat_interleave(P, 0), probes.repeat(m, 1))
        moved = run_tokens(net, moved, after.repeat_interleave(P, 0))
        base = binary_logit(net, run_tokens(net, s, after)).double()
        out[i: i + m] = binary_logit(net, moved).double().view(m, P) - base[:, None]
    return out


def linear_increments(net: RNNClassifier, states: Tensor, probes: Tensor, covectors: Tensor) -> Tensor:
    """L(a, v) = ℓ1ᵀ J_inp(a) x_v for every state and probe.

    Parameters
    ----------
    states : Tensor of shape (M, D)
    probes : Tensor of shape (P, E)
    covectors : Tensor of shape (M, D)
        The signed integration covector ℓ1 each state is read with.

    Returns
    -------
    Tensor of shape (M, P), float64, state units along the integration mode. One
    vector-Jacobian product per chunk of states gives ``ℓ1ᵀ J_inp(a)`` (E,) per state.
    """
    M = states.shape[0]
    out = torch.empty(M, probes.shape[0], dtype=torch.float64, device=states.device)
    for i in range(0, M, BATCH_ROWS):
        s, cov = states[i: i + BATCH_ROWS].detach(), covectors[i: i + BATCH_ROWS].detach()
        x0 = s.new_zeros(s.shape[0], net.embed_dim, requires_grad=True)
        with torch.enable_grad():
            (grad,) = torch.autograd.grad((net.step(s, x0) * cov).sum(), x0)
        out[i: i + s.shape[0]] = grad.double() @ probes.double().T
    return out


def gain(with_w: Tensor, without: Tensor) -> np.ndarray:
    """Least-squares ratio Σ with·without / Σ without² over the last two axes (contexts,
    probes): (..., N, P) and (N, P) -> (...) float64; nan where the probes do nothing."""
    den = float((without * without).sum())
    num = (with_w * without).sum((-2, -1)).double().cpu().numpy()
    return num / den if den > 0 else np.full(num.shape, np.nan)


# --------------------------------------------------------------------------- detection


@dataclass
class ProbeSetup:
    """Where modifiers are measured: contexts, fillers, probes and the point set, as tensors
    on the network's device.

    Attributes
    ----------
    start : Tensor of shape (N, D)
        States after the real contexts.
    slot : int64 Tensor of shape (N,)
        The filler that stands in the candidate's slot in the run without a candidate.
    baseline : Tensor of shape (N, D)
        ``F(start, x_slot)``: the state after the slot without a candidate. Every comparison
        is against it, so with and without the candidate the probe sits the same number of
        tokens after the context: were the baseline ``start`` itself, a context that ends
        inside a modifier's reach ("... not") would see its window shift by one token under
        every candidate, and the fillers would look like modifiers.
    between : int64 Tensor of shape (N, K − 1)
        Filler tokens between the candidate and the probe (K = max distance).
    settle : int64 Tensor of shape (N, H)
        Filler tokens read after the probe before the readout is taken.
    probes : Tensor of shape (P, E)
        Probe (valence word) embeddings; ``probe_ids`` (P,) their ids.
    points, l1 : Tensor of shape (K_p, D)
        The point set and each point's signed integration covector.
    covectors : Tensor of shape (N, D)
        ℓ1 of the point nearest to each context's state.
    """

    start: Tensor
    slot: Tensor
    baseline: Tensor
    between: Tensor
    settle: Tensor
    probes: Tensor
    probe_ids: np.ndarray
    points: Tensor
    l1: Tensor
    covectors: Tensor

    @property
    def max_distance(self) -> int:
        return self.between.shape[1] + 1

    @property
    def n_settle(self) -> int:
        return self.settle.shape[1]

    def effects(self, net: RNNClassifier, after_slot: Tensor) -> tuple[Tensor, Tensor]:
        """Readout and linear effects (K, M, P) of the probes at distances 1 … K after a
        slot that left the states ``after_slot`` (M, D), M a multiple of N (row i belongs to
        context i mod N); ``after_slot = baseline`` is the run without a candidate."""
        reps = after_slot.shape[0] // self.start.shape[0]
        chain = probe_chain(net, after_slot, self.between.repeat(reps, 1))
        K, M, D = chain.shape
        flat = chain.reshape(K * M, D)
        readout = readout_increments(net, flat, self.probes, self.settle.repeat(K * reps, 1))
        linear = linear_increments(net, flat, self.probes, self.covectors.repeat(K * reps, 1))
        return readout.view(K, M, -1), linear.view(K, M, -1)


def probe_setup(net: RNNClassifier, start, probe_ids, fillers, points, l1, *, max_distance: int = 5,
                settle: int = 20, seed: int = 0) -> ProbeSetup:
    """A ``ProbeSetup``: states (N, D) after the contexts, probe ids (P,), the filler words'
    ids (F,) (drawn per context, seeded: :func:`draw_fillers`; the slot's filler with seed
    ``seed + 2``), points (K_p, D) and their covectors (K_p, D)."""
    dev, dtype = _device(net), net.readout.weight.dtype
    start = torch.as_tensor(start, dtype=dtype, device=dev).reshape(-1, net.state_size)
    N = start.shape[0]
    as_ids = lambda a: torch.as_tensor(a, device=dev)  # noqa: E731
    points = torch.as_tensor(np.asarray(points), dtype=dtype, device=dev).reshape(-1, net.state_size)
    l1 = torch.as_tensor(np.asarray(l1), dtype=dtype, device=dev).reshape(-1, net.state_size)
    slot = as_ids(draw_fillers(fillers, N, 1, seed + 2)[:, 0])
    with torch.no_grad():
        baseline = net.step(start, _embed(net, slot))
    return ProbeSetup(start=start, slot=slot, baseline=baseline,
                      between=as_ids(draw_fillers(fillers, N, max_distance - 1, seed)),
                      settle=as_ids(draw_fillers(fillers, N, settle, seed + 1)),
                      probes=_embed(net, probe_ids), probe_ids=np.asarray(probe_ids, np.int64),
                      points=points, l1=l1, covectors=l1[nearest_fixed_point(start, points)])


@dataclass
class ModifierEffects:
    """How each candidate word modulates the probes that follow it (module docstring).

    Attributes
    ----------
    word_ids : int64 ndarray of shape (W,)
    probe_ids : int64 ndarray of shape (P,)
    distances : int64 ndarray of shape (K,)
        1 … K: tokens from the candidate to the probe.
    ratio_readout, ratio_linear : float64 ndarray of shape (W, K)
        Modulation ratios r_k(w) of the readout increment and of the linearized measure.
    ratio_positive, ratio_negative : float64 ndarray of shape (W, K)
        The readout ratio over the positive probes only, and over the negative ones (a
        probe's polarity: the sign of its mean effect without the word at that distance);
        nan where there is none. "not" may flip positive words and only weaken negative ones.
    effect_readout, effect_linear : float64 ndarray of shape (W, K, P)
        Each probe's effect after the word, mean over contexts (logit units; state units
        along the integration mode).
    base_readout, base_linear : float64 ndarray of shape (K, P)
        The same without the word.
    kind : str ndarray of shape (W,)
        ``KINDS``, read from ``ratio_readout`` at the peak distance.
    peak : int64 ndarray of shape (W,)
        k* (1-based), the distance of the largest |r_k − 1|.
    strength : float64 ndarray of shape (W,)
        |r_{k*} − 1| (nan when the probes do nothing).
    reach : int64 ndarray of shape (W,)
        Largest k with |r_k − 1| >= min_change (0 for none).
    n_contexts, settle : int
    min_change : float
    exact : bool ndarray of shape (W,)
        Measured exactly (all True without screening); False: only screened, the ratio is
        the first-order one, ``ratio_linear`` and the effects are nan.
    ratio_screen : float64 ndarray of shape (W, K)
        First-order (screened) readout ratios; nan when no screening ran.
    """

    word_ids: np.ndarray
    probe_ids: np.ndarray
    distances: np.ndarray
    ratio_readout: np.ndarray
    ratio_linear: np.ndarray
    ratio_positive: np.ndarray
    ratio_negative: np.ndarray
    effect_readout: np.ndarray
    effect_linear: np.ndarray
    base_readout: np.ndarray
    base_linear: np.ndarray
    kind: np.ndarray
    peak: np.ndarray
    strength: np.ndarray
    reach: np.ndarray
    n_contexts: int
    settle: int
    min_change: float
    exact: np.ndarray
    ratio_screen: np.ndarray

    def ranking(self) -> np.ndarray:
        """Rows by decreasing strength (nan last, ties by row); after screening, the exactly
        measured words first, then the screened-only ones by their first-order strength."""
        key = np.where(np.isfinite(self.strength), self.strength, -np.inf)
        return np.lexsort((-key, ~self.exact))

    def modifiers(self) -> np.ndarray:
        """Rows of the words that are modifiers, strongest first."""
        order = self.ranking()
        return order[self.kind[order] != "none"]

    def row(self, word_id: int) -> int:
        """Row of a word id (ValueError if it was not a candidate)."""
        hits = np.flatnonzero(self.word_ids == word_id)
        if hits.size == 0:
            raise ValueError(f"word id {word_id} was not a candidate")
        return int(hits[0])

    def profile(self, word_id: int, probe_id: int, measure: str = "readout") -> np.ndarray:
        """(K,) the probe's mean effect at distances 1 … K after the word, in units of its
        mean effect at the same distance without the word (+1: unchanged, −1: flipped)."""
        p = int(np.flatnonzero(self.probe_ids == probe_id)[0])
        effect, base = getattr(self, f"effect_{measure}"), getattr(self, f"base_{measure}")
        return effect[self.row(word_id), :, p] / base[:, p]

    def text(self, vocab_tokens: Sequence[str] | None = None, top: int = 5) -> str:
        """The finding in words: "no modifiers" or the strongest ones with kind and reach."""
        rows = self.modifiers()
        if rows.size == 0:
            return (f"No modifiers: no candidate word changes the probes' readout effect by "
                    f"{self.min_change:g} or more (as a ratio) at distances 1-{len(self.distances)}.")
        name = (lambda i: vocab_tokens[i]) if vocab_tokens is not None else str
        parts = [f"{name(int(self.word_ids[r]))} ({self.kind[r]}, ratio {self.ratio_readout[r, self.peak[r] - 1]:.2f} "
                 f"at {self.peak[r]}, reach {self.reach[r]})" for r in rows[:top]]
        return f"{rows.size} modifier{'s' if rows.size > 1 else ''}: " + "; ".join(parts) + "."


def classify(ratio: np.ndarray, min_change: float) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Kind (W,), peak k (W,, 1-based), strength (W,) and reach (W,) from ratios (W, K)."""
    change = np.abs(np.asarray(ratio, np.float64) - 1.0)
    finite = np.isfinite(change).any(1)
    peak = np.where(finite, np.argmax(np.where(np.isfinite(change), change, -1.0), 1), 0)
    rows = np.arange(len(change))
    strength = np.where(finite, change[rows, peak], np.nan)
    at_peak = ratio[rows, peak]
    kind = np.where(at_peak < 0, "negator", np.where(at_peak > 1, "intensifier", "attenuator")).astype(object)
    kind[~(strength >= min_change)] = "none"
    over = np.isfinite(change) & (change >= min_change)
    reach = np.where(over.any(1), change.shape[1] - np.argmax(over[:, ::-1], 1), 0)
    return kind.astype(str), (peak + 1).astype(np.int64), strength, reach.astype(np.int64)


@torch.no_grad()
def _measure(net: RNNClassifier, setup: ProbeSetup, word_ids: np.ndarray, batch_rows: int):
    """Exact ratios (W, K) x2 (readout, linear), readout ratios over the positive and over the
    negative probes (W, K) x2, mean effects (W, K, P) x2 of ``word_ids``, and the effects
    without a word (K, N, P) x2."""
    N, K, P = setup.start.shape[0], setup.max_distance, len(setup.probe_ids)
    base_r, base_l = setup.effects(net, setup.baseline)
    sign = torch.sign(base_r.mean(1))                                     # (K, P) each probe's polarity
    W = len(word_ids)
    ratio_r, ratio_l = np.full((W, K), np.nan), np.full((W, K), np.nan)
    ratio_pos, ratio_neg = np.full((W, K), np.nan), np.full((W, K), np.nan)
    eff_r, eff_l = np.zeros((W, K, P)), np.zeros((W, K, P))
    chunk = max(1, batch_rows // max(1, N * K))
    for a in range(0, W, chunk):
        ids = word_ids[a: a + chunk]
        c = len(ids)
        after = net.step(setup.start.repeat(c, 1), _embed(net, ids).repeat_interleave(N, 0))
        r, lin = setup.effects(net, after)
        r, lin = r.view(K, c, N, P).transpose(0, 1), lin.view(K, c, N, P).transpose(0, 1)  # (c, K, N, P)
        for k in range(K):
            ratio_r[a: a + c, k] = gain(r[:, k], base_r[k])
            ratio_l[a: a + c, k] = gain(lin[:, k], base_l[k])
            pos, neg = sign[k] > 0, sign[k] < 0
            ratio_pos[a: a + c, k] = gain(r[:, k][..., pos], base_r[k][:, pos])
            ratio_neg[a: a + c, k] = gain(r[:, k][..., neg], base_r[k][:, neg])
        eff_r[a: a + c], eff_l[a: a + c] = r.mean(2).cpu().numpy(), lin.mean(2).cpu().numpy()
    return ratio_r, ratio_l, ratio_pos, ratio_neg, eff_r, eff_l, base_r, base_l


def detect_modifiers(net: RNNClassifier, setup: ProbeSetup, word_ids, *, min_change: float = 0.25,
                     batch_rows: int = BATCH_ROWS, refine: int | None = None) -> ModifierEffects:
    """The modulation ratios of every candidate word (module docstring) and its kind.

    Parameters
    ----------
    net : RNNClassifier
        A binary model (its binary logit is read, ``rnnscope.analysis.model.binary_logit``).
    setup : ProbeSetup
        Contexts, fillers, probes, point set (:func:`probe_setup`).
    word_ids : int array of shape (W,)
        Candidate words (frequency-filtered: :func:`frequent_words`).
    min_change : float
        |r − 1| from which a word counts as a modifier.
    batch_rows : int
        Candidate words are run in chunks of about ``batch_rows`` contexts × words × distances.
    refine : int, optional
        None (or W <= refine): every word is measured exactly. Else two stages (for large
        vocabularies, see "Screening" in the module docstring): every word is screened with
        the first-order ratio (:func:`screen_ratios`) and the ``refine`` words with the
        largest screened change are measured exactly; the others keep their screened ratio
        (``exact`` False, linear ratio and effects nan).

    Returns
    -------
    ModifierEffects
    """
    word_ids = np.asarray(word_ids, np.int64)
    W, K, P = len(word_ids), setup.max_distance, len(setup.probe_ids)
    screened = np.full((W, K), np.nan)
    measured = np.arange(W)
    if refine is not None and W > refine:
        screened = screen_ratios(net, setup, word_ids, batch_rows=batch_rows)
        change = np.nanmax(np.abs(screened - 1.0), 1)
        measured = np.sort(np.argsort(-np.nan_to_num(change, nan=-1.0), kind="stable")[:refine])
    ratio_r, ratio_l, ratio_pos, ratio_neg = screened.copy(), *(np.full((W, K), np.nan) for _ in range(3))
    eff_r, eff_l = np.full((W, K, P), np.nan), np.full((W, K, P), np.nan)
    exact = np.zeros(W, bool)
    exact[measured] = True
    (ratio_r[measured], ratio_l[measured], ratio_pos[measured], ratio_neg[measured], eff_r[measured],
     eff_l[measured], base_r, base_l) = _measure(net, setup, word_ids[measured], batch_rows)
    kind, peak, strength, reach = classify(ratio_r, min_change)
    return ModifierEffects(
        word_ids=word_ids, probe_ids=setup.probe_ids, distances=np.arange(1, K + 1, dtype=np.int64),
        ratio_readout=ratio_r, ratio_linear=ratio_l, ratio_positive=ratio_pos, ratio_negative=ratio_neg,
        effect_readout=eff_r, effect_linear=eff_l,
        base_readout=base_r.mean(1).cpu().numpy(), base_linear=base_l.mean(1).cpu().numpy(),
        kind=kind, peak=peak, strength=strength, reach=reach, n_contexts=setup.start.shape[0],
        settle=setup.n_settle, min_change=float(min_change), exact=exact, ratio_screen=screened)


# --------------------------------------------------------------------------- screening


def _chains_to_depth(net: RNNClassifier, after_slot: Tensor, between: Tensor) -> Tensor:
    """States before the probe at distances 1 … K from K copies of the slot states: block k
    of ``after_slot`` (K·N, D) is advanced by the first k fillers of ``between`` (N, K − 1);
    differentiable. Returns (K·N, D)."""
    K, N = between.shape[1] + 1, between.shape[0]
    depth = torch.arange(K, device=after_slot.device).repeat_interleave(N)[:, None]
    x, fillers = after_slot, between.repeat(K, 1)
    for j in range(K - 1):
        x = torch.where(depth > j, net.step(x, _embed(net, fillers[:, j])), x)
    return x


def _settled_delta(net: RNNClassifier, states: Tensor, probes: Tensor, settle: Tensor) -> Tensor:
    """Δ(a, v) (M, P) of :func:`readout_increments`, differentiable, in one batch."""
    M, P = states.shape[0], probes.shape[0]
    moved = net.step(states.repeat_interleave(P, 0), probes.repeat(M, 1))
    for t in range(settle.shape[1]):
        moved = net.step(moved, _embed(net, settle[:, t].repeat_interleave(P, 0)))
    base = states
    for t in range(settle.shape[1]):
        base = net.step(base, _embed(net, settle[:, t]))
    return binary_logit(net, moved).view(M, P) - binary_logit(net, base)[:, None]


def screen_gradients(net: RNNClassifier, setup: ProbeSetup) -> tuple[Tensor, np.ndarray]:
    """The linear response of the readout ratio to the state after the slot.

    Returns
    -------
    grad : Tensor of shape (K, N, D)
        g_{k,c} = ∂/∂a Σ_v Δ(a_k(a), v) Δ(b_{c,k}, v) at a = b_c (the baseline), with a_k(a) the state
        before the probe at distance k when the slot left the state a (module docstring).
    den : float64 ndarray of shape (K,)
        Σ_{c,v} Δ(b_{c,k}, v)², the ratio's denominator.
    """
    N, K = setup.start.shape[0], setup.max_distance
    with torch.enable_grad():
        slot = setup.baseline.detach().repeat(K, 1).requires_grad_()
        delta = _settled_delta(net, _chains_to_depth(net, slot, setup.between), setup.probes,
                               setup.settle.repeat(K, 1))
        base = delta.detach()
        (grad,) = torch.autograd.grad((delta * base).sum(), slot)
    den = (base.double() ** 2).view(K, N, -1).sum((1, 2)).cpu().numpy()
    return grad.view(K, N, -1).detach(), den


@torch.no_grad()
def screen_ratios(net: RNNClassifier, setup: ProbeSetup, word_ids, *, batch_rows: int = BATCH_ROWS) -> np.ndarray:
    """First-order modulation ratios (W, K): r_k(w) ≈ 1 + Σ_c g_{k,c}ᵀ d_c(w) / den_k, with
    the deflection d_c(w) = F(s_c, x_w) − b_c (``b`` the baseline) and g, den from :func:`screen_gradients`. Costs
    one step per word and context after the gradients (module docstring, "Screening")."""
    word_ids = np.asarray(word_ids, np.int64)
    grad, den = screen_gradients(net, setup)
    grad = grad.double()
    N = setup.start.shape[0]
    out = np.full((len(word_ids), setup.max_distance), np.nan)
    chunk = max(1, batch_rows // max(1, N))
    for a in range(0, len(word_ids), chunk):
        ids = word_ids[a: a + chunk]
        start = setup.start.repeat(len(ids), 1)
        after = net.step(start, _embed(net, ids).repeat_interleave(N, 0))
        d = (after - setup.baseline.repeat(len(ids), 1)).double().view(len(ids), N, -1)
        with np.errstate(divide="ignore", invalid="ignore"):
            out[a: a + len(ids)] = 1.0 + torch.einsum("wnd,knd->wk", d, grad).cpu().numpy() / den
    out[:, ~(den > 0)] = np.nan
    return out


def strongest_words(net: RNNClassifier, setup: ProbeSetup, word_ids, n: int = 10) -> np.ndarray:
    """Probe candidates: the ``n // 2`` words with the most positive and the ``n − n // 2``
    with the most negative mean readout increment Δ(s, v) at the contexts of ``setup``
    (its probes are not used); ids (≤ n,), positive first."""
    return strongest_at(net, setup.start, setup.settle, word_ids, n)


@torch.no_grad()
def strongest_at(net: RNNClassifier, start: Tensor, settle: Tensor, word_ids, n: int = 10) -> np.ndarray:
    """:func:`strongest_words` at states ``start`` (N, D) settled under the filler tokens
    ``settle`` (N, H) int64."""
    word_ids = np.asarray(word_ids, np.int64)
    mean = readout_increments(net, start, _embed(net, word_ids), settle).mean(0).cpu().numpy()
    order = np.argsort(-mean, kind="stable")
    pos = [i for i in order[: n // 2] if mean[i] > 0]
    neg = [i for i in order[::-1][: n - n // 2] if mean[i] < 0]
    return word_ids[np.asarray(pos + neg, np.int64)]
