"""The Modifiers card's figures carry the arrays they are given (hand-made arrays), escape the
word, refuse malformed arrays in words, and are valid plotly."""
from __future__ import annotations

import base64
import json

import numpy as np
import plotly
import plotly.graph_objects as go
import pytest

from rnnscope.app.figures import modifiers as figs

HOSTILE = "<img src=x onerror=alert(1)>"


def _decode(obj):
    if set(obj) >= {"dtype", "bdata"}:
        return np.frombuffer(base64.b64decode(obj["bdata"]), dtype=np.dtype(obj["dtype"])).tolist()
    return obj


def sent(fig) -> dict:
    """The figure as the page receives it, arrays decoded."""
    return json.loads(json.dumps(fig, cls=plotly.utils.PlotlyJSONEncoder), object_hook=_decode)


def traces(fig) -> dict:
    return {t["name"]: t for t in sent(fig)["data"]}


def xy(t: dict) -> np.ndarray:
    return np.c_[t["x"], t["y"]]


@pytest.fixture
def paths():
    rng = np.random.default_rng(0)
    base = np.cumsum(rng.normal(size=(8, 2)), 0)           # the context's end, a filler in the slot, T = 6 fillers
    path = np.vstack([base[:1], base[1:] + np.linspace(3.0, 0.1, 7)[:, None]])
    return rng.normal(size=(11, 3)), path, base


def test_the_deflection_is_drawn_where_the_arrays_put_it(paths):
    fp_pc, path, base = paths
    fig = figs.modifier_deflection(fp_pc, path, base, "not", decay_tokens=4)
    t = traces(fig)
    assert list(t) == ["fixed and slow points", "a filler in its place", "after 'not'", "the modifier's step"]
    np.testing.assert_allclose(xy(t["fixed and slow points"]), fp_pc[:, :2], rtol=1e-6)  # float32 on the wire
    np.testing.assert_array_equal(xy(t["a filler in its place"]), base)
    np.testing.assert_array_equal(xy(t["after 'not'"]), path[1:])
    np.testing.assert_array_equal(xy(t["the modifier's step"]), path[:2])
    assert t["the modifier's step"]["customdata"] == ["end of the context", "after not"]
    assert t["a filler in its place"]["customdata"][1:3] == ["after a filler in its place",
                                                            "1 filler after a filler in its place"]
    assert t["a filler in its place"]["customdata"][-1] == "6 fillers after a filler in its place"
    assert "back to 1/e in 4 tokens" in sent(fig)["layout"]["title"]["text"]
    assert "more tokens than measured" in sent(figs.modifier_deflection(fp_pc, path, base, "not", decay_tokens=-1))[
        "layout"]["title"]["text"]
    go.Figure(sent(fig))  # valid plotly


def test_the_word_is_escaped_and_malformed_arrays_refused(paths):
    fp_pc, path, base = paths
    page = json.dumps(sent(figs.modifier_deflection(fp_pc, path, base, HOSTILE)))
    page += json.dumps(sent(figs.modifier_profile([0.5, 0.9], [np.nan, np.nan], HOSTILE)))
    assert HOSTILE not in page and "&lt;img src=x onerror=alert(1)&gt;" in page
    with pytest.raises(ValueError, match="the same number of points"):
        figs.modifier_deflection(fp_pc, path[:-1], base, "not")
    with pytest.raises(ValueError, match="2 columns"):
        figs.modifier_deflection(fp_pc, np.zeros((8, 3)), base, "not")
    with pytest.raises(ValueError, match="ratio_linear must have 3"):
        figs.modifier_profile([1.0, 1.0, 1.0], [1.0], "not")
    empty = figs.modifier_deflection(np.zeros((0, 3)), path, base, "not")  # no points: the paths alone
    assert len(traces(empty)["fixed and slow points"]["x"]) == 0


def test_the_profile_draws_both_ratios_and_only_measured_linear_ones():
    fig = figs.modifier_profile([-0.9, -1.0, -0.8, -0.6, 1.0], [-0.2, -0.1, -0.2, -0.3, 0.9], "not")
    t = traces(fig)
    assert t["readout ratio"]["y"] == [-0.9, -1.0, -0.8, -0.6, 1.0] and t["readout ratio"]["x"] == [1, 2, 3, 4, 5]
    assert t["linearized ratio"]["y"] == [-0.2, -0.1, -0.2, -0.3, 0.9]
    assert [s["y0"] for s in sent(fig)["layout"]["shapes"]] == [1.0, 0.0]
    go.Figure(sent(fig))
    screened = traces(figs.modifier_profile([1.4, 1.0], [np.nan, np.nan], "very"))  # a word only screened
    assert list(screened) == ["readout ratio"]
