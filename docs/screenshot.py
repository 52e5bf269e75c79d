"""Take ``docs/screenshot.png``: the real dashboard on the bundled demo LSTM, in headless Chromium.

    python docs/screenshot.py [--out docs/screenshot.png] [--store DIR] [--width 1400]
                              [--height 2000] [--sentence "..."] [--full-page]

``--width``/``--height`` set the browser window.

Uses the browser tests' machinery: ``dash.testing``'s ``ThreadedRunner`` serves the app
built by ``rnnscope.app.dashboard.create_app`` (embedded mode, ``REDIS_URL`` ignored) and its
``Browser`` drives Debian's headless Chromium (``$DASH_TEST_CHROMEPATH`` or
``/usr/bin/chromium``, ``chromedriver`` on PATH). Steps: open the page, wait until the demo
LSTM (``models/demo/lstm-mr.safetensors``) is analysed on MR with the default parameters
and every figure is drawn, click the fixed point farthest from the default selection, run
a sentence through the sentence explorer, wait for its trajectory and its account in words,
then save the page from the top bar down to the sentence explorer (``--full-page``: the whole
page).

The analysis runs in a fresh temporary store unless ``--store`` names one (about a minute
on a 2-core machine); the MR data comes from ``$RNNSCOPE_HOME`` (fetched there first if it is
not cached: the dashboard itself downloads nothing).
"""
from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # app/ and tests/ of this checkout

#: Ends negative on every demo model; the explorer says why (issue 12 item 3).
SENTENCE = "not bad at all"
#: Seconds to wait for the demo's full analysis (about one minute on a 2-core machine).
ANALYSIS_TIMEOUT_S = 1800
#: Seconds to wait for a view to update after a click or a sentence.
VIEW_TIMEOUT_S = 120


def chrome_options(width: int, height: int):
    """Headless Chromium with the container-safe flags of ``tests/browser/conftest.py``."""
    from selenium.webdriver.chrome.options import Options

    from tests.browser.conftest import CHROMIUM

    options = Options()
    if os.path.exists(CHROMIUM):
        options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--hide-scrollbars", f"--window-size={width},{height}", "--force-device-scale-factor=1"):
        options.add_argument(flag)
    return options


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshot.png")
    parser.add_argument("--store", type=Path, default=None,
                        help="artifact store to use (default: a fresh temporary one)")
    parser.add_argument("--width", type=int, default=1400)
    parser.add_argument("--height", type=int, default=2000)
    parser.add_argument("--sentence", default=SENTENCE)
    parser.add_argument("--full-page", action="store_true",
                        help="capture the whole page, not only down to the sentence explorer")
    args = parser.parse_args(argv)

    tmp = Path(tempfile.mkdtemp(prefix="rnnscope-screenshot-"))
    os.environ.pop("REDIS_URL", None)  # embedded jobs: no Redis or worker needed
    os.environ.pop("RNNSCOPE_ANALYSIS_PARAMS", None)  # the default analysis, as users see it
    os.environ["RNNSCOPE_STORE"] = str(args.store or tmp / "store")
    os.environ["RNNSCOPE_DEMO_DIR"] = str(ROOT / "models" / "demo")
    try:
        return shoot(args)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def shoot(args: argparse.Namespace) -> int:
    import numpy as np
    from dash.testing.application_runners import ThreadedRunner
    from dash.testing.browser import Browser
    from dash.testing.errors import TestingTimeoutError
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By

    from rnnscope.analysis.data import fetch
    from rnnscope.app import ids
    from rnnscope.app.dashboard import create_app
    from tests.browser.test_dashboard import graph_data, trace, type_text, wait_for

    fetch("mr")  # a no-op once cached (the page's analysis would not download it)
    app = create_app()
    svc = app.rnnscope_services
    options, default = svc.model_options()
    label = next(o["label"] for o in options if o["value"] == default)
    print(f"store {svc.store.root}; model {label}", file=sys.stderr)

    with ThreadedRunner() as runner, Browser("chrome", options=[chrome_options(args.width, args.height)],
                                             percy_run=False, wait_timeout=VIEW_TIMEOUT_S) as browser:
        try:
            runner.start(app)
            browser.server_url = runner.url  # opens the page and waits for the renderer
            print("waiting for the analysis (progress below)…", file=sys.stderr)
            last = None
            def analysed():
                nonlocal last
                stage = browser.find_element(f"#{ids.JOB_STAGE}").text
                if stage and stage != last:
                    print(f"  {stage}", file=sys.stderr)
                    last = stage
                errors = browser.find_element(f"#{ids.JOB_ALERT}").text
                if errors:
                    raise RuntimeError(f"the page shows an error: {errors}")
                return " points: " in browser.find_element(f"#{ids.JOB_STATUS}").text
            wait_for(browser, analysed, timeout=ANALYSIS_TIMEOUT_S, message="the demo was not analysed")
            status = browser.find_element(f"#{ids.JOB_STATUS}").text
            print(f"analysed: {status}", file=sys.stderr)
            sha = default
            report = svc.report(svc.stored_analysis(sha, "mr"))
            k = len(report.arrays["fixed_points"])
            wait_for(browser, lambda: (trace(browser, ids.FIG_MANIFOLD, "fixed points") or {}).get("customdata")
                     == list(range(k)), timeout=VIEW_TIMEOUT_S, message="the manifold is not drawn")
            for graph in (ids.FIG_PCA, ids.FIG_STATE_DENSITY, ids.FIG_EIGVALS):
                wait_for(browser, lambda g=graph: len(graph_data(browser, g)) > 0, timeout=VIEW_TIMEOUT_S,
                         message=f"{graph} stays empty")
            browser.wait_for_contains_text(f"#{ids.FP_SUMMARY}", "fixed point #", timeout=VIEW_TIMEOUT_S)

            # click a fixed point far from the default selection (the farthest one that a click
            # reaches: an inset or the colour bar may cover a marker)
            before = browser.find_element(f"#{ids.FP_SUMMARY}").text
            current = int(before.split("#")[1].split()[0])
            pc = np.asarray(report.arrays["fp_pc"][:, :2], np.float64)
            for target in np.argsort(-np.linalg.norm(pc - pc[current], axis=1))[:10]:
                markers = browser.driver.find_elements(
                    By.CSS_SELECTOR, f"#{ids.FIG_MANIFOLD} .scatterlayer .trace:first-child .point")
                browser.driver.execute_script("arguments[0].scrollIntoView({block: 'center'})",
                                              markers[int(target)])
                ActionChains(browser.driver).move_to_element(markers[int(target)]).pause(0.3).click().perform()
                try:
                    wait_for(browser, lambda: browser.find_element(f"#{ids.FP_SUMMARY}").text != before,
                             timeout=10)
                    break
                except TestingTimeoutError:
                    print(f"  fixed point #{target}: the click did not reach it", file=sys.stderr)
            else:
                raise RuntimeError("clicking fixed points changed nothing")
            chosen = int(browser.find_element(f"#{ids.FP_SUMMARY}").text.split("#")[1].split()[0])
            wait_for(browser, lambda: trace(browser, ids.FIG_EIGVALS, f"fixed point {chosen}") is not None,
                     timeout=VIEW_TIMEOUT_S, message="the spectrum did not follow the click")
            print(f"selected fixed point #{chosen}", file=sys.stderr)

            # run the sentence
            n_tokens = len(svc.model(sha).tokenizer(args.sentence))
            type_text(browser, f"#{ids.SENTENCE_INPUT}", args.sentence)
            browser.find_element(f"#{ids.SENTENCE_RUN}").click()
            wait_for(browser, lambda: (trace(browser, ids.FIG_SENTENCE_TRAJ, "tokens") or {}).get("customdata")
                     == list(range(n_tokens)), timeout=VIEW_TIMEOUT_S, message="no sentence trajectory")
            browser.wait_for_contains_text(f"#{ids.TOKEN_DETAIL}", f"token {n_tokens} of {n_tokens}",
                                           timeout=VIEW_TIMEOUT_S)
            browser.wait_for_contains_text(f"#{ids.SENTENCE_ACCOUNT}", "Ends ", timeout=VIEW_TIMEOUT_S)

            # settle: no callback in flight, no loading overlay, then capture from the top
            wait_for(browser, lambda: not browser.driver.execute_script(
                "return document.querySelector('[data-dash-is-loading=\"true\"]') !== null"),
                timeout=VIEW_TIMEOUT_S, message="the page is still loading")
            browser.driver.execute_script("document.activeElement.blur(); window.scrollTo(0, 0);")
            # the pointer rests on the top bar, so no hover label covers a figure
            ActionChains(browser.driver).move_to_element(browser.find_element("header")).perform()
            errors = browser.get_logs()
            if errors:
                print(f"warning: browser console errors: {errors}", file=sys.stderr)
            args.out.parent.mkdir(parents=True, exist_ok=True)
            bottom = None if args.full_page else browser.driver.execute_script(
                "const card = document.getElementById(arguments[0]).closest('section');"
                "return Math.ceil(card.getBoundingClientRect().bottom + window.scrollY + 18);",
                ids.FIG_SENTENCE_TRAJ)
            png = page_png(browser.driver, bottom)
            args.out.write_bytes(png)
        except Exception:
            failed = Path(tempfile.gettempdir()) / "rnnscope-screenshot-failed.png"
            browser.driver.save_screenshot(str(failed))
            print(f"failed; the page as it was: {failed}", file=sys.stderr)
            raise
    print(f"wrote {args.out} ({len(png) / 1024:.0f} KiB): {label}, fixed point #{chosen}, "
          f"sentence {args.sentence!r}", file=sys.stderr)
    return 0


def page_png(driver, bottom: int | None = None) -> bytes:
    """The page from its top down to ``bottom`` pixels (default: all of it) as PNG, taken
    through the DevTools protocol so that it may reach beyond the window."""
    import base64

    width, height = driver.execute_script(
        "return [document.documentElement.scrollWidth, document.documentElement.scrollHeight];")
    shot = driver.execute_cdp_cmd("Page.captureScreenshot", {
        "format": "png", "captureBeyondViewport": True,
        "clip": {"x": 0, "y": 0, "width": width, "height": min(height, bottom or height), "scale": 1}})
    return base64.b64decode(shot["data"])


if __name__ == "__main__":
    sys.exit(main())
