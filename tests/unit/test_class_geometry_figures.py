"""The Classes card's figures carry the data they are given (hand-made arrays)."""
from __future__ import annotations

import json

import numpy as np
import plotly
import plotly.graph_objects as go

from rnnscope.app.figures import class_geometry as figs


def data_of(fig) -> list[dict]:
    return json.loads(json.dumps(fig, cls=plotly.utils.PlotlyJSONEncoder))["data"]


def test_points_sit_at_their_principal_coordinates_coloured_by_class():
    rng = np.random.default_rng(0)
    basis = np.linalg.qr(rng.normal(size=(6, 3)))[0].T  # 3 orthonormal directions in D = 6
    coords = rng.normal(size=(9, 3)) * [3.0, 2.0, 1.0]
    points = coords @ basis + 5.0  # shifted: the figure centres on the points' mean
    cls = np.array([0, 1, 2] * 3)
    fig = figs.class_points(points, basis, cls, basis[:2] * [[2.0], [1.0]], ["a", "b", "c"], [0.6, 0.3, 0.1])
    traces = data_of(fig)
    centred = coords - coords.mean(axis=0)
    for c, name in enumerate("abc"):
        t = next(t for t in traces if t["name"] == f"points read as {name}")
        assert t["customdata"] == list(np.flatnonzero(cls == c))
        assert np.allclose(np.c_[t["x"], t["y"], t["z"]], centred[cls == c], atol=1e-9)
        assert t["marker"]["color"] == figs.class_colour(c)
    arrows = [t for t in traces if t["name"].startswith("readout")]
    assert [t["name"] for t in arrows] == ["readout b − a", "readout c − a"]
    tip = np.array([arrows[1]["x"][1], arrows[1]["y"][1], arrows[1]["z"][1]])
    assert np.allclose(tip / np.linalg.norm(tip), [0, 1, 0])  # c − a lies along PC2
    assert "PC1 (60.0%)" in json.dumps(fig.to_plotly_json()["layout"]["scene"], ensure_ascii=False)
    go.Figure(fig.to_plotly_json())  # valid plotly


def test_points_with_fewer_than_3_components_are_drawn_flat():
    fig = figs.class_points(np.array([[0.0, 0.0], [2.0, 0.0]]), np.array([[1.0, 0.0]]), [0, 1], np.array([[1.0, 0.0]]),
                            ["x", "y"], [1.0])
    t = data_of(fig)[0]
    assert t["z"] == [0.0] and t["x"] == [-1.0]


def test_slow_mode_counts_histogram_and_c_minus_1():
    fig = figs.slow_mode_counts([2, 2, 1, 2, 0], 3, 0.01)
    bar = data_of(fig)[0]
    assert bar["x"] == [0, 1, 2] and bar["y"] == [1, 1, 3]
    layout = fig.to_plotly_json()["layout"]
    assert layout["shapes"][0]["x0"] == 2 and "C − 1 = 2" in json.dumps(layout["annotations"], ensure_ascii=False)


def test_word_effects_grouped_by_class_and_one_bar_per_difference():
    effects = np.array([[1.0, -1.0], [0.5, 2.0], [-3.0, 0.0]])
    fig = figs.word_effects(["good", "<b>x</b>", "bad"], [2, 1, 0], effects, ["neg", "mid", "pos"])
    bars = data_of(fig)
    assert [b["name"] for b in bars] == ["mid − neg", "pos − neg"]
    assert bars[0]["x"] == ["bad", "&lt;b&gt;x&lt;/b&gt;", "good"]  # class 0 first, names escaped
    assert bars[0]["y"] == [-3.0, 0.5, 1.0] and bars[1]["y"] == [0.0, 2.0, -1.0]


def test_slow_projections_median_over_points_ignores_padding():
    proj = np.full((3, 2, 2), np.nan)
    proj[:, 0, :] = [[1.0, -2.0], [3.0, -4.0], [2.0, 0.0]]  # every point has slow mode 1
    proj[0, 1, :] = [5.0, 6.0]  # only point 0 has a second
    heat = data_of(figs.slow_projections(["a", "b"], proj))[0]
    assert heat["z"] == [[2.0, -2.0], [5.0, 6.0]] and heat["y"] == ["slow mode 1", "slow mode 2"]
    empty = figs.slow_projections(["a", "b"], np.zeros((4, 0, 2)))
    assert "no slow modes" in json.dumps(empty.to_plotly_json()["layout"]["annotations"], ensure_ascii=False)
