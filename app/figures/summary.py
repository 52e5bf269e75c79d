"""Fig. 7 summary panel of one analysed model, and a Fig. 6-like comparison of several.

Also the small pure adapters from a report's arrays (see ``analysis/report.py`` for every
key) to the inputs of the single-panel figure functions, shared by the HTML report and
the dashboard.
"""
from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from rnnscope.analysis.summary import Summary, read, value_at

from . import manifold, projections, spectra, state_space, style

#: Fig. 7 panel titles, row-major (2 rows x 4 columns).
SUMMARY_PANELS = (
    "PCA on RNN states", "RNN state space", "Approximate fixed points", "τ along the manifold",
    "Word inputs J_inp x and ℓ1", "Input projection ℓ1ᵀ J_inp x", "r1 on the manifold",
    "|r1 · m| vs null",
)


# ----------------------------------------------------------------------------- adapters
def project_directions(vectors, components) -> np.ndarray:
    """Directions (no mean subtracted) expressed on the top-2 state PCs.

    Parameters
    ----------
    vectors : ndarray of shape (D,) or (n, D)
    components : ndarray of shape (>=2, D)
        State PCA axes (rows), ``arrays["state_pca_components"]``.

    Returns
    -------
    ndarray of shape (2,) or (n, 2)
    """
    comps = np.asarray(components, dtype=np.float64)
    vec = np.asarray(vectors, dtype=np.float64)
    if comps.ndim != 2 or comps.shape[0] < 2 or vec.shape[-1] != comps.shape[1]:
        raise ValueError(f"cannot project vectors of shape {vec.shape} on components of shape "
                         f"{comps.shape}")
    return vec @ comps[:2].T


def example_points(theta, n: int = 3) -> np.ndarray:
    """Indices of ``n`` representative fixed points spread along the manifold.

    The points whose θ is nearest to ``n`` evenly spaced targets in [-0.8, 0.8] (just the
    one nearest θ = 0 when ``n`` is 1), without repeats.

    Parameters
    ----------
    theta : ndarray of shape (K,)

    Returns
    -------
    ndarray of int64, shape (min(n, K),)
    """
    th = np.asarray(theta, dtype=np.float64).reshape(-1)
    if th.size == 0:
        return np.zeros(0, dtype=np.int64)
    targets = np.array([0.0]) if n == 1 else np.linspace(-0.8, 0.8, n)
    chosen: list[int] = []
    for target in targets:
        order = np.argsort(np.abs(th - target), kind="stable")
        pick = next((int(i) for i in order if int(i) not in chosen), None)
        if pick is not None:
            chosen.append(pick)
    return np.array(chosen, dtype=np.int64)


def mean_projections(input_projection, word_valence) -> dict[int, np.ndarray]:
    """Per fixed point, the input projection averaged over each word set.

    Parameters
    ----------
    input_projection : ndarray of shape (K, W)
        ℓ1ᵀ J_inp x_w at each point for each listed word.
    word_valence : ndarray of int, shape (W,)
        1 positive, -1 negative, 0 neutral.

    Returns
    -------
    dict mapping 1, -1, 0 to ndarray of shape (K,) (NaN where the set is empty)
    """
    proj = np.asarray(input_projection, dtype=np.float64)
    val = np.asarray(word_valence).reshape(-1)
    if proj.ndim != 2 or proj.shape[1] != val.shape[0]:
        raise ValueError(f"input_projection {proj.shape} does not match {val.shape[0]} words")
    out = {}
    for code in (1, -1, 0):
        cols = val == code
        out[code] = (proj[:, cols].mean(axis=1) if cols.any()
                     else np.full(proj.shape[0], np.nan))
    return out


def example_point(arrays: Mapping[str, np.ndarray], point: int | None = None) -> int:
    """The fixed point shown in the single-point panels: ``point`` if given, else the one
    stored with ``jinp_x_pc`` (``jinp_x_point``), else the one nearest θ = 0."""
    if point is not None:
        return int(point)
    if "jinp_x_point" in arrays and np.asarray(arrays["jinp_x_point"]).size:
        return int(np.asarray(arrays["jinp_x_point"]).reshape(-1)[0])
    picked = example_points(arrays["theta"], 1)
    if picked.size == 0:
        raise ValueError("no fixed points")
    return int(picked[0])


# ------------------------------------------------------------------- panel trace builders
def _panel_pca(summary, a, ctx):
    return state_space.explained_variance_traces(a["explained_variance_ratio"],
                                                 a.get("explained_variance_ratio_untrained"))


def _panel_density(summary, a, ctx):
    zero = None
    if {"readout", "readout_bias", "state_pca_mean"} <= set(a):
        zero = state_space.readout_zero_offset(a["readout"], a["readout_bias"],
                                               a["state_pca_mean"])
    return state_space.state_density_traces(
        a["density_pos"], a["density_neg"], a["density_edges"], a.get("example_traj_pos"),
        a.get("example_traj_neg"), a.get("initial_state_pc"), a.get("readout_pc"),
        readout_zero=zero, show_legend=False)


def _panel_fixed_points(summary, a, ctx):
    return manifold.fixed_point_traces(a["fp_pc"], a["theta"], selected=ctx["point"],
                                       colorbar=ctx["colorbar"], webgl=ctx["webgl"])


def _panel_tau(summary, a, ctx):
    return spectra.top_time_constant_traces(a["theta"], a["tau_top3"], ctx["point"],
                                            webgl=ctx["webgl"], show_legend=False)


def _panel_inputs(summary, a, ctx):
    if "jinp_x_pc" not in a or not len(a["jinp_x_pc"]):
        raise KeyError("jinp_x_pc")
    k = ctx["point"]
    l1_pc = project_directions(a["l1"][k], a["state_pca_components"])
    return projections.input_effect_traces(a["jinp_x_pc"], a["word_valence"], l1_pc,
                                           a.get("words"), show_legend=False)


def _panel_projection(summary, a, ctx):
    means = mean_projections(a["input_projection"], a["word_valence"])
    return projections.input_projection_histogram_traces(means[1], means[-1], means[0])


def _panel_r1(summary, a, ctx):
    k = ctx["point"]
    r1_pc = project_directions(a["r1"][k], a["state_pca_components"])
    return manifold.right_eigenvector_traces(a["fp_pc"], k, r1_pc, webgl=ctx["webgl"],
                                             show_legend=False)


def _panel_overlap(summary, a, ctx):
    return projections.overlap_traces(a["r1_m_overlap"], a["r1_m_null"])


_PANEL_BUILDERS: tuple[Callable, ...] = (
    _panel_pca, _panel_density, _panel_fixed_points, _panel_tau,
    _panel_inputs, _panel_projection, _panel_r1, _panel_overlap,
)

_AXES = (  # (x title, y title, x type, y type) per panel
    ("# PCs", "cum. variance", None, None), ("PC1", "PC2", None, None),
    ("PC1", "PC2", None, None), ("θ", "τ (tokens)", None, "log"),
    ("ΔPC1", "ΔPC2", None, None), ("mean ℓ1ᵀ J_inp x", "# points", None, None),
    ("PC1", "PC2", None, None), ("|r1 · m|", "density", None, None),
)


def _title(summary: Mapping | Summary) -> str:
    """Figure title: architecture, size, dataset and test accuracy from the summary."""
    s = read(summary)
    parts = [s.model.arch.upper(), f"H={s.model.hidden_size}", f"on {s.data.name}"]
    if math.isfinite(s.accuracy.test):
        parts.append(f"(test accuracy {s.accuracy.test:.1%})")
    return "Summary: " + " ".join(parts)


def summary_figure(report_summary: Mapping, arrays: Mapping[str, np.ndarray], *,
                   point: int | None = None, webgl: bool | None = None) -> go.Figure:
    """The paper's Fig. 7 summary of one model: eight panels in a 2 x 4 grid.

    Upper row: PCA trained vs untrained; state density; fixed points by θ; τ vs θ.
    Lower row: J_inp x with ℓ1 at one fixed point; histograms of the per-point mean input
    projection; r1 on the manifold at that point; |r1 · m| vs the random-vector null.

    Parameters
    ----------
    report_summary : dict
        ``Report.summary`` (title: architecture, dataset, accuracy).
    arrays : dict of str to ndarray
        ``Report.arrays``. A panel whose arrays are missing or malformed shows a note
        saying so instead of failing the whole figure.
    point : int, optional
        Fixed point for the single-point panels (default ``example_point``).
    webgl : bool or None
        See ``style.scatter_cls``; pass False for static image export.
    """
    fig = make_subplots(rows=2, cols=4, subplot_titles=SUMMARY_PANELS, horizontal_spacing=0.07,
                        vertical_spacing=0.16)
    chosen, no_point = None, None
    try:
        chosen = example_point(arrays, point)
    except (KeyError, ValueError) as exc:
        no_point = exc  # the single-point panels report why
    domain = fig.layout.xaxis3.domain
    ctx = dict(point=chosen, webgl=webgl, colorbar=dict(
        title=dict(text="θ", side="right"), thickness=8, len=0.38, x=domain[1] + 0.003, y=0.79,
        xanchor="left"))
    for i, (build, axes) in enumerate(zip(_PANEL_BUILDERS, _AXES)):
        row, col = divmod(i, 4)
        try:
            if no_point is not None and build in (_panel_inputs, _panel_r1):
                raise no_point
            traces = build(report_summary, arrays, ctx)
        except (KeyError, ValueError, IndexError) as exc:
            traces = []
            _panel_note(fig, i, _missing_text(exc))
        for trace in traces:
            fig.add_trace(trace, row=row + 1, col=col + 1)
        fig.update_xaxes(title_text=axes[0], type=axes[2], row=row + 1, col=col + 1,
                         title_standoff=4)
        fig.update_yaxes(title_text=axes[1], type=axes[3], row=row + 1, col=col + 1,
                         title_standoff=4)
    if "tau_top3" in arrays:  # whole-number tick labels on the τ panel's log axis
        fig.update_yaxes(**style.log_ticks(arrays["tau_top3"]), row=1, col=4)
    fig.update_layout(**style.layout(_title(report_summary), barmode="overlay", width=1500,
                                     height=720, legend=dict(orientation="h", y=-0.1, x=0.5,
                                                             xanchor="center")))
    return fig


def _missing_text(exc: Exception) -> str:
    if isinstance(exc, KeyError):
        return f"not in this report: {exc.args[0]}"
    return f"cannot draw: {exc}"


def _panel_note(fig: go.Figure, index: int, text: str) -> None:
    """Grey note centred in subplot ``index`` (0-based, row-major)."""
    suffix = "" if index == 0 else str(index + 1)
    xd = fig.layout[f"xaxis{suffix}"].domain
    yd = fig.layout[f"yaxis{suffix}"].domain
    style.empty_note(fig, text, x=(xd[0] + xd[1]) / 2, y=(yd[0] + yd[1]) / 2)


# --------------------------------------------------------------------------- comparison
def _share(word_share: Mapping, key: str) -> float:
    """One word set's share from ``compare_models``'s ``word_shares`` (NaN when missing)."""
    try:
        out = float(word_share[key])
    except (KeyError, TypeError, ValueError):
        return math.nan
    return out if math.isfinite(out) else math.nan


def model_label(summary: Mapping | Summary) -> str:
    """Short label for one analysed model: ``"LSTM-64 imdb"``."""
    s = read(summary)
    return f"{s.model.arch.upper()}-{s.model.hidden_size} {s.data.name}"


#: Short name of the comparison's word panel and what it shows, said in the figure.
WORD_SHARE_TITLE = "Readout change per word"
WORD_SHARE_NOTE = ("Words: the logit change one word's push along the integration mode makes, (ℓ1ᵀ J_inp x)(r1 · w), "
                   "as a share of the logit range over the model's own fixed and slow points (analysis.projections."
                   "readout_share). ℓ1ᵀ J_inp x itself is in state units along r1 (unit length, ℓ1ᵀ r1 = 1): "
                   "its size follows each network's state scale, not its sentiment (hover: the raw mean).")

#: (panel title, y axis type, [(series name, where its value is, colour), ...]). A path is
#: read in the typed summary (``rnnscope.analysis.summary.value_at``); ("word_share", set) in ``compare_models``'s
#: ``word_shares``. Every series has a colour of its own: a colour means one thing.
COMPARE_PANELS = (
    ("Accuracy", None, [("network", ("accuracy", "test"), style.TRAINED),
                        ("linearized", ("accuracy", "linearized"), style.HIGHLIGHT),
                        ("bag of words", ("accuracy", "bow"), "#8c564b")]),
    ("PCs for 90% variance", None, [("trained", ("pca", "n_components_90"), "#0b3c8c"),
                                    ("untrained", ("pca", "n_components_90_untrained"),
                                     style.UNTRAINED)]),
    ("Median τ (tokens)", "log", [("τ1", ("spectra", "tau1_median"), "#a6005a"),
                                  ("τ2", ("spectra", "tau2_median"), "#e377c2"),
                                  ("τ3", ("spectra", "tau3_median"), "#f2a7cf")]),
    (WORD_SHARE_TITLE, None,
     [("positive", ("word_share", "positive"), style.POSITIVE),
      ("negative", ("word_share", "negative"), style.NEGATIVE),
      ("neutral", ("word_share", "neutral"), style.NEUTRAL)]),
    ("Median |r1 · m|", None, [("r1 · m", ("projections", "r1_m_overlap_median"), style.INK),
                               ("null", ("projections", "r1_m_null_median"), style.NULL)]),
    ("One-step linearization error", "log",
     [("median", ("linearization", "one_step_rel_error_median"), "#b8860b"),
      ("90th percentile", ("linearization", "one_step_rel_error_p90"), "#e8c15a")]),
)
#: The raw mean input projection (state units) each word-share series shows on hover.
_RAW_PROJECTION = {"positive": "mean_positive", "negative": "mean_negative", "neutral": "mean_neutral"}


def _panel_values(path, summaries, word_shares) -> list[float]:
    """One value per model for a series' ``path`` (NaN where missing)."""
    if path[0] == "word_share":
        return [_share(w, path[1]) for w in word_shares]
    return [value_at(s, *path) for s in summaries]


def compare_models(summaries: Sequence[Mapping], labels: Sequence[str] | None = None,
                   word_shares: Sequence[Mapping] | None = None) -> go.Figure:
    """Fig. 6-like comparison: key metrics of several analysed models side by side.

    Six panels of grouped markers (not bars: two panels have log axes), one group per
    model: accuracy (network, linearized, bag of words), PCs for 90% variance (trained vs
    untrained), median τ1-τ3 (log), the readout change per word of each word set as a
    share of the model's logit range (``WORD_SHARE_NOTE``; its axis says so), median
    |r1 · m| vs null, linearization error (log). One legend, grouped by panel; each series
    its own colour.

    Parameters
    ----------
    summaries : sequence of dict or Summary
        ``Report.summary`` of each model, read strictly (``rnnscope.analysis.summary``); undefined
        (null) metrics leave a gap.
    labels : sequence of str, optional
        Group label per model (default ``model_label``; repeated labels get ``#2``...).
    word_shares : sequence of dict, optional
        Per model, ``{"positive", "negative", "neutral"}``: the mean of
        ``rnnscope.analysis.projections.readout_share`` over the points and the words of each set
        (dimensionless). Missing: that panel has gaps.
    """
    summaries = [read(s) for s in summaries]
    labels = _unique_labels(labels if labels is not None else [model_label(s) for s in summaries])
    if len(labels) != len(summaries):
        raise ValueError(f"{len(summaries)} summaries but {len(labels)} labels")
    word_shares = list(word_shares) if word_shares is not None else [{}] * len(summaries)
    if len(word_shares) != len(summaries):
        raise ValueError(f"{len(summaries)} summaries but {len(word_shares)} word shares")
    fig = make_subplots(rows=2, cols=3, subplot_titles=[p[0] for p in COMPARE_PANELS],
                        horizontal_spacing=0.08, vertical_spacing=0.2)
    for i, (title, ytype, series) in enumerate(COMPARE_PANELS):
        row, col = divmod(i, 3)
        values = []
        for name, path, color in series:
            y = _panel_values(path, summaries, word_shares)
            values.append(y)
            raw = ([value_at(s, "projections", _RAW_PROJECTION[path[1]]) for s in summaries]
                   if path[0] == "word_share" else None)
            fig.add_trace(go.Scatter(
                x=labels, y=y, name=name, mode="markers", customdata=raw,
                marker=dict(color=color, size=11, line=dict(color="white", width=1)),
                legendgroup=f"panel{i}", legendgrouptitle_text=title, showlegend=True,
                hovertemplate="%{x}: %{y:.4g}" + (" (mean ℓ1ᵀ J_inp x %{customdata:.3g} state units)"
                                                  if raw is not None else "") + "<extra>" + name + "</extra>",
            ), row=row + 1, col=col + 1)
        axis = style.log_ticks(*values) if ytype == "log" else {"type": ytype}
        if title == WORD_SHARE_TITLE:
            axis["title_text"] = "Δ logit ÷ logit range of the points"
        fig.update_yaxes(**axis, row=row + 1, col=col + 1)
    fig.update_layout(**style.layout("Model comparison", scattermode="group", scattergap=0.5,
                                     width=1300, height=720, margin=dict(l=60, r=20, t=50, b=120),
                                     legend=dict(orientation="h", y=-0.12, x=0.5, xanchor="center",
                                                 yanchor="top", groupclick="toggleitem")))
    return fig


def _unique_labels(labels: Sequence[str]) -> list[str]:
    """Labels with repeats suffixed ``#2``, ``#3``... (bar groups are keyed by label)."""
    seen: dict[str, int] = {}
    out = []
    for label in labels:
        label = str(label)
        seen[label] = seen.get(label, 0) + 1
        out.append(label if seen[label] == 1 else f"{label} #{seen[label]}")
    return out
