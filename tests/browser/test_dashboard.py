"""The dashboard in real headless Chromium (``dash_duo``), on a tiny real model.

The page starts with the bundled demo (here: the tiny GRU of ``tests/app/tiny.py``, already
analysed in a temporary store), and the tests drive it as a user would: click a fixed
point, type a sentence, upload a checkpoint (which runs a real background analysis job
with small parameters) and upload hostile files.
"""
from __future__ import annotations

import numpy as np
import pytest
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

from rnnscope.app import ids
from rnnscope.app.dashboard import create_app
from rnnscope.settings import Settings
from tests.app.tiny import TINY_PARAMS, active_env, train_tiny

pytestmark = pytest.mark.browser

TIMEOUT = 60  # seconds for a view to update (a full tiny analysis takes longer: JOB_TIMEOUT)
JOB_TIMEOUT = 300


@pytest.fixture(scope="module")
def tiny(rnnscope_home, tmp_path_factory):
    with active_env(tmp_path_factory.mktemp("tiny-browser"), rnnscope_home) as env:
        yield env


@pytest.fixture
def page(dash_duo, tiny):
    app = create_app(Settings.from_env(), analysis_params=dict(TINY_PARAMS))
    dash_duo.start_server(app)
    dash_duo.wait_for_contains_text(f"#{ids.FP_SUMMARY}", "fixed point #", timeout=TIMEOUT)
    return dash_duo, app


def graph_data(duo, graph_id: str) -> list[dict]:
    """The traces a graph holds in the page: name, x, y, customdata (plain lists)."""
    return duo.driver.execute_script("""
        const gd = document.querySelector('#' + arguments[0] + ' .js-plotly-plot');
        if (!gd || !gd._fullData) { return []; }
        // _fullData holds the decoded arrays (gd.data may keep base64 "bdata" specs)
        const plain = (v) => (v == null ? null : Array.from(v));
        return gd._fullData.map(t => ({name: t.name || '', x: plain(t.x), y: plain(t.y),
                                       customdata: plain(t.customdata)}));
    """, graph_id)


def trace(duo, graph_id: str, name: str) -> dict | None:
    return next((t for t in graph_data(duo, graph_id) if t["name"] == name), None)


def wait_for(duo, condition, timeout=TIMEOUT, message=""):
    from dash.testing.wait import until

    return until(condition, timeout, msg=message)


def wait_for_job(duo, status: str, timeout=JOB_TIMEOUT) -> None:
    """Wait until the top bar names the report ``status`` (e.g. "GRU-16 on mr"); a job that
    fails instead fails the test at once with the error the page shows."""
    def done():
        error = duo.driver.find_elements(By.CSS_SELECTOR, f"#{ids.JOB_ALERT} .alert.error")
        if error:
            pytest.fail(f"the analysis job failed: {error[0].text}")
        return status in duo.find_element(f"#{ids.JOB_STATUS}").text

    wait_for(duo, done, timeout=timeout, message=f"no '{status}' within {timeout} s")


def type_text(duo, selector: str, text: str) -> None:
    """Replace the text of an input or textarea as a user would (select all, type)."""
    box = duo.find_element(selector)
    ActionChains(duo.driver).click(box).key_down(Keys.CONTROL).send_keys("a").key_up(Keys.CONTROL) \
        .send_keys(Keys.DELETE).send_keys(text).perform()


def upload(duo, path) -> None:
    box = duo.driver.find_element(By.CSS_SELECTOR, f"#{ids.UPLOAD} input[type=file]")
    box.send_keys(str(path))


def test_page_loads_with_the_demo_model_analysed(page, tiny):
    duo, app = page
    report = app.rnnscope_services.report(tiny.key)
    k = len(report.arrays["fixed_points"])
    wait_for(duo, lambda: trace(duo, ids.FIG_MANIFOLD, "fixed points") is not None)
    points = trace(duo, ids.FIG_MANIFOLD, "fixed points")
    assert points["customdata"] == list(range(k))
    np.testing.assert_allclose(points["x"], report.arrays["fp_pc"][:, 0], rtol=1e-5, atol=1e-6)
    assert "gru" in duo.find_element(f"#{ids.MODEL_CARD}").text
    assert "GRU-16 on mr" in duo.find_element(f"#{ids.JOB_STATUS}").text
    for graph in (ids.FIG_PCA, ids.FIG_STATE_DENSITY, ids.FIG_EIGVALS, ids.FIG_PROJECTION_HIST,
                  ids.FIG_LINEARIZATION, ids.FIG_COMPARE):
        wait_for(duo, lambda g=graph: len(graph_data(duo, g)) > 0, message=f"{graph} stays empty")
    assert duo.get_logs() == []


def test_attractor_verdict_is_said_in_words_beside_the_manifold(page, tiny):
    """The verdict of the report, in words, with its evidence figure (three panels)."""
    duo, app = page
    summary = app.rnnscope_services.report(tiny.key).summary
    name = summary["attractor"]["name"]
    duo.wait_for_contains_text(f"#{ids.ATTRACTOR_VERDICT}", name.capitalize(), timeout=TIMEOUT)
    text = duo.find_element(f"#{ids.ATTRACTOR_VERDICT}").text
    assert summary["attractor"]["text"][:60] in text
    assert f"{summary['fixed_points']['n_fixed']} fixed + {summary['fixed_points']['n_slow']} slow" in text
    wait_for(duo, lambda: trace(duo, ids.FIG_ATTRACTOR, "extent") is not None)
    extent = trace(duo, ids.FIG_ATTRACTOR, "extent")
    a = app.rnnscope_services.report(tiny.key).arrays
    np.testing.assert_allclose(extent["y"], a["attractor_curve_extent"], rtol=1e-5)
    assert name in duo.find_element(f"#{ids.JOB_STATUS}").text  # the top bar says it too
    assert duo.get_logs() == []


def test_clicking_a_fixed_point_updates_the_spectrum(page, tiny):
    duo, app = page
    report = app.rnnscope_services.report(tiny.key)
    wait_for(duo, lambda: trace(duo, ids.FIG_EIGVALS, "unit circle") is not None)
    before = duo.find_element(f"#{ids.FP_SUMMARY}").text
    markers = duo.driver.find_elements(By.CSS_SELECTOR, f"#{ids.FIG_MANIFOLD} .scatterlayer .trace:first-child .point")
    pc = np.asarray(report.arrays["fp_pc"][:, :2], np.float64)
    default = int(before.split("#")[1].split()[0])
    target = int(np.argmax(np.linalg.norm(pc - pc[default], axis=1)))  # far from the selection
    duo.driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", markers[target])
    ActionChains(duo.driver).move_to_element(markers[target]).pause(0.2).click().perform()
    wait_for(duo, lambda: duo.find_element(f"#{ids.FP_SUMMARY}").text != before,
             message="the selected-point summary did not change after a click")
    chosen = int(duo.find_element(f"#{ids.FP_SUMMARY}").text.split("#")[1].split()[0])
    wait_for(duo, lambda: trace(duo, ids.FIG_EIGVALS, f"fixed point {chosen}") is not None)
    lam = trace(duo, ids.FIG_EIGVALS, f"fixed point {chosen}")
    np.testing.assert_allclose(lam["x"], report.arrays["eigvals"][chosen].real, atol=1e-4)
    np.testing.assert_allclose(lam["y"], report.arrays["eigvals"][chosen].imag, atol=1e-4)
    # the integration mode is ringed: the report's eigenvalue at that point (and its conjugate)
    ring_lam = trace(duo, ids.FIG_EIGVALS, "integration mode")
    mode = report.arrays["mode_eigval"][chosen]
    np.testing.assert_allclose(sorted(ring_lam["x"]), sorted({mode.real}), atol=1e-4)
    ring = trace(duo, ids.FIG_MANIFOLD, "selected")
    assert ring["customdata"] == [chosen]
    assert duo.get_logs() == []


def test_typing_a_sentence_draws_one_point_per_token(page, tiny):
    duo, app = page
    text = "an utterly charming film , though the qqzzyx ending drags"
    n_tokens = len(app.rnnscope_services.model(tiny.sha).tokenizer(text))
    type_text(duo, f"#{ids.SENTENCE_INPUT}", text)
    duo.find_element(f"#{ids.SENTENCE_RUN}").click()
    wait_for(duo, lambda: (trace(duo, ids.FIG_SENTENCE_TRAJ, "tokens") or {}).get("customdata")
             == list(range(n_tokens)), message="no trajectory with one point per token")
    duo.wait_for_contains_text(f"#{ids.SENTENCE_ALERT}", "qqzzyx", timeout=TIMEOUT)
    duo.wait_for_contains_text(f"#{ids.TOKEN_DETAIL}", f"token {n_tokens} of {n_tokens}",
                               timeout=TIMEOUT)
    # the slider counts as the detail panel does (it said n - 1 where the panel said n)
    handle = f"#{ids.TOKEN_SLIDER} [role=slider]"
    wait_for(duo, lambda: duo.find_element(handle).get_attribute("aria-valuenow") == str(n_tokens),
             message="the slider's position is not the token number the detail panel shows")
    assert duo.find_element(handle).get_attribute("aria-valuemin") == "1"
    assert duo.get_logs() == []


def test_hostile_uploads_show_an_error_and_the_page_keeps_working(page, tmp_path):
    duo, _ = page
    garbage = tmp_path / "model.safetensors"
    garbage.write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{\"a\": 1}" + b"\xff" * 64)
    upload(duo, garbage)
    duo.wait_for_contains_text(f"#{ids.UPLOAD_ALERT}", "Upload refused", timeout=TIMEOUT)
    pickle_zip = tmp_path / "evil.pt"
    pickle_zip.write_bytes(b"PK\x03\x04" + b"\x00" * 100)
    upload(duo, pickle_zip)
    duo.wait_for_contains_text(f"#{ids.UPLOAD_ALERT}", "Upload refused", timeout=TIMEOUT)
    # still alive: a sentence runs and the demo stays selected
    type_text(duo, f"#{ids.SENTENCE_INPUT}", "still working")
    duo.find_element(f"#{ids.SENTENCE_RUN}").click()
    wait_for(duo, lambda: len((trace(duo, ids.FIG_SENTENCE_TRAJ, "tokens") or {}).get("x") or []) == 2)
    assert "GRU" in duo.find_element(f"#{ids.JOB_STATUS}").text


def test_uploading_a_checkpoint_runs_the_job_and_updates_every_view(page, tmp_path):
    duo, app = page
    path = tmp_path / "my-ugrnn.safetensors"
    sha = train_tiny(path, arch="ugrnn", seed=1, epochs=2)
    before = {g: graph_data(duo, g) for g in (ids.FIG_PCA, ids.FIG_STATE_DENSITY, ids.FIG_MANIFOLD)}
    upload(duo, path)
    duo.wait_for_contains_text(f"#{ids.UPLOAD_ALERT}", "my-ugrnn.safetensors", timeout=TIMEOUT)
    wait_for_job(duo, "UGRNN-16 on mr")
    svc = app.rnnscope_services
    key = svc.stored_analysis(sha, "mr")
    assert key is not None
    report = svc.report(key)
    assert "ugrnn" in duo.find_element(f"#{ids.MODEL_CARD}").text
    for graph, data in before.items():
        wait_for(duo, lambda g=graph, d=data: graph_data(duo, g) != d, message=f"{graph} not updated")
    points = trace(duo, ids.FIG_MANIFOLD, "fixed points")
    np.testing.assert_allclose(points["x"], report.arrays["fp_pc"][:, 0], rtol=1e-5, atol=1e-6)
    duo.wait_for_contains_text(f"#{ids.COMPARE_TABLE}", "my-ugrnn mr", timeout=TIMEOUT)  # by its file name
    duo.wait_for_contains_text(f"#{ids.FP_SUMMARY}", "fixed point #", timeout=TIMEOUT)
    assert duo.find_element(f"#{ids.JOB_PROGRESS}").get_attribute("value") in ("0", "100")
    assert duo.get_logs() == []
