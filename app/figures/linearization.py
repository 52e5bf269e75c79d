"""Fig. 5b: single-step error of the linearized dynamics."""
from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from . import _checks, style


def log_histogram(values, n_bins: int = 40) -> tuple[np.ndarray, np.ndarray, int]:
    """Histogram of the positive finite ``values`` on log-spaced bins.

    Parameters
    ----------
    values : ndarray of shape (N,)
    n_bins : int

    Returns
    -------
    counts : ndarray of int64, shape (n_bins,) (empty when no positive finite value)
    edges : ndarray of shape (n_bins + 1,), geometric spacing
    n_dropped : int
        Values left out (zero, negative or non-finite: no place on a log axis).
    """
    v = _checks.vector("values", values)
    keep = np.isfinite(v) & (v > 0)
    v = v[keep]
    if v.size == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0), int((~keep).sum())
    lo, hi = np.log10(v.min()), np.log10(v.max())
    if hi - lo < 1e-6:
        lo, hi = lo - 0.5, hi + 0.5
    edges = np.logspace(lo, hi, n_bins + 1)
    edges[0], edges[-1] = min(edges[0], v.min()), max(edges[-1], v.max())
    counts, _ = np.histogram(v, bins=edges)
    return counts.astype(np.int64), edges, int((~keep).sum())


def linearization_error_traces(rel_errors, *, n_bins: int = 40, show_legend: bool = True) -> list:
    """Traces of Fig. 5b; see ``linearization_error_hist``."""
    counts, edges, _ = log_histogram(rel_errors, n_bins)
    if counts.size == 0:
        return []
    frac = counts / counts.sum()
    step_y = np.concatenate([frac, frac[-1:]])
    traces = [go.Scatter(
        x=edges, y=style.f32(step_y), mode="lines", line=dict(shape="hv", color=style.TRAINED),
        fill="tozeroy", name="steps", showlegend=False,
        customdata=np.concatenate([counts, counts[-1:]]),
        hovertemplate="error ≥ %{x:.3g}: %{customdata} steps<extra></extra>",
    )]
    v = np.asarray(rel_errors, dtype=np.float64)
    med = float(np.median(v[np.isfinite(v) & (v > 0)]))
    traces.append(go.Scatter(x=[med, med], y=[0.0, float(frac.max())], mode="lines",
                             name=f"median {med:.3g}", showlegend=show_legend,
                             line=dict(color=style.INK, dash="dash", width=1.5), hoverinfo="name"))
    return traces


#: Line styles of the labelled variants drawn beside the paper's error.
VARIANT_STYLES = {"recurrent part": dict(color=style.UNTRAINED, dash="dot"),
                  "input part": dict(color=style.HIGHLIGHT, dash="dash"),
                  "at the previous state": dict(color=style.POSITIVE, dash="dashdot")}


def error_variants(arrays: dict) -> dict:
    """The labelled variants of a report's one-step error (``VARIANT_STYLES`` names)."""
    return {"recurrent part": arrays["one_step_rel_error_recurrent"],
            "input part": arrays["one_step_rel_error_input"],
            "at the previous state": arrays["one_step_rel_error_previous"]}


def variant_traces(variants: dict, *, n_bins: int = 40) -> list:
    """Step lines (fraction of steps per log bin) of each labelled error variant."""
    traces = []
    for name, values in variants.items():
        counts, edges, _ = log_histogram(values, n_bins)
        if counts.size == 0:
            continue
        frac = counts / counts.sum()
        v = np.asarray(values, np.float64)
        med = float(np.median(v[np.isfinite(v) & (v > 0)]))
        traces.append(go.Scatter(x=edges, y=style.f32(np.concatenate([frac, frac[-1:]])), mode="lines",
                                 line=dict(shape="hv", width=1.5, **VARIANT_STYLES.get(name, {})),
                                 name=f"{name} (median {med:.3g})", hoverinfo="name"))
    return traces


def linearization_error_hist(rel_errors, *, variants: dict | None = None, n_bins: int = 40) -> go.Figure:
    """Fig. 5b: histogram of the relative one-step linearization error (log x axis).

    The error of one step is ‖F(h, x) − (h* + J_rec(h − h*) + J_inp x)‖ / ‖F(h, x)‖ with
    h* the nearest fixed point. Binned here on log-spaced bins (a step line of the
    fraction of steps per bin), so the payload does not grow with N.

    Parameters
    ----------
    rel_errors : ndarray of shape (N,)
        Relative errors (dimensionless); zero or non-finite values are left out.
    variants : dict name -> ndarray of shape (N,), optional
        Labelled variants drawn as lines beside it (``VARIANT_STYLES``: its recurrent and
        input parts, and linearizing at the previous state).
    n_bins : int
    """
    fig = go.Figure(linearization_error_traces(rel_errors, n_bins=n_bins)
                    + variant_traces(variants or {}, n_bins=n_bins))
    fig.update_layout(**style.layout("Linearization error (one step)"),
                      xaxis_title="relative error", yaxis_title="fraction of steps")
    fig.update_xaxes(**style.log_ticks(rel_errors, *(variants or {}).values()))
    if not fig.data:
        style.empty_note(fig, "no positive finite errors")
    return fig
