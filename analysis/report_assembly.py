"""The report of one analysis, assembled from what the stages of
:func:`rnnscope.analysis.pipeline.run_analysis` produced (:class:`Results`): the arrays
(:func:`report_arrays`) and the summary (:func:`report_summary`), whose keys
:mod:`rnnscope.analysis.report` documents.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from rnnscope.analysis import pca as pca_mod
from rnnscope.analysis.analysis_params import AnalysisParams
from rnnscope.analysis.attractors import AttractorVerdict
from rnnscope.analysis.class_geometry import ClassGeometry, empty_arrays, not_applicable
from rnnscope.analysis.linearize import jacobians_at, time_constants
from rnnscope.analysis.model import Model
from rnnscope.analysis.modes import IntegrationModes
from rnnscope.analysis.modifier_stage import ModifierFindings, NotApplicable
from rnnscope.analysis.modifier_stage import empty_arrays as empty_modifier_arrays
from rnnscope.analysis.report import REPORT_FORMAT
from rnnscope.analysis.slow_points import PointSet
from rnnscope.analysis.states import VisitedStates
from rnnscope.analysis.words import WordSets


@dataclass
class Results:
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
    geometry: ClassGeometry | None = None  # C > 2 classes only
    modifiers: ModifierFindings | NotApplicable | None = None  # None: not run (a caller of old)


def report_arrays(r: Results) -> dict[str, np.ndarray]:
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
            "readout_pc": pca_mod.project_direction(_unit(r.readout), r.pca_t.components_, 2).astype(np.float32),
            **(r.geometry.arrays() if r.geometry is not None else empty_arrays(net.state_size)),
            **(r.modifiers.arrays() if r.modifiers is not None else empty_modifier_arrays())}


def report_summary(r: Results, version: str) -> dict:
    """The report summary (``rnnscope.analysis.report`` lists the keys)."""
    net, fp, words = r.model.net, r.fp, r.words
    recorded = r.model.metrics.get("test_accuracy")
    return {
        "format": REPORT_FORMAT, "version": version,
        "model": {"arch": r.model.arch, "hidden_size": net.hidden_size, "state_size": net.state_size,
                  "embed_dim": net.embed_dim, "vocab_size": len(r.model.vocab), "sha256": r.model.sha256},
        "data": {"name": r.dataset.name, "n_docs": r.visited.n_docs, "n_states": len(r.visited),
                 "vocabulary": r.vocabulary, "truncate": r.model.truncate},
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
        "class_geometry": r.geometry.to_dict() if r.geometry is not None else not_applicable(max(2, net.num_classes)),
        "modifiers": (r.modifiers or NotApplicable("Modifier words were not measured.")).to_dict(),
        "params": r.params.to_dict(),
        "timings": r.timings,
        "warnings": r.warnings,
    }


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
            "q_median": median(pset.q), "slow_speed_median": median(pset.speed[slow]),
            "slow_drift_tokens_median": median(pset.drift_tokens[slow]), "seconds": float(fp.seconds)}


def _modes_summary(modes: IntegrationModes | None) -> dict:
    if modes is None:
        return {"n_points": 0, "rule_counts": {}, "sign_counts": {}, "n_pairs": 0, "n_largest_is_chosen": 0,
                "abs_lambda_median": None, "tau_median": None, "alignment_median": None, "visibility_median": None}
    s = modes.summary()
    ok = modes.index >= 0
    return {**s, "tau_median": median(time_constants(modes.eigval[ok]))}


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
    col = lambda a: median(tau[:, a]) if tau.shape[1] > a else None  # noqa: E731
    return {"abs_lambda1_median": median(eig[:, 0]), "tau1_median": col(0), "tau2_median": col(1),
            "tau3_median": col(2), "n_stable": int((eig[:, 0] < 1).sum()),
            "n_slow_modes_median": median((tau > 10).sum(1))}


def median(values) -> float | None:
    values = np.asarray(values, np.float64)
    return float(np.median(values)) if values.size else None


def _unit(v: np.ndarray) -> np.ndarray:
    norm = np.linalg.norm(v)
    return v / norm if norm > 0 else v

