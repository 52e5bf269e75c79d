r"""The ``modifiers`` stage of :func:`rnnscope.analysis.pipeline.run_analysis`: modifier words
(Maheswaranathan & Sussillo, ICML 2020) on the analysis's own model, test split and point set.

What it runs (``docs/MODIFIERS.md`` has the measurement, ``rnnscope.analysis.modifiers`` and
``rnnscope.analysis.modifier_dynamics`` the code):

1. **Choice** (``rnnscope.analysis.modifier_survey.survey_setup``): the candidates are the
   words seen at least ``params.modifier_min_count`` times in the test split (at most
   ``params.modifier_words``, most frequent first); ``params.modifier_contexts`` real
   contexts (prefixes of test documents, 5 tokens up to ``params.modifier_context_len``
   and ``params.max_len``; exactly that many when it is below 5);
   6 probes (the most positive and most negative frequent words by their settled readout
   effect) and 10 fillers (the most neutral frequent words), known modifiers excluded from
   both; the point set and integration covectors ℓ1 of the analysis (report ``fixed_points``
   and ``l1``).
2. **Detection** (``detect_modifiers``): every candidate is screened to first order and the
   ``params.modifier_refine`` strongest are measured exactly: modulation ratios r_k at
   k = 1 … ``params.modifier_distance`` tokens, of the settled readout increment (settling
   ``params.modifier_settle`` filler tokens) and of its linearization ℓ1ᵀ J_inp x; kind,
   peak, reach. The exactly measured words' own settled readout increment ("own", their
   valence at the contexts) beside it; the known modifiers' ranks
   (``known_modifier_ranks``).
3. **Dynamics** of the ``params.modifier_top`` strongest exactly measured modifiers
   (``modifier_dynamics``, ``params.n_modes`` slow modes): the deflection's parts along the
   integration, slow and fast modes, its decay in tokens, the ablations (along the slow
   modes, the fastest modes, and the modifier subspace spanned by these M words'
   deflections, ``modifier_subspace``); and the mean path
   of the state after the modifier through the following fillers, with and without it, in
   the plane of the visited states' PC1/PC2 (the frame of the report's ``fp_pc``).

A network with C > 2 classes, the parameter ``modifiers`` off, a test split without a
word seen often enough, or no probe or filler to use: :class:`NotApplicable`, which says
why in words. Without fixed or slow points the readout ratios are still measured; the
linearized ratio (it needs ℓ1) and the dynamics (they need the points' modes) are not.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch

from rnnscope.analysis import pca as pca_mod
from rnnscope.analysis.analysis_params import AnalysisParams
from rnnscope.analysis.model import Model, RNNClassifier
from rnnscope.analysis.modifier_dynamics import ABLATIONS, MODE_SETS, ModifierDynamics, ModifierSubspace, \
    contexts_modes, modifier_dynamics, modifier_subspace
from rnnscope.analysis.modifier_survey import KnownRank, SurveyParams, _known_group, \
    known_modifier_ranks, own_effects, survey_setup
from rnnscope.analysis.modifiers import ModifierEffects, ProbeSetup, detect_modifiers, frequent_words, run_tokens

#: Modifiers listed in the summary (all candidates are in the arrays).
SUMMARY_ROWS = 20
#: Shortest context (tokens) when the test split has documents that long.
MIN_CONTEXT = 5

Progress = Callable[[float, str], None]


@dataclass
class NotApplicable:
    """The stage did not run or found nothing to measure; ``text`` says why."""

    text: str

    def to_dict(self) -> dict:
        """The report's ``modifiers`` block: ``applies`` false, the reason, empty numbers."""
        return {**_empty_summary(), "applies": False, "text": self.text}

    def arrays(self) -> dict[str, np.ndarray]:
        return empty_arrays()


@dataclass
class ModifierFindings:
    """What the stage measured (module docstring).

    Attributes
    ----------
    effects : ModifierEffects
        W candidates, K distances.
    tokens : list of str
        The vocabulary (id -> token).
    own : float64 ndarray of shape (W,)
        Each candidate's own settled readout increment, mean over the contexts (logits);
        nan for the words only screened.
    known : list of KnownRank
        The candidates that are known modifiers, best rank first; ``missing`` the known
        modifiers that were not candidates.
    probes, fillers : list of str
    linearized : bool
        The analysis had points, so ℓ1 and the linearized ratio exist.
    top : int64 ndarray of shape (M,)
        Rows of ``effects`` of the modifiers whose dynamics were measured, strongest first.
    dynamics : list of ModifierDynamics
        Of those M words.
    path : float64 ndarray of shape (M, T + 2, 2)
        Mean over contexts of the state on (PC1, PC2): the context's end, after the modifier,
        then after each of the T = K − 1 + H fillers that follow it.
    base_path : float64 ndarray of shape (T + 2, 2)
        The run it is compared with: the context's end, after a filler in the modifier's slot
        (the detection's baseline), then after each filler.
    min_count : int
        Times a candidate was seen in the test split, at least.
    n_modes : int
        Slow modes besides the integration mode in the dynamics.
    subspace : ModifierSubspace, optional
        The modifier subspace of the M words (None when no dynamics were measured).
    """

    effects: ModifierEffects
    tokens: Sequence[str]
    own: np.ndarray
    known: list[KnownRank]
    missing: list[str]
    probes: list[str]
    fillers: list[str]
    linearized: bool
    top: np.ndarray
    dynamics: list[ModifierDynamics]
    path: np.ndarray
    base_path: np.ndarray
    min_count: int = 1
    n_modes: int = 0
    subspace: ModifierSubspace | None = None

    def word(self, row: int) -> str:
        return str(self.tokens[int(self.effects.word_ids[row])])

    def text(self) -> str:
        """The finding in words: the strongest modifiers, where the known ones rank."""
        e = self.effects
        rows, W, K = e.modifiers(), len(e.word_ids), len(e.distances)
        if rows.size == 0:
            head = (f"No modifiers among {W} candidate words (seen at least {self.min_count} times in the test "
                    f"split): none changes the readout effect of the valence words after it by {e.min_change:g} "
                    f"or more (as a ratio) at 1-{K} tokens.")
        else:
            parts = [f"'{self.word(r)}' ({e.kind[r]}, ratio {_f(e.ratio_readout[r, e.peak[r] - 1])} at "
                     f"{e.peak[r]} token{'s' if e.peak[r] > 1 else ''}, reach {e.reach[r]})" for r in rows[:5]]
            head = (f"{rows.size} modifier{'s' if rows.size > 1 else ''} among {W} candidate words; strongest: "
                    + "; ".join(parts) + ".")
        return " ".join([head, self._known_text()] + ([] if self.linearized else [
            "The linearized ratio and the dynamics were not measured: the analysis found no fixed or slow point."]))

    def _known_text(self) -> str:
        listed = ", ".join(f"'{k.token}' #{k.rank} of {k.of} ({k.kind if k.kind != 'none' else 'not a modifier'})"
                           for k in self.known)
        out = f"Known modifiers: {listed}." if listed else "No known modifier is among the candidates."
        undetected = [k.token for k in self.known if k.kind == "none"]
        if undetected:
            out += f" Not detected as modifiers: {', '.join(repr(t) for t in undetected)}."
        if self.missing:
            out += f" Not candidates (too rare or not in the vocabulary): {', '.join(self.missing)}."
        return out

    def to_dict(self) -> dict:
        """The report's ``modifiers`` block (``rnnscope.analysis.report`` lists the keys)."""
        e = self.effects
        rows = e.modifiers()
        row = {self.word(r): r for r in range(len(e.word_ids))}
        return {"applies": True, "text": self.text(), "n_candidates": len(e.word_ids), "n_exact": int(e.exact.sum()),
                "n_modifiers": int(rows.size), "n_contexts": int(e.n_contexts), "max_distance": len(e.distances),
                "settle": int(e.settle), "min_change": float(e.min_change), "min_count": int(self.min_count),
                "linearized": bool(self.linearized), "probes": list(self.probes), "fillers": list(self.fillers),
                "kind_counts": {k: int((e.kind[rows] == k).sum()) for k in ("negator", "intensifier", "attenuator")},
                "modifiers": [self._row(r) for r in rows[:SUMMARY_ROWS]],
                "known": [_known_row(k, self.own[row[k.token]]) for k in self.known],
                "known_missing": list(self.missing), "n_modes": int(self.n_modes),
                "subspace": self.subspace.summary() if self.subspace is not None else None,
                "dynamics": [_dynamics_row(self.word(r), d) for r, d in zip(self.top, self.dynamics)]}

    def _row(self, r: int) -> dict:
        e, k = self.effects, int(self.effects.peak[r]) - 1
        return {"word": self.word(r), "kind": str(e.kind[r]), "peak": int(e.peak[r]),
                "ratio": _num(e.ratio_readout[r, k]), "ratio_linear": _num(e.ratio_linear[r, k]),
                "reach": int(e.reach[r]), "strength": _num(e.strength[r]), "own": _num(self.own[r]),
                "exact": bool(e.exact[r])}

    def arrays(self) -> dict[str, np.ndarray]:
        """The report arrays ``modifier_*`` (``rnnscope.analysis.report`` lists them), the
        candidates in ranking order."""
        e = self.effects
        order = e.ranking()
        place = np.empty(len(order), np.int64)
        place[order] = np.arange(len(order))
        words = [self.word(r) for r in order]
        dyn = self.dynamics
        return {"modifier_words": np.asarray(words, np.str_) if words else np.zeros(0, "<U1"),
                "modifier_word_ids": e.word_ids[order].astype(np.int64),
                "modifier_kind": np.asarray(e.kind[order], np.str_),
                "modifier_ratio": e.ratio_readout[order].astype(np.float64),
                "modifier_ratio_linear": e.ratio_linear[order].astype(np.float64),
                "modifier_exact": e.exact[order].astype(bool), "modifier_peak": e.peak[order].astype(np.int64),
                "modifier_reach": e.reach[order].astype(np.int64),
                "modifier_strength": e.strength[order].astype(np.float64),
                "modifier_own": self.own[order].astype(np.float64),
                "modifier_top": place[self.top].astype(np.int64),
                "modifier_path": self.path.astype(np.float32), "modifier_base_path": self.base_path.astype(np.float32),
                "modifier_parts": np.asarray([[np.median(d.parts[k]) for k in MODE_SETS] for d in dyn],
                                             np.float64).reshape(len(dyn), len(MODE_SETS)),
                "modifier_decay_curve": np.asarray([d.decay_curve for d in dyn], np.float64).reshape(
                    len(dyn), self.base_path.shape[0] - 1),
                "modifier_decay_tokens": np.asarray([d.decay_tokens for d in dyn], np.int64),
                "modifier_remaining": np.asarray([[d.remaining_readout[k] for k in ABLATIONS] for d in dyn],
                                                 np.float64).reshape(len(dyn), len(ABLATIONS))}


def _f(x: float) -> str:
    return f"{x:.2f}" if np.isfinite(x) else "n/a"


def _num(x) -> float | None:
    x = float(x)
    return x if np.isfinite(x) else None


def _known_row(k: KnownRank, own: float) -> dict:
    at = max(k.peak, 1) - 1
    return {"known": k.known, "token": k.token, "rank": k.rank, "of": k.of, "kind": k.kind, "peak": k.peak,
            "ratio": _num(k.ratio_readout[at]), "ratio_linear": _num(k.ratio_linear[at]), "reach": k.reach,
            "own": _num(own), "exact": k.exact}


def _dynamics_row(word: str, d: ModifierDynamics) -> dict:
    return {"word": word, "deflection_norm": _num(np.median(d.deflection_norm)),
            "parts": {k: _num(np.median(v)) for k, v in d.parts.items()}, "decay_tokens": int(d.decay_tokens),
            "remaining": {k: _num(v) for k, v in d.remaining_readout.items()},
            "remaining_linear": {k: _num(v) for k, v in d.remaining_linear.items()}}


def _empty_summary() -> dict:
    return {"applies": False, "text": "", "n_candidates": 0, "n_exact": 0, "n_modifiers": 0, "n_contexts": 0,
            "max_distance": 0, "settle": 0, "min_change": None, "min_count": 0, "linearized": False, "probes": [],
            "fillers": [], "kind_counts": {}, "modifiers": [], "known": [], "known_missing": [], "n_modes": 0,
            "subspace": None, "dynamics": []}


def empty_arrays() -> dict[str, np.ndarray]:
    """The ``modifier_*`` report arrays when the stage does not apply: every key, no rows."""
    return {"modifier_words": np.zeros(0, "<U1"), "modifier_word_ids": np.zeros(0, np.int64),
            "modifier_kind": np.zeros(0, "<U1"), "modifier_ratio": np.zeros((0, 0)),
            "modifier_ratio_linear": np.zeros((0, 0)), "modifier_exact": np.zeros(0, bool),
            "modifier_peak": np.zeros(0, np.int64), "modifier_reach": np.zeros(0, np.int64),
            "modifier_strength": np.zeros(0), "modifier_own": np.zeros(0), "modifier_top": np.zeros(0, np.int64),
            "modifier_path": np.zeros((0, 0, 2), np.float32), "modifier_base_path": np.zeros((0, 2), np.float32),
            "modifier_parts": np.zeros((0, len(MODE_SETS))), "modifier_decay_curve": np.zeros((0, 0)),
            "modifier_decay_tokens": np.zeros(0, np.int64), "modifier_remaining": np.zeros((0, len(ABLATIONS)))}


def survey_params(params: AnalysisParams, seqs: Sequence[np.ndarray]) -> SurveyParams:
    """The survey's choices from the analysis parameters: contexts of ``MIN_CONTEXT`` up to
    ``min(max_len, modifier_context_len)`` tokens (all of that many when it is below
    ``MIN_CONTEXT``; fewer when no test document is that long)."""
    longest = max((len(s) for s in seqs), default=0)
    top = min(params.max_len, params.modifier_context_len)
    return SurveyParams(min_count=params.modifier_min_count, max_words=params.modifier_words,
                        n_contexts=params.modifier_contexts, min_context=max(1, min(MIN_CONTEXT, top, longest)),
                        max_context=top, max_distance=params.modifier_distance,
                        settle=params.modifier_settle, refine=params.modifier_refine, seed=params.seed)


@torch.no_grad()
def mean_paths(net: RNNClassifier, setup: ProbeSetup, word_ids, components, mean) -> tuple[np.ndarray, np.ndarray]:
    """The mean state path after each word, and without one, on the first two ``components``.

    Parameters
    ----------
    word_ids : int array of shape (M,)
    components : array of shape (>= 2, D)
        The visited states' principal axes; ``mean`` (D,) their mean.

    Returns
    -------
    path : float64 (M, T + 2, 2)
        The contexts' end s, then F(s, x_w), then each of the T = K − 1 + H fillers of
        ``setup`` (``between`` then ``settle``), projected and averaged over the N contexts.
    base_path : float64 (T + 2, 2)
        s, then the baseline (a filler in the word's slot), then each filler: the run the
        word is compared with.
    """
    fillers = torch.cat([setup.between, setup.settle], 1)
    project = lambda s: pca_mod.project(s.double().cpu().numpy(), components, mean, 2).mean(0)  # noqa: E731
    base, out = [setup.start, setup.baseline], []
    for t in range(fillers.shape[1]):
        base.append(run_tokens(net, base[-1], fillers[:, t: t + 1]))
    for w in np.asarray(word_ids, np.int64):
        word = net.embedding.weight[int(w)].detach().expand(setup.start.shape[0], -1)
        states = [setup.start, net.step(setup.start, word)]
        for t in range(fillers.shape[1]):
            states.append(run_tokens(net, states[-1], fillers[:, t: t + 1]))
        out.append([project(s) for s in states])
    T = fillers.shape[1]
    paths = np.asarray(out, np.float64).reshape(len(out), T + 2, 2)
    return paths, np.asarray([project(s) for s in base], np.float64).reshape(T + 2, 2)


def modifier_analysis(model: Model, seqs: Sequence[np.ndarray], points, l1, components, mean,
                      params: AnalysisParams, progress: Progress | None = None) -> ModifierFindings | NotApplicable:
    """The stage (module docstring) on a binary ``model``.

    Parameters
    ----------
    seqs : list of int64 arrays
        The test split, token ids.
    points, l1 : arrays of shape (K_p, D)
        The analysis's point set and its signed integration covectors (K_p may be 0).
    components, mean : arrays of shape (>= 2, D) and (D,)
        The visited states' PCA (report ``state_pca_components``, ``state_pca_mean``).
    progress : callable (fraction of the stage, message), optional
    """
    report = progress or (lambda f, m: None)
    net, D = model.net.eval(), model.net.state_size
    sp = survey_params(params, seqs)
    if not any(len(s) for s in seqs):
        return NotApplicable("Modifier words were not measured: the test split has no token to take contexts from.")
    candidates = frequent_words(seqs, min_count=sp.min_count, max_words=sp.max_words)
    plain = [i for i in candidates if _known_group(model.vocab.tokens[int(i)]) is None]
    if not len(plain):
        return NotApplicable(f"Modifier words were not measured: no word of the vocabulary is seen {sp.min_count} "
                             f"times in the {len(seqs)} test documents" + (" other than known modifiers" if
                                                                            len(candidates) else "")
                             + ", so there is no candidate (or no filler and probe) to test.")
    points = np.asarray(points, np.float32).reshape(-1, D)
    linearized = len(points) > 0
    if not linearized:  # no ℓ1: zero covectors give a linear measure of 0 and a nan ratio
        points, l1 = np.zeros((1, D), np.float32), np.zeros((1, D), np.float32)
    report(0.0, f"modifier words: contexts, fillers and probes for {len(candidates)} candidate words")
    setup = survey_setup(model, seqs, points, l1, sp, candidates)
    if not len(setup.probe_ids):
        return NotApplicable("Modifier words were not measured: no candidate word moves the readout at the contexts, "
                             "so there is no valence word to probe with.")
    exact = min(len(candidates), sp.refine or len(candidates))
    report(0.1, f"modifier words: screening {len(candidates)} words, measuring {exact} exactly")
    effects = detect_modifiers(net, setup, candidates, refine=sp.refine)
    own = np.full(len(candidates), np.nan)
    own[effects.exact] = own_effects(net, setup, candidates[effects.exact])
    known, missing = known_modifier_ranks(effects, model.vocab.tokens)
    mods = effects.modifiers()
    top = mods[effects.exact[mods]][: params.modifier_top] if linearized else np.zeros(0, np.int64)
    report(0.8, f"modifier words: deflection, decay and ablation of the top {len(top)}")
    modes = contexts_modes(net, setup, params.n_modes) if len(top) else []
    subspace = modifier_subspace(net, setup, effects.word_ids[top]) if len(top) else None
    dynamics = [modifier_dynamics(net, setup, int(effects.word_ids[r]), n_modes=params.n_modes, context_modes=modes,
                                  subspace=subspace) for r in top]
    path, base = mean_paths(net, setup, effects.word_ids[top], components, mean)
    fillers = np.unique(torch.cat([setup.between, setup.settle], 1).cpu().numpy())
    return ModifierFindings(effects=effects, tokens=model.vocab.tokens, own=own, known=known, missing=missing,
                            probes=[model.vocab.tokens[int(i)] for i in setup.probe_ids],
                            fillers=[model.vocab.tokens[int(i)] for i in fillers],
                            linearized=linearized, top=np.asarray(top, np.int64), dynamics=dynamics, path=path,
                            base_path=base, min_count=sp.min_count, n_modes=params.n_modes, subspace=subspace)
