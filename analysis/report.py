"""The analysis report: a JSON summary plus named numpy arrays, saved atomically.

A report directory holds exactly two files:

- ``report.json``: the summary (plain JSON: numbers, strings, lists, dicts),
- ``arrays.npz``: the arrays (``np.savez_compressed``; no object arrays, so it loads with
  ``np.load(..., allow_pickle=False)``).

``Report.save`` writes both into a temporary sibling directory and renames it into place,
so a killed job never leaves a half-written report. Everything the dashboard draws is in
here; the dashboard never recomputes anything heavy.

Notation: K fixed points (unique, converged), D state size (H, or 2H for the LSTM state
[h; c]), E embedding size, W listed words (positive, then negative, then neutral),
M = ``params.n_modes`` leading eigenmodes, B = ``params.density_bins``.
"PCs" are the principal components of the visited states (``state_pca_*``) unless said.

Summary keys (``report.json``)
------------------------------
Typed in ``rnnscope.analysis.summary`` (one dataclass per section); ``run_analysis`` checks every
summary against it before a report exists, and readers go through ``rnnscope.analysis.summary.read``.

format : str
    ``REPORT_FORMAT`` (``"rnnscope-report/1"``).
version : str
    Analysis version (``rnnscope.analysis.pipeline.ANALYSIS_VERSION``); part of the cache key.
model : dict
    ``arch`` (lstm | gru | ugrnn | vrnn), ``hidden_size`` H, ``state_size`` D, ``embed_dim`` E,
    ``vocab_size``, ``sha256`` (checkpoint digest, "" if never saved).
data : dict
    ``name`` (dataset name), ``n_docs`` (documents whose states were collected),
    ``n_states`` (visited states, real tokens only), ``vocabulary``: the test split's tokens
    under the model's vocabulary (``rnnscope.analysis.data_checks.vocabulary_coverage``: ``n_tokens``,
    ``n_unk``, ``unk_fraction``, ``docs_all_unk``, ``unk_warn_above``, ``poor``), ``truncate``
    (``"head"``: the first ``params.max_len`` tokens of each document were read; ``"tail"``:
    the last, for a checkpoint trained with ``--truncate tail``).
accuracy : dict
    ``test`` (network on ``test_n_docs`` test documents: a seeded sample of
    ``params.accuracy_docs``, or all when 0; truncated to ``params.max_len`` tokens as ``data.truncate`` says),
    ``test_n_docs``, ``linearized`` (the linearized model run over ``linearization.n_docs``
    test documents), ``bow`` (bag-of-words logistic regression on the whole test split),
    ``checkpoint_test`` (the test accuracy recorded in the checkpoint, or null);
    ``majority_rate`` and ``majority_class`` of the labels of the ``test_n_docs`` documents
    and ``at_or_below_chance`` (``test`` <= ``majority_rate``; ``rnnscope.analysis.data_checks``).
    Fractions in [0, 1].
pca : dict
    ``explained_variance_ratio`` and ``explained_variance_ratio_untrained``: first 10 each
    (the same architecture, fresh init, same documents); ``n_components_90`` and
    ``n_components_90_untrained``: PCs needed for 90% of the variance.
fixed_points : dict
    The point set the analysis uses (K points: fixed points, then slow points; see
    ``rnnscope.analysis.slow_points``). ``n_seeds``, ``n_converged`` (seeds with q < tol),
    ``n_unique`` (= K), ``n_fixed`` and ``n_slow`` (K = n_fixed + n_slow), ``n_outliers``
    (converged seeds dropped as outliers, far outside the visited states), ``tol`` (q
    threshold), ``slow_q_max`` (slow points below this q are used; 0: none), ``slow_rule``
    ("auto", "fixed only" or "q < bound"), ``seed_classes`` (seeds per end class: fixed,
    outlier, slow, stalled, max_iter, nonfinite), ``q_median`` (over the K points),
    ``slow_speed_median`` (‖F(s,0) − s‖ of the slow points, state units per token),
    ``slow_drift_tokens_median`` (tokens of zero input to drift one typical per-token step),
    ``seconds`` (fixed-point search wall time).
attractor : dict
    The verdict of ``rnnscope.analysis.attractors.attractor_verdict`` on the K points: ``kind``
    (none | unstable | line | slow | isolated), ``name`` and ``text`` (the verdict in words,
    with its evidence), ``n_points``, ``n_iterated`` (the sample iterated), ``n_steps``
    (horizon), ``extent_initial`` / ``extent_final`` (spread along the set's first principal
    axis, state units), ``extent_ratio``, ``inner_ratio`` (extent kept inside the groups of
    end states), ``displacement`` (median distance moved), ``n_attractors`` (groups of end
    states), ``tolerance_half_width`` (sqrt(tol·D)/(1 − |λ1|)), ``abs_lambda_slow`` and
    ``tau_slow`` (slowest stable mode, median), ``unstable_fraction``, ``fixed_fraction``,
    ``range_coverage`` (fraction of the visited states' 5–95% range along m that the points
    cover, each point reaching one typical step), ``typical_step`` (median per-token step of
    the visited states, state units).
modes : dict
    The integration mode (``rnnscope.analysis.modes``): ``n_points``, ``rule_counts`` (points per
    rule: along the point set, along the point set far from 1, no aligned mode, slowest, none),
    ``sign_counts`` (points whose sign comes from the readout, the manifold, or none),
    ``n_pairs`` (complex pairs), ``n_largest_is_chosen`` (points where it is the largest
    |λ|), ``abs_lambda_median``, ``tau_median`` (tokens), ``alignment_median`` (part of the
    local tangent in the mode's plane), ``visibility_median`` (part of the readout in it).
manifold : dict
    ``is_attractor`` (the verdict is a line or slow manifold: only then do θ and m describe
    a continuum the network integrates along), ``fp_variance_in_top2_state_pcs`` (fraction of the fixed points' variance inside the
    span of the top-2 state PCs), ``fp_variance_top1_own_pc`` (fraction explained by the
    fixed points' own PC1), ``m_readout_cosine`` (cos(m, readout); near 0 for LSTMs, whose
    fixed points spread along c), ``m_logit_spearman`` (Spearman correlation of the points'
    coordinate on m with their logit, >= 0 by the sign choice), ``theta_readout_spearman``
    (Spearman correlation of θ with the readout logit at each point), ``theta_method``
    ("lle", or "projection" when LLE could not run, e.g. on separate clusters of points),
    ``knn_components`` (connected components of the points' nearest-neighbour graph).
spectra : dict
    Medians over the K points: ``abs_lambda1_median`` (|λ1|), ``tau1_median``,
    ``tau2_median``, ``tau3_median`` (τ = |1/ln|λ||, in tokens; ``null`` if D < 3),
    ``n_stable`` (points with |λ1| < 1), ``n_slow_modes_median`` (modes with τ > 10 tokens).
projections : dict
    Signed input projection of each word on the integration mode (``rnnscope.analysis.modes``),
    averaged over the points where its sign is defined, then over the words of each set:
    ``mean_positive``, ``mean_negative``, ``mean_neutral`` (null where no point has a
    sign); ``mean_abs_positive``, ``mean_abs_negative``, ``mean_abs_neutral`` (its size,
    every point); ``sign_defined_fraction``; ``r1_m_overlap_median``
    (median over points of |cos(r1, m)|), ``r1_m_null_median`` (median of |cos| between m
    and random unit vectors in R^D), ``r1_m_overlap_percentile`` (percentile of the median
    overlap inside the null distribution, 0..100).
words : dict
    ``n_positive``, ``n_negative``, ``n_neutral``; ``vader_positive_agreement`` /
    ``vader_negative_agreement`` (fraction of the positive / negative set with VADER
    valence > 0 / < 0, among words VADER lists; ``null`` without the lexicon),
    ``vader_coverage`` (fraction of the 2 signed sets VADER lists), ``bow_C`` (chosen
    inverse regularization).
linearization : dict
    Medians and 90th percentiles over the sampled steps of the paper's one-step error at
    the nearest point (``one_step_rel_error_*``), its recurrent and input parts
    (``recurrent_part_*``, ``input_part_*``) and the error of linearizing at the previous
    state instead (``previous_state_*``), see ``rnnscope.analysis.linearization_error``;
    ``nearest_dist_median`` and ``step_norm_median`` (state units),
    ``nearest_dist_in_steps_median`` (distance to the nearest point in per-token steps);
    ``n_steps`` (sampled steps), ``n_docs`` (documents run through the linearized model),
    ``agreement`` (fraction of those documents where the linearized and full model give
    the same label).
    (The old keys ``one_step_rel_error_median`` / ``_p90`` keep their meaning.)
class_geometry : dict
    The geometry of integration of a network with C > 2 classes
    (``rnnscope.analysis.class_geometry``; not typed in ``rnnscope.analysis.summary`` yet, and
    absent from reports of version 5 and before): ``applies`` (false for a binary network: then
    ``text`` says so and the numbers are empty), ``num_classes`` C, ``class_names`` (label order),
    ``ordered`` (the dataset's classes lie on one scale; null when not known), ``n_points`` K,
    ``kind`` (full: a (C−1)-dimensional attractor; lower: one of lower dimension; none: no slow
    modes; mixed: spread and slow modes disagree), ``text`` (the measurement in words),
    ``explained_variance_ratio`` (PCA of the points themselves, up to 10), ``variance_top``
    (fraction in the top C−1), ``participation_ratio``, ``dimension`` (PCs for 90% of the
    points' variance), ``slow_tol`` (0.01), ``slow_median`` (median over points of the number of
    eigenvalues with ||λ| − 1| <= slow_tol), ``slow_count_histogram`` (points with 0, 1, ... slow
    modes), ``principal_angles_deg`` (between the readout's C−1 difference directions w_c − w_0
    and the points' top C−1 PCs, degrees, smallest first), ``point_class_counts`` (points per
    predicted class), ``top_words`` (class index -> up to 5 [word, margin]: the listed words whose
    slow-mode effect most favours that class, logit units).
modifiers : dict
    Modifier words (Maheswaranathan & Sussillo, ICML 2020; ``rnnscope.analysis.modifier_stage``,
    the measurement in ``docs/MODIFIERS.md``; not typed in ``rnnscope.analysis.summary`` yet, and
    absent from reports of version 6 and before). ``applies`` (false for a C > 2 class network,
    with the parameter ``modifiers`` off, or when the test split gives no candidate, filler or
    probe: then ``text`` says why and the numbers are empty; true for a binary network even when
    no word is a modifier), ``text`` (the finding in words: the strongest modifiers, or that
    there are none; where the known modifiers "not", "never", "very", "extremely", "no", "n't"
    (every token ending in it) rank, and which are not detected or not candidates),
    ``n_candidates`` W (words seen at least ``min_count`` times in the test split),
    ``n_exact`` (measured exactly; the others only screened to first order), ``n_modifiers``
    (words with |r_k − 1| >= ``min_change`` at some k), ``kind_counts`` (negator, intensifier,
    attenuator), ``n_contexts`` N, ``max_distance`` K, ``settle`` H (filler tokens read after a
    probe), ``min_change`` (0.25), ``min_count``, ``linearized`` (the analysis had points, so the
    linearized ratios and the dynamics exist), ``probes`` and ``fillers`` (the valence words
    measured and the neutral words between), ``modifiers`` (up to 20, strongest first: ``word``,
    ``kind``, ``peak`` k* (tokens), ``ratio`` r_{k*} of the settled readout increment,
    ``ratio_linear`` r_{k*} of ℓ1ᵀ J_inp x, ``reach`` (largest k with |r_k − 1| >= min_change),
    ``strength`` |r_{k*} − 1|, ``own`` (the word's own settled readout increment, logits; null
    when only screened), ``exact``), ``known`` (each candidate that is a known modifier: ``known``,
    ``token``, ``rank`` of ``of`` candidates, ``kind``, ``peak``, ``ratio``, ``ratio_linear``,
    ``reach``, ``own``, ``exact``), ``known_missing`` (known modifiers that were not candidates),
    ``n_modes`` (slow modes besides the integration mode), ``subspace`` (the modifier subspace
    spanned by the deflections of the ``dynamics`` words: ``dim``, ``energy`` it holds, the
    first 8 ``shares``; null without dynamics), ``dynamics`` (the top
    ``params.modifier_top`` exactly measured modifiers: ``word``, ``deflection_norm`` (median
    ‖F(s, x_w) − s‖, state units), ``parts`` (median ‖P_S d‖ / ‖d‖ for S = integration, slow,
    fast modes of J_rec at the nearest point), ``decay_tokens`` (tokens until the transient is
    at most 1/e of its start; −1: not within the T = K − 1 + H tokens measured), ``remaining``
    and ``remaining_linear`` (the part of the modification left after removing the deflection
    along the slow modes, along the fastest modes as a control, and its orthogonal projection
    on the modifier subspace: keys ``slow``, ``fastest``, ``subspace``; 0 removed all, 1 none)).
params : dict
    ``AnalysisParams.to_dict()``.
warnings : list of str
    Stages that ran degraded (e.g. no fixed point converged, VADER unavailable).
timings : dict
    Wall-clock seconds per stage (``encode``, ``accuracy``, ``states``, ``pca``,
    ``fixed_points``, ``linearize``, ``attractor``, ``manifold``, ``baseline``, ``words``,
    ``class_geometry`` (C > 2 only), ``projections``, ``linearization_error``, ``modifiers``
    (binary networks with ``params.modifiers``), ``density``), and ``total``.

Arrays (``arrays.npz``)
-----------------------
fixed_points : float32 (K, D)
    The point set: unique fixed points of the zero-input dynamics s = F(s, 0) (q < tol),
    then unique slow points (local minima of q below ``fixed_points.slow_q_max``).
q : float64 (K,)
    Speed q(s) = (1/D)‖s − F(s, 0)‖² at each point.
point_is_fixed : bool (K,)
    q < tol (a fixed point) rather than a slow point.
point_speed : float64 (K,)
    ‖F(s, 0) − s‖ = sqrt(q D), state units per token.
point_drift_tokens : float64 (K,)
    Tokens of zero input for the point to drift one typical per-token step (inf if fixed exactly).
seed_q : float64 (S,)
    Final q of every seed (the log-q histogram).
seed_class : unicode (S,)
    End class of every seed: fixed, outlier, slow, stalled, max_iter, nonfinite.
attractor_curve_steps : int64 (n,)
    Steps of F(·, 0) at which the iterated sample's extent was recorded.
attractor_curve_extent, attractor_curve_inner : float64 (n,)
    Its extent, and the extent kept inside the groups of end states, at those steps.
sweep_tolerance : float64 (T,)
    q thresholds of the tolerance sweep (1e-12 ... 1e-3).
sweep_n_points, sweep_extent, sweep_extent_ratio, sweep_inner_ratio, sweep_continuous : (T,)
    Points with q below each threshold (fixed and slow), their extent, the extent and
    inner extent kept over the horizon, and whether that set is a continuum.
mode_index : int64 (K,)
    Which eigenvalue (sorted by |λ| descending) is the integration mode at each point.
mode_eigval : complex128 (K,)
    Its eigenvalue. ``mode_tau`` float64 (K,): its time constant in tokens.
mode_is_pair : bool (K,)
    The mode is a complex pair (2-D).
mode_rule, mode_sign_source : unicode (K,)
    How it was chosen (``rnnscope.analysis.modes.RULES``) and where its sign comes from
    (readout, manifold, none).
mode_visibility, mode_alignment : float64 (K,)
    Part of the readout, and of the point set's local tangent, inside the mode's plane.
mode_coef : float32 (K, E)
    Signed projection coefficients: a word embedding x moves the state along the mode by
    ``mode_coef[k] @ x`` at point k (phase-independent).
mode_largest_is_chosen : bool (K,)
    The integration mode is the largest |λ| at that point.
theta : float64 (K,)
    1-D LLE coordinate of each point along the manifold, in [-1, 1], increasing with the
    readout (positive sentiment at +1).
fp_pc : float32 (K, 3)
    Fixed points projected on the top-3 state PCs (zero-padded if D < 3).
eigvals : complex128 (K, D)
    Eigenvalues of J_rec at each point, sorted by |λ| descending.
tau_top3 : float64 (K, 3)
    Time constants τ of the three leading modes, in tokens (inf for |λ| = 1).
stable : bool (K,)
    |λ1| < 1 (point is linearly stable).
r1 : float32 (K, D)
    The integration mode's signed direction u (unit norm, in the mode's real plane; for a
    real mode ±r1 with r1 · readout > 0 where the readout sees it), ``rnnscope.analysis.modes``.
l1 : float32 (K, D)
    Its signed left covector Re(c ℓ1): a state change δs moves along the mode by l1 · δs.
left_inp : float32 (K, M, E)
    ℓ_aᵀ J_inp (real part) for the M leading modes by |λ|, each mode's (r_a, ℓ_a) pair
    signed so that Re(r_a) · readout >= 0 (for display of the other modes; the real part of
    a complex mode depends on the eigensolver's phase, so use ``mode_coef`` for the
    integration mode).
jinp_x_pc : float32 (W, 2)
    ``J_inp x_w`` of each listed word at fixed point ``jinp_x_point`` (the one nearest
    θ = 0), in the top-2 state-PC directions (paper Fig. 4a); (0, 2) without fixed points.
jinp_x_point : int64 (1,)
    Index of that fixed point; empty without fixed points.
m : float32 (D,)
    Main axis of the fixed-point manifold (PC1 of the fixed points), unit norm, signed so
    that the fixed points' readout logit grows along +m (m · readout > 0 when undefined).
readout : float32 (D,)
    Readout direction (logit = readout · s + bias); zero on the c half for the LSTM.
readout_bias : float64 (1,)
    Readout bias (binary logit).
state_pca_components : float32 (10, D)
    Top-10 principal axes of the visited states (rows; fewer rows if D < 10).
state_pca_mean : float32 (D,)
    Mean visited state (subtract before projecting on the components).
explained_variance_ratio : float64 (n_pca,)
    Visited-state PCA, trained network, up to 50 components.
explained_variance_ratio_untrained : float64 (n_pca,)
    Same for the untrained network of the same architecture on the same documents.
fp_pca_explained_variance_ratio : float64 (min(K, D, 10),)
    PCA of the fixed points themselves (their own PCs).
initial_state_pc : float32 (2,)
    The initial (zero) state projected on state PC1/PC2.
readout_pc : float32 (2,)
    The unit readout direction expressed in PC1/PC2 coordinates (a direction, no mean
    subtracted).
density_pos, density_neg : float32 (B, B)
    Histogram of visited states on (PC1, PC2), for documents labelled positive / negative,
    normalized to sum to 1 each; index [i, j] = PC1 bin i, PC2 bin j.
density_edges : float64 (2, B+1)
    Bin edges: row 0 on PC1, row 1 on PC2.
example_traj_pos, example_traj_neg : float32 (T, 2)
    One test document's trajectory on (PC1, PC2), starting at the initial state
    (T = its token count + 1).
words : unicode (W,)
    The listed words: positive set, negative set, neutral set, in that order.
word_valence : int8 (W,)
    Set of each listed word: 1 positive, -1 negative, 0 neutral.
word_coef : float64 (W,)
    Bag-of-words logistic-regression coefficient of each listed word.
word_ids : int64 (W,)
    Vocabulary id of each listed word in the model.
input_projection : float32 (K, W)
    Signed projection ``mode_coef[k] @ x_w`` of each listed word at each point.
r1_m_overlap : float64 (K,)
    |cos(r1, m)| at each point (for a complex pair: the part of m inside its plane).
r1_m_null : float64 (n_null,)
    |cos(v, m)| for random unit vectors v in R^D (seeded): the chance level.
one_step_rel_error : float32 (N,)
    ‖F(h,x) − (h* + J_rec(h−h*) + J_inp x)‖ / ‖F(h,x)‖ on sampled test steps, h* the
    nearest fixed point.
one_step_nearest_dist : float32 (N,)
    ‖h − h*‖ for the same steps.
one_step_rel_error_recurrent, one_step_rel_error_input : float32 (N,)
    Its recurrent and input parts (``rnnscope.analysis.linearization_error``).
one_step_rel_error_previous : float32 (N,)
    The error of linearizing the input at the previous state h instead of at h*.
one_step_step_norm : float32 (N,)
    ‖F(h, x) − h‖, the step's length in state units.
geometry_* : the class geometry of a C > 2 class network (no rows for a binary one);
    n point-set PCs (n <= 10), S <= C−1 slow modes kept (the largest |λ|), G listed words
    (``params.n_words`` per class at most):
    ``geometry_explained_variance_ratio`` float64 (n,) and ``geometry_components`` float32 (n, D):
    PCA of the points themselves; ``geometry_slow_counts`` int64 (K,): slow modes at each point;
    ``geometry_readout_diffs`` float32 (C−1, D): w_c − w_0 in state space; ``geometry_angles``
    float64 (C−1,): principal angles to the top C−1 point PCs, degrees; ``geometry_point_class``
    int64 (K,): predicted class at each point; ``geometry_words`` unicode (G,) and
    ``geometry_word_class`` int64 (G,): the most typical words of each class (multinomial
    bag-of-words); ``geometry_word_effects`` float32 (G, C−1): each word's change of logit c
    minus logit 0 kept by the slow modes, median over points; ``geometry_slow_projection``
    float32 (K, S, G): Re(ℓ_a J_inp x_w) per slow mode a at each point (nan where fewer).
modifier_* : the modifier words (summary ``modifiers``; no rows when it does not apply). W
    candidate words in ranking order (the exactly measured ones by strength |r_{k*} − 1|, then
    the screened ones by their first-order strength), K = ``params.modifier_distance``, M <=
    ``params.modifier_top`` modifiers with dynamics, T = K − 1 + ``params.modifier_settle``:
    ``modifier_words`` unicode (W,) and ``modifier_word_ids`` int64 (W,): the words and their
    vocabulary ids; ``modifier_kind`` unicode (W,): negator, intensifier, attenuator or none;
    ``modifier_ratio`` float64 (W, K): the modulation ratio r_k of the settled readout
    increment of the probes k = 1 … K tokens after the word (1: no change, < 0: flipped; the
    first-order screen for words not measured exactly); ``modifier_ratio_linear`` float64
    (W, K): the same of ℓ1ᵀ J_inp x (nan for words only screened, or without points);
    ``modifier_exact`` bool (W,); ``modifier_peak`` int64 (W,): k*, 1-based;
    ``modifier_reach`` int64 (W,): the largest k with |r_k − 1| >= min_change (0: none);
    ``modifier_strength`` float64 (W,): |r_{k*} − 1|; ``modifier_own`` float64 (W,): the
    word's own settled readout increment, logits (nan when only screened);
    ``modifier_top`` int64 (M,): rows (into the W) of the modifiers with dynamics, strongest
    first; ``modifier_path`` float32 (M, T + 2, 2): the state on (PC1, PC2) of the visited
    states (the frame of ``fp_pc``), mean over the N contexts: at the context's end, after
    the modifier, then after each of the T filler tokens that follow it;
    ``modifier_base_path`` float32 (T + 2, 2): the run it is compared with (the context's
    end, a filler in the modifier's slot, then each filler); ``modifier_parts`` float64 (M, 3):
    median ‖P_S d‖ / ‖d‖ of the deflection d = F(s, x_w) − F(s, x_filler) along the
    integration, slow and fast modes;
    ``modifier_decay_curve`` float64 (M, T + 1): median over contexts of the transient's size
    t = 0 … T tokens after the modifier, relative to t = 0; ``modifier_decay_tokens`` int64
    (M,): the first t at which it is at most 1/e (−1: not within T); ``modifier_remaining``
    float64 (M, 3): the part of the readout modification left after removing the deflection
    along the slow modes (column 0), along the fastest modes (column 1) and in the modifier
    subspace (column 2).
"""
from __future__ import annotations

import json
import math
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from rnnscope.analysis.atomic import replace_dir
from rnnscope.analysis.npz_io import read_npz

REPORT_FORMAT = "rnnscope-report/1"

#: Top-level summary keys every report produced by ``run_analysis`` has.
SUMMARY_KEYS = ("format", "version", "model", "data", "accuracy", "pca", "fixed_points", "attractor", "manifold",
                "spectra", "modes", "projections", "words", "linearization", "params", "timings", "warnings")

#: Array keys every report produced by ``run_analysis`` has (see the module docstring).
ARRAY_KEYS = ("fixed_points", "q", "theta", "fp_pc", "eigvals", "tau_top3", "stable", "r1", "l1", "left_inp", "jinp_x_pc",
              "jinp_x_point", "m",
              "readout", "readout_bias", "state_pca_components", "state_pca_mean", "explained_variance_ratio",
              "explained_variance_ratio_untrained", "fp_pca_explained_variance_ratio", "initial_state_pc",
              "readout_pc", "density_pos", "density_neg", "density_edges", "example_traj_pos", "example_traj_neg",
              "words", "word_valence", "word_coef", "word_ids", "input_projection", "r1_m_overlap", "r1_m_null",
              "one_step_rel_error", "one_step_nearest_dist", "one_step_rel_error_recurrent",
              "one_step_rel_error_input", "one_step_rel_error_previous", "one_step_step_norm",
              "point_is_fixed", "point_speed", "point_drift_tokens", "seed_q", "seed_class",
              "attractor_curve_steps", "attractor_curve_extent", "attractor_curve_inner", "sweep_tolerance",
              "sweep_n_points", "sweep_extent", "sweep_extent_ratio", "sweep_inner_ratio", "sweep_continuous",
              "mode_index", "mode_eigval", "mode_tau", "mode_is_pair", "mode_rule", "mode_sign_source",
              "mode_visibility", "mode_alignment", "mode_coef", "mode_largest_is_chosen",
              "geometry_explained_variance_ratio", "geometry_components", "geometry_slow_counts",
              "geometry_readout_diffs", "geometry_angles", "geometry_point_class", "geometry_words",
              "geometry_word_class", "geometry_word_effects", "geometry_slow_projection",
              "modifier_words", "modifier_word_ids", "modifier_kind", "modifier_ratio", "modifier_ratio_linear",
              "modifier_exact", "modifier_peak", "modifier_reach", "modifier_strength", "modifier_own",
              "modifier_top", "modifier_path", "modifier_base_path", "modifier_parts", "modifier_decay_curve",
              "modifier_decay_tokens", "modifier_remaining")
SUMMARY_FILE = "report.json"
ARRAYS_FILE = "arrays.npz"


class ReportError(ValueError):
    """A report directory is missing, unreadable or not an rnnscope report."""


def _jsonable(value):
    """Convert numpy scalars/arrays and non-finite floats to plain JSON values (NaN, inf -> None)."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return _jsonable(value.tolist())
    if isinstance(value, np.generic):
        return _jsonable(value.item())
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    raise TypeError(f"summary value of type {type(value).__name__} is not JSON-serializable")


def _check_array(name: str, value) -> np.ndarray:
    arr = np.asarray(value)
    if arr.dtype.hasobject:
        raise TypeError(f"array {name!r} has dtype object; reports hold plain numeric/unicode arrays only")
    return arr


@dataclass
class Report:
    """Analysis results: ``summary`` (JSON-able dict) and ``arrays`` (name -> ndarray).

    See the module docstring for every key, shape and dtype.
    """

    summary: dict
    arrays: dict[str, np.ndarray] = field(default_factory=dict)

    def __post_init__(self):
        self.arrays = {str(k): _check_array(k, v) for k, v in self.arrays.items()}

    def save(self, directory: str | os.PathLike) -> Path:
        """Write ``report.json`` and ``arrays.npz`` into ``directory`` atomically.

        The files are written to a temporary sibling directory which is then renamed
        to ``directory`` (an existing report there is replaced). Returns the path.
        """
        target = Path(directory)
        target.parent.mkdir(parents=True, exist_ok=True)
        summary = {**_jsonable(self.summary), "format": REPORT_FORMAT}
        tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent))
        try:
            with open(tmp / SUMMARY_FILE, "w", encoding="utf-8") as fh:
                json.dump(summary, fh, indent=1, allow_nan=False)
            with open(tmp / ARRAYS_FILE, "wb") as fh:
                np.savez_compressed(fh, **self.arrays)
            replace_dir(tmp, target)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        return target

    @classmethod
    def load(cls, directory: str | os.PathLike) -> Report:
        """Read a report saved by ``save``; raises ``ReportError`` with a plain message."""
        path = Path(directory)
        try:
            with open(path / SUMMARY_FILE, encoding="utf-8") as fh:
                summary = json.load(fh)
            arrays = read_npz(path / ARRAYS_FILE)
        except FileNotFoundError as exc:
            raise ReportError(f"no report in {path}: missing {Path(exc.filename).name}") from None
        except (OSError, ValueError) as exc:
            raise ReportError(f"cannot read the report in {path}: {exc}") from None
        if not isinstance(summary, dict) or summary.get("format") != REPORT_FORMAT:
            found = summary.get("format") if isinstance(summary, dict) else type(summary).__name__
            raise ReportError(f"{path} is not an {REPORT_FORMAT} report (format: {found!r})")
        return cls(summary=summary, arrays=arrays)
