"""The whole analysis of one model on one dataset, as one function: ``run_analysis``.

Stages (each timed; ``progress(fraction, message)`` is called as they go):

0. ``encode``: tokenize the test split with the model's tokenizer and vocabulary.
1. ``accuracy``: the network's test accuracy (final-state readout), against the
   majority-class rate of the same documents; the share of the test split's tokens that
   are ``<unk>`` under the model's vocabulary (``rnnscope.analysis.data_checks``).
2. ``states``: states visited on real tokens of held-out (test) documents; the same
   documents through an untrained network of the same architecture.
3. ``pca``: PCA of both sets of visited states (trained vs untrained dimensionality).
4. ``fixed_points``: seeds drawn from the visited states, ``find_fixed_points``; every
   seed's end state classified (fixed, slow, stalled, ...) and the point set chosen:
   fixed points plus slow points up to ``slow_q_max`` (``rnnscope.analysis.slow_points``).
5. ``linearize``: eigenmodes of J_rec at each point (``linearize``).
6. ``attractor``: iterate F(·, 0) from the points: line attractor, slow manifold,
   isolated point(s) or unstable (``rnnscope.analysis.attractors``); the tolerance sweep.
7. ``manifold``: main axis m, LLE coordinate θ, alignment with the readout; the
   integration mode at each point and its sign (``rnnscope.analysis.modes``); range coverage.
8. ``baseline`` and ``words``: bag-of-words regression, positive/negative/neutral sets,
   VADER cross-check.
9. ``projections``: signed input projection of each word on the integration mode at
   each point; r1·m vs a null.
10. ``linearization_error``: single-step error (three labelled variants) and the
    linearized model's accuracy.
11. ``density``: 2-D histograms and example trajectories on (PC1, PC2) for the dashboard.

The result is an ``rnnscope.analysis.report.Report`` whose keys are documented in
``rnnscope.analysis.report``.
"""
from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, fields

import numpy as np
import torch

from rnnscope.analysis import pca as pca_mod
from rnnscope.analysis.attractors import AttractorVerdict, VerdictRule, attractor_verdict, iterate_zero_input, \
    spread_sample, tolerance_sweep
from rnnscope.analysis.baseline import fit_bow
from rnnscope.analysis.data_checks import chance_level, fit_warnings, vocabulary_coverage
from rnnscope.analysis.fixed_points import find_fixed_points
from rnnscope.analysis.linearization_error import linearized_accuracy, one_step_errors, summarize_one_step
from rnnscope.analysis.linearize import jacobians_at, linearize, time_constants
from rnnscope.analysis.manifold import fit_manifold
from rnnscope.analysis.modes import IntegrationModes, select_integration_modes
from rnnscope.analysis.model import Model, pad_batch
from rnnscope.analysis.projections import mean_projection_by_set, null_overlap, overlap_percentile
from rnnscope.analysis.report import REPORT_FORMAT, Report
from rnnscope.analysis.slow_points import PointSet, choose_point_set, range_coverage, typical_step
from rnnscope.analysis.states import VisitedStates, collect_states, draw_seeds, untrained_like
from rnnscope.analysis.summary import check as check_summary
from rnnscope.analysis.tokenizer import encode_texts
from rnnscope.analysis.words import WordSets, select_words, vader_agreement

ANALYSIS_VERSION = "5"
Progress = Callable[[float, str], None]

# Caps on parameters that come from users (dashboard forms, CLI): big enough for any real
# use, small enough that a typo cannot allocate tens of GB.
_CAPS = {"n_docs": 100_000, "max_len": 100_000, "n_seeds": 100_000, "n_words": 10_000, "n_frequent": 1_000_000,
         "n_modes": 64, "n_null": 10_000_000, "n_pca": 1000, "density_bins": 1000, "lin_docs": 100_000,
         "n_error_samples": 1_000_000, "lle_neighbors": 1000, "batch_size": 100_000, "attractor_steps": 100_000,
         "max_points": 100_000}

#: Eigenmodes kept per point as candidates for the integration mode (the largest |λ|).
N_CANDIDATE_MODES = 8
#: The tolerance sweep's q thresholds.
SWEEP_TOLERANCES = 10.0 ** np.arange(-12, -2)


@dataclass(frozen=True)
class AnalysisParams:
    """Everything that changes the result of ``run_analysis`` (part of the cache key).

    Attributes
    ----------
    n_docs : int            held-out documents whose visited states are collected
    max_len : int           tokens read per document (truncation)
    n_seeds : int           initial conditions for the fixed-point search
    seed_noise : float      std of Gaussian noise added to the seeds (state units)
    tol : float             q threshold for a fixed point
    slow_q_max : float|None slow points with q below this join the point set (None: the
                            default rule of ``rnnscope.analysis.slow_points``; 0: fixed points only)
    max_points : int        at most this many points (spread along the set) are linearized and shown
    attractor_steps : int   horizon (tokens of zero input) of the attractor verdict
    n_words : int           words per set (positive / negative / neutral)
    n_frequent : int        neutral words come from this many most frequent tokens
    min_doc_freq : int      words seen in fewer training documents are not listed
    n_modes : int           leading eigenmodes kept per fixed point
    n_null : int            random unit vectors in the r1·m null distribution
    n_pca : int             PCA components kept for explained variance curves
    density_bins : int      bins per axis of the visited-state density on (PC1, PC2)
    lin_docs : int          test documents run through the linearized model
    n_error_samples : int   steps sampled for the single-step linearization error
    accuracy_docs : int     test documents (seeded sample) for the network's accuracy (0 = all)
    lle_neighbors : int     neighbours for locally linear embedding
    vader : bool            cross-check word sets with the VADER lexicon
    batch_size : int        documents per batch when running the network
    seed : int              seeds documents, seeds, nulls and the untrained network
    """

    n_docs: int = 1000
    max_len: int = 400
    n_seeds: int = 512
    seed_noise: float = 0.0
    tol: float = 1e-8
    slow_q_max: float | None = None
    max_points: int = 256
    attractor_steps: int = 3000
    n_words: int = 100
    n_frequent: int = 2000
    min_doc_freq: int = 5
    n_modes: int = 3
    n_null: int = 10000
    n_pca: int = 50
    density_bins: int = 60
    lin_docs: int = 500
    n_error_samples: int = 5000
    accuracy_docs: int = 2000
    lle_neighbors: int = 20
    vader: bool = True
    batch_size: int = 256
    seed: int = 0

    def __post_init__(self):
        for f in fields(self):
            value = getattr(self, f.name)
            if f.type == "bool":
                if not isinstance(value, bool):
                    raise ValueError(f"{f.name} must be true or false, not {value!r}")
            elif f.type == "int":
                if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
                    raise ValueError(f"{f.name} must be an integer, not {value!r}")
                low = 0 if f.name in ("accuracy_docs", "seed", "min_doc_freq") else 1
                if not low <= value <= _CAPS.get(f.name, 2**31):
                    raise ValueError(f"{f.name}={value} is out of range [{low}, {_CAPS.get(f.name, 2**31)}]")
            elif f.type in ("float", "float | None"):
                if value is None and f.type != "float":
                    continue
                if isinstance(value, bool) or not isinstance(value, (int, float)) or not np.isfinite(value) \
                        or value < 0:
                    raise ValueError(f"{f.name} must be a finite number >= 0, not {value!r}")
        if not 0 < self.tol < 1:
            raise ValueError(f"tol must be in (0, 1), not {self.tol}")
        if self.slow_q_max is not None and self.slow_q_max >= 1:
            raise ValueError(f"slow_q_max must be below 1 (or null for the default rule), not {self.slow_q_max}")

    def to_dict(self) -> dict:
        """Plain dict of every parameter (stable keys; use for cache keys)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict) -> AnalysisParams:
        """Build from a dict, rejecting unknown keys with a clear message."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"unknown analysis parameter(s): {', '.join(unknown)}")
        return cls(**values)


class _Stages:
    """Times stages and maps them onto overall progress fractions."""

    WEIGHTS = {"encode": 2, "accuracy": 2, "states": 6, "pca": 2, "fixed_points": 40, "linearize": 12,
               "attractor": 8, "manifold": 3,
               "baseline": 8, "words": 1, "projections": 2, "linearization_error": 20, "density": 4}

    def __init__(self, progress: Progress | None):
        self.progress = progress
        self.timings: dict[str, float] = {}
        self.done = 0.0
        self.last = 0.0
        self.total = float(sum(self.WEIGHTS.values()))

    def _report(self, fraction: float, message: str) -> None:
        """Forward to the caller's callback, never going backwards."""
        self.last = max(self.last, min(fraction, 1.0))
        self.progress(self.last, message)

    def run(self, name: str, message: str, fn, *args, **kwargs):
        if self.progress:
            self._report(self.done / self.total, message)
        t0 = time.perf_counter()
        out = fn(*args, **kwargs)
        self.timings[name] = round(time.perf_counter() - t0, 4)
        self.done += self.WEIGHTS[name]
        return out

    def sub(self, name: str) -> Progress | None:
        """A progress callback for work inside stage ``name``: fraction 0..1 of that stage."""
        if not self.progress:
            return None
        start, width = self.done, self.WEIGHTS[name]

        def report(fraction: float, message: str) -> None:
            f = min(max(float(fraction), 0.0), 1.0)
            self._report((start + f * width) / self.total, message)

        return report

    def finish(self):
        self.timings["total"] = round(sum(self.timings.values()), 4)
        if self.progress:
            self._report(1.0, "analysis done")


def run_analysis(model: Model, dataset, params: AnalysisParams | None = None,
                 progress: Progress | None = None, *, lexicon: dict[str, float] | None = None) -> Report:
    """Analyse ``model`` on ``dataset`` (an ``rnnscope.analysis.data.Dataset``); returns a ``Report``.

    Parameters
    ----------
    model : Model
    dataset : Dataset
        ``test`` supplies the held-out documents (states, seeds, errors, accuracies);
        ``train``/``validation`` fit the bag-of-words baseline.
    params : AnalysisParams
    progress : callable (fraction in [0, 1], message), optional
    lexicon : dict token -> valence, optional
        VADER lexicon; loaded with ``rnnscope.analysis.data.load_vader_lexicon`` when omitted and
        ``params.vader`` (the cross-check is skipped when it cannot be loaded).
    """
    params = params or AnalysisParams()
    net = model.net.eval()
    stages = _Stages(progress)
    warnings: list[str] = []
    test = dataset.test
    if len(test) == 0:
        raise ValueError(f"dataset {dataset.name!r} has no test documents to analyse")
    seqs = stages.run("encode", f"tokenizing {len(test)} test documents", encode_texts, test.texts,
                      model.tokenizer, model.vocab)

    acc_docs = np.random.default_rng(params.seed + 2).permutation(len(seqs))[: params.accuracy_docs or None]
    acc = stages.run("accuracy", f"test accuracy on {len(acc_docs)} documents", _network_accuracy, net,
                     [seqs[i][: params.max_len] for i in acc_docs], test.labels[acc_docs], params.batch_size)
    coverage = vocabulary_coverage(seqs)
    chance = chance_level(test.labels[acc_docs], acc)
    warnings += fit_warnings(coverage, acc, chance)
    docs = np.random.default_rng(params.seed).permutation(len(seqs))[: params.n_docs]
    visited, untrained = stages.run("states", f"collecting states on {len(docs)} documents", _collect_both,
                                    net, [seqs[i] for i in docs], test.labels[docs], params)
    if len(visited) < 2:
        raise ValueError("fewer than 2 visited states: the test documents are (nearly) empty")
    pca_t, pca_u = stages.run("pca", "PCA of visited states", _fit_pcas, visited, untrained, params)
    seeds = draw_seeds(visited, params.n_seeds, np.random.default_rng(params.seed), params.seed_noise)
    fp = stages.run("fixed_points", f"finding fixed points from {len(seeds)} seeds",
                    find_fixed_points, net, seeds, tol=params.tol, progress=stages.sub("fixed_points"))
    pset = choose_point_set(fp, typical_step(visited.states, visited.previous()), params.slow_q_max,
                            max_points=params.max_points)
    points = np.asarray(pset.points, np.float32).reshape(-1, net.state_size)
    if len(points) == 0:
        warnings.append("no fixed point converged below tol and no slow point was found; "
                        "fixed-point stages are empty")
    lin = stages.run("linearize", f"linearizing at {len(points)} points",
                     _linearize, net, points, max(params.n_modes, N_CANDIDATE_MODES))
    verdict, sweep = stages.run("attractor", f"iterating F(·, 0) from the points for {params.attractor_steps} steps",
                                _attractor, net, fp, pset, lin, params)
    readout = net.readout_vector().double().cpu().numpy()
    bias = _readout_bias(net)
    manifold = stages.run("manifold", "fixed-point manifold (PCA, LLE) and integration modes", _manifold, points,
                          readout, bias, pca_t.components_, params)
    if manifold is not None and manifold.theta_method != "lle" and len(points) > 3:
        warnings.append(f"theta from the projection on m, not LLE: the fixed points' {params.lle_neighbors}-neighbour "
                        f"graph has {manifold.knn_components} separate components")
    modes = _integration_modes(lin, points, readout, manifold, verdict)
    legacy = _signed_modes(lin, readout, params.n_modes)
    bow = stages.run("baseline", "bag-of-words baseline", fit_bow, dataset, model.tokenizer, model.vocab,
                     seed=params.seed, encoded={"test": seqs})
    words, vader = stages.run("words", "word sets", _words, bow, model, params, lexicon, warnings)
    proj = stages.run("projections", "input projections", _projections, net, model, words, modes, manifold, params)
    lin_err = stages.run("linearization_error", "linearization error", _linearization_error, net, visited,
                         seqs, test.labels, points, params)
    range_cover = _coverage(points, manifold, visited, pset)
    _verdict_warnings(verdict, modes, warnings)
    dens = stages.run("density", "state density and example trajectories", _density, net, visited, pca_t, params)
    stages.finish()
    r = _Results(model=model, dataset=dataset, params=params, acc=acc, n_acc=len(acc_docs), visited=visited,
                 pca_t=pca_t, pca_u=pca_u, fp=fp, pset=pset, points=points, lin=lin, modes=modes, legacy=legacy,
                 verdict=verdict, sweep=sweep, coverage=range_cover, manifold=manifold,
                 readout=readout, bias=bias, bow=bow, words=words, vader=vader, proj=proj, lin_err=lin_err,
                 dens=dens, timings=stages.timings, warnings=warnings, vocabulary=coverage, chance=chance)
    return Report(check_summary(_summary(r)), _arrays(r))


@dataclass
class _Results:
    """Everything the stages produced, for assembling the report."""

    model: Model
    dataset: object
    params: AnalysisParams
    acc: float
    n_acc: int
    visited: VisitedStates
    pca_t: object
    pca_u: object
    fp: object
    pset: PointSet
    points: np.ndarray
    lin: object
    modes: IntegrationModes | None
    legacy: dict | None
    verdict: AttractorVerdict
    sweep: dict
    coverage: float
    manifold: object
    readout: np.ndarray
    bias: float
    bow: object
    words: WordSets
    vader: dict
    proj: dict
    lin_err: dict
    dens: dict
    timings: dict
    warnings: list
    vocabulary: dict
    chance: dict


def _arrays(r: _Results) -> dict[str, np.ndarray]:
    """The report arrays (``rnnscope.analysis.report`` lists them)."""
    net = r.model.net
    words = _word_arrays(r.words, r.model)
    return {**_fixed_point_arrays(r.pset, r.points, r.lin, r.modes, r.legacy, r.manifold, r.pca_t,
                                  min(r.params.n_modes, net.state_size), net.embed_dim),
            **_attractor_arrays(r.pset, r.fp, r.verdict, r.sweep),
            **_pca_arrays(r.pca_t, r.pca_u, r.visited), **words, **r.proj["arrays"],
            **_input_effect_arrays(net, words["word_ids"], r.points, r.manifold, r.pca_t),
            **r.lin_err["arrays"], **r.dens,
            "m": r.manifold.m.astype(np.float32) if r.manifold else np.zeros(net.state_size, np.float32),
            "readout": r.readout.astype(np.float32), "readout_bias": np.array([r.bias], np.float64),
            "readout_pc": pca_mod.project_direction(_unit(r.readout), r.pca_t.components_, 2).astype(np.float32)}


def _summary(r: _Results) -> dict:
    """The report summary (``rnnscope.analysis.report`` lists the keys)."""
    net, fp, words = r.model.net, r.fp, r.words
    recorded = r.model.metrics.get("test_accuracy")
    return {
        "format": REPORT_FORMAT, "version": ANALYSIS_VERSION,
        "model": {"arch": r.model.arch, "hidden_size": net.hidden_size, "state_size": net.state_size,
                  "embed_dim": net.embed_dim, "vocab_size": len(r.model.vocab), "sha256": r.model.sha256},
        "data": {"name": r.dataset.name, "n_docs": r.visited.n_docs, "n_states": len(r.visited),
                 "vocabulary": r.vocabulary},
        "accuracy": {"test": r.acc, "test_n_docs": r.n_acc, "linearized": r.lin_err["summary"]["accuracy"],
                     "bow": r.bow.accuracy_, **r.chance,
                     "checkpoint_test": float(recorded) if isinstance(recorded, (int, float)) else None},
        "pca": _pca_summary(r.pca_t, r.pca_u),
        "fixed_points": _point_summary(fp, r.pset),
        "attractor": {**r.verdict.summary(), "range_coverage": r.coverage,
                      "typical_step": r.pset.typical_step},
        "manifold": {**_manifold_summary(r.manifold), "is_attractor": r.verdict.is_continuous},
        "spectra": _spectra_summary(r.lin),
        "modes": _modes_summary(r.modes),
        "projections": r.proj["summary"],
        "words": {"n_positive": len(words.of(1)), "n_negative": len(words.of(-1)), "n_neutral": len(words.of(0)),
                  "bow_C": r.bow.C_, **r.vader},
        "linearization": r.lin_err["summary"]["linearization"],
        "params": r.params.to_dict(),
        "timings": r.timings,
        "warnings": r.warnings,
    }


# --------------------------------------------------------------------------- stages


@torch.no_grad()
def _network_accuracy(net, seqs, labels, batch_size) -> float:
    """Accuracy of the network (fused forward) on token-id sequences with 0/1 labels."""
    y = np.asarray(labels)
    order = np.argsort([len(s) for s in seqs], kind="stable")
    correct = 0
    dev = net.readout.weight.device
    for i in range(0, len(seqs), batch_size):
        idx = order[i: i + batch_size]
        tokens, lens = pad_batch([seqs[j] for j in idx])
        logits = net(tokens.to(dev), lens)
        score = logits[:, 0] if logits.shape[1] == 1 else logits[:, -1] - logits[:, 0]
        correct += int(((score > 0).cpu().numpy() == (y[idx] == 1)).sum())
    return correct / len(seqs)


def _collect_both(net, seqs, labels, params) -> tuple[VisitedStates, VisitedStates]:
    kw = dict(labels=labels, max_len=params.max_len, batch_size=params.batch_size)
    trained = collect_states(net, seqs, **kw)
    untrained = collect_states(untrained_like(net, params.seed), seqs, **kw)
    return trained, untrained


def _fit_pcas(visited, untrained, params):
    return (pca_mod.fit_pca(visited.states, params.n_pca, params.seed),
            pca_mod.fit_pca(untrained.states, params.n_pca, params.seed))


def _linearize(net, points, n_modes):
    if len(points) == 0:
        return None
    return linearize(net, points, n_modes=min(n_modes, net.state_size))


def _attractor(net, fp, pset: PointSet, lin, params) -> tuple[AttractorVerdict, dict]:
    """The verdict on the chosen point set, and the tolerance sweep over every candidate."""
    rule = VerdictRule(n_steps=params.attractor_steps)
    eig = np.zeros((0, net.state_size), np.complex128) if lin is None else lin.eigvals
    verdict = attractor_verdict(net, pset.points, pset.q, eig, tol=params.tol, rule=rule)
    if verdict.kind == "none" and fp.n_outliers:
        verdict.text = (f"No point inside the visited region: all {fp.n_outliers} seeds that reached q < "
                        f"{params.tol:g} ended more than 10 times the seeds' mean distance from their centroid, "
                        "outside every state the network visits (outliers, not shown), and no slow point was found.")
    cand, cand_q = pset.candidates, pset.candidates_q
    if len(cand) == pset.n_found:  # no candidate outside the chosen set: reuse the verdict's iterates
        sample, end = pset.rows[verdict.sample], verdict.end_states
    else:
        sample = spread_sample(cand, rule.max_points)
        end = iterate_zero_input(net, cand[sample], rule.n_steps)[0] if len(sample) else np.zeros((0, net.state_size))
    sweep = tolerance_sweep(cand, cand_q, end, sample, SWEEP_TOLERANCES, rule=rule)
    return verdict, sweep


def _manifold(points, readout, bias, components, params):
    if len(points) == 0:
        return None
    return fit_manifold(points, readout, bias, components, n_neighbors=params.lle_neighbors, seed=params.seed)


def _words(bow, model, params, lexicon, warnings) -> tuple[WordSets, dict]:
    words = select_words(bow.vocabulary_, bow.coef_, bow.doc_freq_, n=params.n_words, n_frequent=params.n_frequent,
                         min_doc_freq=params.min_doc_freq, allowed=model.vocab.index)
    vader = {"vader_positive_agreement": None, "vader_negative_agreement": None,
             "vader_neutral_mean_abs": None, "vader_coverage": None}
    if params.vader and lexicon is None:
        lexicon = _load_vader(warnings)
    if params.vader and lexicon:
        vader = vader_agreement(words, lexicon)
    return words, vader


def _load_vader(warnings) -> dict | None:
    """The cached VADER lexicon, or None (never downloads inside an analysis)."""
    from rnnscope.analysis.data import load_vader_lexicon

    try:
        return load_vader_lexicon(fetch_missing=False)
    except (ValueError, OSError) as exc:  # DataError is a ValueError; the cross-check is optional
        warnings.append(f"VADER lexicon not available ({exc}); cross-check skipped "
                        "(`rnnscope data fetch vader` caches it)")
        return None


def _integration_modes(lin, points, readout, manifold, verdict: AttractorVerdict) -> IntegrationModes | None:
    """The integration mode at each point (``rnnscope.analysis.modes``), chosen along the point set;
    the manifold may sign it only when the verdict says the set is a continuum."""
    if lin is None:
        return None
    monotone = (verdict.is_continuous and manifold is not None and np.isfinite(manifold.m_logit_spearman)
                and manifold.m_logit_spearman >= 0.5)
    return select_integration_modes(lin.eigvals, lin.right, lin.left, lin.left_inp, points, readout,
                                    along_set=len(points) >= 2 and verdict.extent_initial > 0,
                                    manifold_axis=None if manifold is None else manifold.m,
                                    logit_monotone=bool(monotone))


def _signed_modes(lin, direction: np.ndarray, n_modes: int) -> dict | None:
    """Real parts of the ``n_modes`` largest-|λ| modes, each (r_a, ℓ_a) signed so that
    Re(r_a) · direction >= 0 (the report's ``left_inp``: every leading mode, for display;
    the integration mode and its phase-independent sign are ``rnnscope.analysis.modes``')."""
    if lin is None:
        return None
    n = min(n_modes, lin.right.shape[2])
    right = np.real(np.asarray(lin.right))[:, :, :n]
    sign = np.where(np.einsum("kdm,d->km", right, direction) < 0, -1.0, 1.0)  # (K, M)
    return {"left_inp": np.real(np.asarray(lin.left_inp))[:, :n] * sign[:, :, None]}


def _projections(net, model, words, modes: IntegrationModes | None, manifold, params) -> dict:
    W, D = len(words.words), net.state_size
    null = null_overlap(D, params.n_null, params.seed)
    if modes is None:
        proj, overlap, r1 = np.zeros((0, W)), np.zeros(0), np.zeros((0, D))
        signed = np.zeros(0, bool)
    else:
        ids = torch.as_tensor(model.vocab.encode(words.words))
        emb = net.embedding.weight.detach()[ids].double().cpu().numpy()
        proj = modes.projection(emb)
        r1 = modes.direction
        overlap = modes.overlap(manifold.m)  # |cos(r1, m)|; for a pair, the part of m in its plane
        signed = modes.sign_source != "none"
    # signed means only over points where the sign is defined; magnitudes everywhere
    means = mean_projection_by_set(proj[signed], words.valence) if signed.any() else \
        {"mean_positive": None, "mean_negative": None, "mean_neutral": None}
    abs_means = mean_projection_by_set(np.abs(proj), words.valence) if len(proj) else \
        {"mean_positive": None, "mean_negative": None, "mean_neutral": None}  # every key, even without points
    summary = {**means, **{f"{k.replace('mean_', 'mean_abs_')}": v for k, v in abs_means.items()},
               "sign_defined_fraction": float(signed.mean()) if len(signed) else None,
               "r1_m_overlap_median": _median(overlap), "r1_m_null_median": _median(null),
               "r1_m_overlap_percentile": overlap_percentile(overlap, null) if len(overlap) else None}
    arrays = {"input_projection": proj.astype(np.float32), "r1_m_overlap": overlap.astype(np.float64),
              "r1_m_null": null, "r1": r1.astype(np.float32)}
    return {"summary": summary, "arrays": arrays}


def _coverage(points, manifold, visited, pset: PointSet) -> float | None:
    """Fraction of the visited range along m that the points cover (``range_coverage``)."""
    if manifold is None or len(points) == 0:
        return None
    return range_coverage(points, manifold.m, visited.states, pset.typical_step)


def _verdict_warnings(verdict: AttractorVerdict, modes: IntegrationModes | None, warnings: list) -> None:
    """What a reader of θ, m, r1·m and the projections must know."""
    if verdict.kind in ("isolated", "unstable") and verdict.n_points > 1:
        warnings.append(f"not a line attractor ({verdict.name}): θ, m and r1·m describe the spread of the "
                        "points, not a line the network integrates along")
    if modes is None or len(modes.index) == 0:
        return
    s = modes.summary()
    unseen = s["sign_counts"]["none"]
    if unseen:
        warnings.append(f"at {unseen} of {s['n_points']} points neither the readout nor the manifold fixes the "
                        "integration mode's sign: read only the size of those input projections")
    if s["rule_counts"]["no aligned mode"]:
        warnings.append(f"at {s['rule_counts']['no aligned mode']} points no leading eigenvector lies along the "
                        "point set; the slowest mode is used there")


def _linearization_error(net, visited, seqs, labels, points, params) -> dict:
    err = one_step_errors(net, visited, points, n_samples=params.n_error_samples, seed=params.seed)
    s = summarize_one_step(err)
    names = {"rel_error": "one_step_rel_error", "rel_error_recurrent": "recurrent_part",
             "rel_error_input": "input_part", "rel_error_previous": "previous_state"}
    lin_summary = {f"{new}_{stat}": s[f"{old}_{stat}"] for old, new in names.items() for stat in ("median", "p90")}
    lin_summary.update({k: s[k] for k in ("nearest_dist_median", "step_norm_median", "nearest_dist_in_steps_median",
                                          "nearest_dist_over_median_step", "n_steps")},
                       n_docs=0, agreement=None, n_diverged=0, full_accuracy_same_docs=None)
    accuracy = None
    if len(points):
        docs = np.random.default_rng(params.seed + 1).permutation(len(seqs))[: params.lin_docs]
        res = linearized_accuracy(net, [seqs[i] for i in docs], np.asarray(labels)[docs], points,
                                  max_docs=None, max_len=params.max_len, batch_size=params.batch_size)
        accuracy = res["accuracy"]
        lin_summary.update(n_docs=res["n_docs"], agreement=res["agreement"], n_diverged=res["n_diverged"],
                           full_accuracy_same_docs=res["full_accuracy"])
    arrays = {"one_step_rel_error": err["rel_error"], "one_step_nearest_dist": err["nearest_dist"],
              "one_step_rel_error_recurrent": err["rel_error_recurrent"],
              "one_step_rel_error_input": err["rel_error_input"],
              "one_step_rel_error_previous": err["rel_error_previous"], "one_step_step_norm": err["step_norm"]}
    return {"summary": {"accuracy": accuracy, "linearization": lin_summary}, "arrays": arrays}


def _density(net, visited, pca_t, params) -> dict:
    comps, mean = pca_t.components_, pca_t.mean_
    coords = pca_mod.project(visited.states, comps, mean, 2)
    edges = pca_mod.density_edges(coords, params.density_bins)
    pos, neg = pca_mod.density_2d(coords, visited.label, (edges[0], edges[1]), values=(1, 0))
    out = {"density_pos": pos, "density_neg": neg, "density_edges": edges}
    logits = visited.final @ net.readout_vector().float().cpu().numpy() + _readout_bias(net)
    for name, label in (("example_traj_pos", 1), ("example_traj_neg", 0)):
        doc = _example_doc(visited, logits, label)
        traj = visited.trajectory(doc) if doc is not None else visited.initial[None]
        out[name] = pca_mod.project(traj, comps, mean, 2).astype(np.float32)
    return out


def _example_doc(visited: VisitedStates, final_logit: np.ndarray, label: int) -> int | None:
    """A document of ``label`` the network gets right, of median length among those."""
    ok = (visited.doc_labels == label) & ((final_logit > 0) == (label == 1)) & (visited.lengths > 0)
    cand = np.flatnonzero(ok)
    if cand.size == 0:
        cand = np.flatnonzero((visited.doc_labels == label) & (visited.lengths > 0))
    if cand.size == 0:
        return None
    med = np.median(visited.lengths[cand])
    return int(cand[np.argmin(np.abs(visited.lengths[cand] - med))])


# --------------------------------------------------------------------------- arrays and summaries


def _fixed_point_arrays(pset: PointSet, points, lin, modes: IntegrationModes | None, legacy, manifold, pca_t,
                        n_modes: int, embed_dim: int) -> dict:
    K, D = points.shape
    comps, mean = pca_t.components_, pca_t.mean_
    if lin is None:
        return {"fixed_points": points, "q": np.zeros(0), "theta": np.zeros(0), "fp_pc": np.zeros((0, 3), np.float32),
                "eigvals": np.zeros((0, D), np.complex128), "tau_top3": np.zeros((0, 3)),
                "stable": np.zeros(0, bool), "l1": np.zeros((0, D), np.float32),
                "left_inp": np.zeros((0, n_modes, embed_dim), np.float32),
                "fp_pca_explained_variance_ratio": np.zeros(0), **_mode_arrays(None, 0, D, embed_dim)}
    eig = np.asarray(lin.eigvals, np.complex128)
    tau = np.asarray(lin.tau, np.float64)
    tau3 = np.full((K, 3), np.nan)
    tau3[:, : min(3, tau.shape[1])] = tau[:, :3]
    return {
        "fixed_points": points, "q": np.asarray(pset.q, np.float64), "theta": manifold.theta,
        "fp_pc": pca_mod.project(points, comps, mean, 3).astype(np.float32),
        "eigvals": eig, "tau_top3": tau3, "stable": np.abs(eig[:, 0]) < 1,
        "l1": modes.left.astype(np.float32),
        "left_inp": legacy["left_inp"].astype(np.float32),
        "fp_pca_explained_variance_ratio": np.asarray(manifold.explained_variance_ratio, np.float64),
        **_mode_arrays(modes, K, D, embed_dim),
    }


def _mode_arrays(modes: IntegrationModes | None, K: int, D: int, E: int) -> dict:
    """The integration mode at each point (``rnnscope.analysis.report``: ``mode_*``)."""
    if modes is None:
        return {"mode_index": np.zeros(0, np.int64), "mode_eigval": np.zeros(0, np.complex128),
                "mode_tau": np.zeros(0), "mode_is_pair": np.zeros(0, bool), "mode_rule": np.zeros(0, "<U1"),
                "mode_sign_source": np.zeros(0, "<U1"), "mode_visibility": np.zeros(0),
                "mode_alignment": np.zeros(0), "mode_coef": np.zeros((0, E), np.float32),
                "mode_largest_is_chosen": np.zeros(0, bool)}
    return {"mode_index": modes.index, "mode_eigval": modes.eigval.astype(np.complex128),
            "mode_tau": time_constants(modes.eigval), "mode_is_pair": modes.is_pair,
            "mode_rule": np.asarray(modes.rule, dtype=np.str_), "mode_sign_source": np.asarray(modes.sign_source, np.str_),
            "mode_visibility": modes.visibility, "mode_alignment": modes.alignment,
            "mode_coef": modes.coef.astype(np.float32), "mode_largest_is_chosen": modes.largest_is_chosen}


def _attractor_arrays(pset: PointSet, fp, verdict: AttractorVerdict, sweep: dict) -> dict:
    """Point kinds and speeds, every seed's end, the extent curve and the tolerance sweep."""
    return {"point_is_fixed": pset.is_fixed, "point_speed": pset.speed, "point_drift_tokens": pset.drift_tokens,
            "seed_q": np.asarray(fp.seed_q, np.float64), "seed_class": np.asarray(pset.seed_class, np.str_),
            "attractor_curve_steps": verdict.curve_steps, "attractor_curve_extent": verdict.curve_extent,
            "attractor_curve_inner": verdict.curve_inner,
            **{f"sweep_{k}": np.asarray(v) for k, v in sweep.items()}}


def _point_summary(fp, pset: PointSet) -> dict:
    slow = ~pset.is_fixed
    return {"n_seeds": int(fp.n_seeds), "n_converged": int(fp.n_converged),
            "n_unique": int(len(pset.points)), "n_fixed": pset.n_fixed, "n_slow": pset.n_slow,
            "n_found": int(pset.n_found),
            "n_outliers": int(fp.n_outliers), "tol": float(fp.tol), "slow_q_max": pset.slow_q_max,
            "slow_rule": pset.slow_rule, "seed_classes": pset.class_counts(),
            "q_median": _median(pset.q), "slow_speed_median": _median(pset.speed[slow]),
            "slow_drift_tokens_median": _median(pset.drift_tokens[slow]), "seconds": float(fp.seconds)}


def _modes_summary(modes: IntegrationModes | None) -> dict:
    if modes is None:
        return {"n_points": 0, "rule_counts": {}, "sign_counts": {}, "n_pairs": 0, "n_largest_is_chosen": 0,
                "abs_lambda_median": None, "tau_median": None, "alignment_median": None, "visibility_median": None}
    s = modes.summary()
    ok = modes.index >= 0
    return {**s, "tau_median": _median(time_constants(modes.eigval[ok]))}


def _pca_arrays(pca_t, pca_u, visited) -> dict:
    comps = pca_t.components_[:10]
    return {"state_pca_components": comps.astype(np.float32), "state_pca_mean": pca_t.mean_.astype(np.float32),
            "explained_variance_ratio": pca_t.explained_variance_ratio_.astype(np.float64),
            "explained_variance_ratio_untrained": pca_u.explained_variance_ratio_.astype(np.float64),
            "initial_state_pc": pca_mod.project(visited.initial, pca_t.components_, pca_t.mean_, 2).astype(np.float32)}


def _word_arrays(words: WordSets, model) -> dict:
    return {"words": np.array(words.words, dtype=np.str_) if words.words else np.zeros(0, "<U1"),
            "word_valence": words.valence.astype(np.int8), "word_coef": words.coef.astype(np.float64),
            "word_ids": model.vocab.encode(words.words).astype(np.int64)}


def _input_effect_arrays(net, word_ids: np.ndarray, points, manifold, pca_t) -> dict:
    """Fig. 4a at one fixed point, the one nearest θ = 0: ``J_inp x_w`` of every listed word
    in the top-2 state-PC directions (``jinp_x_pc``, (W, 2)) and that point (``jinp_x_point``)."""
    if manifold is None or len(points) == 0 or not len(word_ids):
        return {"jinp_x_pc": np.zeros((0, 2), np.float32), "jinp_x_point": np.zeros(0, np.int64)}
    k = int(np.argmin(np.abs(manifold.theta)))
    _, j_inp = jacobians_at(net, points[k: k + 1])
    emb = net.embedding.weight.detach().cpu().double().numpy()[word_ids]
    effects = emb @ j_inp[0].T  # (W, D)
    return {"jinp_x_pc": (effects @ pca_t.components_[:2].T).astype(np.float32),
            "jinp_x_point": np.array([k], np.int64)}


def _pca_summary(pca_t, pca_u) -> dict:
    return {"explained_variance_ratio": pca_t.explained_variance_ratio_[:10].tolist(),
            "explained_variance_ratio_untrained": pca_u.explained_variance_ratio_[:10].tolist(),
            "n_components_90": pca_mod.n_components_for(pca_t.explained_variance_ratio_, 0.9),
            "n_components_90_untrained": pca_mod.n_components_for(pca_u.explained_variance_ratio_, 0.9)}


def _manifold_summary(manifold) -> dict:
    if manifold is None:
        return {"fp_variance_in_top2_state_pcs": None, "fp_variance_top1_own_pc": None, "m_readout_cosine": None,
                "m_logit_spearman": None, "theta_readout_spearman": None, "theta_method": None,
                "knn_components": None}
    return {"fp_variance_in_top2_state_pcs": manifold.variance_in_top2_state_pcs,
            "fp_variance_top1_own_pc": float(manifold.explained_variance_ratio[0]),
            "m_readout_cosine": manifold.m_readout_cosine, "m_logit_spearman": manifold.m_logit_spearman,
            "theta_readout_spearman": manifold.theta_readout_spearman, "theta_method": manifold.theta_method,
            "knn_components": manifold.knn_components}


def _spectra_summary(lin) -> dict:
    if lin is None:
        return {"abs_lambda1_median": None, "tau1_median": None, "tau2_median": None, "tau3_median": None,
                "n_stable": 0, "n_slow_modes_median": None}
    eig = np.abs(np.asarray(lin.eigvals))
    tau = np.asarray(lin.tau, np.float64)
    col = lambda a: _median(tau[:, a]) if tau.shape[1] > a else None  # noqa: E731
    return {"abs_lambda1_median": _median(eig[:, 0]), "tau1_median": col(0), "tau2_median": col(1),
            "tau3_median": col(2), "n_stable": int((eig[:, 0] < 1).sum()),
            "n_slow_modes_median": _median((tau > 10).sum(1))}


def _median(values) -> float | None:
    values = np.asarray(values, np.float64)
    return float(np.median(values)) if values.size else None


def _unit(v: np.ndarray) -> np.ndarray:
    norm = np.linalg.norm(v)
    return v / norm if norm > 0 else v


def _readout_bias(net) -> float:
    b = net.readout.bias.detach().double().cpu().numpy()
    return float(b[0] if len(b) == 1 else b[-1] - b[0])
