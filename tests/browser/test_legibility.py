"""What the page shows can be read as it is meant (issue 12 item 8), in real headless Chromium.

On the tiny GRU demo (``tests/app/tiny.py``), analysed here with the VADER cross-check on
and no VADER lexicon in the data cache, so that its report carries the warning users see
when the lexicon is missing (with the cache's path in it):

- every label of a log axis states its own value (plotly's default labels the steps inside
  a decade with bare digits, "7 8 9 0.1 2 3 … 9 1");
- dropdown options read as written, not in capitals;
- that warning wraps inside the model card instead of running past its edge;
- the word lookup answers for each word typed ("not bad": both words, each on its own).
"""
from __future__ import annotations

import re

import numpy as np
import pytest
from selenium.webdriver.common.by import By

from rnnscope.app import ids
from rnnscope.app.dashboard import create_app
from rnnscope.app.services import DATASETS, POINT_SETS
from rnnscope.settings import Settings
from tests.app.tiny import TINY_PARAMS, active_env, environ
from tests.browser.test_dashboard import TIMEOUT, wait_for

pytestmark = pytest.mark.browser

PARAMS = {**TINY_PARAMS, "vader": True}


@pytest.fixture(scope="module")
def tiny(rnnscope_home, tmp_path_factory):
    """The tiny demo, analysed with ``PARAMS`` from a data cache that has MR but no VADER."""
    from rnnscope.workers.jobs import full_analysis
    from rnnscope.workers.store import ArtifactStore

    # a home as users have them: a path with no hyphen, where a browser may not break a line
    home = tmp_path_factory.mktemp("vaderless") / "home" / "alexandrasmith" / ".cache" / "rnnscope"
    (home / "data").mkdir(parents=True)
    (home / "data" / "mr").symlink_to(rnnscope_home / "data" / "mr", target_is_directory=True)
    with active_env(tmp_path_factory.mktemp("tiny-legibility"), rnnscope_home) as env:
        with environ({"RNNSCOPE_HOME": str(home)}):
            env.home, env.key = home, full_analysis(env.sha, "mr", PARAMS, store=ArtifactStore(env.store_dir))
            yield env


@pytest.fixture
def page(dash_duo, tiny):
    app = create_app(Settings.from_env(), analysis_params=dict(PARAMS))
    dash_duo.start_server(app)
    dash_duo.wait_for_contains_text(f"#{ids.FP_SUMMARY}", "fixed point #", timeout=TIMEOUT)
    return dash_duo, app


# --------------------------------------------------------------------------- log axes


_SUPERSCRIPT = str.maketrans("⁰¹²³⁴⁵⁶⁷⁸⁹⁻", "0123456789-")
_SI = {"k": 1e3, "M": 1e6, "G": 1e9, "B": 1e9, "m": 1e-3, "µ": 1e-6, "μ": 1e-6, "n": 1e-9, "p": 1e-12}


def label_value(text: str) -> float:
    """The number a tick label states: "0.02", "5000", "20k", "10<sup>−3</sup>", "10⁻³"."""
    t = re.sub(r"<[^>]+>", " ", text).replace("\u200b", " ").replace("−", "-").strip()
    if "^" in t or re.fullmatch(r"10\s+-?\d+", t) or re.fullmatch(r"10[⁰¹²³⁴⁵⁶⁷⁸⁹⁻]+", t):
        power = re.sub(r"^10\s*\^?\s*", "", t).translate(_SUPERSCRIPT)
        return 10.0 ** int(power)
    if t and t[-1] in _SI:
        return float(t[:-1]) * _SI[t[-1]]
    return float(t)


def log_axis_ticks(duo, graph_id: str) -> dict[str, list[tuple[float, str]]]:
    """(tick position as log10 value, label) of every drawn tick of each log axis of a graph."""
    return duo.driver.execute_script("""
        const gd = document.querySelector('#' + arguments[0] + ' .js-plotly-plot');
        const out = {};
        if (!gd || !gd._fullLayout) { return out; }
        for (const [name, ax] of Object.entries(gd._fullLayout)) {
            if (/^[xy]axis\\d*$/.test(name) && ax && ax.type === 'log' && ax._vals) {
                out[name] = ax._vals.filter(v => v.text !== undefined && v.text !== '')
                                    .map(v => [v.x, v.text]);
            }
        }
        return out;
    """, graph_id)


@pytest.mark.parametrize("graph_id", [ids.FIG_TAU_THETA, ids.FIG_TAU_ALL, ids.FIG_LINEARIZATION, ids.FIG_ATTRACTOR])
def test_every_log_axis_label_states_its_own_value(page, graph_id):
    duo, _ = page
    wait_for(duo, lambda: log_axis_ticks(duo, graph_id), message=f"{graph_id} has no log axis drawn")
    for axis, ticks in log_axis_ticks(duo, graph_id).items():
        assert 2 <= len(ticks) <= 9, f"{graph_id} {axis}: {len(ticks)} labels {ticks}"
        for position, text in ticks:
            value = label_value(text)
            assert value == pytest.approx(10.0 ** position, rel=1e-6), (
                f"{graph_id} {axis}: the label {text!r} sits at {10.0 ** position:.4g}")
    assert duo.get_logs() == []


# --------------------------------------------------------------------------- sidebar


def rendered_options(duo, dropdown_id: str) -> list[tuple[str, str, str]]:
    """(text as rendered, text as written, CSS text-transform) of each option of an open dropdown."""
    duo.find_element(f"#{dropdown_id}").click()
    wait_for(duo, lambda: duo.driver.find_elements(By.CSS_SELECTOR, ".dash-dropdown-option"))
    options = duo.driver.find_elements(By.CSS_SELECTOR, ".dash-dropdown-option")
    out = [(o.text, o.get_attribute("textContent").strip(),
            duo.driver.execute_script("return getComputedStyle(arguments[0]).textTransform", o)) for o in options]
    duo.find_element(f"#{dropdown_id}").click()  # close it again
    return out


def test_dropdown_options_read_as_written(page):
    duo, app = page
    model_labels = [o["label"] for o in app.rnnscope_services.model_options()[0]]
    for dropdown, labels in ((ids.DATASET_SELECT, [label for _, label in DATASETS]),
                             (ids.POINT_SET_SELECT, [label for _, label, _ in POINT_SETS]),
                             (ids.MODEL_SELECT, model_labels)):
        options = rendered_options(duo, dropdown)
        written = [w for _, w, _ in options]
        assert len(options) >= len(labels) and all(any(w.startswith(label) for w in written) for label in labels)
        for rendered, written, transform in options:
            assert transform == "none" and rendered == written, (dropdown, rendered, written)
    # the field's own label keeps its small capitals
    label = duo.driver.find_element(By.CSS_SELECTOR, f"label[for={ids.DATASET_SELECT}]")
    assert duo.driver.execute_script("return getComputedStyle(arguments[0]).textTransform", label) == "uppercase"


def test_a_long_warning_wraps_inside_the_model_card(page, tiny):
    duo, app = page
    warnings = app.rnnscope_services.report(tiny.key).summary["warnings"]
    assert any(str(tiny.home) in w for w in warnings)  # the report says where VADER was looked for
    duo.wait_for_contains_text(f"#{ids.MODEL_CARD}", "VADER lexicon not available", timeout=TIMEOUT)
    box = next(a for a in duo.driver.find_elements(By.CSS_SELECTOR, f"#{ids.MODEL_CARD} .alert.warning")
               if "VADER" in a.text)
    width, scroll, right, card_right = duo.driver.execute_script("""
        const a = arguments[0], card = a.closest('.card');
        return [a.clientWidth, a.scrollWidth, a.getBoundingClientRect().right, card.getBoundingClientRect().right];
    """, box)
    assert scroll <= width, f"the warning is {scroll} px wide in a {width} px box: cut off"
    assert right <= card_right
    assert str(tiny.home) in box.text.replace("\n", "")  # the path is all there, wrapped


# --------------------------------------------------------------------------- word lookup


def paste(duo, selector: str, text: str) -> None:
    """Put ``text`` into an input at once, as a paste does (React sees one input event)."""
    duo.driver.execute_script("""
        const box = document.querySelector(arguments[0]);
        Object.getOwnPropertyDescriptor(HTMLInputElement.prototype, 'value').set.call(box, arguments[1]);
        box.dispatchEvent(new Event('input', {bubbles: true}));
    """, selector, text)


def test_word_lookup_answers_for_each_word(page, tiny):
    duo, app = page
    svc = app.rnnscope_services
    k = int(duo.find_element(f"#{ids.FP_SUMMARY}").text.split("#")[1].split()[0])
    model, a = svc.model_of(tiny.key), svc.report(tiny.key).arrays
    emb = model.net.embedding.weight.detach().numpy().astype(np.float64)
    expected = {w: float(emb[model.vocab.index[w]] @ a["mode_coef"][k].astype(np.float64)) for w in ("not", "bad")}
    paste(duo, f"#{ids.WORD_INPUT}", "not bad")

    def rows():
        return [r.text.split() for r in duo.driver.find_elements(By.CSS_SELECTOR, f"#{ids.WORD_RESULT} tr.word-row-item")]
    wait_for(duo, lambda: [r[0] for r in rows()] == ["not", "bad"],
             message=f"the lookup does not answer for both words of 'not bad': {rows()}")
    for row in rows():
        assert float(row[1]) == pytest.approx(expected[row[0]], abs=1e-4)
    assert "each word looked up on its own" in duo.find_element(f"#{ids.WORD_RESULT}").text.lower()
    assert duo.get_logs() == []
