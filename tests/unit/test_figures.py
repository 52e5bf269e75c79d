"""rnnscope.app.figures: each figure carries exactly the data it was given (known-answer checks)."""
from __future__ import annotations

import copy
import json

import numpy as np
import plotly.graph_objects as go
import pytest

from rnnscope.analysis.summary import complete

from rnnscope.app import figures as F
from rnnscope.app.figures import manifold, projections, spectra, style
from rnnscope.app.figures.synthetic import synthetic_report

PAYLOAD_LIMIT = 500_000  # bytes of figure JSON


def trace(fig: go.Figure, name: str):
    """The single trace called ``name``."""
    found = [t for t in fig.data if t.name == name]
    assert len(found) == 1, f"{len(found)} traces named {name!r}: {[t.name for t in fig.data]}"
    return found[0]


@pytest.fixture(scope="module")
def report():
    return synthetic_report(n_points=120, state_size=32, embed_dim=8, n_words=30, bins=20)


# --------------------------------------------------------------------------- Fig. 2
def test_explained_variance_is_cumulative_sum():
    evr = np.array([0.5, 0.3, 0.1, 0.05])
    evr_u = np.array([0.2, 0.2, 0.15, 0.1])
    fig = F.explained_variance(evr, evr_u)
    np.testing.assert_allclose(trace(fig, "trained").y, [0.5, 0.8, 0.9, 0.95], rtol=1e-6)
    np.testing.assert_allclose(trace(fig, "untrained").y, [0.2, 0.4, 0.55, 0.65], rtol=1e-6)
    np.testing.assert_array_equal(trace(fig, "trained").x, [1, 2, 3, 4])
    per = F.explained_variance(evr, None, cumulative=False)
    assert [t.name for t in per.data] == ["trained"]
    np.testing.assert_allclose(per.data[0].y, evr, rtol=1e-6)


def test_state_density_heatmaps_hold_the_binned_density():
    b = 5
    edges = np.stack([np.linspace(-2, 2, b + 1), np.linspace(-1, 1, b + 1)])
    pos = np.arange(b * b, dtype=np.float32).reshape(b, b)
    neg = pos[::-1].copy()
    fig = F.state_density(pos, neg, edges, initial_pc=np.array([0.5, -0.25]),
                          readout_pc=np.array([1.0, 0.0]), readout_zero=0.3)
    heat_pos = trace(fig, "positive states")
    # index [i, j] = PC1 bin i, PC2 bin j, so the heatmap's z (rows = y) is the transpose
    np.testing.assert_array_equal(heat_pos.z, pos.T)
    np.testing.assert_array_equal(trace(fig, "negative states").z, neg.T)
    np.testing.assert_allclose(heat_pos.x, edges[0], rtol=1e-6)
    np.testing.assert_allclose(heat_pos.y, edges[1], rtol=1e-6)
    star = trace(fig, "initial state")
    assert (star.x[0], star.y[0], star.marker.symbol) == (0.5, -0.25, "star")
    zero = trace(fig, "readout = 0")
    np.testing.assert_allclose(zero.x, [0.3, 0.3])  # readout along PC1: the line x = 0.3
    np.testing.assert_allclose(sorted(zero.y), [-1.0, 1.0])  # clipped to the PC2 range
    assert zero.line.dash == "dash"
    arrow = trace(fig, "readout")
    np.testing.assert_allclose([arrow.x[0], arrow.y[0]], [0.5, -0.25])
    assert arrow.y[1] == pytest.approx(-0.25) and arrow.x[1] > 0.5
    names = [t.name for t in fig.data]
    assert names.index("readout") > names.index("initial state")  # on top of the star


def test_readout_arrow_is_visible_when_little_of_the_readout_is_in_the_plane():
    """An LSTM's readout sees h while its top PCs are mostly c: 2% of it in the plane must
    still give an arrow 0.3 of the box long, and say 2% when hovered."""
    edges = np.stack([np.linspace(-10, 10, 6), np.linspace(-10, 10, 6)])
    pos = np.ones((5, 5), np.float32)
    fig = F.state_density(pos, pos, edges, initial_pc=np.array([0.0, 0.0]),
                          readout_pc=np.array([0.0, 0.02]))
    arrow = trace(fig, "readout")
    assert np.hypot(arrow.x[1] - arrow.x[0], arrow.y[1] - arrow.y[0]) == pytest.approx(6.0)
    assert "2% of it lies in the PC1-PC2 plane" in arrow.hovertemplate


def test_readout_zero_offset_puts_zero_logit_on_the_line():
    rng = np.random.default_rng(3)
    d = 12
    comps = np.linalg.qr(rng.normal(size=(d, 2)))[0].T  # (2, D) orthonormal rows
    w = 0.7 * comps[0] - 0.4 * comps[1]  # readout inside the PC plane
    mean, bias = rng.normal(size=d), np.array([0.37])
    c = F.readout_zero_offset(w, bias, mean)
    u = comps @ w / np.linalg.norm(w)  # readout_pc
    for t in (-2.0, 0.0, 1.5):  # points on the line u·p = c
        p = u * c / (u @ u) + t * np.array([-u[1], u[0]])
        assert w @ (mean + comps.T @ p) + bias[0] == pytest.approx(0.0, abs=1e-10)
    with pytest.raises(ValueError, match="zero"):
        F.readout_zero_offset(np.zeros(d), bias, mean)


def test_state_density_rejects_mismatched_bins():
    edges = np.stack([np.linspace(0, 1, 5), np.linspace(0, 1, 5)])
    with pytest.raises(ValueError, match="density_pos"):
        F.state_density(np.zeros((3, 3)), np.zeros((4, 4)), edges)


def test_fixed_point_manifold_points_colours_customdata_selection():
    k = 37
    rng = np.random.default_rng(0)
    fp_pc = rng.normal(size=(k, 3)).astype(np.float32)
    theta = np.linspace(-1, 1, k)
    fig = F.fixed_point_manifold(fp_pc, theta, np.array([0.8, 0.15, 0.05]), selected=[3, 30])
    pts = trace(fig, "fixed points")
    assert len(pts.x) == k
    np.testing.assert_array_equal(pts.x, fp_pc[:, 0])
    np.testing.assert_array_equal(pts.y, fp_pc[:, 1])
    np.testing.assert_allclose(pts.marker.color, theta, atol=1e-7)
    np.testing.assert_array_equal(pts.customdata, np.arange(k))
    assert (pts.marker.cmin, pts.marker.cmax) == (-1.0, 1.0)
    sel = trace(fig, "selected")
    np.testing.assert_array_equal(sel.customdata, [3, 30])
    np.testing.assert_array_equal(sel.x, fp_pc[[3, 30], 0])
    inset = [t for t in fig.data if t.type == "bar"][0]
    assert (inset.xaxis, inset.yaxis) == ("x2", "y2")
    np.testing.assert_allclose(inset.y, [0.8, 0.15, 0.05], rtol=1e-6)
    assert "selected" not in [t.name for t in F.fixed_point_manifold(fp_pc, theta).data]
    with pytest.raises(ValueError, match="out of range"):
        F.fixed_point_manifold(fp_pc, theta, selected=k)
    with pytest.raises(ValueError, match="theta"):
        F.fixed_point_manifold(fp_pc, theta[:-1])


def test_many_points_use_webgl_unless_told_not_to():
    k = 3000
    fp_pc = np.zeros((k, 2))
    theta = np.zeros(k)
    assert isinstance(trace(F.fixed_point_manifold(fp_pc, theta), "fixed points"), go.Scattergl)
    assert isinstance(trace(F.fixed_point_manifold(fp_pc[:50], theta[:50]), "fixed points"),
                      go.Scatter)
    assert not isinstance(trace(F.fixed_point_manifold(fp_pc, theta, webgl=False),
                                "fixed points"), go.Scattergl)


def test_empty_manifold_draws_with_a_note():
    fig = F.fixed_point_manifold(np.zeros((0, 3)), np.zeros(0))
    assert len(trace(fig, "fixed points").x) == 0
    assert any("no fixed points" in a.text for a in fig.layout.annotations)


# --------------------------------------------------------------------------- Fig. 3
def test_eigenvalue_plane_has_unit_circle_and_the_eigenvalues():
    lam_a = np.array([0.99, 0.5 + 0.5j, 0.5 - 0.5j, -0.1])
    lam_b = np.array([0.9, 0.2j, -0.2j])
    fig = F.eigenvalue_plane([lam_a, lam_b], ["A", "B"])
    circle = trace(fig, "unit circle")
    x, y = np.asarray(circle.x), np.asarray(circle.y)
    assert np.max(np.abs(x ** 2 + y ** 2 - 1.0)) < 1e-6
    assert x.size >= 100 and np.ptp(np.arctan2(y, x)) > 6.2  # the whole circle
    np.testing.assert_allclose(trace(fig, "A").x, lam_a.real, atol=1e-7)
    np.testing.assert_allclose(trace(fig, "A").y, lam_a.imag, atol=1e-7)
    np.testing.assert_allclose(trace(fig, "B").customdata, np.abs(lam_b), atol=1e-7)
    assert fig.layout.yaxis.scaleanchor == "x"
    with pytest.raises(ValueError, match="labels"):
        F.eigenvalue_plane([lam_a], ["A", "B"])


def test_top_time_constants_traces_equal_inputs_on_log_axis():
    k = 40
    theta = np.linspace(-1, 1, k)
    tau = np.stack([np.full(k, 1000.0), np.linspace(50, 150, k), np.linspace(5, 20, k)], axis=1)
    tau[7, 0] = np.inf  # |λ| = 1 exactly: not drawable on a log axis
    fig = F.top_time_constants(theta, tau, selected=[5])
    assert fig.layout.yaxis.type == "log"
    for mode in range(3):
        t = trace(fig, f"τ{mode + 1}")
        np.testing.assert_allclose(t.x, theta, atol=1e-7)
        expected = np.where(np.isfinite(tau[:, mode]), tau[:, mode], np.nan)
        np.testing.assert_allclose(t.y, expected, rtol=1e-6)  # NaN where τ is infinite
        np.testing.assert_array_equal(t.customdata, np.arange(k))
    sel = trace(fig, "selected")
    assert sel.customdata[0] == 5 and sel.y[0] == 1000.0
    assert any("1 infinite" in a.text for a in fig.layout.annotations)


def test_time_constants_sorted_descending():
    tau_a = np.array([3.0, 300.0, 30.0, 1.0])
    fig = F.time_constants([tau_a, np.array([2.0, 20.0])], ["a", "b"])
    np.testing.assert_allclose(trace(fig, "a").y, [300.0, 30.0, 3.0, 1.0], rtol=1e-6)
    np.testing.assert_array_equal(trace(fig, "a").x, [1, 2, 3, 4])
    np.testing.assert_allclose(trace(fig, "b").y, [20.0, 2.0], rtol=1e-6)
    assert fig.layout.yaxis.type == "log"


def test_tau_from_eigvals_known_values():
    lam = np.array([np.exp(-1 / 1000), -np.exp(-1 / 10), 0.5j, 1.0, np.exp(0.5)])
    np.testing.assert_allclose(spectra.tau_from_eigvals(lam),
                               [1000.0, 10.0, 1 / np.log(2), np.inf, 2.0], rtol=1e-9)


# --------------------------------------------------------------------------- Fig. 4
def test_input_effects_words_centres_and_l1():
    jx = np.array([[1.0, 0.0], [3.0, 2.0], [-1.0, 0.0], [-2.0, -1.0], [0.1, 0.1]])
    val = np.array([1, 1, -1, -1, 0])
    words = ["good", "<b>great</b>", "bad", "awful", "the"]
    fig = F.input_effects(jx, val, np.array([0.0, 2.0]), words, point=4)
    pos = trace(fig, "positive words")
    np.testing.assert_array_equal(np.c_[pos.x, pos.y], jx[:2])
    assert pos.marker.color == style.POSITIVE
    assert "&lt;b&gt;great&lt;/b&gt;" in pos.hovertext  # user text is escaped
    np.testing.assert_array_equal(np.c_[trace(fig, "negative words").x,
                                        trace(fig, "negative words").y], jx[2:4])
    assert trace(fig, "neutral words").marker.color == style.NEUTRAL
    com = trace(fig, "positive centre of mass")
    np.testing.assert_allclose([com.x[1], com.y[1]], jx[:2].mean(axis=0))
    com = trace(fig, "negative centre of mass")
    np.testing.assert_allclose([com.x[1], com.y[1]], jx[2:4].mean(axis=0))
    l1 = trace(fig, "ℓ1 (top left eigenvector)")
    reach = np.linalg.norm(jx, axis=1).max()
    np.testing.assert_allclose([l1.x[1], l1.y[1]], [0.0, reach])  # along l1, as long as the reach
    assert "fixed point 4" in fig.layout.title.text
    with pytest.raises(ValueError, match="valence codes"):
        F.input_effects(jx, np.array([1, 2, -1, 0, 0]))


def test_right_eigenvector_on_manifold():
    fp_pc = np.array([[0.0, 0.0], [1.0, 0.0], [2.0, 0.5], [4.0, 1.0]])
    fig = F.right_eigenvector_on_manifold(fp_pc, 2, np.array([0.6, 0.8]), scale=2.0)
    grey = trace(fig, "fixed points")
    assert grey.marker.color == style.GREY and len(grey.x) == 4
    point = trace(fig, "fixed point 2")
    assert (point.x[0], point.y[0], point.customdata[0]) == (2.0, 0.5, 2)
    arrows = [t for t in fig.data if t.legendgroup == "r1"]
    tips = sorted((t.x[1], t.y[1]) for t in arrows)
    np.testing.assert_allclose(tips, [(0.8, -1.1), (3.2, 2.1)])  # ±2·r1 from the point
    with pytest.raises(ValueError, match="one \\(2,\\) vector per selected"):
        F.right_eigenvector_on_manifold(fp_pc, [1, 2], np.array([0.6, 0.8]))


def test_input_projection_histograms_hold_the_inputs():
    rng = np.random.default_rng(1)
    pos, neg, neu = rng.normal(1, 0.1, 50), rng.normal(-1, 0.1, 50), rng.normal(0, 0.01, 50)
    fig = F.input_projection_histograms(pos, neg, neu)
    for name, values in (("positive", pos), ("negative", neg), ("neutral", neu)):
        h = trace(fig, name)
        assert h.type == "histogram"
        np.testing.assert_allclose(h.x, values, rtol=1e-6)
    bins = {(t.xbins.start, t.xbins.size) for t in fig.data}
    assert len(bins) == 1  # one shared binning, so the bars are comparable
    start, size = bins.pop()
    assert start == pytest.approx(min(pos.min(), neg.min(), neu.min()))
    assert fig.layout.barmode == "overlay"


def test_mean_projections_known_answer():
    proj = np.array([[1.0, 3.0, -2.0, 0.5], [2.0, 4.0, -4.0, -0.5]])
    val = np.array([1, 1, -1, 0])
    means = F.mean_projections(proj, val)
    np.testing.assert_allclose(means[1], [2.0, 3.0])
    np.testing.assert_allclose(means[-1], [-2.0, -4.0])
    np.testing.assert_allclose(means[0], [0.5, -0.5])
    assert np.isnan(F.mean_projections(proj[:, :2], val[:2])[0]).all()
    with pytest.raises(ValueError, match="does not match"):
        F.mean_projections(proj, val[:3])


def test_overlap_vs_null_holds_both_distributions():
    overlap = np.array([0.9, 0.95, 0.8])
    null = np.array([0.01, 0.05, 0.1, 0.02])
    fig = F.overlap_vs_null(overlap, null)
    np.testing.assert_allclose(trace(fig, "|r1 · m|").x, overlap, rtol=1e-6)
    np.testing.assert_allclose(trace(fig, "null (random vectors)").x, null, rtol=1e-6)
    assert all(t.histnorm == "probability density" for t in fig.data)


def test_project_directions_and_example_points():
    comps = np.eye(4)[:3]
    np.testing.assert_array_equal(F.project_directions(np.array([1.0, 2.0, 3.0, 4.0]), comps),
                                  [1.0, 2.0])
    assert F.project_directions(np.ones((5, 4)), comps).shape == (5, 2)
    with pytest.raises(ValueError, match="cannot project"):
        F.project_directions(np.ones(3), comps)
    theta = np.array([-1.0, -0.7, -0.1, 0.05, 0.9, 0.75])
    np.testing.assert_array_equal(F.example_points(theta, 3), [1, 3, 5])
    np.testing.assert_array_equal(F.example_points(theta, 1), [3])
    np.testing.assert_array_equal(F.example_points(np.array([0.2]), 3), [0])  # no repeats


# --------------------------------------------------------------------------- Fig. 5
def test_linearization_histogram_counts_every_positive_step():
    rng = np.random.default_rng(2)
    err = rng.lognormal(np.log(0.1), 0.5, 1000)
    err[:3] = [0.0, np.nan, np.inf]
    counts, edges, dropped = F.log_histogram(err, n_bins=25)
    assert counts.sum() == 997 and dropped == 3 and len(edges) == 26
    ratios = edges[1:] / edges[:-1]
    np.testing.assert_allclose(ratios[1:-1], ratios[1])  # geometric bins
    fig = F.linearization_error_hist(err, n_bins=25)
    assert fig.layout.xaxis.type == "log"
    steps = fig.data[0]
    np.testing.assert_allclose(steps.x, edges)
    np.testing.assert_allclose(np.asarray(steps.y[:-1]) * 997, counts, rtol=1e-5)
    median = [t for t in fig.data if t.name.startswith("median")][0]
    assert median.x[0] == pytest.approx(np.median(err[3:]))
    assert not F.linearization_error_hist(np.zeros(4)).data


# ------------------------------------------------------------------ sentence explorer
def _sentence_inputs():
    tokens = ["the", "film", "was", "<script>x</script>", "great"]
    traj = np.cumsum(np.ones((6, 2)), axis=0)  # T + 1 rows: initial state first
    logit = np.array([0.0, 0.1, -0.2, -0.1, 2.0])
    unknown = np.array([False, False, False, True, False])
    drift = traj[:-1] + np.array([0.25, 0.0])  # F(s_{t-1}, 0): a quarter step right of s_{t-1}
    push = np.array([0.4, -0.3, 0.0, -0.1, 1.5])
    return tokens, traj, logit, unknown, drift, push


def test_sentence_trajectory_one_marker_per_token_unknowns_flagged():
    tokens, traj, logit, unknown, drift, push = _sentence_inputs()
    fig = F.sentence_trajectory(traj, tokens, logit, unknown=unknown, step=4)
    tok = trace(fig, "tokens")
    assert len(tok.x) == len(tokens)
    np.testing.assert_array_equal(np.c_[tok.x, tok.y], traj[1:])
    np.testing.assert_array_equal(tok.customdata, np.arange(5))
    assert list(tok.marker.symbol) == ["circle", "circle", "circle", "x", "circle"]
    assert "(unknown)" in tok.hovertext[3] and "(unknown)" not in tok.hovertext[0]
    assert "<script>" not in tok.hovertext[3] and "&lt;script&gt;" in tok.hovertext[3]
    assert "<script>" not in tok.text[3] and tok.text[0] == "the"  # every token labelled (T <= 30)
    start = trace(fig, "initial state")
    assert (start.x[0], start.y[0]) == (1.0, 1.0)
    cur = trace(fig, "current token")
    assert (cur.x[0], cur.y[0], cur.customdata[0]) == (6.0, 6.0, 4)
    no_start = F.sentence_trajectory(traj[1:], tokens, logit)
    assert "initial state" not in [t.name for t in no_start.data]
    with pytest.raises(ValueError, match="rows for 5 tokens"):
        F.sentence_trajectory(traj[:3], tokens, logit)
    with pytest.raises(ValueError, match="step"):
        F.sentence_trajectory(traj, tokens, logit, step=5)


def test_sentence_colour_is_p_positive_on_one_fixed_scale():
    """The colour of a token is σ(logit) on [0, 1] whatever the sentence (it was ±max|logit|
    of each sentence, so the same colour meant different readouts from one text to the next)."""
    tokens, traj, logit, *_ = _sentence_inputs()
    scales = []
    for factor in (1.0, 25.0):
        fig = F.sentence_trajectory(traj, tokens, factor * logit)
        tok = trace(fig, "tokens")
        np.testing.assert_allclose(tok.marker.color, 1 / (1 + np.exp(-factor * logit)), atol=1e-6)
        assert tok.marker.coloraxis == "coloraxis"
        scales.append((fig.layout.coloraxis.cmin, fig.layout.coloraxis.cmax))
    assert scales == [(0.0, 1.0), (0.0, 1.0)]


def test_sentence_trajectory_draws_points_zero_line_and_pushes():
    tokens, traj, logit, unknown, drift, push = _sentence_inputs()
    points = np.array([[0.0, 4.0, 9.0], [1.0, 5.0, 9.0], [2.0, 6.0, 9.0], [3.0, 0.0, 9.0]])
    point_logit = np.array([-2.0, 0.0, 2.0, 1.0])
    fixed = np.array([True, True, True, False])
    readout_pc = np.array([0.6, 0.8])  # unit, all of it in the plane
    fig = F.sentence_trajectory(traj, tokens, logit, drift_pc=drift, push=push, points_pc=points,
                                point_logit=point_logit, point_is_fixed=fixed, readout_pc=readout_pc,
                                readout_zero=5.0, unknown=unknown, step=0)
    fp, slow = trace(fig, "fixed points (3)"), trace(fig, "slow points (1)")
    np.testing.assert_array_equal(np.c_[fp.x, fp.y], points[:3, :2])
    np.testing.assert_array_equal(fp.customdata, [0, 1, 2])
    np.testing.assert_allclose(fp.marker.color, 1 / (1 + np.exp(-point_logit[:3])), atol=1e-6)
    assert (slow.x[0], slow.y[0], slow.customdata[0]) == (3.0, 0.0, 3)
    zero = trace(fig, "readout = 0")
    xy = np.c_[zero.x, zero.y]
    np.testing.assert_allclose(xy @ readout_pc, [5.0, 5.0], atol=1e-9)  # on readout_pc · p = 5
    x0, x1 = fig.layout.xaxis.range
    y0, y1 = fig.layout.yaxis.range
    assert x0 <= xy[:, 0].min() and xy[:, 0].max() <= x1 and y0 <= xy[:, 1].min() and xy[:, 1].max() <= y1
    arrow = trace(fig, "readout")
    assert (arrow.x[0], arrow.y[0]) == (1.0, 1.0)  # from the initial state, toward positive
    tip = np.array([arrow.x[1] - 1, arrow.y[1] - 1])
    assert tip[0] * readout_pc[1] - tip[1] * readout_pc[0] == pytest.approx(0, abs=1e-9)  # along it
    assert (arrow.x[1] - 1) * readout_pc[0] > 0
    up, down = trace(fig, "token pushed toward positive"), trace(fig, "token pushed toward negative")
    # one segment per token, from F(s_{t-1}, 0) to s_t, split by the sign of the push
    assert up.x == (drift[0, 0], traj[1, 0], None, drift[4, 0], traj[5, 0], None)
    assert len(down.x) == 3 * 3 and down.y[:2] == (drift[1, 1], traj[2, 1])
    dotted = trace(fig, "zero-input step F(h, 0)")
    assert dotted.x[:2] == (traj[0, 0], drift[0, 0])
    legend = {t.name for t in fig.data if t.showlegend is not False}
    assert {"fixed points (3)", "slow points (1)", "readout", "readout = 0", "initial state",
            "token pushed toward positive", "tokens"} <= legend
    with pytest.raises(ValueError, match="point_logit"):
        F.sentence_trajectory(traj, tokens, logit, points_pc=points)


def test_sentence_labels_only_the_largest_pushes_of_a_long_text():
    n = 50
    tokens = [f"w{i}" for i in range(n)]
    push = np.zeros(n)
    push[[7, 30]] = [-3.0, 2.0]
    fig = F.sentence_trajectory(np.zeros((n + 1, 2)), tokens, np.zeros(n), push=push)
    text = trace(fig, "tokens").text
    assert text[7] == "w7" and text[30] == "w30" and sum(bool(t) for t in text) == 10


def test_sentence_readout_steps_carry_push_drift_and_readout():
    tokens, _, logit, unknown, _, push = _sentence_inputs()
    drift = np.diff(np.r_[0.3, logit]) - push
    fig = F.sentence_readout_steps(tokens, logit, push, drift, 0.3, unknown=unknown)
    np.testing.assert_allclose(trace(fig, "token's push").y, push, atol=1e-6)
    np.testing.assert_allclose(trace(fig, "zero-input drift").y, drift, atol=1e-6)
    line = trace(fig, "readout after the token")
    np.testing.assert_allclose(line.y, np.r_[0.3, logit], atol=1e-6)
    assert list(line.x) == [0, 1, 2, 3, 4, 5]
    assert fig.layout.barmode == "relative"
    assert list(trace(fig, "token's push").marker.color) == [style.POSITIVE, style.NEGATIVE, style.NEGATIVE,
                                                             style.NEGATIVE, style.POSITIVE]
    labels = list(fig.layout.xaxis.ticktext)
    assert labels[0] == "start" and labels[1] == "1 the" and labels[4] == "4 &lt;script&gt;x&lt;/script&gt; (unk)"
    with pytest.raises(ValueError, match="drift"):
        F.sentence_readout_steps(tokens, logit, push, drift[:3], 0.3)


def _as_sent(fig: go.Figure) -> dict:
    """The JSON the page receives for ``fig``."""
    import plotly.utils

    return json.loads(json.dumps(fig, cls=plotly.utils.PlotlyJSONEncoder))


def test_figures_built_without_validation_are_valid_plotly():
    """``style.quick_figure`` skips plotly's checks for speed; here every property of the
    figures built that way goes through them, and the validated figure sends the same JSON."""
    tokens, traj, logit, unknown, drift, push = _sentence_inputs()
    points = np.array([[0.0, 4.0], [1.0, 5.0], [3.0, 0.0]])
    built = [
        F.sentence_trajectory(traj, tokens, logit, drift_pc=drift, push=push, points_pc=points,
                              point_logit=np.array([-2.0, 0.0, 1.0]),
                              point_is_fixed=np.array([True, True, False]),
                              readout_pc=np.array([0.6, 0.8]), readout_zero=5.0, unknown=unknown, step=2),
        F.sentence_readout_steps(tokens, logit, push, np.diff(np.r_[0.3, logit]) - push, 0.3, unknown=unknown),
    ]
    lam = np.array([0.99 + 0.0j, 0.5 + 0.2j, 0.5 - 0.2j])
    traces = [  # the per-click trace builders, sent as plain dicts in a Patch
        *spectra.eigenvalue_traces([lam], ["point 3"], lam[1]),
        *spectra.time_constant_traces([spectra.tau_from_eigvals(lam)], ["point 3"]),
        *projections.input_effect_traces(np.array([[0.1, 0.2], [-0.3, 0.1], [0.0, 0.05]]), np.array([1, -1, 0]),
                               np.array([0.5, 0.5]), ["good", "<b>bad</b>", "the"]),
        *manifold.right_eigenvector_traces(points, [1], np.array([[0.6, 0.8]])),
        *manifold.fixed_point_traces(points, np.array([-0.5, 0.0, 0.9]), selected=[2], labels=["a", "b", "c"]),
    ]
    assert all(isinstance(t, dict) for t in traces)
    built.append(style.quick_figure(traces, style.layout("traces")))
    for fig in built:
        sent = _as_sent(fig)
        assert sent["layout"]["template"] == _as_sent(go.Figure(layout=dict(template=style.LOOK)))["layout"]["template"]
        assert _as_sent(go.Figure(sent)) == sent  # validation passes and changes nothing
    bad = style.quick_figure([dict(type="scatter", x=[1], colour="red")], style.layout())
    with pytest.raises(ValueError, match="colour"):
        go.Figure(_as_sent(bad))


# ------------------------------------------------------------------- Fig. 6 / Fig. 7
def test_summary_figure_has_eight_filled_panels(report):
    summary, arrays = report
    fig = F.summary_figure(summary, arrays)
    axes = sorted(k for k in fig.layout.to_plotly_json() if k.startswith("xaxis"))
    assert len(axes) == 8
    titles = [a.text for a in fig.layout.annotations]
    assert titles[:8] == list(F.summary.SUMMARY_PANELS)
    used = {t.xaxis or "x" for t in fig.data}
    assert used == {"x"} | {f"x{i}" for i in range(2, 9)}  # every panel has data
    k = int(arrays["jinp_x_point"][0])
    sel = [t for t in fig.data if t.name == "selected"]
    assert {int(s.customdata[0]) for s in sel} == {k}
    assert "synthetic" in fig.layout.title.text and "87.5%" in fig.layout.title.text


def test_summary_figure_notes_missing_arrays_and_draws_the_rest(report):
    summary, arrays = report
    partial = {k: v for k, v in arrays.items() if k not in ("jinp_x_pc", "jinp_x_point")}
    fig = F.summary_figure(summary, partial)
    notes = [a.text for a in fig.layout.annotations if "not in this report" in a.text]
    assert notes == ["not in this report: jinp_x_pc"]
    assert {t.xaxis or "x" for t in fig.data} == {"x"} | {f"x{i}" for i in (2, 3, 4, 6, 7, 8)}
    empty = F.summary_figure(complete({}), {})
    assert len([a for a in empty.layout.annotations if "not in this report" in a.text]) == 8


def test_compare_models_puts_each_metric_per_model():
    a = complete({"model": {"arch": "lstm", "hidden_size": 64}, "data": {"name": "imdb"},
                  "accuracy": {"test": 0.86, "bow": 0.88}, "spectra": {"tau1_median": 900.0}})
    b = complete({"model": {"arch": "gru", "hidden_size": 64}, "data": {"name": "imdb"},
                  "accuracy": {"test": 0.85, "bow": None}})
    fig = F.compare_models([a, b, a])
    net = [t for t in fig.data if t.name == "network"][0]
    assert list(net.x) == ["LSTM-64 imdb", "GRU-64 imdb", "LSTM-64 imdb #2"]
    np.testing.assert_allclose(net.y, [0.86, 0.85, 0.86])
    bow = [t for t in fig.data if t.name == "bag of words"][0]
    assert bow.y[0] == 0.88 and np.isnan(bow.y[1])
    tau1 = [t for t in fig.data if t.name == "τ1"][0]
    assert tau1.y[0] == 900.0 and tau1.yaxis == "y3"
    assert fig.layout.yaxis3.type == "log"
    with pytest.raises(ValueError, match="labels"):
        F.compare_models([a, b], labels=["one"])


# ------------------------------------------------------------ payload and purity
def test_payload_under_limit_for_500_points_512_units():
    summary, arrays = synthetic_report(n_points=500, state_size=512, embed_dim=64, n_words=300,
                                       bins=60, n_steps=50_000)
    a = arrays
    k = F.example_point(a)
    comps = a["state_pca_components"]
    ex = F.example_points(a["theta"], 3)
    means = F.mean_projections(a["input_projection"], a["word_valence"])
    figs = {
        "2a": F.explained_variance(a["explained_variance_ratio"],
                                   a["explained_variance_ratio_untrained"]),
        "2b": F.state_density(a["density_pos"], a["density_neg"], a["density_edges"],
                              a["example_traj_pos"], a["example_traj_neg"],
                              a["initial_state_pc"], a["readout_pc"]),
        "2c": F.fixed_point_manifold(a["fp_pc"], a["theta"],
                                     a["fp_pca_explained_variance_ratio"], ex),
        "3b": F.eigenvalue_plane([a["eigvals"][i] for i in ex]),
        "3c": F.top_time_constants(a["theta"], a["tau_top3"], ex),
        "3d": F.time_constants([spectra.tau_from_eigvals(a["eigvals"][i]) for i in ex]),
        "4a": F.input_effects(a["jinp_x_pc"], a["word_valence"],
                              F.project_directions(a["l1"][k], comps), list(a["words"])),
        "4b": F.right_eigenvector_on_manifold(a["fp_pc"], k, F.project_directions(a["r1"][k], comps)),
        "4c": F.input_projection_histograms(means[1], means[-1], means[0]),
        "4d": F.overlap_vs_null(a["r1_m_overlap"], a["r1_m_null"]),
        "5b": F.linearization_error_hist(a["one_step_rel_error"]),
        "7": F.summary_figure(summary, a),
    }
    sizes = {name: len(fig.to_json()) for name, fig in figs.items()}
    assert max(sizes.values()) < PAYLOAD_LIMIT, sizes


def test_figures_are_deterministic_and_leave_inputs_untouched(report):
    summary, arrays = report
    before_a = copy.deepcopy(arrays)
    before_s = copy.deepcopy(summary)
    first = F.summary_figure(summary, arrays).to_json()
    second = F.summary_figure(summary, arrays).to_json()
    assert first == second
    assert summary == before_s
    for key, value in before_a.items():
        np.testing.assert_array_equal(arrays[key], value)
    json.loads(first)  # valid JSON


def test_readout_steps_draw_the_linear_integrators_push_and_mark_modifiers():
    fig = F.sentence_readout_steps(["not", "good"], [0.0, -1.0], [0.0, -1.0], [0.0, 0.0], 0.0,
                                         linear_push=[0.0, 1.0], modifier=[True, False])
    lin = next(t for t in fig.data if t.name == "linear integrator's push")
    assert list(lin.x) == [1, 2] and list(lin.y) == [0.0, 1.0]
    assert list(lin.customdata) == ["1 not (modifier)", "2 good"]
    plain = F.sentence_readout_steps(["good"], [1.0], [1.0], [0.0], 0.0)
    assert all(t.name != "linear integrator's push" for t in plain.data)


def test_the_slow_mode_trace_rings_exactly_the_eigenvalues_within_the_band():
    lam = np.array([1.004, 0.995 + 0.05j, 0.995 - 0.05j, 0.98, 1.2, 0.5j])   # |λ| 1.004, 0.9963 x2, 0.98, 1.2, 0.5
    trace = spectra.slow_mode_trace([lam[:3], lam[3:]], 0.01)
    np.testing.assert_allclose(np.array(trace["x"]) + 1j * np.array(trace["y"]), lam[:3])
    assert trace["name"] == "slow modes (|λ| within 1% of 1): 3"
    assert spectra.slow_mode_trace([lam[3:]], 0.01)["x"] == []          # none: still one, empty, trace
    assert len(spectra.slow_mode_trace([lam], 0.25)["x"]) == 5          # a wider band takes 0.98 and 1.2
    names = [t["name"] for t in spectra.eigenvalue_plane([lam], slow_tol=0.01).data]
    assert names[-1].startswith(spectra.SLOW_MODES)
    assert not any(n.startswith(spectra.SLOW_MODES) for n in (t["name"] for t in spectra.eigenvalue_plane([lam]).data))
