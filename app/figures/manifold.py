"""Fig. 2c and 4b: the fixed-point manifold in state PCs."""
from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from . import _checks, style


def fixed_point_traces(fp_pc, theta=None, *, selected=None, color_by_theta: bool = True,
                       showscale: bool = True, colorbar: dict | None = None,
                       webgl: bool | None = None, labels=None) -> list:
    """Traces of the fixed points on PC1/PC2 (θ-coloured or grey) and the selected points.

    Parameters
    ----------
    fp_pc : ndarray of shape (K, >=2)
        Fixed points projected on the state PCs (columns PC1, PC2, ...).
    theta : ndarray of shape (K,), optional
        Manifold coordinate θ ∈ [-1, 1] of each point (marker colour).
    selected : int or sequence of int, optional
        Indices of points to highlight (open rings).
    color_by_theta : bool
        Colour by θ; False draws the points grey (as in Figs. 3a and 4b).
    webgl : bool or None
        See ``style.scatter_cls``.
    labels : sequence of str of length K, optional
        One more hover line per point (the dashboard: q, fixed or slow, the integration
        mode's |λ| and τ).

    Notes
    -----
    Every fixed-point marker carries ``customdata`` = its index k in ``range(K)``, which
    the dashboard reads from click events. The traces are named ``"fixed points"`` and
    (only when ``selected`` is given) ``"selected"``; the dashboard finds them by name.
    """
    pc = _checks.matrix("fp_pc", fp_pc, min_cols=2)
    k = pc.shape[0]
    sel = _checks.indices("selected", selected, k)
    marker = dict(size=6, color=style.GREY, line=dict(width=0))
    hover = "fixed point %{customdata}<br>PC1 %{x:.3f}, PC2 %{y:.3f}"
    if theta is not None:
        th = _checks.vector("theta", theta, length=k)
        hover += "<br>θ %{marker.color:.3f}" if color_by_theta else ""
        if color_by_theta:
            marker.update(color=style.f32(th), colorscale=style.theta_colors(), cmin=-1.0, cmax=1.0,
                          showscale=showscale,
                          colorbar=colorbar or dict(title=dict(text="θ"), thickness=12, len=0.8))
    extra = {}
    if labels is not None:
        if len(labels) != k:
            raise ValueError(f"labels has {len(labels)} entries for {k} points")
        extra["text"] = [str(t) for t in labels]
        hover += "<br>%{text}"
    traces = [dict(type=style.scatter_type(k, webgl), x=style.f32(pc[:, 0]), y=style.f32(pc[:, 1]),
                   mode="markers", name="fixed points", marker=marker,
                   customdata=np.arange(k, dtype=np.int32), hovertemplate=hover + "<extra></extra>",
                   showlegend=False, **extra)]
    if sel.size:
        traces.append(dict(
            type="scatter", x=style.f32(pc[sel, 0]), y=style.f32(pc[sel, 1]), mode="markers", name="selected",
            customdata=sel.astype(np.int32), showlegend=False,
            marker=dict(size=15, symbol="circle-open", color=style.HIGHLIGHT, line=dict(width=3)),
            hovertemplate="selected fixed point %{customdata}<extra></extra>",
        ))
    return traces


def fixed_point_manifold(fp_pc, theta, fp_evr=None, selected=None, *,
                         webgl: bool | None = None, title: str = "Approximate fixed points",
                         labels=None) -> go.Figure:
    """Fig. 2c: approximate fixed points on the state PCs, coloured by θ.

    Parameters
    ----------
    fp_pc : ndarray of shape (K, >=2)
        Fixed points projected on the state PCs.
    theta : ndarray of shape (K,)
        LLE manifold coordinate of each point, in [-1, 1] (colour bar).
    fp_evr : ndarray of shape (n,), optional
        Explained-variance ratios of the PCA of the fixed points themselves (a small
        panel on the second axes ``xaxis2``/``yaxis2``, beside the points so it never
        covers them).
    selected : int or sequence of int, optional
        Indices of highlighted points.
    webgl : bool or None
        See ``style.scatter_cls``.
    title : str
        The figure's title (the dashboard adds the attractor verdict).
    labels : sequence of str, optional
        A hover line per point (see ``fixed_point_traces``).
    """
    fig = go.Figure(fixed_point_traces(fp_pc, theta, selected=selected, webgl=webgl, labels=labels))
    fig.update_layout(**style.layout(title), xaxis_title="PC1", yaxis_title="PC2")
    if fp_evr is not None:
        evr = _checks.vector("fp_evr", fp_evr)
        fig.add_trace(go.Bar(
            x=np.arange(1, len(evr) + 1, dtype=np.int32), y=style.f32(evr), xaxis="x2",
            yaxis="y2", marker_color=style.INK, name="fixed-point PCA", showlegend=False,
            hovertemplate="fixed-point PC %{x}: %{y:.3f}<extra></extra>",
        ))
        fig.update_layout(
            xaxis=dict(domain=[0.0, 0.74]),
            xaxis2=dict(domain=[0.84, 1.0], anchor="y2", title=dict(text="PC of the points", font_size=10),
                        tickfont_size=9, dtick=2, showgrid=False),
            yaxis2=dict(domain=[0.55, 1.0], anchor="x2", range=[0, 1], tickfont_size=9,
                        title=dict(text="var. expl.", font_size=10), showgrid=False),
        )
        fig.update_traces(marker_colorbar_x=0.75, selector=dict(name="fixed points"))
    if np.asarray(fp_pc).size == 0:
        style.empty_note(fig, "no fixed points")
    return fig


def right_eigenvector_traces(fp_pc, selected, r1_pc, *, scale: float | None = None,
                             webgl: bool | None = None, show_legend: bool = True) -> list:
    """Traces of Fig. 4b; see ``right_eigenvector_on_manifold`` for the parameters."""
    pc = _checks.matrix("fp_pc", fp_pc, min_cols=2)
    sel = _checks.indices("selected", selected, pc.shape[0])
    vecs = np.asarray(r1_pc, dtype=np.float64).reshape(-1, 2) if sel.size else np.zeros((0, 2))
    if vecs.shape[0] != sel.size:
        raise ValueError(f"r1_pc must give one (2,) vector per selected point: "
                         f"{sel.size} selected, got shape {np.shape(r1_pc)}")
    traces = fixed_point_traces(pc, None, color_by_theta=False, webgl=webgl)
    if scale is None:
        extent = np.ptp(pc[:, :2], axis=0).max() if pc.shape[0] > 1 else 1.0
        scale = 0.25 * float(extent) if extent > 0 else 1.0
    for i, (k, v) in enumerate(zip(sel, vecs)):
        color = style.QUALITATIVE[i % len(style.QUALITATIVE)] if sel.size > 1 else style.EIGVEC
        start = pc[k, :2]
        first = i == 0 and show_legend
        # r1 has no sign: draw it both ways from the point
        traces.append(style.arrow(start, scale * v, color=style.EIGVEC, name="r1 (top right "
                                  "eigenvector)", showlegend=first, legendgroup="r1"))
        traces.append(style.arrow(start, -scale * v, color=style.EIGVEC, name="r1",
                                  showlegend=False, legendgroup="r1"))
        traces.append(dict(
            type="scatter", x=[float(start[0])], y=[float(start[1])], mode="markers", name=f"fixed point {k}",
            customdata=[int(k)],
            marker=dict(size=11, color=color, line=dict(color="white", width=1)),
            showlegend=show_legend, hovertemplate="fixed point %{customdata}<extra></extra>",
        ))
    return traces


def right_eigenvector_on_manifold(fp_pc, selected, r1_pc, *, scale: float | None = None,
                                  webgl: bool | None = None) -> go.Figure:
    """Fig. 4b: fixed points in grey, selected point(s) highlighted with r1 drawn through them.

    Parameters
    ----------
    fp_pc : ndarray of shape (K, >=2)
        Fixed points projected on the state PCs.
    selected : int or sequence of int
        Index (or indices) of the highlighted fixed point(s).
    r1_pc : ndarray of shape (2,) or (n_selected, 2)
        Top right eigenvector at each selected point, projected on PC1/PC2 (no mean
        subtracted: a direction). Drawn in both directions (its sign is arbitrary).
    scale : float, optional
        Arrow length per unit of ``r1_pc``, in PC units (default: a quarter of the
        manifold's extent).
    """
    fig = go.Figure(right_eigenvector_traces(fp_pc, selected, r1_pc, scale=scale, webgl=webgl))
    fig.update_layout(**style.layout("Top right eigenvector on the manifold"),
                      xaxis_title="PC1", yaxis_title="PC2")
    return fig
