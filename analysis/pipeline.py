"""The whole analysis of one model on one dataset, as one function: ``run_analysis``.

Stages (each timed; ``progress(fraction, message)`` is called as they go):

0. ``encode``: tokenize the test split with the model's tokenizer and vocabulary. Every
   stage after it reads ``max_len`` tokens of a document: its first, or its last for a model
   trained on the ends of documents (``rnnscope train --truncate tail``; ``Model.window``).
   The bag-of-words baseline and the vocabulary coverage read whole documents.
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
8b. ``class_geometry`` (only for a network with C > 2 classes): the dimension of the point
   set, the slow modes at each point, the readout's C−1 difference directions against the
   points' span, and per-word projections on the slow modes (``rnnscope.analysis.class_geometry``).
   The other stages read such a network as binary, by the logit of its last class minus its
   first (a warning says so); the linearized model's accuracy is not computed for it.
9. ``projections``: signed input projection of each word on the integration mode at
   each point; r1·m vs a null.
10. ``linearization_error``: single-step error (three labelled variants) and the
    linearized model's accuracy.
10b. ``modifiers`` (binary networks, ``params.modifiers``): modifier words such as "not"
    and "very" (ICML 2020): which frequent words change how the next few words count, of
    what kind, for how many tokens; the strongest ones' deflection of the state, its modes,
    decay and ablation (``rnnscope.analysis.modifier_stage``). Uses the point set chosen above.
11. ``density``: 2-D histograms and example trajectories on (PC1, PC2) for the dashboard.

The result is an ``rnnscope.analysis.report.Report`` whose keys are documented in
``rnnscope.analysis.report``.

This module runs the stages in order; the parameters are
``rnnscope.analysis.analysis_params.AnalysisParams``, the stage functions and their timer are in
``rnnscope.analysis.pipeline_stages``, and the report's arrays and summary are assembled in
``rnnscope.analysis.report_assembly``.
"""
from __future__ import annotations

import numpy as np

from rnnscope.analysis.analysis_params import AnalysisParams
from rnnscope.analysis.baseline import fit_bow
from rnnscope.analysis.data_checks import chance_level, fit_warnings, vocabulary_coverage
from rnnscope.analysis.fixed_points import find_fixed_points
from rnnscope.analysis.memory_budget import DEFAULT_MEMORY_BUDGET
from rnnscope.analysis.model import Model
from rnnscope.analysis.modifier_stage import ModifierFindings, NotApplicable, modifier_analysis
from rnnscope.analysis.multiclass_data import num_classes
from rnnscope.analysis.pipeline_stages import Progress, Stages, attractor_and_sweep, binary_bow, class_chance, \
    class_count, class_info, collect_both, fit_pcas, fit_point_manifold, geometry, input_projections, \
    integration_modes, linearization_errors, linearize_points, network_accuracy, point_coverage, readout_bias, \
    signed_modes, state_density, verdict_warnings, word_sets
from rnnscope.analysis.report import Report
from rnnscope.analysis.report_assembly import Results, report_arrays, report_summary
from rnnscope.analysis.slow_points import PointSet, choose_point_set, typical_step
from rnnscope.analysis.states import VisitedStates, draw_seeds
from rnnscope.analysis.summary import check as check_summary
from rnnscope.analysis.tokenizer import encode_texts

__all__ = ["ANALYSIS_VERSION", "AnalysisParams", "Progress", "run_analysis"]

ANALYSIS_VERSION = "10"

#: Eigenmodes kept per point as candidates for the integration mode (the largest |λ|).
N_CANDIDATE_MODES = 8


def run_analysis(model: Model, dataset, params: AnalysisParams | None = None,
                 progress: Progress | None = None, *, lexicon: dict[str, float] | None = None,
                 memory_budget: int = DEFAULT_MEMORY_BUDGET) -> Report:
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
    memory_budget : int
        Bytes the fixed-point search and the linearization may hold at once on the network's
        device (``rnnscope.analysis.memory_budget``; jobs pass ``RNNSCOPE_MEMORY_BUDGET_MB``).
        Not a parameter of the report (nor of its cache key): the chunks it sets give the same
        points, to the last bits of Newton-Krylov's float32 products (docs/SCALE_OUT.md).
    """
    params = params or AnalysisParams()
    net = model.net.eval()
    stages = Stages(progress)
    warnings: list[str] = []
    test = dataset.test
    if len(test) == 0:
        raise ValueError(f"dataset {dataset.name!r} has no test documents to analyse")
    full = stages.run("encode", f"tokenizing {len(test)} test documents", encode_texts, test.texts,
                      model.tokenizer, model.vocab)
    seqs = [model.window(s, params.max_len) for s in full]  # the first max_len tokens, or the last (tail-trained)
    _class_warnings(model, dataset, warnings)
    acc_docs, acc, coverage, chance = _accuracy(stages, model, full, test.labels, params, warnings,
                                                class_info(model, dataset)[0])
    docs = np.random.default_rng(params.seed).permutation(len(seqs))[: params.n_docs]
    visited, untrained = stages.run("states", f"collecting states on {len(docs)} documents", collect_both,
                                    net, [seqs[i] for i in docs], test.labels[docs], params)
    if len(visited) < 2:
        raise ValueError("fewer than 2 visited states: the test documents are (nearly) empty")
    pca_t, pca_u = stages.run("pca", "PCA of visited states", fit_pcas, visited, untrained, params)
    fp, pset, points = _point_set(stages, net, visited, params, warnings, memory_budget)
    lin = stages.run("linearize", f"linearizing at {len(points)} points",
                     linearize_points, net, points, max(params.n_modes, N_CANDIDATE_MODES), memory_budget)
    verdict, sweep = stages.run("attractor", f"iterating F(·, 0) from the points for {params.attractor_steps} steps",
                                attractor_and_sweep, net, fp, pset, lin, params)
    readout = net.readout_vector().double().cpu().numpy()
    bias = readout_bias(net)
    manifold = _manifold(stages, points, readout, bias, pca_t, params, warnings)
    modes = integration_modes(lin, points, readout, manifold, verdict)
    legacy = signed_modes(lin, readout, params.n_modes)
    bow = stages.run("baseline", "bag-of-words baseline", fit_bow, dataset, model.tokenizer, model.vocab,
                     seed=params.seed, encoded={"test": full})
    words, vader = stages.run("words", "word sets", word_sets, binary_bow(bow, class_count(net)), model, params,
                              lexicon, warnings)
    geom = None if class_count(net) <= 2 else stages.run(
        "class_geometry", f"class geometry of {len(points)} points", geometry, net, model, dataset, points, lin, bow,
        verdict, params)
    proj = stages.run("projections", "input projections", input_projections, net, model, words, modes, manifold,
                      params)
    lin_err = stages.run("linearization_error", "linearization error", linearization_errors, net, visited,
                         seqs, test.labels, points, params)
    mods = _modifiers(stages, model, seqs, points, modes, pca_t, params)
    range_cover = point_coverage(points, manifold, visited, pset)
    verdict_warnings(verdict, modes, warnings)
    dens = stages.run("density", "state density and example trajectories", state_density, net, visited, pca_t,
                      params)
    stages.finish()
    r = Results(model=model, dataset=dataset, params=params, acc=acc, n_acc=len(acc_docs), visited=visited,
                pca_t=pca_t, pca_u=pca_u, fp=fp, pset=pset, points=points, lin=lin, modes=modes, legacy=legacy,
                verdict=verdict, sweep=sweep, coverage=range_cover, manifold=manifold,
                readout=readout, bias=bias, bow=bow, words=words, vader=vader, proj=proj, lin_err=lin_err,
                dens=dens, timings=stages.timings, warnings=warnings, vocabulary=coverage, chance=chance,
                geometry=geom, modifiers=mods)
    return Report(check_summary(report_summary(r, ANALYSIS_VERSION)), report_arrays(r))


def _accuracy(stages: Stages, model: Model, seqs: list, labels: np.ndarray, params: AnalysisParams,
              warnings: list, names: list[str]) -> tuple[np.ndarray, float, dict, dict]:
    """Stage ``accuracy`` on a seeded sample of the test documents (whole, ``seqs``), each read
    through :meth:`Model.window`; -> the sample's rows, the accuracy, the vocabulary coverage of
    all of ``seqs`` and the chance level (with warnings; over the C classes ``names`` for a
    C > 2 class network)."""
    net = model.net
    acc_docs = np.random.default_rng(params.seed + 2).permutation(len(seqs))[: params.accuracy_docs or None]
    acc = stages.run("accuracy", f"test accuracy on {len(acc_docs)} documents", network_accuracy, net,
                     [model.window(seqs[i], params.max_len) for i in acc_docs], labels[acc_docs], params.batch_size)
    coverage = vocabulary_coverage(seqs)
    chance = chance_level(labels[acc_docs], acc) if class_count(net) == 2 else \
        class_chance(labels[acc_docs], acc, names)
    warnings += fit_warnings(coverage, acc, chance)
    return acc_docs, acc, coverage, chance


def _point_set(stages: Stages, net, visited: VisitedStates, params: AnalysisParams,
               warnings: list, memory_budget: int) -> tuple[object, PointSet, np.ndarray]:
    """Stage ``fixed_points`` from seeds drawn from the visited states, and the point set chosen
    from its result; -> the search's result, the point set and its points (K, D) float32."""
    seeds = draw_seeds(visited, params.n_seeds, np.random.default_rng(params.seed), params.seed_noise)
    fp = stages.run("fixed_points", f"finding fixed points from {len(seeds)} seeds",
                    find_fixed_points, net, seeds, tol=params.tol, progress=stages.sub("fixed_points"),
                    memory_budget=memory_budget)
    pset = choose_point_set(fp, typical_step(visited.states, visited.previous()), params.slow_q_max,
                            max_points=params.max_points)
    points = np.asarray(pset.points, np.float32).reshape(-1, net.state_size)
    if len(points) == 0:
        warnings.append("no fixed point converged below tol and no slow point was found; "
                        "fixed-point stages are empty")
    return fp, pset, points


def _manifold(stages: Stages, points: np.ndarray, readout: np.ndarray, bias: float, pca_t,
              params: AnalysisParams, warnings: list):
    """Stage ``manifold`` (None without points), warning when θ could not come from LLE."""
    manifold = stages.run("manifold", "fixed-point manifold (PCA, LLE) and integration modes", fit_point_manifold,
                          points, readout, bias, pca_t.components_, params)
    if manifold is not None and manifold.theta_method != "lle" and len(points) > 3:
        warnings.append(f"theta from the projection on m, not LLE: the fixed points' {params.lle_neighbors}-neighbour "
                        f"graph has {manifold.knn_components} separate components")
    return manifold


def _modifiers(stages: Stages, model: Model, seqs: list, points: np.ndarray, modes, pca_t,
               params: AnalysisParams) -> ModifierFindings | NotApplicable:
    """Stage ``modifiers`` on a binary network with the analysis's points and their ℓ1; in
    words why not for a C > 2 class network or with ``params.modifiers`` off."""
    C = class_count(model.net)
    if C > 2:
        return NotApplicable(f"A {C}-class network: modifier words are measured by how they change the binary "
                             "readout's response to the valence words after them, which this network does not have "
                             "(see the class geometry).")
    if not params.modifiers:
        return NotApplicable("Modifier words were not measured: the analysis parameter 'modifiers' is off.")
    l1 = modes.left if modes is not None else np.zeros((0, model.net.state_size))
    return stages.run("modifiers", "modifier words", modifier_analysis, model, seqs, points, l1,
                      pca_t.components_[:2], pca_t.mean_, params, progress=stages.sub("modifiers"))


def _class_warnings(model: Model, dataset, warnings: list) -> None:
    """What a reader must know when the network has C > 2 classes, or its classes and the
    dataset's differ in number."""
    C, names = class_count(model.net), class_info(model, dataset)[0]
    data_classes = num_classes(dataset)
    if data_classes != C:
        warnings.append(f"the network tells {C} classes apart, the dataset {dataset.name!r} has {data_classes}: "
                        "its accuracy compares the network's reading with labels of another class set")
    if C > 2:
        warnings.append(f"{C}-class network ({', '.join(names)}): the line-attractor parts of this report (readout "
                        f"direction, m, θ, integration mode, word sets, input projections, densities) read the "
                        f"logit of its last class minus its first ({names[-1]} − {names[0]}); the class geometry "
                        "block is the multi-class analysis; the linearized model's accuracy (binary only) is not "
                        "computed")
