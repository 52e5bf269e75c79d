"""Selecting a fixed point costs no eigendecomposition, and its J_inp is bounded by size.

A click used to run ``eigenmodes_at``: the full eigendecomposition of the D x D Jacobian
(~25·D³ flops: 13.5 s of one core for the eigenvalues alone at D = 2,048, minutes for an
LSTM with H = 4,096) in a web thread (issue 11 item 8). Now the spectrum is the report's
(the analysis job decomposed J_rec at the same point) and only J_inp is computed, up to
``Settings.click_max_state`` (``RNNSCOPE_CLICK_MAX_STATE``); above it Fig. 4a says why it
is empty. The tiny real GRU (D = 16) is used with the limit lowered below its size.
"""
from __future__ import annotations

import dataclasses
import json

import numpy as np
import plotly.utils
import pytest
from dash import no_update

from rnnscope.app.callbacks import fixed_points
from rnnscope.app.services import Services
from rnnscope.settings import Settings
from tests.app.tiny import TINY_PARAMS, active_env


@pytest.fixture(scope="module")
def tiny(rnnscope_home, tmp_path_factory):
    with active_env(tmp_path_factory.mktemp("tiny-click"), rnnscope_home) as env:
        yield env


def services(limit: int | None = None) -> Services:
    settings = Settings.from_env()
    if limit is not None:
        settings = dataclasses.replace(settings, click_max_state=limit)
    return Services(settings, analysis_params=dict(TINY_PARAMS))


def test_a_click_reads_the_spectrum_from_the_report_and_computes_only_j_inp(tiny):
    from rnnscope.analysis.linearize import jacobians_at, time_constants

    svc = services()
    report, net = svc.report(tiny.key), svc.model_of(tiny.key).net
    points, eigvals = report.arrays["fixed_points"], report.arrays["eigvals"]
    assert len(points) >= 2 and net.state_size <= svc.settings.click_max_state
    for k in range(len(points)):
        modes = svc.point_modes(tiny.key, k)
        # the job's numbers bit for bit (a new decomposition differs in the last digits: ~1e-15)
        assert np.array_equal(modes.eigvals, eigvals[k]) and modes.eigvals.dtype == np.complex128
        assert np.array_equal(modes.tau, time_constants(eigvals[k]))
        np.testing.assert_array_equal(modes.j_inp, jacobians_at(net, points[k][None])[1][0])
        assert modes.mode == report.arrays["mode_index"][k]


@pytest.mark.parametrize("limit", [8, 15])
def test_above_the_click_limit_no_jacobian_is_computed_and_fig_4a_says_why(tiny, limit):
    svc = services(limit)
    report = svc.report(tiny.key)
    D, last = report.arrays["fixed_points"].shape[1], len(report.arrays["fixed_points"]) - 1
    assert D == 16 > limit
    modes = svc.point_modes(tiny.key, last)
    assert modes.j_inp is None and svc.word_effects(tiny.key, last) is None
    assert np.array_equal(modes.eigvals, report.arrays["eigvals"][last])  # the spectra are still shown
    figs = fixed_points.report_figures(svc, {"key": tiny.key})
    words = json.dumps(figs[4], cls=plotly.utils.PlotlyJSONEncoder, ensure_ascii=False)
    assert f"D = 16 dimensions, more than the {limit:,} a click may take (RNNSCOPE_CLICK_MAX_STATE)" in words
    assert not figs[4]["data"]
    patches = fixed_points.select_point(svc, {"key": tiny.key, "index": last})
    assert patches[5] is no_update  # Fig. 4a keeps its words; the other views follow the click
    assert all(p is not no_update for i, p in enumerate(patches) if i != 5)


def test_at_the_limit_the_jacobian_is_computed():
    """The bound is inclusive (D <= click_max_state); the default is 2,048."""
    assert Settings.from_env({}).click_max_state == 2048
    assert Settings.from_env({"RNNSCOPE_CLICK_MAX_STATE": "16"}).click_max_state == 16
    for bad in ("0", "-3", "many"):
        with pytest.raises(ValueError, match="RNNSCOPE_CLICK_MAX_STATE"):
            Settings.from_env({"RNNSCOPE_CLICK_MAX_STATE": bad})


def test_the_limit_reaches_a_real_server(tiny, tmp_path):
    """``RNNSCOPE_CLICK_MAX_STATE=8`` in the environment of ``rnnscope serve``: the page says
    why Fig. 4a is empty, and a click on another point is answered (HTTP 200)."""
    from rnnscope.bench.load import DashClient
    from tests.security.conftest import serve, server_env

    with serve(server_env(tiny, RNNSCOPE_CLICK_MAX_STATE="8"), tmp_path / "server.log") as server:
        client = DashClient(server.url)
        seen = client.initial_callbacks()
        assert "more than the 8 a click may take" in json.dumps(seen["fig-input-effects.figure"])
        last = len(services().report(tiny.key).arrays["fixed_points"]) - 1
        updates = client.fire({"selected-fp-store.data": {"key": tiny.key, "index": last}})
        assert f"fixed point #{last}" in json.dumps(updates["fp-summary.children"], ensure_ascii=False)
        assert "fig-input-effects.figure" not in updates and "fig-eigvals.figure" in updates
        assert "Traceback" not in server.log_text()
