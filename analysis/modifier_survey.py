"""Modifier detection on a real model: contexts, probes and fillers from its data, and where
the known modifiers ("not", "never", "very", "extremely", "no", "n't") rank.

``rnnscope.analysis.modifiers`` measures, for given contexts, probes, fillers and a point
set, how each candidate word modulates the probes after it. This module chooses them for a
real model and dataset (``SurveyParams``):

- **candidates**: the words seen at least ``min_count`` times in the documents, most
  frequent first, at most ``max_words`` (``frequent_words``);
- **contexts**: ``n_contexts`` real prefixes of seeded random documents (``sample_contexts``;
  at least ``min_context`` tokens, at most the model's training length);
- **fillers**: the neutral words the probe waits behind and settles under: among the
  ``filler_pool`` most frequent candidates, the ``n_fillers`` whose own step changes the
  readout least (mean |Δ| over the contexts, one step, no settling), leaving out the words
  being tested as known modifiers (a filler must not itself modify);
- **probes**: the valence words: among the ``probe_pool`` most frequent candidates, the
  ``n_probes / 2`` most positive and most negative by their settled readout increment at
  the contexts (``strongest_words``), again without the known modifiers (a probe is a word
  whose own valence is counted; on the toy GRU "not" alone moves the readout down);
- **points**: the point set of the analysis (report arrays ``fixed_points`` and ``l1``) when
  given, else a small fixed-point search (``quick_points``).

The tokenizer (``rnnscope-words/1``) keeps contractions whole: "didn't" is one token and
"n't" never stands alone in real text, so the known modifier "n't" is every candidate that
ends in "n't" (don't, didn't, isn't, ...), each ranked on its own.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from rnnscope.analysis.fixed_points import find_fixed_points
from rnnscope.analysis.model import Model, RNNClassifier
from rnnscope.analysis.modifiers import ModifierEffects, ProbeSetup, _embed, context_states, detect_modifiers, \
    draw_fillers, frequent_words, point_integration_modes, probe_setup, readout_increments, sample_contexts, \
    strongest_at
from rnnscope.analysis.slow_points import choose_point_set, typical_step
from rnnscope.analysis.states import collect_states, draw_seeds

#: The modifiers the ICML 2020 paper names; "n't" stands for every token ending in it.
KNOWN_MODIFIERS = ("not", "never", "very", "extremely", "no", "n't")


@dataclass(frozen=True)
class SurveyParams:
    """How candidates, contexts, fillers and probes are chosen (module docstring), and
    ``refine``: screen every candidate and measure this many exactly (None: all exactly;
    ``detect_modifiers``).

    The defaults were measured on the IMDB GRU (``docs/MODIFIERS.md``): against 128 contexts
    and 20 settling tokens, 32 contexts and 10 tokens keep the rms change of the ratios at
    0.018 (the strength ranking's Spearman correlation 0.97, the kinds 96% the same); the
    bootstrap standard error of r_k over 32 contexts is at most 0.04 for the known
    modifiers, a sixth of ``min_change`` 0.25; no settling (H = 0) gives a different ranking
    (Spearman 0.61).
    """

    min_count: int = 20
    max_words: int = 20000
    n_contexts: int = 32
    min_context: int = 5
    max_context: int = 400
    n_probes: int = 6
    probe_pool: int = 2000
    n_fillers: int = 10
    filler_pool: int = 100
    max_distance: int = 5
    settle: int = 10
    refine: int | None = 1000
    seed: int = 0


def quick_points(net: RNNClassifier, seqs: Sequence[np.ndarray], *, n_docs: int = 200, n_seeds: int = 64,
                 max_len: int = 400, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A small point set for callers without a report: fixed/slow points (K, D) from
    ``n_seeds`` seeds drawn from the states of ``n_docs`` documents (the pipeline's rule,
    ``choose_point_set``), and their signed integration covectors ℓ1 (K, D)."""
    docs = np.random.default_rng(seed).permutation(len(seqs))[:n_docs]
    visited = collect_states(net, [seqs[i] for i in docs], max_len=max_len)
    fp = find_fixed_points(net, draw_seeds(visited, n_seeds, seed), tol=1e-8)
    points = np.asarray(choose_point_set(fp, typical_step(visited.states, visited.previous())).points, np.float32)
    points = points.reshape(-1, net.state_size)
    if len(points) == 0:
        raise ValueError("no fixed or slow point found: pass the analysis's point set")
    return points, point_integration_modes(net, points).left


def neutral_words(net: RNNClassifier, start, word_ids, n: int, exclude=()) -> np.ndarray:
    """The ``n`` words of ``word_ids`` whose own step moves the readout least: smallest mean
    |ℓ(F(s, x_w)) − ℓ(s)| over the states ``start`` (N, D); ids (n,), most neutral first,
    none of ``exclude``."""
    skip = {int(i) for i in np.asarray(exclude, np.int64).ravel()}
    word_ids = np.asarray([w for w in np.asarray(word_ids, np.int64) if int(w) not in skip], np.int64)
    no_settle = start.new_zeros(start.shape[0], 0).long()
    delta = readout_increments(net, start, _embed(net, word_ids), no_settle).abs().mean(0).cpu().numpy()
    return word_ids[np.argsort(delta, kind="stable")[:n]]


def survey_setup(model: Model, seqs: Sequence[np.ndarray], points, l1, params: SurveyParams = SurveyParams(),
                 candidates: np.ndarray | None = None) -> ProbeSetup:
    """The ``ProbeSetup`` of the module docstring on token-id documents ``seqs``, with the
    point set ``points`` (K, D) and covectors ``l1`` (K, D)."""
    net = model.net.eval()
    if candidates is None:
        candidates = frequent_words(seqs, min_count=params.min_count, max_words=params.max_words)
    contexts = sample_contexts(seqs, params.n_contexts, params.seed, min_len=params.min_context,
                               max_len=params.max_context)
    start = context_states(net, contexts)
    known = {int(i) for i in candidates if _known_group(model.vocab.tokens[i]) is not None}
    fillers = neutral_words(net, start, candidates[: params.filler_pool], params.n_fillers, exclude=sorted(known))
    settle = torch.as_tensor(draw_fillers(fillers, len(contexts), params.settle, params.seed + 1), device=start.device)
    pool = [i for i in candidates[: params.probe_pool] if int(i) not in known]
    probes = strongest_at(net, start, settle, pool, params.n_probes)
    return probe_setup(net, start, probes, fillers, points, l1, max_distance=params.max_distance,
                       settle=params.settle, seed=params.seed)


def _known_group(token: str, known: Sequence[str] = KNOWN_MODIFIERS) -> str | None:
    """The known modifier a token stands for ("didn't" -> "n't"), or None."""
    if token in known:
        return token
    return "n't" if "n't" in known and token.endswith("n't") else None


@dataclass
class KnownRank:
    """Where one known modifier's token came out.

    Attributes
    ----------
    known, token : str
        The known modifier and the candidate token ("n't", "didn't"; "not", "not").
    rank : int
        1-based place in the ranking of all W candidates by strength |r_{k*} − 1|.
    of : int
        W.
    kind : str
    peak, reach : int
    strength : float
    ratio_readout, ratio_linear : float64 ndarray of shape (K,)
        Modulation ratios at distances 1 … K.
    ratio_positive, ratio_negative : float64 ndarray of shape (K,)
        The readout ratio over the positive (negative) probes only (nan for a word measured
        only by the screen).
    exact : bool
        Measured exactly (False: screened only).
    own : float
        The word's own settled readout increment, mean over the contexts (logits;
        :func:`own_effects`; nan when not given to :func:`known_modifier_ranks`).
    rank_neutral : int
        1-based place among the candidates whose |own| is at most the median |own| (the
        more neutral half), 0 when the word is not in that half or ``own`` was not given.
    """

    known: str
    token: str
    rank: int
    of: int
    kind: str
    peak: int
    reach: int
    strength: float
    ratio_readout: np.ndarray
    ratio_linear: np.ndarray
    ratio_positive: np.ndarray
    ratio_negative: np.ndarray
    exact: bool
    own: float = float("nan")
    rank_neutral: int = 0


def own_effects(net: RNNClassifier, setup: ProbeSetup, word_ids) -> np.ndarray:
    """(W,) each word's own settled readout increment Δ(s, w) (the probes' measure, with the
    setup's settling fillers), mean over the contexts of ``setup`` (logits): its valence as
    the network counts it at the contexts. N (H + 1) steps per word."""
    return readout_increments(net, setup.start, _embed(net, word_ids), setup.settle).mean(0).cpu().numpy()


def known_modifier_ranks(effects: ModifierEffects, tokens: Sequence[str], known: Sequence[str] = KNOWN_MODIFIERS,
                         own: np.ndarray | None = None) -> tuple[list[KnownRank], list[str]]:
    """The rank of every candidate that is a known modifier (module docstring), best rank
    first, and the known modifiers that were not candidates (too rare or out of the
    vocabulary). ``tokens``: the vocabulary, id -> token; ``own`` (W,): the candidates'
    :func:`own_effects`, for the rank among the more neutral half."""
    order = effects.ranking()
    place = np.empty(len(order), np.int64)
    place[order] = np.arange(1, len(order) + 1)
    own = np.full(len(order), np.nan) if own is None else np.asarray(own, np.float64)
    neutral = np.abs(own) <= np.median(np.abs(own)) if np.isfinite(own).all() else np.zeros(len(order), bool)
    place_neutral = np.zeros(len(order), np.int64)
    kept = order[neutral[order]]
    place_neutral[kept] = np.arange(1, len(kept) + 1)
    rows = []
    for r, word in enumerate(effects.word_ids):
        group = _known_group(tokens[int(word)], known)
        if group is not None:
            rows.append(KnownRank(known=group, token=tokens[int(word)], rank=int(place[r]), of=len(order),
                                  kind=str(effects.kind[r]), peak=int(effects.peak[r]), reach=int(effects.reach[r]),
                                  strength=float(effects.strength[r]), ratio_readout=effects.ratio_readout[r],
                                  ratio_linear=effects.ratio_linear[r], ratio_positive=effects.ratio_positive[r],
                                  ratio_negative=effects.ratio_negative[r],
                                  exact=bool(effects.exact[r]), own=float(own[r]),
                                  rank_neutral=int(place_neutral[r])))
    found = {row.known for row in rows}
    return sorted(rows, key=lambda row: row.rank), [k for k in known if k not in found]


def survey_modifiers(model: Model, seqs: Sequence[np.ndarray], points=None, l1=None,
                     params: SurveyParams = SurveyParams()) -> tuple[ModifierEffects, ProbeSetup]:
    """Detect modifiers among the frequent words of ``seqs`` (token-id documents) on
    ``model``; the point set from the analysis (``points``, ``l1``: (K, D) each) or, when
    omitted, ``quick_points``."""
    if points is None or l1 is None:
        points, l1 = quick_points(model.net.eval(), seqs, seed=params.seed)
    candidates = frequent_words(seqs, min_count=params.min_count, max_words=params.max_words)
    setup = survey_setup(model, seqs, points, l1, params, candidates)
    return detect_modifiers(model.net.eval(), setup, candidates, refine=params.refine), setup
