"""The evidence behind the attractor verdict: where the seeds ended, what the tolerance
chooses, and what the zero-input dynamics do to the points (``rnnscope.analysis.attractors``)."""
from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from . import _checks, style

#: Colour of each seed class (``rnnscope.analysis.slow_points.CLASSES``).
CLASS_COLOURS = {"fixed": style.TRAINED, "slow": style.HIGHLIGHT, "outlier": style.GREY,
                 "stalled": style.NEGATIVE, "max_iter": style.UNTRAINED, "nonfinite": style.INK}


def seed_q_traces(seed_q, seed_class, *, n_bins: int = 40) -> list:
    """Stacked histogram of log10 q of every seed's end state, one trace per class."""
    q = _checks.vector("seed_q", seed_q)
    cls = np.asarray(seed_class).astype(str)
    ok = np.isfinite(q) & (q > 0)
    if not ok.any():
        return []
    logq = np.log10(q[ok])
    edges = np.linspace(np.floor(logq.min()), np.ceil(logq.max()) + 1e-9, n_bins + 1)
    centres = 10 ** ((edges[:-1] + edges[1:]) / 2)
    traces = []
    for name, colour in CLASS_COLOURS.items():
        sel = cls[ok] == name
        if sel.any():
            counts, _ = np.histogram(logq[sel], bins=edges)
            traces.append(go.Bar(x=centres, y=counts, name=f"{name} ({int(sel.sum())})", marker_color=colour,
                                 hovertemplate=f"{name}: %{{y}} seeds near q = %{{x:.1e}}<extra></extra>"))
    return traces


def attractor_evidence(seed_q, seed_class, tol: float, slow_q_max: float, sweep: dict,
                       curve_steps, curve_extent, curve_inner) -> go.Figure:
    """Three panels: seeds' final q by class; points and kept extent against the q
    threshold; the point set's extent under iteration of F(·, 0).

    Parameters
    ----------
    seed_q : ndarray of shape (S,)
        Final q of every seed.
    seed_class : str ndarray of shape (S,)
    tol, slow_q_max : float
        The fixed-point tolerance and the slow-point bound in use (vertical lines).
    sweep : dict of ndarrays of shape (T,)
        ``tolerance``, ``n_points``, ``extent_ratio``, ``continuous`` (report ``sweep_*``).
    curve_steps, curve_extent, curve_inner : ndarray of shape (n,)
        The extent (and the extent kept inside groups) after each number of steps.
    """
    fig = make_subplots(rows=1, cols=3, horizontal_spacing=0.09, subplot_titles=(
        "Where the seeds ended (q)", "Points vs tolerance", "Extent under F(·, 0)"))
    for trace in seed_q_traces(seed_q, seed_class):
        fig.add_trace(trace, row=1, col=1)
    for value, label, dash in ((tol, "tol", "dash"), (slow_q_max, "slow bound", "dot")):
        if value and value > 0:
            fig.add_vline(x=float(value), line=dict(color=style.INK, dash=dash, width=1), row=1, col=1,
                          annotation_text=label, annotation_position="top")
    tolerance = _checks.vector("sweep_tolerance", sweep["tolerance"])
    n_points = np.asarray(sweep["n_points"], np.float64)
    cont = np.asarray(sweep["continuous"], bool)
    fig.add_trace(go.Scatter(x=tolerance, y=n_points, mode="lines", line=dict(color=style.GREY),
                             showlegend=False, hoverinfo="skip"), row=1, col=2)
    for flag, name, colour in ((True, "keeps its extent", style.POSITIVE), (False, "collapses / too few", style.NEGATIVE)):
        sel = cont == flag
        fig.add_trace(go.Scatter(
            x=tolerance[sel], y=n_points[sel], mode="markers", name=name, marker=dict(color=colour, size=9),
            customdata=np.asarray(sweep["extent_ratio"], np.float64)[sel],
            hovertemplate="q < %{x:.0e}: %{y} points, extent kept %{customdata:.1%}<extra></extra>"),
            row=1, col=2)
    steps = np.asarray(curve_steps, np.float64)
    if steps.size:
        fig.add_trace(go.Scatter(x=steps, y=_checks.vector("curve_extent", curve_extent), mode="lines+markers",
                                 name="extent", line=dict(color=style.TRAINED)), row=1, col=3)
        fig.add_trace(go.Scatter(x=steps, y=_checks.vector("curve_inner", curve_inner), mode="lines+markers",
                                 name="kept inside groups", line=dict(color=style.HIGHLIGHT, dash="dot")),
                      row=1, col=3)
    fig.update_layout(**style.layout(None, barmode="stack", legend=dict(orientation="h", y=-0.25)))
    fig.update_xaxes(type="log", exponentformat="power", dtick=2, title_text="q (final, per seed)", row=1, col=1)
    fig.update_xaxes(type="log", exponentformat="power", dtick=2, title_text="q threshold", row=1, col=2)
    fig.update_xaxes(**style.log_ticks(steps), title_text="steps of zero input", row=1, col=3)
    fig.update_yaxes(title_text="seeds", row=1, col=1)
    fig.update_yaxes(title_text="points", row=1, col=2)
    fig.update_yaxes(**style.log_ticks(curve_extent, curve_inner), title_text="state units", row=1, col=3)
    return fig


def attractor_evidence_of(summary: dict, arrays: dict) -> go.Figure:
    """``attractor_evidence`` from a report's summary and arrays (``analysis/report.py``)."""
    sweep = {k: arrays[f"sweep_{k}"] for k in ("tolerance", "n_points", "extent_ratio", "continuous")}
    fp = summary["fixed_points"]
    return attractor_evidence(arrays["seed_q"], arrays["seed_class"], fp["tol"], fp["slow_q_max"], sweep,
                              arrays["attractor_curve_steps"], arrays["attractor_curve_extent"],
                              arrays["attractor_curve_inner"])
