"""The stages of :func:`rnnscope.analysis.pipeline.run_analysis`, each a function of the
model, the data and :class:`~rnnscope.analysis.analysis_params.AnalysisParams`, and
:class:`Stages`, which times them and maps them onto the caller's progress.
"""
from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable

import numpy as np
import torch

from rnnscope.analysis import pca as pca_mod
from rnnscope.analysis.attractors import AttractorVerdict, VerdictRule, attractor_verdict, iterate_zero_input, \
    spread_sample, tolerance_sweep
from rnnscope.analysis.class_geometry import ClassGeometry, class_geometry, class_words
from rnnscope.analysis.data_sources import load_vader_lexicon
from rnnscope.analysis.linearization_error import linearized_accuracy, one_step_errors, summarize_one_step
from rnnscope.analysis.linearize import linearize
from rnnscope.analysis.memory_budget import DEFAULT_MEMORY_BUDGET
from rnnscope.analysis.manifold import fit_manifold
from rnnscope.analysis.model import pad_batch
from rnnscope.analysis.modes import IntegrationModes, select_integration_modes
from rnnscope.analysis.projections import mean_projection_by_set, null_overlap, overlap_percentile
from rnnscope.analysis.report_assembly import median
from rnnscope.analysis.slow_points import PointSet, range_coverage
from rnnscope.analysis.states import VisitedStates, collect_states, untrained_like
from rnnscope.analysis.words import WordSets, select_words, vader_agreement

Progress = Callable[[float, str], None]

#: The tolerance sweep's q thresholds.
SWEEP_TOLERANCES = 10.0 ** np.arange(-12, -2)


class Stages:
    """Times stages and maps them onto overall progress fractions."""

    WEIGHTS = {"encode": 2, "accuracy": 2, "states": 6, "pca": 2, "fixed_points": 40, "linearize": 12,
               "attractor": 8, "manifold": 3,
               "baseline": 8, "words": 1, "class_geometry": 2, "projections": 2, "linearization_error": 20,
               "modifiers": 8, "density": 4}

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
        """``fn(*args, **kwargs)`` as stage ``name``: progress before, its seconds after."""
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


def class_count(net) -> int:
    """Classes the network's readout tells apart: 2 for one logit, else its number of logits."""
    return max(2, int(net.num_classes))


def class_info(model, dataset) -> tuple[list[str], bool | None]:
    """Names of the model's classes in label order, and whether they are ordered (None: not
    known): the dataset's when it has as many classes, else the checkpoint's provenance
    ``classes``, else the label numbers (binary: negative, positive)."""
    C = class_count(model.net)
    names = tuple(getattr(dataset, "class_names", ()))
    if len(names) == C:
        return list(names), getattr(dataset, "ordered", None)
    recorded = model.provenance.get("classes") if isinstance(model.provenance, dict) else None
    if isinstance(recorded, list) and len(recorded) == C:
        return [str(c) for c in recorded], None
    return (["negative", "positive"], True) if C == 2 else ([str(c) for c in range(C)], None)


@torch.no_grad()
def network_accuracy(net, seqs, labels, batch_size) -> float:
    """Accuracy of the network (fused forward) on token-id sequences: labels 0/1 read against
    the binary logit (one logit, or last minus first of two); labels 0..C−1 of a C > 2 class
    network against the argmax of its logits."""
    y = np.asarray(labels)
    order = np.argsort([len(s) for s in seqs], kind="stable")
    correct = 0
    dev = net.readout.weight.device
    for i in range(0, len(seqs), batch_size):
        idx = order[i: i + batch_size]
        tokens, lens = pad_batch([seqs[j] for j in idx])
        logits = net(tokens.to(dev), lens)
        if logits.shape[1] > 2:
            correct += int((logits.argmax(1).cpu().numpy() == y[idx]).sum())
            continue
        score = logits[:, 0] if logits.shape[1] == 1 else logits[:, -1] - logits[:, 0]
        correct += int(((score > 0).cpu().numpy() == (y[idx] == 1)).sum())
    return correct / len(seqs)


def class_chance(labels: np.ndarray, accuracy: float | None, names: list[str]) -> dict:
    """``data_checks.chance_level`` for C classes: the commonest class's share of ``labels``
    (N,) in 0..C−1, its name, and whether ``accuracy`` is at or below it."""
    y = np.asarray(labels, np.int64).reshape(-1)
    if y.size == 0:
        return {"majority_rate": None, "majority_class": None, "at_or_below_chance": False}
    counts = np.bincount(y, minlength=len(names))
    top = int(np.argmax(counts))
    rate = float(counts[top] / y.size)
    below = accuracy is not None and np.isfinite(accuracy) and float(accuracy) <= rate
    return {"majority_rate": rate, "majority_class": names[top] if top < len(names) else str(top),
            "at_or_below_chance": bool(below)}


def binary_bow(bow, num_classes: int):
    """The bag-of-words fit read as binary: for C > 2 classes its coefficients become those of
    the last class minus the first (what the word sets rank), else ``bow`` unchanged."""
    coef = np.asarray(bow.classifier.coef_)
    if num_classes <= 2 or coef.shape[0] != num_classes:
        return bow
    return dataclasses.replace(bow, coef_=(coef[-1] - coef[0]).astype(np.float64))


def geometry(net, model, dataset, points, lin, bow, verdict, params) -> ClassGeometry:
    """The class geometry (``rnnscope.analysis.class_geometry``) of a C > 2 class network at
    its points, with the ``params.n_words`` most typical words of each class from the
    multinomial bag-of-words fit, and what the attractor ``verdict`` found at zero input."""
    names, ordered = class_info(model, dataset)
    C, D, E = class_count(net), net.state_size, net.embed_dim
    coef = np.asarray(bow.classifier.coef_)
    words, word_class = (class_words(coef, bow.vocabulary_, bow.doc_freq_, params.n_words,
                                     min_doc_freq=params.min_doc_freq, allowed=model.vocab.index)
                         if coef.shape[0] == C else ([], np.zeros(0, np.int64)))
    ids = torch.as_tensor(model.vocab.encode(words), dtype=torch.int64)
    emb = net.embedding.weight.detach()[ids].double().cpu().numpy()
    if lin is None:
        eig, right, left_inp = np.zeros((0, D), complex), np.zeros((0, D, 0), complex), np.zeros((0, 0, E), complex)
    else:
        eig, right, left_inp = lin.eigvals, lin.right, lin.left_inp
    with torch.no_grad():
        logits = net.logits_from_state(torch.as_tensor(points, dtype=net.readout.weight.dtype,
                                                       device=net.readout.weight.device)).double().cpu().numpy()
    geo = class_geometry(points, eig, right, left_inp, net.readout.weight.detach().double().cpu().numpy(), logits,
                         emb=emb, words=words, word_class=word_class, class_names=names, ordered=ordered,
                         seed=params.seed)
    zero_input = {"kind": verdict.kind, "n_attractors": verdict.n_attractors, "tau_slow": verdict.tau_slow}
    return dataclasses.replace(geo, zero_input=zero_input)


def collect_both(net, seqs, labels, params) -> tuple[VisitedStates, VisitedStates]:
    """States visited on ``seqs`` by ``net`` and by an untrained network of its architecture."""
    kw = dict(labels=labels, max_len=params.max_len, batch_size=params.batch_size)
    trained = collect_states(net, seqs, **kw)
    untrained = collect_states(untrained_like(net, params.seed), seqs, **kw)
    return trained, untrained


def fit_pcas(visited, untrained, params):
    """PCA (``params.n_pca`` components) of the trained and of the untrained visited states."""
    return (pca_mod.fit_pca(visited.states, params.n_pca, params.seed),
            pca_mod.fit_pca(untrained.states, params.n_pca, params.seed))


def linearize_points(net, points, n_modes, memory_budget: int = DEFAULT_MEMORY_BUDGET):
    """``linearize`` at ``points`` (K, D) keeping ``n_modes`` modes, in chunks within
    ``memory_budget`` bytes; None without points."""
    if len(points) == 0:
        return None
    return linearize(net, points, n_modes=min(n_modes, net.state_size), memory_budget=memory_budget)


def attractor_and_sweep(net, fp, pset: PointSet, lin, params) -> tuple[AttractorVerdict, dict]:
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


def fit_point_manifold(points, readout, bias, components, params):
    """The points' manifold (``rnnscope.analysis.manifold``: m, θ, readout alignment); None without points."""
    if len(points) == 0:
        return None
    return fit_manifold(points, readout, bias, components, n_neighbors=params.lle_neighbors, seed=params.seed)


def word_sets(bow, model, params, lexicon, warnings) -> tuple[WordSets, dict]:
    """Positive/negative/neutral words from the bag-of-words fit, and the VADER cross-check (None values
    when skipped)."""
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
    try:
        return load_vader_lexicon(fetch_missing=False)
    except (ValueError, OSError) as exc:  # DataError is a ValueError; the cross-check is optional
        warnings.append(f"VADER lexicon not available ({exc}); cross-check skipped "
                        "(`rnnscope data fetch vader` caches it)")
        return None


def integration_modes(lin, points, readout, manifold, verdict: AttractorVerdict) -> IntegrationModes | None:
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


def signed_modes(lin, direction: np.ndarray, n_modes: int) -> dict | None:
    """Real parts of the ``n_modes`` largest-|λ| modes, each (r_a, ℓ_a) signed so that
    Re(r_a) · direction >= 0 (the report's ``left_inp``: every leading mode, for display;
    the integration mode and its phase-independent sign are ``rnnscope.analysis.modes``')."""
    if lin is None:
        return None
    n = min(n_modes, lin.right.shape[2])
    right = np.real(np.asarray(lin.right))[:, :, :n]
    sign = np.where(np.einsum("kdm,d->km", right, direction) < 0, -1.0, 1.0)  # (K, M)
    return {"left_inp": np.real(np.asarray(lin.left_inp))[:, :n] * sign[:, :, None]}


def input_projections(net, model, words, modes: IntegrationModes | None, manifold, params) -> dict:
    """Each word's input projection on the integration mode at each point, and r1·m against a null:
    ``{"summary": ..., "arrays": ...}`` for the report."""
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
               "r1_m_overlap_median": median(overlap), "r1_m_null_median": median(null),
               "r1_m_overlap_percentile": overlap_percentile(overlap, null) if len(overlap) else None}
    arrays = {"input_projection": proj.astype(np.float32), "r1_m_overlap": overlap.astype(np.float64),
              "r1_m_null": null, "r1": r1.astype(np.float32)}
    return {"summary": summary, "arrays": arrays}


def point_coverage(points, manifold, visited, pset: PointSet) -> float | None:
    """Fraction of the visited range along m that the points cover (``range_coverage``)."""
    if manifold is None or len(points) == 0:
        return None
    return range_coverage(points, manifold.m, visited.states, pset.typical_step)


def verdict_warnings(verdict: AttractorVerdict, modes: IntegrationModes | None, warnings: list) -> None:
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


def linearization_errors(net, visited, seqs, labels, points, params) -> dict:
    """One-step linearization errors on sampled steps and the linearized model's accuracy
    (binary networks only: it reads the binary logit; None for C > 2 classes):
    ``{"summary": ..., "arrays": ...}`` for the report."""
    err = one_step_errors(net, visited, points, n_samples=params.n_error_samples, seed=params.seed)
    s = summarize_one_step(err)
    names = {"rel_error": "one_step_rel_error", "rel_error_recurrent": "recurrent_part",
             "rel_error_input": "input_part", "rel_error_previous": "previous_state"}
    lin_summary = {f"{new}_{stat}": s[f"{old}_{stat}"] for old, new in names.items() for stat in ("median", "p90")}
    lin_summary.update({k: s[k] for k in ("nearest_dist_median", "step_norm_median", "nearest_dist_in_steps_median",
                                          "nearest_dist_over_median_step", "n_steps")},
                       n_docs=0, agreement=None, n_diverged=0, full_accuracy_same_docs=None)
    accuracy = None
    if len(points) and class_count(net) == 2:
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


def state_density(net, visited, pca_t, params) -> dict:
    """2-D histograms of the visited states on (PC1, PC2) per label, and one example trajectory
    per label, for the dashboard."""
    comps, mean = pca_t.components_, pca_t.mean_
    coords = pca_mod.project(visited.states, comps, mean, 2)
    edges = pca_mod.density_edges(coords, params.density_bins)
    top = class_count(net) - 1  # "positive": the last class (1 for a binary network)
    pos, neg = pca_mod.density_2d(coords, visited.label, (edges[0], edges[1]), values=(top, 0))
    out = {"density_pos": pos, "density_neg": neg, "density_edges": edges}
    predicted = _predicted_class(net, visited.final)
    for name, label in (("example_traj_pos", top), ("example_traj_neg", 0)):
        doc = _example_doc(visited, predicted, label)
        traj = visited.trajectory(doc) if doc is not None else visited.initial[None]
        out[name] = pca_mod.project(traj, comps, mean, 2).astype(np.float32)
    return out


def _predicted_class(net, final: np.ndarray) -> np.ndarray:
    """Predicted class (N,) int64 of final states (N, D): binary logit > 0, or the argmax of C > 2 logits."""
    if class_count(net) == 2:
        logit = final @ net.readout_vector().float().cpu().numpy() + readout_bias(net)
        return (logit > 0).astype(np.int64)
    with torch.no_grad():
        logits = net.logits_from_state(torch.as_tensor(final, dtype=net.readout.weight.dtype,
                                                       device=net.readout.weight.device))
    return logits.argmax(-1).cpu().numpy().astype(np.int64)


def _example_doc(visited: VisitedStates, predicted: np.ndarray, label: int) -> int | None:
    """A document of ``label`` the network gets right, of median length among those."""
    ok = (visited.doc_labels == label) & (predicted == label) & (visited.lengths > 0)
    cand = np.flatnonzero(ok)
    if cand.size == 0:
        cand = np.flatnonzero((visited.doc_labels == label) & (visited.lengths > 0))
    if cand.size == 0:
        return None
    med = np.median(visited.lengths[cand])
    return int(cand[np.argmin(np.abs(visited.lengths[cand] - med))])



def readout_bias(net) -> float:
    """The readout's bias of the binary logit (one logit: its bias; two: positive minus negative)."""
    b = net.readout.bias.detach().double().cpu().numpy()
    return float(b[0] if len(b) == 1 else b[-1] - b[0])
