"""The model comparison (``rnnscope.app.figures.compare_models``; issue 12 item 9): one colour per
meaning, the word sets on a per-model scale that the figure names, log axes labelled in full."""
from __future__ import annotations

import math

import numpy as np
import pytest

from rnnscope.app import figures as F
from rnnscope.app.figures import style
from rnnscope.app.figures.summary import COMPARE_PANELS, WORD_SHARE_TITLE
from tests.summaries import typed

A = typed({"model": {"arch": "lstm", "hidden_size": 64}, "data": {"name": "imdb"},
     "accuracy": {"test": 0.86}, "spectra": {"tau1_median": 900.0, "tau2_median": 12.0},
     "projections": {"mean_positive": 25.0, "mean_negative": -24.0, "mean_neutral": 0.3}})
B = typed({"model": {"arch": "gru", "hidden_size": 64}, "data": {"name": "tweets"},
     "accuracy": {"test": 0.75}, "spectra": {"tau1_median": 40.0, "tau2_median": 3.0},
     "projections": {"mean_positive": 0.14, "mean_negative": -0.13, "mean_neutral": 0.001}})


def test_every_series_has_a_colour_of_its_own():
    fig = F.compare_models([A, B])
    colours = [t.marker.color.lower() for t in fig.data]
    assert len(colours) == sum(len(series) for _, _, series in COMPARE_PANELS) == len(set(colours))
    assert {t.legendgrouptitle.text for t in fig.data} == {title for title, _, _ in COMPARE_PANELS}


def test_the_word_panel_shows_the_shares_given_and_says_what_they_are():
    shares = [{"positive": 0.08, "negative": -0.06, "neutral": 0.001},
              {"positive": 0.12, "negative": -0.09}]
    fig = F.compare_models([A, B], ["my-lstm imdb", "GRU-64 tweets"], shares)
    positive = next(t for t in fig.data if t.name == "positive")
    np.testing.assert_allclose(positive.y, [0.08, 0.12])  # not the raw 25 and 0.14
    np.testing.assert_allclose(positive.customdata, [25.0, 0.14])  # the raw means, on hover
    assert "state units" in positive.hovertemplate
    neutral = next(t for t in fig.data if t.name == "neutral")
    assert neutral.y[0] == 0.001 and math.isnan(neutral.y[1])  # missing: a gap
    axis = fig.layout["yaxis" + positive.yaxis[1:]]
    assert "logit range" in axis.title.text
    assert fig.layout.annotations[[p[0] for p in COMPARE_PANELS].index(WORD_SHARE_TITLE)].text == WORD_SHARE_TITLE
    no_shares = next(t for t in F.compare_models([A, B]).data if t.name == "positive")
    assert all(math.isnan(v) for v in no_shares.y)
    with pytest.raises(ValueError, match="word shares"):
        F.compare_models([A, B], word_shares=shares[:1])


def test_a_summary_missing_a_field_is_an_error_not_a_gap():
    from rnnscope.analysis.summary import SummaryError

    broken = A.to_dict()
    del broken["spectra"]["tau1_median"]
    with pytest.raises(SummaryError, match="spectra.tau1_median"):
        F.compare_models([broken, B])


def test_log_panels_use_whole_number_ticks():
    fig = F.compare_models([A, B])
    tau = next(t for t in fig.data if t.name == "τ1")
    axis = fig.layout["yaxis" + tau.yaxis[1:]]
    assert axis.type == "log" and axis.dtick == style.log_ticks([900.0, 40.0, 12.0, 3.0]).get("dtick")
