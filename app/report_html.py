"""A self-contained HTML report of one analysis, and the Fig. 7 summary as an image.

``render_report_html`` writes ONE file that opens offline: plotly.js is inlined once (with
the first figure), every later figure reuses it, and nothing is fetched from a network.
The page holds the summary numbers as tables and the paper's panels (Figs. 2a-c, 3b-d,
4a-d, 5b and the Fig. 7 summary), each drawn by the pure functions of ``rnnscope.app.figures``
from ``Report.arrays`` (keys documented in ``analysis/report.py``), then the modifier words
(ICML 2020): the finding in words, the ranked modifiers, the known ones' ranks, the
strongest ones' dynamics, and the strongest one's deflection and ratio profile.
"""
from __future__ import annotations

import html
import math
import os
from collections.abc import Callable, Mapping
from pathlib import Path

import numpy as np
import plotly.graph_objects as go
import plotly.io as pio

from rnnscope.analysis.atomic import write_bytes
from rnnscope.analysis.data_checks import fit_lines
from rnnscope.analysis.summary import Summary, read
from rnnscope.app import figures as F
from rnnscope.app.figures.attractor import attractor_evidence_of
from rnnscope.app.figures.linearization import error_variants
from rnnscope.app.figures.modifiers import modifier_deflection, modifier_profile

#: Image formats ``export_summary_image`` writes (by file suffix).
IMAGE_FORMATS = ("png", "svg", "pdf", "jpeg", "jpg", "webp")

#: Summary sections shown as tables, in order (anything else goes in "other").
SECTIONS = ("model", "data", "accuracy", "pca", "fixed_points", "attractor", "manifold", "spectra", "modes",
            "projections", "words", "linearization", "params", "timings")

_PLOT_CONFIG = {"displaylogo": False, "responsive": True}

_CSS = """
body{font-family:Helvetica,Arial,sans-serif;margin:24px auto;max-width:1560px;color:#222}
h1{font-size:22px} h2{font-size:18px;margin-top:32px;border-bottom:1px solid #ddd}
table.summary{border-collapse:collapse;margin:8px 16px 16px 0;display:inline-table;
 vertical-align:top;font-size:13px}
table.summary caption{font-weight:bold;text-align:left;padding:4px 0}
table.summary td{border-top:1px solid #eee;padding:2px 10px 2px 0}
table.summary td.v{font-family:monospace;text-align:right}
figure.panel{margin:0 0 28px 0} figcaption{font-size:13px;color:#555;max-width:1100px}
p.missing{color:#999;font-style:italic}
p.verdict{font-size:15px;max-width:1100px;background:#f4f6fb;padding:10px 14px;border-left:4px solid #1f5fbf}
p.data-fit{font-size:14px;max-width:1100px;padding:6px 14px} p.data-fit.warn{background:#fff6e5;border-left:4px solid #e08a00}
"""


class ImageExportError(RuntimeError):
    """The summary image could not be written (no Chrome/Chromium, kaleido missing...)."""


# ------------------------------------------------------------------------ number tables
def format_value(value) -> str:
    """Display text of one summary value: floats to 4 significant digits, lists joined.

    ``None`` (JSON null: not computed / not finite) is shown as an em dash.
    """
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        v = float(value)
        return "—" if not math.isfinite(v) else f"{v:.4g}"
    if isinstance(value, (list, tuple, np.ndarray)):
        return ", ".join(format_value(v) for v in value)
    return str(value)


def _rows(section: Mapping, prefix: str = "") -> list[tuple[str, str]]:
    """Flattened (key, text) rows of one summary section (nested dicts as ``a.b``)."""
    rows = []
    for key, value in section.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            rows.extend(_rows(value, name + "."))
        else:
            rows.append((name, format_value(value)))
    return rows


#: Summary sections with a section of their own instead of a number table.
OWN_SECTIONS = ("modifiers",)


def summary_tables(summary: Mapping) -> str:
    """HTML tables of every summary section (escaped); one table per section (the
    ``OWN_SECTIONS`` have their own part of the page)."""
    names = [s for s in SECTIONS if isinstance(summary.get(s), Mapping)]
    names += [k for k, v in summary.items()
              if k not in SECTIONS and k not in OWN_SECTIONS and isinstance(v, Mapping)]
    scalars = {k: v for k, v in summary.items() if not isinstance(v, Mapping)}
    parts = []
    for name, section in [("report", scalars)] + [(n, summary[n]) for n in names]:
        if not section:
            continue
        body = "".join(f'<tr><td>{html.escape(k)}</td><td class="v">{html.escape(v)}</td></tr>'
                       for k, v in _rows(section))
        parts.append(f'<table class="summary" id="summary-{html.escape(name)}">'
                     f"<caption>{html.escape(name.replace('_', ' '))}</caption>{body}</table>")
    return "\n".join(parts)


# -------------------------------------------------------------------------------- panels
def _examples(a) -> tuple[np.ndarray, list[str]]:
    """Three representative fixed points along θ and their legend labels."""
    ex = F.example_points(a["theta"], 3)
    if ex.size == 0:
        raise ValueError("no fixed points")
    theta = np.asarray(a["theta"], dtype=np.float64)
    return ex, [f"fixed point {k} (θ={theta[k]:+.2f})" for k in ex]


def _fig2b(s, a):
    zero = None
    if {"readout", "readout_bias", "state_pca_mean"} <= set(a):
        zero = F.readout_zero_offset(a["readout"], a["readout_bias"], a["state_pca_mean"])
    return F.state_density(a["density_pos"], a["density_neg"], a["density_edges"],
                           a.get("example_traj_pos"), a.get("example_traj_neg"),
                           a.get("initial_state_pc"), a.get("readout_pc"), readout_zero=zero)


def _fig3b(s, a):
    ex, labels = _examples(a)
    return F.eigenvalue_plane([a["eigvals"][k] for k in ex], labels)


def _fig3d(s, a):
    ex, labels = _examples(a)
    return F.time_constants([F.tau_from_eigvals(a["eigvals"][k]) for k in ex], labels)


def _fig4a(s, a):
    k = F.example_point(a)
    l1_pc = F.project_directions(a["l1"][k], a["state_pca_components"])
    return F.input_effects(a["jinp_x_pc"], a["word_valence"], l1_pc, a.get("words"), point=k)


def _fig4b(s, a):
    k = F.example_point(a)
    r1_pc = F.project_directions(a["r1"][k], a["state_pca_components"])
    return F.right_eigenvector_on_manifold(a["fp_pc"], k, r1_pc)


def _fig5b(s, a):
    return F.linearization_error_hist(a["one_step_rel_error"], variants=error_variants(a))


def _fig4c(s, a):
    means = F.mean_projections(a["input_projection"], a["word_valence"])
    return F.input_projection_histograms(means[1], means[-1], means[0])


#: (panel id, heading, caption, builder(summary, arrays) -> Figure)
PANELS: tuple[tuple[str, str, str, Callable[[Mapping, Mapping], go.Figure]], ...] = (
    ("fig2a", "Fig. 2a: dimensionality of the visited states",
     "Cumulative variance explained by the PCs of all visited states, trained (blue) vs "
     "the same architecture untrained (purple).",
     lambda s, a: F.explained_variance(a["explained_variance_ratio"],
                                       a.get("explained_variance_ratio_untrained"))),
    ("fig2b", "Fig. 2b: RNN state space",
     "Density of visited states on PC1/PC2 for negative (red) and positive (green) documents, "
     "one example trajectory of each, the initial state (star), the readout direction (arrow) "
     "and the readout-zero line (dashed).", _fig2b),
    ("attractor", "Line attractor or not: the evidence",
     "Left: the final q of every seed of the fixed-point search, by class (fixed, slow, stalled...), "
     "with the fixed-point tolerance and the slow-point bound. Middle: how many points pass each q "
     "threshold, green where that set keeps its extent under the zero-input dynamics. Right: the "
     "extent of the point set while F(·, 0) is iterated from it (a line attractor keeps it; the "
     "tolerance region of one point collapses).", attractor_evidence_of),
    ("fig2c", "Fig. 2c: approximate fixed points",
     "Fixed points of the zero-input dynamics on the state PCs, coloured by the manifold "
     "coordinate θ; inset: variance explained by the fixed points' own PCs.",
     lambda s, a: F.fixed_point_manifold(a["fp_pc"], a["theta"],
                                         a.get("fp_pca_explained_variance_ratio"),
                                         _examples(a)[0])),
    ("fig3b", "Fig. 3b: eigenvalues at three fixed points",
     "Eigenvalues of the recurrent Jacobian in the complex plane (unit circle in black).", _fig3b),
    ("fig3c", "Fig. 3c: time constants along the manifold",
     "τ = |1/ln|λ|| (tokens) of the three slowest modes at every fixed point against θ.",
     lambda s, a: F.top_time_constants(a["theta"], a["tau_top3"], _examples(a)[0])),
    ("fig3d", "Fig. 3d: all time constants at three fixed points",
     "Every mode's τ, sorted, at the three highlighted fixed points.", _fig3d),
    ("fig4a", "Fig. 4a: effect of word inputs",
     "J_inp x for positive (green), negative (red) and neutral (cyan) words at one fixed point "
     "(origin), centre-of-mass arrows, and the top left eigenvector ℓ1 (blue).", _fig4a),
    ("fig4b", "Fig. 4b: top right eigenvector on the manifold",
     "The same fixed point highlighted on the manifold (grey) with r1 drawn through it.", _fig4b),
    ("fig4c", "Fig. 4c: input projection",
     "Histogram over fixed points of the average ℓ1ᵀ J_inp x of each word set.", _fig4c),
    ("fig4d", "Fig. 4d: overlap of r1 with the manifold",
     "|cos(r1, m)| over fixed points against random unit vectors of the state size (null).",
     lambda s, a: F.overlap_vs_null(a["r1_m_overlap"], a["r1_m_null"])),
    ("fig5b", "Fig. 5b: linearization error",
     "Relative single-step error of the linearization at the nearest (fixed or slow) point, its "
     "recurrent and input parts, and the error of linearizing at the previous state instead.", _fig5b),
    ("fig7", "Fig. 7: summary", "The paper's summary panel for this model.",
     lambda s, a: F.summary_figure(s, a)),
)


# ------------------------------------------------------------------------ modifier words
_MODIFIER_COLUMNS = ("#", "word", "kind", "peak ratio r_k*", "linearized r_k*", "at k*", "reach (tokens)",
                     "own effect (logit)", "exact")
_KNOWN_COLUMNS = ("known modifier", "token", "rank", "kind", "ratio r_k*", "linearized r_k*", "reach (tokens)")
_DYNAMICS_COLUMNS = ("modifier", "along the integration mode", "along the slow modes", "along the fast modes",
                     "decay to 1/e (tokens)", "left after removing the slow part",
                     "left after removing the fastest part", "left outside the modifier subspace")


def _html_table(table_id: str, caption: str, head, rows) -> str:
    """A table of escaped cells (``rows``: sequences of values shown by ``format_value``)."""
    th = "".join(f"<th>{html.escape(h)}</th>" for h in head)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(format_value(v))}</td>" for v in row) + "</tr>"
                   for row in rows)
    return (f'<table class="summary" id="{table_id}"><caption>{html.escape(caption)}</caption>'
            f"<tr>{th}</tr>{body}</table>")


def _modifier_tables(m: Mapping) -> str:
    """The ranked modifiers, the known ones' ranks and the strongest ones' dynamics."""
    rows = [(i, r.get("word"), r.get("kind"), r.get("ratio"), r.get("ratio_linear"), r.get("peak"), r.get("reach"),
             r.get("own"), r.get("exact")) for i, r in enumerate(m.get("modifiers") or [], 1)]
    known = [(k.get("known"), k.get("token"), f"{k.get('rank')} of {k.get('of')}", k.get("kind"), k.get("ratio"),
              k.get("ratio_linear"), k.get("reach")) for k in m.get("known") or []]
    dyn = []
    for d in m.get("dynamics") or []:
        parts, left = d.get("parts") or {}, d.get("remaining") or {}
        decay = d.get("decay_tokens")
        dyn.append((d.get("word"), parts.get("integration"), parts.get("slow"), parts.get("fast"),
                    decay if decay is None or decay >= 0 else "not within the tokens measured",
                    left.get("slow"), left.get("fastest"), left.get("subspace")))
    out = []
    if rows:
        out.append(_html_table("modifier-table", "modifier words, strongest first", _MODIFIER_COLUMNS, rows))
    if known:
        out.append(_html_table("modifier-known", "known modifiers among the candidates", _KNOWN_COLUMNS, known))
    if dyn:
        sub = m.get("subspace") or {}
        caption = "the strongest modifiers' deflection of the state" + (
            f"; their modifier subspace has {sub['dim']} dimensions" if sub.get("dim") is not None else "")
        out.append(_html_table("modifier-dynamics", caption, _DYNAMICS_COLUMNS, dyn))
    return "\n".join(out)


def _modifier_figures(a: Mapping) -> list[tuple[str, go.Figure]]:
    """The strongest modifier's deflection and ratio profile (none without paths)."""
    top = a.get("modifier_top")
    if top is None or not len(top):
        return []
    row = int(top[0])
    word = str(a["modifier_words"][row])
    return [("modifier-path", modifier_deflection(a["fp_pc"], a["modifier_path"][0], a["modifier_base_path"], word,
                                                  decay_tokens=int(a["modifier_decay_tokens"][0]))),
            ("modifier-profile", modifier_profile(a["modifier_ratio"][row], a["modifier_ratio_linear"][row], word))]


def modifiers_html(summary: Mapping, arrays: Mapping, include_js: bool) -> str:
    """The page's "Modifier words" section (every word escaped: they are vocabulary tokens of
    an uploaded checkpoint); ``include_js``: inline plotly.js with its first figure. Empty for
    a report made before modifier words were measured (no ``modifiers`` block)."""
    m = summary.get("modifiers")
    if not isinstance(m, Mapping):
        return ""
    parts = ['<h2 id="modifiers">Modifier words (Maheswaranathan &amp; Sussillo, ICML 2020)</h2>', f'<p class="verdict" id="modifiers-text">{html.escape(str(m.get("text", "")))}</p>']
    if m.get("applies"):
        parts.append(_modifier_tables(m))
        try:
            figures = _modifier_figures(arrays)
        except (KeyError, ValueError, IndexError) as exc:
            parts.append(f'<p class="missing" id="modifier-path-missing">{html.escape(str(exc))}</p>')
            figures = []
        for panel_id, fig in figures:
            parts.append(f'<figure class="panel">{_panel_html(panel_id, fig, include_js)}</figure>')
            include_js = False
    return "\n".join(parts)


def _panel_html(panel_id: str, fig: go.Figure, include_js: bool) -> str:
    return pio.to_html(fig, config=_PLOT_CONFIG, include_plotlyjs=include_js, full_html=False,
                       div_id=panel_id, default_height=f"{fig.layout.height or 480}px",
                       default_width="100%" if not fig.layout.width else f"{fig.layout.width}px")


def _verdict_html(s: Summary) -> str:
    """The attractor verdict in words, first on the page."""
    return (f'<p class="verdict" id="verdict"><b>{html.escape(s.attractor.name.capitalize())}.</b> '
            f'{html.escape(s.attractor.text)}</p>\n')


def _data_fit_html(s: Summary) -> str:
    """Vocabulary coverage and accuracy against chance, with their warnings (``rnnscope.analysis.data_checks``)."""
    text, warnings = fit_lines(s)
    notes = "".join(f"<br><b>Warning:</b> {html.escape(w, quote=False)}" for w in warnings)
    return f'<p class="data-fit{" warn" if warnings else ""}" id="data-fit">{html.escape(text, quote=False)}.{notes}</p>\n'


def _title(s: Summary) -> str:
    return f"rnnscope report: {s.model.arch.upper()} (H={s.model.hidden_size}) on {s.data.name}"


# ---------------------------------------------------------------------------- public API
def render_report_html(report, path: str | os.PathLike | None = None) -> str:
    """Render a report as one self-contained HTML page (plotly.js inlined once).

    Parameters
    ----------
    report : analysis.report.Report
        Anything with ``summary`` (a dict that reads as ``rnnscope.analysis.summary.Summary``; else
        ``SummaryError``) and ``arrays`` (dict of str to ndarray).
    path : str or PathLike, optional
        Also write the page there, atomically (temporary file, then rename).

    Returns
    -------
    str
        The HTML. Each panel is one plotly figure div whose id is the panel id
        (``fig2a`` ... ``fig7``); a panel whose arrays are missing or malformed is a
        ``<p class="missing">`` note instead.
    """
    summary, arrays = dict(report.summary), dict(report.arrays)
    parts, js_done = [], False
    for panel_id, heading, caption, build in PANELS:
        try:
            fig = build(summary, arrays)
        except (KeyError, ValueError, IndexError) as exc:
            why = f"not in this report: {exc.args[0]}" if isinstance(exc, KeyError) else str(exc)
            body = f'<p class="missing" id="{panel_id}-missing">{html.escape(why)}</p>'
        else:
            body = _panel_html(panel_id, fig, include_js=not js_done)
            js_done = True
        parts.append(f'<figure class="panel"><h2>{html.escape(heading)}</h2>{body}'
                     f"<figcaption>{html.escape(caption)}</figcaption></figure>")
    modifiers = modifiers_html(summary, arrays, include_js=not js_done)
    typed = read(summary)
    title = html.escape(_title(typed))
    page = (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{title}</title>'
            f"<style>{_CSS}</style></head><body><h1>{title}</h1>\n{_verdict_html(typed)}{_data_fit_html(typed)}"
            f"<h2>Summary</h2>\n"
            f"{summary_tables(summary)}\n" + "\n".join(parts) + f"\n{modifiers}\n</body></html>\n")
    if path is not None:
        write_bytes(path, page.encode("utf-8"), mode_bits=0o644)  # a report page is meant to be shared
    return page


def export_summary_image(report, path: str | os.PathLike, *, width: int = 1500,
                         height: int = 720, scale: float = 1.0) -> Path:
    """Write the Fig. 7 summary of ``report`` as a static image (PNG, SVG, PDF...).

    Drawn with kaleido, which drives a headless Chrome/Chromium: found on ``PATH``
    (Debian: ``/usr/bin/chromium``) or named by the ``BROWSER_PATH`` environment
    variable. WebGL traces are replaced by SVG ones for the export. Written atomically.

    Parameters
    ----------
    report : analysis.report.Report
    path : str or PathLike
        Target file; the format is its suffix (one of ``IMAGE_FORMATS``).
    width, height : int
        Size in CSS pixels.
    scale : float
        Pixel density multiplier (PNG/JPEG/WEBP).

    Raises
    ------
    ValueError
        Unknown suffix.
    ImageExportError
        kaleido or a browser is not available, or the export failed.
    """
    path = Path(path)
    fmt = path.suffix.lower().lstrip(".")
    if fmt not in IMAGE_FORMATS:
        raise ValueError(f"cannot tell the image format from {path.name!r}: use one of "
                         + ", ".join(f".{f}" for f in IMAGE_FORMATS))
    fig = F.summary_figure(report.summary, report.arrays, webgl=False)
    try:
        data = fig.to_image(format="jpeg" if fmt == "jpg" else fmt, width=width, height=height,
                            scale=scale)
    except (ImportError, ValueError, RuntimeError) as exc:
        raise ImageExportError(
            "could not render the summary image with kaleido: it needs the kaleido package "
            "and Chrome/Chromium (install Debian's 'chromium' or set BROWSER_PATH to a Chrome "
            f"binary). Use the HTML report instead. Cause: {str(exc).strip()}") from exc
    write_bytes(path, data, mode_bits=0o644)  # an exported figure is meant to be shared
    return path


