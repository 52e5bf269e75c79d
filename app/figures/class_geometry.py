"""Figures of a C-class network's geometry of integration (Aitken et al. 2020), pure
functions of the report's ``geometry_*`` arrays (``rnnscope.analysis.class_geometry``).

- :func:`class_points`: the fixed/slow points in their top 3 principal components (3-D;
  2-D when the points span fewer), coloured by the class the network reads at each point,
  with the readout's C−1 difference directions ``w_c − w_0`` drawn from the points' mean;
- :func:`slow_mode_counts`: how many eigenvalues lie within ``slow_tol`` of |λ| = 1 at each
  point, with C−1 (what an unordered C-class integrator needs) marked;
- :func:`word_effects`: each listed word's readout effect ``(w_c − w_0)ᵀ J_inp x`` per class
  difference (the report's ``geometry_word_effects``), the words grouped by the class their
  bag-of-words coefficients favour.
"""
from __future__ import annotations

import html
from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go

from rnnscope.app.figures import _checks, style

#: Colour of class c (the paper's positive green / negative red for the ends of 2 classes).
def class_colour(c: int) -> str:
    return style.QUALITATIVE[int(c) % len(style.QUALITATIVE)]


def _pcs(points: np.ndarray, components: np.ndarray, n: int) -> np.ndarray:
    """Points (K, D) in the first ``n`` of ``components`` (k, D), centred on their mean: (K, n)."""
    return (points - points.mean(axis=0)) @ components[:n].T


def class_points(points, components, point_class, readout_diffs, class_names: Sequence[str],
                 explained) -> go.Figure:
    """The points in their top principal components, coloured by the class read there.

    Parameters
    ----------
    points : (K, D) fixed/slow points, state units
    components : (k, D) the points' principal axes (``geometry_components``), k >= 1
    point_class : (K,) int, argmax of the readout at each point
    readout_diffs : (C−1, D) ``w_c − w_0`` for c = 1..C−1 (logit per state unit)
    class_names : C names
    explained : (k,) variance ratio of each component
    """
    pts = _checks.matrix("points", points)
    comps = np.asarray(components, np.float64)
    n = int(min(3, len(comps)))
    xyz = _pcs(pts.astype(np.float64), comps, n)
    xyz = np.hstack([xyz, np.zeros((len(xyz), 3 - n))])
    cls = np.asarray(point_class, np.int64)
    scale = float(np.abs(xyz).max()) or 1.0
    traces = []
    for c, name in enumerate(class_names):
        rows = np.flatnonzero(cls == c)
        if len(rows):
            traces.append(_scatter3(xyz[rows], f"points read as {name}", class_colour(c), rows))
    diffs = np.asarray(readout_diffs, np.float64) @ comps[:n].T  # in the PC space
    for c, d in enumerate(diffs, start=1):
        d = np.hstack([d, np.zeros(3 - n)])
        d = d / (np.linalg.norm(d) or 1.0) * 0.8 * scale
        traces.append(dict(type="scatter3d", x=[0.0, d[0]], y=[0.0, d[1]], z=[0.0, d[2]], mode="lines+markers",
                           name=html.escape(f"readout {class_names[c]} − {class_names[0]}"),
                           line=dict(color=class_colour(c), width=6), marker=dict(size=[0, 5])))
    axis = [dict(title=dict(text=f"PC{i + 1} ({100 * float(explained[i]):.1f}%)" if i < len(explained) else f"PC{i + 1}"))
            for i in range(3)]
    return style.quick_figure(traces, style.layout(
        "Points in their top principal components, by the class read there",
        scene=dict(xaxis=axis[0], yaxis=axis[1], zaxis=axis[2], aspectmode="data")))


def _scatter3(xyz: np.ndarray, name: str, colour: str, rows: np.ndarray) -> dict:
    return dict(type="scatter3d", x=xyz[:, 0].tolist(), y=xyz[:, 1].tolist(), z=xyz[:, 2].tolist(), mode="markers",
                name=html.escape(name), customdata=rows.tolist(), marker=dict(size=4, color=colour),
                hovertemplate="point %{customdata}<extra>" + html.escape(name) + "</extra>")


def slow_mode_counts(counts, num_classes: int, slow_tol: float) -> go.Figure:
    """Histogram of the number of slow modes (``||λ| − 1| <= slow_tol``) per point, C−1 marked."""
    counts = np.asarray(counts, np.int64)
    values, freq = np.unique(counts, return_counts=True) if len(counts) else (np.array([], np.int64), np.array([]))
    traces = [dict(type="bar", x=values.tolist(), y=freq.tolist(), name="points", marker=dict(color=style.TRAINED),
                   hovertemplate="%{y} points with %{x} slow modes<extra></extra>")]
    fig = style.quick_figure(traces, style.layout(
        f"Slow modes per point (|λ| within {slow_tol:g} of 1)",
        xaxis=dict(title=dict(text="slow modes at the point"), dtick=1), yaxis=dict(title=dict(text="points"))))
    fig.add_vline(x=num_classes - 1, line=dict(color=style.HIGHLIGHT, dash="dash"),
                  annotation_text=f"C − 1 = {num_classes - 1}", annotation_position="top")
    return fig


def word_effects(words: Sequence[str], word_class, effects, class_names: Sequence[str]) -> go.Figure:
    """Each word's readout effect per class difference: one bar group per word, one bar per
    ``w_c − w_0`` (logit units), the words ordered by the class they favour."""
    eff = np.asarray(effects, np.float64).reshape(len(words), -1)
    order = np.argsort(np.asarray(word_class, np.int64), kind="stable")
    labels = [html.escape(str(words[i])) for i in order]
    traces = [dict(type="bar", x=labels, y=eff[order, j].tolist(), name=html.escape(f"{class_names[j + 1]} − {class_names[0]}"),
                   marker=dict(color=class_colour(j + 1))) for j in range(eff.shape[1])]
    return style.quick_figure(traces, style.layout(
        "Words' readout effect per class difference", barmode="group",
        xaxis=dict(title=dict(text="word (grouped by the class it favours)")),
        yaxis=dict(title=dict(text="(w_c − w_0)ᵀ J_inp x, logit"))))


def slow_projections(words: Sequence[str], slow_projection) -> go.Figure:
    """Each word's input projection on each slow left eigenvector, ``Re(ℓ_a J_inp x_w)``
    (state units), the median over the points that have slow mode a (heatmap: slow mode ×
    word; blank where no point has that many slow modes)."""
    proj = np.asarray(slow_projection, np.float64)
    n_slow = proj.shape[1] if proj.ndim == 3 else 0
    with np.errstate(all="ignore"):
        med = (np.nanmedian(np.where(np.isfinite(proj), proj, np.nan), axis=0) if n_slow and len(proj)
               else np.zeros((0, len(words))))
    z = [[None if not np.isfinite(v) else float(v) for v in row] for row in med]
    traces = [dict(type="heatmap", z=z, x=[html.escape(str(w)) for w in words],
                   y=[f"slow mode {a + 1}" for a in range(n_slow)], colorscale="RdBu", zmid=0.0,
                   colorbar=dict(title=dict(text="Re(ℓ J_inp x)")),
                   hovertemplate="%{x}, %{y}: %{z:.3g}<extra></extra>")]
    fig = style.quick_figure(traces, style.layout("Words on each slow left eigenvector (median over points)",
                                                  xaxis=dict(title=dict(text="word"))))
    if not n_slow:
        style.empty_note(fig, "no slow modes at any point: nothing integrates the words")
    return fig
