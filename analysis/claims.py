"""The paper's findings judged on one analysis: pure functions of a typed report summary.

:data:`CRITERIA` lists each finding with the rule that grades it ("yes", "partly", "no" or
"n/a"), fixed in advance from the paper's claims; :func:`verdicts` applies them to one
:class:`rnnscope.analysis.summary.Summary`, :func:`overall` says in one phrase whether a model shows
the line-attractor picture. ``rnnscope reproduce`` writes them into docs/REPRODUCTION.md.
"""
from __future__ import annotations

import math
from collections.abc import Mapping

from rnnscope.analysis.summary import Summary
from rnnscope.analysis.text import count, fmt, pct

#: (finding, how it is judged). Thresholds are fixed in advance from the paper's claims.
CRITERIA = (
    ("line attractor (dynamics)", "iterating F(·, 0) from the fixed and slow points for the horizon keeps 50-200% "
     "of their extent and >= 1% of it inside the groups of end states, with most points fixed points: a line "
     "attractor (yes); the same with mostly slow points: a slow manifold (partly); the set collapses onto "
     "isolated points, spreads out or never comes to rest (no). `rnnscope.analysis.attractors`"),
    ("low-dimensional states", "top-3 PCs of the visited states explain >= 50% of their variance and more "
     "than in the same network untrained (yes); more than untrained but < 50% (partly)"),
    ("1-D fixed-point manifold", "the points are a continuum (first row: yes or partly), >= 3 of them, and "
     "their own PC1 explains >= 80% of their variance (yes), >= 50% (partly); a set that collapses is no "
     "manifold whatever its PC1"),
    ("readout along the manifold", "|cos(m, readout)| >= 0.5 (yes), >= 0.2 (partly); random directions in "
     "R^D give ~ 1/sqrt(D); n/a when the points are not a line or slow manifold"),
    ("slow mode, |λ1| ≈ 1", "median τ of the integration mode (`rnnscope.analysis.modes`: the mode near |λ| = 1 "
     "along the point set, else the slowest) >= 100 tokens, i.e. |λ1| within 1% of 1: the paper's \"τ1 of "
     "hundreds of tokens or more\" (yes); >= 30 tokens (partly). An unstable mode (|λ1| > 1) "
     "counts by its τ too: a mode that grows by 1% per token is as slow as one that decays by 1%. "
     "(Until 2026-11-29 this row also asked τ1 >= 3 τ2, which the paper does not claim; it graded GRUs "
     "with τ1 ≈ 2,500 and τ2 ≈ 1,400 tokens \"no\". Whether the slow subspace is one-dimensional is "
     "judged by the manifold and r1 rows.)"),
    ("words push along the line", "mean signed input projection on the integration mode (over the points "
     "where the readout or the manifold fixes its sign) > 0 for positive words, < 0 for negative words, and "
     "|neutral| <= 20% of the smaller of the two (yes); signs right but neutral larger (partly); n/a where "
     "no point has a defined sign"),
    ("r1 aligned with the manifold", "median |r1·m| above the 99th percentile of random unit vectors (yes), "
     "above the 95th (partly); n/a when the points are not a line or slow manifold"),
    ("linearization holds", "median one-step relative error <= 0.1 and linearized accuracy within 2 points "
     "of the full network on the same documents (yes); error <= 0.3 and within 5 points (partly)"),
)
#: The findings that make up "the line-attractor picture".
CORE = ("line attractor (dynamics)", "1-D fixed-point manifold", "slow mode, |λ1| ≈ 1", "words push along the line")

Mark = tuple[str, str]


def verdicts(s: Summary) -> dict[str, Mark]:
    """Judge each finding of :data:`CRITERIA` on one summary: finding -> (grade, the numbers it rests on)."""
    return {name: judge(s) for (name, _), judge in zip(CRITERIA, _JUDGES)}


def overall(marks: Mapping[str, Mark]) -> str:
    """One phrase for a model: does it show the line-attractor picture?"""
    core = [marks[c][0] for c in CORE if c in marks]
    if core and all(m == "yes" for m in core):
        return "shows the line-attractor picture"
    if any(m in ("yes", "partly") for m in core):
        return "shows the line-attractor picture only in part"
    return "does not show the line-attractor picture"


def _grade(yes: bool, partly: bool) -> str:
    return "yes" if yes else "partly" if partly else "no"


def _judge_attractor(s: Summary) -> Mark:
    a = s.attractor
    if a.kind == "none":
        return "no", a.text
    why = (f"{a.name}: extent {fmt(a.extent_initial)} -> {fmt(a.extent_final)} units over {count(a.n_steps)} "
           f"steps, {count(a.n_attractors)} group(s) of end states")
    return {"line": "yes", "slow": "partly"}.get(a.kind, "no"), why


def _judge_pca(s: Summary) -> Mark:
    t, u = s.pca.top(3), s.pca.top(3, untrained=True)
    if math.isnan(t) or math.isnan(u):
        return "n/a", "no PCA in the report"
    return _grade(t >= 0.5 and t > u, t > u), f"top-3 PCs {pct(t)} vs {pct(u)} untrained"


def _judge_manifold(s: Summary) -> Mark:
    k, v, kind = s.fixed_points.n_unique, s.manifold.fp_variance_top1_own_pc, s.attractor.kind
    if kind in ("isolated", "unstable") and k >= 2:
        return "no", (f"the {count(k)} points {'collapse onto isolated points' if kind == 'isolated' else 'are unstable'}"
                      f" (PC1 holds {pct(v)} of their spread, but that spread is not a manifold)")
    if k == 0 and s.fixed_points.n_converged > 0:  # converged, non-outlier seeds always leave a point
        return "no", (f"0 unique fixed points: all {count(s.fixed_points.n_converged)} converged seeds were "
                      "outliers, far outside the visited states; no manifold to speak of")
    if k < 3:
        return "no", f"{count(k)} unique fixed point(s): no manifold to speak of"
    return _grade(v >= 0.8, v >= 0.5), f"PC1 of {count(k)} fixed points explains {pct(v)}"


def no_continuum(s: Summary) -> str | None:
    """Why the manifold rows do not apply (the verdict is not a line or slow manifold), or None."""
    if s.attractor.kind == "none":
        return "no manifold to align with: no fixed or slow point inside the visited region"
    if s.attractor.kind in ("isolated", "unstable"):
        return f"no manifold to align with: the points are {s.attractor.name}"
    return None


def _judge_readout(s: Summary) -> Mark:
    if no_continuum(s):
        return "n/a", no_continuum(s)
    c = s.manifold.m_readout_cosine
    if s.fixed_points.n_unique < 3 or math.isnan(c):
        return "n/a", "fewer than 3 fixed points"
    return _grade(abs(c) >= 0.5, abs(c) >= 0.2), f"cos(m, readout) = {fmt(c)}"


def _judge_slow_mode(s: Summary) -> Mark:
    lam, t = s.modes.abs_lambda_median, s.modes.tau_median
    if math.isnan(lam):
        return "n/a", "no fixed points to linearize"
    return (_grade(t >= 100, t >= 30), f"integration mode |λ| = {fmt(lam, 4)}, τ = {fmt(t)} tokens "
                                      f"(largest |λ| = {fmt(s.spectra.abs_lambda1_median, 4)})")


def _judge_words(s: Summary) -> Mark:
    p, n, z = s.projections.mean_positive, s.projections.mean_negative, s.projections.mean_neutral
    if any(math.isnan(x) for x in (p, n, z)):
        return "n/a", ("no point where the readout or the manifold fixes the integration mode's sign"
                       if s.projections.sign_defined_fraction == 0 else "no input projections")
    signs = p > 0 > n
    return (_grade(signs and abs(z) <= 0.2 * min(p, -n), signs),
            f"positive {fmt(p)}, negative {fmt(n)}, neutral {fmt(z)}")


def _judge_r1(s: Summary) -> Mark:
    if no_continuum(s):
        return "n/a", no_continuum(s)
    p = s.projections
    if math.isnan(p.r1_m_overlap_percentile):
        return "n/a", "no fixed points"
    return (_grade(p.r1_m_overlap_percentile >= 99, p.r1_m_overlap_percentile >= 95),
            f"|r1·m| = {fmt(p.r1_m_overlap_median)} vs null {fmt(p.r1_m_null_median)} "
            f"({fmt(p.r1_m_overlap_percentile)}th pct.)")


def _judge_linearization(s: Summary) -> Mark:
    err, lin = s.linearization.one_step_rel_error_median, s.accuracy.linearized
    full = s.linearization.full_accuracy_same_docs
    if math.isnan(err) or math.isnan(lin) or math.isnan(full):
        return "n/a", "no linearized model"
    gap = abs(lin - full)
    return (_grade(err <= 0.1 and gap <= 0.02, err <= 0.3 and gap <= 0.05),
            f"error {fmt(err)}, accuracy {pct(lin)} linearized vs {pct(full)} full")


_JUDGES = (_judge_attractor, _judge_pca, _judge_manifold, _judge_readout, _judge_slow_mode, _judge_words,
           _judge_r1, _judge_linearization)
