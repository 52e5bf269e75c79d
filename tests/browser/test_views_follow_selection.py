"""Every view shows the selected model's report or says that none is ready (issue 12 item 2).

In real headless Chromium on the tiny GRU demo (analysed on MR, ``tests/app/tiny.py``): a
second checkpoint is uploaded, which selects it and starts its analysis; Cancel stops that
job. The views must then not go on showing the GRU's figures under the other model's name.
"""
from __future__ import annotations

import numpy as np
import pytest
from selenium.webdriver.common.by import By

from rnnscope.app import ids
from rnnscope.app.dashboard import create_app
from rnnscope.app.layout import NO_REPORT
from rnnscope.settings import Settings
from tests.app.tiny import TINY_PARAMS, active_env
from tests.browser.test_dashboard import TIMEOUT, graph_data, trace, upload, wait_for

pytestmark = pytest.mark.browser

#: Graphs that must draw the report on screen (the page may hold more: ``report_graphs``).
REPORT_GRAPHS = (ids.FIG_PCA, ids.FIG_STATE_DENSITY, ids.FIG_MANIFOLD, ids.FIG_ATTRACTOR, ids.FIG_EIGVALS,
                 ids.FIG_TAU_ALL, ids.FIG_TAU_THETA, ids.FIG_INPUT_EFFECTS, ids.FIG_R1_MANIFOLD,
                 ids.FIG_PROJECTION_HIST, ids.FIG_R1_OVERLAP, ids.FIG_SENTENCE_TRAJ, ids.FIG_LINEARIZATION)


def report_graphs(duo) -> list[str]:
    """Every graph on the page but the comparison (which draws all stored reports) and the
    population map (which draws the sweeps in the store, not the selected model)."""
    found = duo.driver.execute_script(
        "return Array.from(document.querySelectorAll('.dash-graph')).map(g => g.id);")
    assert set(REPORT_GRAPHS) <= set(found), set(REPORT_GRAPHS) - set(found)
    return [g for g in found if g not in (ids.FIG_COMPARE, ids.FIG_POPULATION)]


@pytest.fixture(scope="module")
def tiny(rnnscope_home, tmp_path_factory):
    with active_env(tmp_path_factory.mktemp("tiny-selection"), rnnscope_home) as env:
        yield env


def notes(duo, graph_id: str) -> list[str]:
    """The annotation texts of a graph's layout (a placeholder says why it is empty)."""
    return duo.driver.execute_script("""
        const gd = document.querySelector('#' + arguments[0] + ' .js-plotly-plot');
        return gd && gd.layout && gd.layout.annotations ? gd.layout.annotations.map(a => a.text) : [];
    """, graph_id)


def text_of(duo, component_id: str) -> str:
    return duo.find_element(f"#{component_id}").text


def choose(duo, dropdown_id: str, label: str) -> None:
    """Open a dropdown and click the option whose text is ``label`` (as written, not as styled)."""
    duo.find_element(f"#{dropdown_id}").click()
    wait_for(duo, lambda: duo.driver.find_elements(By.CSS_SELECTOR, ".dash-dropdown-option"))
    option = next(o for o in duo.driver.find_elements(By.CSS_SELECTOR, ".dash-dropdown-option")
                  if o.get_attribute("textContent").strip() == label)
    option.click()


def wide_untrained(like, path, hidden: int = 384) -> str:
    """An untrained UGRNN with ``hidden`` units and the tiny model's vocabulary, saved to
    ``path``; -> its sha256. Its analysis takes many seconds (eigendecompositions of
    384 x 384 Jacobians at every point), so a Cancel always reaches the job before it ends;
    the tiny models' analyses finished in about a second, and a fast machine could finish
    one before the click arrived (seen once in CI)."""
    import torch

    from rnnscope.analysis import checkpoint
    from rnnscope.analysis.model import Model, RNNClassifier

    base = checkpoint.load(like)
    torch.manual_seed(7)
    net = RNNClassifier("ugrnn", base.net.embedding.num_embeddings, base.net.embed_dim, hidden)
    return checkpoint.save(Model(net, base.vocab, base.tokenizer, provenance={"command": "untrained"}), path)


def test_after_cancel_no_view_shows_the_previous_models_report(dash_duo, tiny, tmp_path):
    app = create_app(Settings.from_env(), analysis_params=dict(TINY_PARAMS))
    dash_duo.start_server(app)
    duo, svc = dash_duo, app.rnnscope_services
    duo.wait_for_contains_text(f"#{ids.JOB_STATUS}", "GRU-16 on mr", timeout=TIMEOUT)
    wait_for(duo, lambda: trace(duo, ids.FIG_MANIFOLD, "fixed points") is not None)

    path = tmp_path / "other-ugrnn.safetensors"
    other = wide_untrained(tiny.checkpoint, path)  # not analysed in this store
    assert svc.stored_analysis(other, "mr") is None
    upload(duo, path)  # selects it and starts its analysis
    cancel = duo.find_element(f"#{ids.JOB_CANCEL}")
    wait_for(duo, lambda: cancel.is_enabled(), message="the analysis job never started")
    cancel.click()
    duo.wait_for_contains_text(f"#{ids.JOB_ALERT}", "Analysis cancelled", timeout=TIMEOUT)
    # the job really was cancelled (had it finished, the views would rightly show its report)
    assert svc.stored_analysis(other, "mr") is None
    assert "ugrnn" in text_of(duo, ids.MODEL_CARD)  # the upload is selected

    for graph in report_graphs(duo):
        wait_for(duo, lambda g=graph: graph_data(duo, g) == [] and NO_REPORT in notes(duo, g),
                 message=f"{graph} still draws another model's report: {notes(duo, graph)}")
    status = text_of(duo, ids.JOB_STATUS)
    assert "GRU-16" not in status and "no report ready" in status
    assert "no fixed point selected" in text_of(duo, ids.FP_SUMMARY)
    assert NO_REPORT in text_of(duo, ids.ATTRACTOR_VERDICT)
    assert text_of(duo, ids.LINEARIZATION_SUMMARY) == ""
    assert duo.driver.find_elements(By.CSS_SELECTOR, f"#{ids.COMPARE_TABLE} tr.current") == []
    assert "Select a fixed point" in text_of(duo, ids.WORD_RESULT)

    # back to the demo: its stored report is on screen again, in every view
    choose(duo, ids.MODEL_SELECT, "GRU · MR (demo)")
    duo.wait_for_contains_text(f"#{ids.JOB_STATUS}", "GRU-16 on mr", timeout=TIMEOUT)
    wait_for(duo, lambda: trace(duo, ids.FIG_MANIFOLD, "fixed points") is not None)
    points = trace(duo, ids.FIG_MANIFOLD, "fixed points")
    np.testing.assert_allclose(points["x"], svc.report(tiny.key).arrays["fp_pc"][:, 0], rtol=1e-5, atol=1e-6)
    for graph in report_graphs(duo):
        if graph in REPORT_GRAPHS:
            wait_for(duo, lambda g=graph: len(graph_data(duo, g)) > 0, message=f"{graph} stays empty")
        else:  # views that may not apply to this report (modifiers found, C > 2 classes) say why in words
            wait_for(duo, lambda g=graph: len(graph_data(duo, g)) > 0 or (notes(duo, g) and NO_REPORT not in notes(duo, g)),
                     message=f"{graph} neither draws this report nor says why: {notes(duo, graph)}")
    assert duo.get_logs() == []
