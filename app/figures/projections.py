"""Fig. 4a, 4c, 4d: word inputs against the slow eigenmodes."""
from __future__ import annotations

import html
from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go

from . import _checks, style

#: Valence code -> (legend name, colour): 1 positive, -1 negative, 0 neutral.
VALENCE = {1: ("positive", style.POSITIVE), -1: ("negative", style.NEGATIVE),
           0: ("neutral", style.NEUTRAL)}


def input_effect_traces(jinp_x_pc, valence, l1_pc=None, words: Sequence[str] | None = None, *,
                        show_legend: bool = True) -> list:
    """Traces of Fig. 4a; see ``input_effects``."""
    xy = _checks.matrix("jinp_x_pc", jinp_x_pc, cols=2)
    val = _checks.vector("valence", valence, length=xy.shape[0], dtype=np.int64)
    if words is not None and len(words) != xy.shape[0]:
        raise ValueError(f"{xy.shape[0]} word effects but {len(words)} words")
    bad = set(np.unique(val).tolist()) - set(VALENCE)
    if bad:
        raise ValueError(f"valence codes must be 1, -1 or 0, got {sorted(bad)}")
    traces = []
    for code in (1, -1, 0):
        name, color = VALENCE[code]
        rows = np.flatnonzero(val == code)
        text = None if words is None else [html.escape(str(words[i])) for i in rows]
        traces.append(dict(
            type="scatter", x=style.f32(xy[rows, 0]), y=style.f32(xy[rows, 1]), mode="markers",
            name=f"{name} words", hovertext=text, hoverinfo="text" if text else "x+y",
            marker=dict(size=6, color=color, opacity=0.75), showlegend=show_legend,
            legendgroup=name,
        ))
    for code in (1, -1):
        rows = val == code
        if rows.any():
            name, color = VALENCE[code]
            traces.append(style.arrow((0.0, 0.0), xy[rows].mean(axis=0), color=color,
                                      name=f"{name} centre of mass", showlegend=False,
                                      legendgroup=name))
    if l1_pc is not None:
        l1 = _checks.vector("l1_pc", l1_pc, length=2)
        norm = float(np.linalg.norm(l1))
        reach = float(np.linalg.norm(xy, axis=1).max()) if xy.shape[0] else 1.0
        if norm > 0:
            traces.append(style.arrow((0.0, 0.0), l1 / norm * (reach or 1.0), color=style.EIGVEC,
                                      name="ℓ1 (top left eigenvector)", showlegend=show_legend,
                                      width=3))
    traces.append(dict(type="scatter", x=[0.0], y=[0.0], mode="markers", name="fixed point",
                             marker=dict(symbol="cross-thin", size=12,
                                         line=dict(color=style.INK, width=2)),
                             hoverinfo="name", showlegend=False))
    return traces


def input_effects(jinp_x_pc, valence, l1_pc=None, words: Sequence[str] | None = None, *,
                  point: int | None = None) -> go.Figure:
    """Fig. 4a: instantaneous effect J_inp x of words at one fixed point, on PC1/PC2.

    Parameters
    ----------
    jinp_x_pc : ndarray of shape (W, 2)
        J_inp(h*) x_w for each listed word, projected on PC1/PC2 (a displacement: the
        fixed point sits at the origin).
    valence : ndarray of int, shape (W,)
        1 positive (green), -1 negative (red), 0 neutral (cyan).
    l1_pc : ndarray of shape (2,), optional
        Top left eigenvector ℓ1 at the point, projected on PC1/PC2 (blue arrow, drawn as
        long as the largest word effect).
    words : sequence of str, length W, optional
        Word text for hover (escaped).
    point : int, optional
        Index of the fixed point, for the title.
    """
    fig = go.Figure(input_effect_traces(jinp_x_pc, valence, l1_pc, words))
    title = "Effect of word inputs J_inp x" + (f" at fixed point {point}" if point is not None
                                                else "")
    fig.update_layout(**style.layout(title), xaxis_title="ΔPC1", yaxis_title="ΔPC2")
    fig.update_yaxes(scaleanchor="x", scaleratio=1)
    return fig


def _shared_bins(arrays: Sequence[np.ndarray], n_bins: int) -> dict | None:
    """Common histogram bins (plotly ``xbins``) over all finite values of ``arrays``."""
    finite = np.concatenate([a[np.isfinite(a)] for a in arrays]) if arrays else np.zeros(0)
    if finite.size == 0:
        return None
    lo, hi = float(finite.min()), float(finite.max())
    if hi <= lo:
        lo, hi = lo - 0.5, hi + 0.5
    size = (hi - lo) / n_bins
    return dict(start=lo, end=hi + 1e-9 * (hi - lo), size=size)


def input_projection_histogram_traces(mean_proj_pos, mean_proj_neg, mean_proj_neu, *,
                                      n_bins: int = 40, show_legend: bool = True) -> list:
    """Traces of Fig. 4c; see ``input_projection_histograms``."""
    values = [_checks.vector(f"mean_proj_{n}", v)
              for n, v in (("pos", mean_proj_pos), ("neg", mean_proj_neg), ("neu", mean_proj_neu))]
    bins = _shared_bins(values, n_bins)
    traces = []
    for code, x in zip((1, -1, 0), values):
        name, color = VALENCE[code]
        traces.append(go.Histogram(x=style.f32(x), name=name, xbins=bins, autobinx=bins is None,
                                   marker_color=color, opacity=0.65, showlegend=show_legend,
                                   legendgroup=name,
                                   hovertemplate="%{x}: %{y} points<extra>" + name + "</extra>"))
    return traces


def input_projection_histograms(mean_proj_pos, mean_proj_neg, mean_proj_neu, *,
                                n_bins: int = 40) -> go.Figure:
    """Fig. 4c: histogram over fixed points of the average input projection per word set.

    Parameters
    ----------
    mean_proj_pos, mean_proj_neg, mean_proj_neu : ndarray of shape (K,)
        At each fixed point, ℓ1ᵀ J_inp x averaged over the positive / negative / neutral
        words.
    n_bins : int
        Number of shared bins.
    """
    fig = go.Figure(input_projection_histogram_traces(mean_proj_pos, mean_proj_neg, mean_proj_neu,
                                                      n_bins=n_bins))
    fig.update_layout(**style.layout("Input projection onto the slowest mode"), barmode="overlay",
                      xaxis_title="mean ℓ1ᵀ J_inp x", yaxis_title="# fixed points")
    return fig


def overlap_traces(r1_m_overlap, null, *, n_bins: int = 40, show_legend: bool = True) -> list:
    """Traces of Fig. 4d; see ``overlap_vs_null``."""
    overlap = _checks.vector("r1_m_overlap", r1_m_overlap)
    null = _checks.vector("null", null)
    bins = dict(start=0.0, end=1.0 + 1e-9, size=1.0 / n_bins)
    return [
        go.Histogram(x=style.f32(null), name="null (random vectors)", xbins=bins,
                     histnorm="probability density", marker_color=style.NULL, opacity=0.6,
                     showlegend=show_legend, hovertemplate="%{x}: %{y:.2f}<extra>null</extra>"),
        go.Histogram(x=style.f32(overlap), name="|r1 · m|", xbins=bins,
                     histnorm="probability density", marker_color=style.EIGVEC, opacity=0.75,
                     showlegend=show_legend, hovertemplate="%{x}: %{y:.2f}<extra>r1·m</extra>"),
    ]


def overlap_vs_null(r1_m_overlap, null, *, n_bins: int = 40) -> go.Figure:
    """Fig. 4d: overlap |cos(r1, m)| over fixed points against random unit vectors.

    Parameters
    ----------
    r1_m_overlap : ndarray of shape (K,)
        |cos| between the top right eigenvector and the manifold axis m at each point.
    null : ndarray of shape (n,)
        |cos| between m and random unit vectors of the state size (chance level).
    n_bins : int
        Number of bins on [0, 1].
    """
    fig = go.Figure(overlap_traces(r1_m_overlap, null, n_bins=n_bins))
    fig.update_layout(**style.layout("Overlap of r1 with the manifold"), barmode="overlay",
                      xaxis_title="|r1 · m|", yaxis_title="density")
    fig.update_xaxes(range=[0, 1])
    return fig
