"""rnnscope.app.report_html: one self-contained page with the numbers and one figure per panel."""
from __future__ import annotations

import re

import numpy as np
import pytest


from rnnscope.analysis.report import Report
from rnnscope.analysis.summary import complete
from rnnscope.app import report_html as R
from rnnscope.app.figures.synthetic import synthetic_report

PANEL_IDS = [p[0] for p in R.PANELS]


@pytest.fixture(scope="module")
def report() -> Report:
    summary, arrays = synthetic_report(n_points=80, state_size=24, embed_dim=8, n_words=30,
                                       bins=16, n_steps=500)
    summary["data"]["name"] = "<script>alert(1)</script>"
    summary["accuracy"].update(test=0.8731, linearized=None, bow=0.8853)
    summary["fixed_points"]["n_unique"] = 80
    summary["spectra"].update(tau1_median=1234.5678)
    return Report(summary, arrays)


@pytest.fixture(scope="module")
def page(report) -> str:
    return R.render_report_html(report)


def test_page_holds_the_summary_numbers(page):
    for text in ("0.8731", "0.8853", "1235", ">80<", "n_unique", "tau1_median"):
        assert text in page, text
    assert "accuracy</caption>" in page and 'id="summary-spectra"' in page
    row = re.search(r"<td>linearized</td><td class=\"v\">([^<]*)</td>", page)
    assert row and row.group(1) == "—"  # null shown as a dash, not "None"


def test_attractor_verdict_comes_first_in_words(page):
    verdict = page.index('<p class="verdict" id="verdict"><b>Line attractor.</b> Line attractor: a synthetic')
    assert verdict < page.index("<h2>Summary</h2>")
    assert 'id="summary-attractor"' in page


def test_user_text_is_escaped(page):
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_page_is_self_contained_with_plotly_inlined_once(page):
    assert not re.search(r"<script[^>]*\ssrc\s*=", page)
    assert '<script src="http' not in page and "<link" not in page
    assert page.count("window.PlotlyConfig") == 1  # the plotly.js bundle, once
    assert len(page) > 3_000_000  # the bundle really is inlined (~4.5 MB)
    assert page.startswith("<!DOCTYPE html>") and page.rstrip().endswith("</html>")


def test_one_figure_div_per_panel(page):
    divs = re.findall(r'<div id="([^"]+)" class="plotly-graph-div"', page)
    assert divs == PANEL_IDS
    assert len(PANEL_IDS) == 13 and "fig7" in PANEL_IDS and "attractor" in PANEL_IDS
    assert page.count("Plotly.newPlot") == len(PANEL_IDS)
    assert 'class="missing"' not in page


def test_missing_arrays_become_notes_not_crashes(report):
    arrays = {k: v for k, v in report.arrays.items() if k not in ("jinp_x_pc", "eigvals")}
    page = R.render_report_html(Report(report.summary, arrays))
    divs = re.findall(r'<div id="([^"]+)" class="plotly-graph-div"', page)
    assert divs == [p for p in PANEL_IDS if p not in ("fig3b", "fig3d", "fig4a")]
    assert 'id="fig4a-missing">not in this report: jinp_x_pc' in page
    assert 'id="fig3b-missing">not in this report: eigvals' in page
    assert page.count("window.PlotlyConfig") == 1
    empty = R.render_report_html(Report(complete({}), {}))
    assert empty.count('class="missing"') == len(PANEL_IDS) - 1
    # the Fig. 7 summary always draws, its eight panels saying what is missing
    assert re.findall(r'<div id="([^"]+)" class="plotly-graph-div"', empty) == ["fig7"]
    assert empty.count("not in this report: ") == len(PANEL_IDS) - 1 + 8


def test_written_atomically_to_path(report, tmp_path):
    target = tmp_path / "out" / "report.html"
    page = R.render_report_html(report, target)
    assert target.read_text(encoding="utf-8") == page
    assert sorted(p.name for p in target.parent.iterdir()) == ["report.html"]
    R.render_report_html(Report(complete({"model": {"arch": "gru"}}), {}), target)  # replaced whole
    assert "GRU" in target.read_text(encoding="utf-8")


def test_format_value():
    assert R.format_value(0.123456) == "0.1235"
    assert R.format_value(12345678.0) == "1.235e+07"
    assert R.format_value(np.float32(0.5)) == "0.5"
    assert R.format_value(np.int64(7)) == "7"
    assert R.format_value(None) == "—" and R.format_value(float("nan")) == "—"
    assert R.format_value([0.5, 0.25]) == "0.5, 0.25"
    assert R.format_value(True) == "yes"


def test_export_rejects_unknown_suffix(report, tmp_path):
    with pytest.raises(ValueError, match="image format"):
        R.export_summary_image(report, tmp_path / "summary.bmp")


def test_export_without_a_browser_says_so(report, tmp_path, monkeypatch):
    monkeypatch.setenv("BROWSER_PATH", str(tmp_path / "no-such-chrome"))
    with pytest.raises(R.ImageExportError, match="Chrome"):
        R.export_summary_image(report, tmp_path / "summary.svg")
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize("suffix", ["svg", "png"])
def test_export_summary_image(report, tmp_path, suffix):
    path = R.export_summary_image(report, tmp_path / f"summary.{suffix}")
    data = path.read_bytes()
    if suffix == "png":
        assert data[:8] == b"\x89PNG\r\n\x1a\n"
        width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
        assert (width, height) == (1500, 720)
    else:
        text = data.decode("utf-8")
        assert text.lstrip().startswith("<svg") and "Approximate fixed points" in text
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"summary.{suffix}"]
