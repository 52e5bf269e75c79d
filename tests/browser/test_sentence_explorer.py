"""The sentence explorer in real headless Chromium: the trajectory drawn on the analysis's
points with the readout's zero line (in the legend), one colour scale for every sentence,
each token's push in bars, and the account in words of what moved the readout.

Numbers are recomputed from the network (``expected_split``), not read from the dashboard.
"""
from __future__ import annotations

import numpy as np
import pytest

from rnnscope.app import ids
from tests.app.test_sentence_explorer import expected_split
from tests.browser.test_dashboard import TIMEOUT, page, tiny, trace, type_text, wait_for  # noqa: F401 (fixtures)

pytestmark = pytest.mark.browser


def full_data(duo, graph_id: str) -> dict:
    """What plotly drew: each trace's name, legend flag, x, y and marker colours, and the
    colour axis range (``_fullData`` / ``_fullLayout``, after plotly's defaults)."""
    return duo.driver.execute_script("""
        const gd = document.querySelector('#' + arguments[0] + ' .js-plotly-plot');
        if (!gd || !gd._fullData) { return null; }
        const plain = (v) => (v == null ? null : (typeof v === 'object' && v.length !== undefined ? Array.from(v) : v));
        const axis = gd._fullLayout.coloraxis || {};
        return {traces: gd._fullData.map(t => ({name: t.name || '', legend: t.showlegend !== false,
                                                x: plain(t.x), y: plain(t.y), customdata: plain(t.customdata),
                                                color: plain(t.marker && t.marker.color)})),
                cmin: axis.cmin === undefined ? null : axis.cmin,
                cmax: axis.cmax === undefined ? null : axis.cmax};
    """, graph_id)


def run_sentence(duo, text: str, n_tokens: int) -> None:
    type_text(duo, f"#{ids.SENTENCE_INPUT}", text)
    duo.find_element(f"#{ids.SENTENCE_RUN}").click()
    wait_for(duo, lambda: (trace(duo, ids.FIG_SENTENCE_TRAJ, "tokens") or {}).get("customdata")
             == list(range(n_tokens)), message=f"no trajectory for {text!r}")


def test_not_bad_at_all_is_explained_on_the_screen(page, tiny):
    duo, app = page
    svc = app.rnnscope_services
    model, arrays = svc.model(tiny.sha), svc.report(tiny.key).arrays
    text = "not bad at all"
    tokens = model.tokenizer(text)
    want = expected_split(model, text)
    run_sentence(duo, text, len(tokens))

    # the trajectory sits on the analysis's points, with the readout's zero line, all in the legend
    drawn = full_data(duo, ids.FIG_SENTENCE_TRAJ)
    legend = {t["name"] for t in drawn["traces"] if t["legend"]}
    n_fixed = int(arrays["point_is_fixed"].sum())
    assert {f"fixed points ({n_fixed})", "readout = 0", "readout", "initial state", "tokens"} <= legend, legend
    points = next(t for t in drawn["traces"] if t["name"] == f"fixed points ({n_fixed})")
    fixed = np.flatnonzero(arrays["point_is_fixed"])
    np.testing.assert_allclose(points["x"], arrays["fp_pc"][fixed, 0], rtol=1e-5, atol=1e-6)
    zero = next(t for t in drawn["traces"] if t["name"] == "readout = 0")
    # on the zero line of the plane: readout_pc · p = −(w·mean + b) / |w|
    w, mean = arrays["readout"].astype(np.float64), arrays["state_pca_mean"].astype(np.float64)
    offset = -(w @ mean + arrays["readout_bias"][0]) / np.linalg.norm(w)
    np.testing.assert_allclose(np.c_[zero["x"], zero["y"]] @ arrays["readout_pc"].astype(np.float64),
                               offset, rtol=1e-4, atol=1e-4)
    pushes = [t for t in drawn["traces"] if t["name"].startswith("token pushed toward")]
    assert sum(len(t["x"]) // 3 for t in pushes) == len(tokens)  # one arrow per token
    # colour: P(positive) of the network's readout, on the fixed [0, 1] scale
    tok = next(t for t in drawn["traces"] if t["name"] == "tokens")
    np.testing.assert_allclose(tok["color"], 1 / (1 + np.exp(-want["logit"])), atol=1e-5)
    assert (drawn["cmin"], drawn["cmax"]) == (0, 1)

    # the bars: each token's push and the zero-input drift, as the network gives them
    wait_for(duo, lambda: trace(duo, ids.FIG_SENTENCE_STEPS, "token's push") is not None,
             message="no per-token readout bars")
    np.testing.assert_allclose(trace(duo, ids.FIG_SENTENCE_STEPS, "token's push")["y"], want["push"], atol=1e-5)
    np.testing.assert_allclose(trace(duo, ids.FIG_SENTENCE_STEPS, "zero-input drift")["y"], want["drift"],
                               atol=1e-5)

    # the words: the verdict, the token that pushed most and by how much, what the drift did
    final = want["logit"][-1]
    side = "positive" if final > 0 else "negative"
    duo.wait_for_contains_text(f"#{ids.SENTENCE_ACCOUNT}", f"Ends {side}: readout {final:+.2f}", timeout=TIMEOUT)
    words = duo.find_element(f"#{ids.SENTENCE_ACCOUNT}").text
    largest = int(np.argmax(np.abs(want["push"])))
    assert f"“{tokens[largest]}” (token {largest + 1}) {want['push'][largest]:+.2f}" in words, words
    assert f"all {len(tokens)} together {want['push'].sum():+.2f}" in words, words
    assert f"moved it by {want['drift'].sum():+.2f} in all" in words, words
    after = want["drift"][largest + 1:].sum()
    assert f"moved the readout by {after:+.2f} up to the end" in words, words
    assert duo.get_logs() == []


def test_the_colour_scale_stays_fixed_from_one_sentence_to_the_next(page, tiny):
    duo, app = page
    model = app.rnnscope_services.model(tiny.sha)
    ranges = []
    for text in ("not bad at all", "a wonderful , moving and beautifully acted film"):
        n = len(model.tokenizer(text))
        run_sentence(duo, text, n)
        want = expected_split(model, text)
        drawn = full_data(duo, ids.FIG_SENTENCE_TRAJ)
        tok = next(t for t in drawn["traces"] if t["name"] == "tokens")
        np.testing.assert_allclose(tok["color"], 1 / (1 + np.exp(-want["logit"])), atol=1e-5)
        ranges.append((drawn["cmin"], drawn["cmax"]))
    # different sentences, different readout ranges: the same colour scale
    assert ranges == [(0, 1), (0, 1)]
    assert duo.get_logs() == []
