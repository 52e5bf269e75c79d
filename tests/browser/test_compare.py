"""Compare models in real headless Chromium (issue 12 item 9).

The tiny GRU demo (``tests/app/tiny.py``, analysed on MR) and a tiny LSTM uploaded through
the page as ``my-lstm.safetensors`` (its analysis runs as a real background job). The
comparison must put both on one scale for the word sets (the readout change of a word's
push as a share of each model's logit range, ``rnnscope.analysis.projections.readout_share``, not
ℓ1ᵀ J_inp x in state units), say so, give every series a colour of its own, and name the
upload by its file name.
"""
from __future__ import annotations

import numpy as np
import pytest

from rnnscope.app import ids
from rnnscope.app.dashboard import create_app
from rnnscope.app.figures.summary import WORD_SHARE_NOTE
from rnnscope.settings import Settings
from tests.app.tiny import TINY_PARAMS, active_env, train_tiny
from tests.browser.test_dashboard import TIMEOUT, upload, wait_for, wait_for_job

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def tiny(rnnscope_home, tmp_path_factory):
    with active_env(tmp_path_factory.mktemp("tiny-compare"), rnnscope_home) as env:
        yield env


def compare_traces(duo) -> list[dict]:
    """Name, x, y, marker colour and y axis of each trace of the comparison, as drawn."""
    return duo.driver.execute_script("""
        const gd = document.querySelector('#' + arguments[0] + ' .js-plotly-plot');
        if (!gd || !gd._fullData) { return []; }
        const plain = (v) => (v == null ? null : Array.from(v));
        return gd._fullData.map(t => ({name: t.name, x: plain(t.x), y: plain(t.y), color: t.marker.color,
                                       yaxis: t.yaxis}));
    """, ids.FIG_COMPARE)


def axis_title(duo, axis: str) -> str:
    return duo.driver.execute_script("""
        const gd = document.querySelector('#' + arguments[0] + ' .js-plotly-plot');
        return gd._fullLayout[arguments[1]].title.text;
    """, ids.FIG_COMPARE, axis)


def expected_shares(report) -> dict[str, float]:
    """The word sets' mean logit change per word over the points' logit range, from the arrays."""
    a = report.arrays
    w = a["readout"].astype(np.float64)
    span = np.ptp(a["fixed_points"].astype(np.float64) @ w)
    share = a["input_projection"].astype(np.float64) * (a["r1"].astype(np.float64) @ w)[:, None] / span
    return {name: float(share[:, a["word_valence"] == code].mean())
            for name, code in (("positive", 1), ("negative", -1), ("neutral", 0))}


def test_compare_puts_models_on_one_scale_says_which_and_names_uploads(dash_duo, tiny, tmp_path):
    app = create_app(Settings.from_env(), analysis_params=dict(TINY_PARAMS))
    dash_duo.start_server(app)
    duo, svc = dash_duo, app.rnnscope_services
    duo.wait_for_contains_text(f"#{ids.JOB_STATUS}", "GRU-16 on mr", timeout=TIMEOUT)

    path = tmp_path / "my-lstm.safetensors"
    sha = train_tiny(path, arch="lstm", seed=3, epochs=2)
    upload(duo, path)
    wait_for_job(duo, "LSTM-16 on mr")
    lstm, gru = svc.report(svc.stored_analysis(sha, "mr")), svc.report(tiny.key)

    # the upload is named by its file name, the demo by its architecture
    wait_for(duo, lambda: any("my-lstm mr" in (t["x"] or []) for t in compare_traces(duo)),
             message=f"the upload is not labelled by its file name: {compare_traces(duo)[:1]}")
    duo.wait_for_contains_text(f"#{ids.COMPARE_TABLE}", "my-lstm mr", timeout=TIMEOUT)
    traces = compare_traces(duo)
    labels = traces[0]["x"]
    assert "GRU-16 mr" in labels and "LSTM-16 mr" not in labels

    # the word panel: each model's readout change per word over its own logit range
    for name in ("positive", "negative", "neutral"):
        drawn = next(t for t in traces if t["name"] == name)
        for label, report in (("my-lstm mr", lstm), ("GRU-16 mr", gru)):
            assert drawn["y"][labels.index(label)] == pytest.approx(expected_shares(report)[name], rel=1e-4), \
                (name, label)
    word_axis = "yaxis" + next(t for t in traces if t["name"] == "positive")["yaxis"][1:]
    assert "logit range" in axis_title(duo, word_axis)
    assert WORD_SHARE_NOTE[:80] in duo.find_element("#compare").text

    # one colour, one meaning
    by_colour: dict[str, set[str]] = {}
    for t in traces:
        by_colour.setdefault(str(t["color"]).lower(), set()).add(t["name"])
    assert all(len(names) == 1 for names in by_colour.values()), by_colour
    assert duo.get_logs() == []
