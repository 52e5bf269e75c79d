"""Log axes label every tick with its whole value (``rnnscope.app.figures.style.log_ticks``; issue 12 item 8).

plotly's own log ticks label the steps inside a decade with bare digits ("7 8 9 0.1 2 3 …");
``tests/browser/test_legibility.py`` reads the labels Chromium draws. Here: which tick rule
each span of data gets, and that every figure with a log axis uses it.
"""
from __future__ import annotations

import numpy as np
import pytest

from rnnscope.app import figures as F
from rnnscope.app.figures import style
from rnnscope.app.figures.attractor import attractor_evidence_of
from rnnscope.app.figures.linearization import error_variants
from rnnscope.app.figures.synthetic import synthetic_report


@pytest.mark.parametrize("values, expected", [
    ([0.3, 0.9], {"type": "log"}),                                    # under 0.8 decade: plotly's, labelled in full
    ([0.07, 1.2], {"type": "log", "dtick": "D2", "minorloglabels": "complete"}),  # 1.2 decades: 1, 2, 5
    ([70.0, 7000.0], {"type": "log", "dtick": "D2", "minorloglabels": "complete"}),  # 2 decades
    ([1e-12, 1e-3], {"type": "log", "dtick": 2, "exponentformat": "power", "minorloglabels": "none"}),  # 9 decades
    ([1.0, 1e5], {"type": "log", "dtick": 1, "exponentformat": "power", "minorloglabels": "none"}),  # 5 decades
])
def test_the_tick_rule_follows_the_span_in_decades(values, expected):
    assert style.log_ticks(np.array(values)) == expected


def test_zero_negative_and_non_finite_values_are_ignored():
    assert style.log_ticks([0.0, -5.0, np.inf, np.nan, 0.07, 1.2]) == style.log_ticks([0.07, 1.2])
    assert style.log_ticks([0.0, np.nan]) == {"type": "log"}
    assert style.log_ticks() == {"type": "log"}
    assert style.log_ticks([0.07], [1.2]) == style.log_ticks([0.07, 1.2])  # arrays are pooled


def test_many_decades_give_at_most_max_labels():
    for hi in range(3, 40):
        ticks = style.log_ticks([1.0, 10.0 ** hi])
        assert hi / ticks["dtick"] + 1 <= style.LOG_MAX_LABELS + 1


@pytest.fixture(scope="module")
def report():
    return synthetic_report(n_points=60, state_size=16, embed_dim=8, n_words=30, bins=20)


def test_every_log_axis_of_the_figures_uses_the_rule(report):
    s, a = report
    tau_all = np.abs(1 / np.log(np.abs(a["eigvals"][0])))
    cases = [
        (F.top_time_constants(a["theta"], a["tau_top3"]).layout.yaxis, style.log_ticks(a["tau_top3"])),
        (F.time_constants([tau_all]).layout.yaxis, style.log_ticks(tau_all)),
        (F.linearization_error_hist(a["one_step_rel_error"], variants=error_variants(a)).layout.xaxis,
         style.log_ticks(a["one_step_rel_error"], *error_variants(a).values())),
        (attractor_evidence_of(s, a).layout.xaxis3, style.log_ticks(a["attractor_curve_steps"])),
        (attractor_evidence_of(s, a).layout.yaxis3,
         style.log_ticks(a["attractor_curve_extent"], a["attractor_curve_inner"])),
        (F.summary_figure(s, a).layout.yaxis4, style.log_ticks(a["tau_top3"])),
    ]
    for axis, ticks in cases:
        assert axis.type == "log"
        for name in ("dtick", "minorloglabels", "exponentformat"):
            assert getattr(axis, name) == ticks.get(name), (name, axis)
