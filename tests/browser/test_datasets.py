"""The user's own data in real headless Chromium (``dash_duo``), on the tiny real GRU.

A user uploads a small CSV of real MR snippets whose labels are inverted (a deliberately
bad fit): the page analyses it in a real background job and shows the share of tokens the
model does not know and that its accuracy is below chance. An analysis made with
``rnnscope analyze --data FILE`` on the same store opens from the Compare table.
"""
from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import pytest
from selenium.webdriver.common.by import By

from rnnscope.app import ids
from rnnscope.app.dashboard import create_app
from rnnscope.app.datasets import dataset_options
from rnnscope.settings import Settings
from tests.app.tiny import TINY_PARAMS, active_env
from tests.browser.test_dashboard import wait_for_job

pytestmark = pytest.mark.browser

TIMEOUT = 60
JOB_TIMEOUT = 300
RNNSCOPE = str(Path(sys.executable).with_name("rnnscope"))


@pytest.fixture(scope="module")
def tiny(rnnscope_home, tmp_path_factory):
    with active_env(tmp_path_factory.mktemp("tiny-browser-data"), rnnscope_home) as env:
        yield env


def write_mr_csv(path: Path, home, start: int, stop: int, invert: bool = False) -> Path:
    """Real MR test snippets ``start:stop`` as text,label (labels inverted if asked)."""
    from rnnscope.analysis import data

    test = data.load("mr", home=home).test
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["text", "label"])
        writer.writerows((t, int(1 - y) if invert else int(y))
                         for t, y in zip(test.texts[start:stop], test.labels[start:stop].tolist()))
    return path


@pytest.fixture(scope="module")
def cli_report(tiny, rnnscope_home, tmp_path_factory) -> dict:
    """``rnnscope analyze --data shop-reviews.csv`` into the page's store, before the page opens."""
    work = tmp_path_factory.mktemp("cli-analysis")
    data = write_mr_csv(work / "shop-reviews.csv", rnnscope_home, 400, 700)
    params = [f"--param={k}={json.dumps(v)}" for k, v in {**TINY_PARAMS, "n_seeds": 40}.items()]
    out = subprocess.run([RNNSCOPE, "analyze", str(tiny.checkpoint), "--data", str(data), "--out",
                          str(work / "out"), "--store", str(tiny.store_dir), *params],
                         capture_output=True, text=True, timeout=900)
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads((work / "out" / "report.json").read_text())


@pytest.fixture
def page(dash_duo, tiny, cli_report):
    app = create_app(Settings.from_env(), analysis_params=dict(TINY_PARAMS))
    dash_duo.start_server(app)
    dash_duo.wait_for_contains_text(f"#{ids.FP_SUMMARY}", "fixed point #", timeout=TIMEOUT)
    return dash_duo, app


def test_an_uploaded_csv_is_analysed_and_a_bad_fit_is_called_out(page, tiny, tmp_path, rnnscope_home):
    duo, app = page
    path = write_mr_csv(tmp_path / "inverted.csv", rnnscope_home, 0, 400, invert=True)
    duo.driver.find_element(By.CSS_SELECTOR, f"#{ids.DATASET_UPLOAD} input[type=file]").send_keys(str(path))
    duo.wait_for_contains_text(f"#{ids.DATASET_UPLOAD_ALERT}", "400 labelled rows", timeout=JOB_TIMEOUT)
    wait_for_job(duo, "GRU-16 on inverted")
    svc = app.rnnscope_services
    ref = next(o["value"] for o in dataset_options(svc) if o["label"].startswith("inverted.csv"))
    summary = svc.report(svc.stored_analysis(tiny.sha, ref)).summary
    acc, vocab = summary["accuracy"], summary["data"]["vocabulary"]
    assert acc["at_or_below_chance"] and acc["test"] < acc["majority_rate"]  # labels inverted: below chance
    status = duo.find_element(f"#{ids.JOB_STATUS}").text
    assert f"at or below chance ({100 * acc['majority_rate']:.1f}%)" in status
    card = duo.find_element(f"#{ids.MODEL_CARD}").text
    assert f"{100 * vocab['unk_fraction']:.1f}%" in card and "tokens not in the vocabulary" in card.lower()
    assert f"{100 * acc['majority_rate']:.1f}%" in card and "at or below chance" in card
    assert duo.get_logs() == []


def test_an_analysis_made_by_rnnscope_analyze_opens_from_compare(page, tiny, cli_report):
    duo, app = page
    duo.wait_for_contains_text(f"#{ids.COMPARE_TABLE}", "GRU-16", timeout=TIMEOUT)
    rows = duo.driver.find_elements(By.CSS_SELECTOR, f"#{ids.COMPARE_TABLE} tbody tr")
    row = next(r for r in rows if r.find_elements(By.TAG_NAME, "td")[1].text == "shop-reviews")
    row.find_element(By.CSS_SELECTOR, "button.link").click()
    duo.wait_for_contains_text(f"#{ids.JOB_STATUS}", "GRU-16 on shop-reviews", timeout=TIMEOUT)
    duo.wait_for_contains_text(f"#{ids.DATASET_SELECT}", "shop-reviews.csv", timeout=TIMEOUT)
    card = duo.find_element(f"#{ids.MODEL_CARD}").text
    assert "analysis on shop-reviews" in card.lower()  # an upper-case heading
    assert f"{100 * cli_report['accuracy']['test']:.1f}%" in card  # the CLI's report, not a new analysis
    assert "job running" not in (duo.find_element(f"#{ids.JOB_PROGRESS}").get_attribute("class") or "")
    assert duo.get_logs() == []
