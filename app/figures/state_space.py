"""Fig. 2a-b: dimensionality of the visited states and the state-space density."""
from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from . import _checks, style


def explained_variance_traces(evr_trained, evr_untrained=None, *, cumulative: bool = True,
                              n_components: int | None = 20) -> list:
    """Traces of Fig. 2a: explained variance of the visited-state PCA per component.

    Parameters
    ----------
    evr_trained : ndarray of shape (n,)
        Explained-variance ratios of the trained network's visited states, descending.
    evr_untrained : ndarray of shape (n',), optional
        The same for the untrained network (same architecture, same documents).
    cumulative : bool
        Plot the running sum (fraction of variance in the first k PCs) instead of each PC.
    n_components : int or None
        Show at most this many components (None: all).
    """
    traces = []
    for name, values, color in (("trained", evr_trained, style.TRAINED),
                                ("untrained", evr_untrained, style.UNTRAINED)):
        if values is None:
            continue
        evr = _checks.vector(f"evr_{name}", values)[:n_components]
        y = np.cumsum(evr) if cumulative else evr
        traces.append(go.Scatter(
            x=np.arange(1, len(y) + 1, dtype=np.int32), y=style.f32(y), name=name,
            mode="lines+markers", line=dict(color=color, width=2), marker=dict(size=5),
            hovertemplate="PC %{x}: %{y:.3f}<extra>" + name + "</extra>",
        ))
    return traces


def explained_variance(evr_trained, evr_untrained=None, *, cumulative: bool = True,
                       n_components: int | None = 20) -> go.Figure:
    """Fig. 2a: PCA of the visited states, trained (blue) vs untrained (purple).

    See ``explained_variance_traces`` for the parameters. The y axis is the fraction of
    variance (cumulative by default), in [0, 1].
    """
    fig = go.Figure(explained_variance_traces(evr_trained, evr_untrained, cumulative=cumulative,
                                              n_components=n_components))
    ylabel = "cumulative variance explained" if cumulative else "variance explained"
    fig.update_layout(**style.layout("PCA on visited states"),
                      xaxis_title="# principal components", yaxis_title=ylabel)
    fig.update_yaxes(range=[0, 1.02])
    return fig


def readout_zero_offset(readout, readout_bias, state_pca_mean) -> float:
    """Offset c of the readout-zero line ``readout_pc · p = c`` in the PC1/PC2 plane.

    A point p of the plane is the state s = mean + C₂ᵀ p; its logit is
    w·mean + b + |w| (readout_pc · p) with readout_pc = C₂ w / |w|, so the logit is zero
    on readout_pc · p = −(w·mean + b) / |w|.

    Parameters
    ----------
    readout : ndarray of shape (D,)
        Readout weights w.
    readout_bias : float or ndarray of shape (1,)
        Readout bias b.
    state_pca_mean : ndarray of shape (D,)
        Mean visited state (the PCA centre).
    """
    w = _checks.vector("readout", readout)
    mean = _checks.vector("state_pca_mean", state_pca_mean, length=w.shape[0])
    norm = float(np.linalg.norm(w))
    if norm == 0.0:
        raise ValueError("readout is the zero vector")
    bias = float(np.asarray(readout_bias, dtype=np.float64).reshape(-1)[0])
    return -(float(w @ mean) + bias) / norm


def _line_in_box(normal, offset: float, box) -> np.ndarray | None:
    """End points (2, 2) of the line ``normal · p = offset`` inside ``box`` = (x0, x1, y0, y1)."""
    n = np.asarray(normal, dtype=np.float64)
    nn = float(n @ n)
    if nn == 0.0:
        return None
    p0 = n * offset / nn
    d = np.array([-n[1], n[0]])
    lo, hi = -np.inf, np.inf
    for axis, (a, b) in enumerate(((box[0], box[1]), (box[2], box[3]))):
        if abs(d[axis]) < 1e-15:
            if not a <= p0[axis] <= b:
                return None
            continue
        t1, t2 = sorted(((a - p0[axis]) / d[axis], (b - p0[axis]) / d[axis]))
        lo, hi = max(lo, t1), min(hi, t2)
    if not lo < hi:
        return None
    return np.stack([p0 + lo * d, p0 + hi * d])


def _density_heatmap(density, edges, *, name: str, rgb: str) -> go.Heatmap:
    """One class's density as a heatmap, transparent at zero, opaque at its maximum."""
    scale = [[0.0, f"rgba({rgb},0)"], [0.02, f"rgba({rgb},0.25)"], [0.25, f"rgba({rgb},0.6)"],
             [1.0, f"rgba({rgb},0.95)"]]
    zmax = float(density.max()) if density.size and density.max() > 0 else 1.0
    return go.Heatmap(
        x=style.f32(edges[0]), y=style.f32(edges[1]), z=style.f32(density.T), name=name,
        colorscale=scale, zmin=0.0, zmax=zmax, showscale=False, showlegend=True,
        hovertemplate="PC1 %{x:.2f}, PC2 %{y:.2f}<br>density %{z:.2e}<extra>" + name + "</extra>",
    )


def state_density_traces(density_pos, density_neg, edges, traj_pos=None, traj_neg=None,
                         initial_pc=None, readout_pc=None, *, readout_zero: float | None = None,
                         show_legend: bool = True) -> list:
    """Traces of Fig. 2b; see ``state_density`` for the parameters."""
    edges = _checks.matrix("edges", edges)
    if edges.shape[0] != 2:
        raise ValueError(f"edges must have shape (2, B+1), got {edges.shape}")
    bins = edges.shape[1] - 1
    dens = {}
    for name, values in (("positive", density_pos), ("negative", density_neg)):
        arr = _checks.matrix(f"density_{name[:3]}", values, cols=bins, rows=bins)
        dens[name] = np.nan_to_num(arr, nan=0.0, posinf=0.0, neginf=0.0)
    traces = [_density_heatmap(dens["negative"], edges, name="negative states", rgb="214,39,40"),
              _density_heatmap(dens["positive"], edges, name="positive states", rgb="44,160,44")]
    for name, traj, color in (("positive", traj_pos, style.POSITIVE),
                              ("negative", traj_neg, style.NEGATIVE)):
        if traj is None:
            continue
        xy = _checks.matrix(f"traj_{name[:3]}", traj, cols=2)
        traces.append(go.Scatter(
            x=style.f32(xy[:, 0]), y=style.f32(xy[:, 1]), mode="lines", name=f"{name} example",
            line=dict(color=color, width=1.6), showlegend=show_legend,
            hovertemplate="token %{pointNumber}<extra>" + name + " example</extra>",
        ))
    box = (edges[0, 0], edges[0, -1], edges[1, 0], edges[1, -1])
    if initial_pc is not None:
        p = _checks.vector("initial_pc", initial_pc, length=2)
        traces.append(go.Scatter(
            x=[float(p[0])], y=[float(p[1])], mode="markers", name="initial state",
            marker=dict(symbol="star", size=15, color=style.INK, line=dict(color="white", width=1)),
            showlegend=show_legend, hoverinfo="name",
        ))
    if readout_pc is not None:  # after the star: drawn on top of it
        traces.extend(_readout_traces(_checks.vector("readout_pc", readout_pc, length=2),
                                      initial_pc, readout_zero, box, show_legend))
    return traces


def _readout_traces(readout_pc, initial_pc, readout_zero, box, show_legend) -> list:
    """The readout arrow (from the initial state, or the box centre) and the zero line."""
    traces = []
    size = min(box[1] - box[0], box[3] - box[2])
    start = (np.asarray(initial_pc, dtype=np.float64) if initial_pc is not None
             else np.array([(box[0] + box[1]) / 2, (box[2] + box[3]) / 2]))
    # the arrow has a fixed, visible length; how much of the readout lies in this plane is said
    # in its hover text (an LSTM's readout sees h, while its top PCs are mostly c)
    frac = float(np.linalg.norm(readout_pc))
    direction = readout_pc / frac if frac > 0 else readout_pc
    traces.append(style.arrow(start, 0.3 * size * direction, color=style.HIGHLIGHT, name="readout",
                              showlegend=show_legend, width=3,
                              hovertemplate=f"readout direction ({frac:.0%} of it lies in the PC1-PC2 plane)"
                                            "<extra></extra>"))
    if readout_zero is not None:
        ends = _line_in_box(readout_pc, float(readout_zero), box)
        if ends is not None:
            traces.append(go.Scatter(
                x=ends[:, 0], y=ends[:, 1], mode="lines", name="readout = 0",
                line=dict(color=style.INK, width=1.5, dash="dash"), showlegend=show_legend,
                hoverinfo="name",
            ))
    return traces


def state_density(density_pos, density_neg, edges, traj_pos=None, traj_neg=None,
                  initial_pc=None, readout_pc=None, *, readout_zero: float | None = None
                  ) -> go.Figure:
    """Fig. 2b: density of visited states on PC1/PC2, negative red, positive green.

    Parameters
    ----------
    density_pos, density_neg : ndarray of shape (B, B)
        Binned state density of positive / negative documents; index [i, j] = PC1 bin i,
        PC2 bin j (binned on the server, so the payload does not grow with the data).
    edges : ndarray of shape (2, B+1)
        Bin edges on PC1 (row 0) and PC2 (row 1).
    traj_pos, traj_neg : ndarray of shape (T, 2), optional
        Example trajectories of one positive and one negative document.
    initial_pc : ndarray of shape (2,), optional
        Initial state on PC1/PC2 (star).
    readout_pc : ndarray of shape (2,), optional
        Unit readout direction in PC1/PC2 coordinates (arrow from the initial state).
    readout_zero : float, optional
        Offset c of the readout-zero line ``readout_pc · p = c`` (dashed); see
        ``readout_zero_offset``.
    """
    fig = go.Figure(state_density_traces(density_pos, density_neg, edges, traj_pos, traj_neg,
                                         initial_pc, readout_pc, readout_zero=readout_zero))
    fig.update_layout(**style.layout("RNN state space"), xaxis_title="PC1", yaxis_title="PC2")
    edges = np.asarray(edges, dtype=np.float64)
    fig.update_xaxes(range=[edges[0, 0], edges[0, -1]], showgrid=False)
    fig.update_yaxes(range=[edges[1, 0], edges[1, -1]], showgrid=False)
    return fig
