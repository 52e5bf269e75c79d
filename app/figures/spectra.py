"""Fig. 3b-d: eigenvalues of the recurrent Jacobian and their time constants."""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go

from rnnscope.analysis.class_geometry import slow_mask

from . import _checks, style

#: Points on the drawn unit circle.
CIRCLE_POINTS = 361


def _labels(labels, n: int) -> list[str]:
    if labels is None:
        return [f"point {i}" for i in range(n)]
    labels = [str(x) for x in labels]
    if len(labels) != n:
        raise ValueError(f"{n} arrays but {len(labels)} labels")
    return labels


def unit_circle_trace(**kwargs) -> dict:
    """The unit circle |λ| = 1 as a closed black line (float64, exact to ~1e-16)."""
    angle = np.linspace(0.0, 2.0 * np.pi, CIRCLE_POINTS)
    return dict(type="scatter", x=np.cos(angle), y=np.sin(angle), mode="lines", name="unit circle",
                      line=dict(color=style.INK, width=1), hoverinfo="skip", **kwargs)


#: Name of the trace that rings the slow modes (``slow_tol`` of ``eigenvalue_traces``).
SLOW_MODES = "slow modes"


def slow_mode_trace(eigvals_for_points: Sequence, slow_tol: float) -> dict:
    """Squares around every eigenvalue with ||λ| − 1| <= ``slow_tol``, over all the points
    (always one trace, empty when there is none, so a click can patch it in place)."""
    lam = np.concatenate([np.asarray(v).astype(np.complex128).reshape(-1) for v in eigvals_for_points]
                         or [np.zeros(0, np.complex128)])
    lam = lam[slow_mask(lam, slow_tol)]
    return dict(type="scatter", x=lam.real.tolist(), y=lam.imag.tolist(), mode="markers",
                name=f"{SLOW_MODES} (|λ| within {slow_tol:.0%} of 1): {len(lam)}",
                marker=dict(size=13, symbol="square-open", color=style.INK, line=dict(width=1.5)),
                customdata=np.abs(lam).tolist(),
                hovertemplate="slow mode: |λ| = %{customdata:.4f}<extra></extra>")


def eigenvalue_traces(eigvals_for_points: Sequence, labels: Sequence[str] | None = None,
                      highlight: complex | None = None, slow_tol: float | None = None) -> list:
    """Traces of Fig. 3b; see ``eigenvalue_plane``. ``highlight``: the integration mode's
    eigenvalue, ringed (with its conjugate when complex); ``slow_tol``: also ring the slow
    modes, ||λ| − 1| <= slow_tol (the class geometry's count), in a last trace."""
    labels = _labels(labels, len(eigvals_for_points))
    traces = [unit_circle_trace(showlegend=False)]
    for i, (lam, label) in enumerate(zip(eigvals_for_points, labels)):
        lam = np.asarray(lam).astype(np.complex128).reshape(-1)
        traces.append(dict(
            type="scatter", x=style.f32(lam.real), y=style.f32(lam.imag), mode="markers", name=label,
            marker=dict(size=7, color=style.QUALITATIVE[i % len(style.QUALITATIVE)], opacity=0.8,
                        line=dict(color="white", width=0.5)),
            customdata=style.f32(np.abs(lam)),
            hovertemplate="λ = %{x:.4f} %{y:+.4f}i<br>|λ| = %{customdata:.4f}<extra>"
                          + label + "</extra>",
        ))
    if highlight is not None and np.isfinite(highlight):
        lam = np.unique(np.array([highlight, np.conj(highlight)], np.complex128))
        traces.append(dict(
            type="scatter", x=lam.real, y=lam.imag, mode="markers", name="integration mode",
            marker=dict(size=15, color="rgba(0,0,0,0)", line=dict(color=style.HIGHLIGHT, width=2.5)),
            hovertemplate=f"integration mode: |λ| = {abs(highlight):.5f}<extra></extra>"))
    if slow_tol is not None:
        traces.append(slow_mode_trace(eigvals_for_points, slow_tol))
    return traces


def eigenvalue_plane(eigvals_for_points: Sequence, labels: Sequence[str] | None = None,
                     highlight: complex | None = None, slow_tol: float | None = None) -> go.Figure:
    """Fig. 3b: eigenvalues of J_rec at a few fixed points in the complex plane.

    Parameters
    ----------
    eigvals_for_points : sequence of complex ndarray, each of shape (D,)
        Eigenvalues of the recurrent Jacobian at each shown fixed point.
    labels : sequence of str, optional
        Legend label per point (default ``"point i"``).
    highlight : complex, optional
        The integration mode's eigenvalue, ringed.
    slow_tol : float, optional
        Mark the slow modes, ||λ| − 1| <= slow_tol (a multi-class report's count).

    Notes
    -----
    The first trace is the unit circle (name ``"unit circle"``); the axes have equal scale.
    """
    fig = go.Figure(eigenvalue_traces(eigvals_for_points, labels, highlight, slow_tol))
    fig.update_layout(**style.layout("Eigenvalues of J_rec"), xaxis_title="Re λ",
                      yaxis_title="Im λ")
    fig.update_yaxes(scaleanchor="x", scaleratio=1)
    return fig


def _finite_tau(tau: np.ndarray) -> np.ndarray:
    """τ as float32 with inf (|λ| = 1 exactly) replaced by NaN: not drawable on a log axis."""
    out = np.array(tau, dtype=np.float32)  # float32: half the payload, ample on a log axis
    out[~np.isfinite(out)] = np.nan
    return out


def top_time_constant_traces(theta, tau_top3, selected=None, *, webgl: bool | None = None,
                             show_legend: bool = True) -> list:
    """Traces of Fig. 3c; see ``top_time_constants``."""
    th = _checks.vector("theta", theta)
    tau = _checks.matrix("tau_top3", tau_top3, rows=th.shape[0])
    sel = _checks.indices("selected", selected, th.shape[0])
    scatter = style.scatter_cls(th.shape[0], webgl)
    colors = (style.EIGVEC, style.UNTRAINED, "#8c564b")
    opacity = (1.0, 0.6, 0.45)
    traces = []
    for mode in range(tau.shape[1]):
        traces.append(scatter(
            x=style.f32(th), y=_finite_tau(tau[:, mode]), mode="markers", name=f"τ{mode + 1}",
            customdata=np.arange(th.shape[0], dtype=np.int32), showlegend=show_legend,
            marker=dict(size=5, color=colors[mode % 3], opacity=opacity[mode % 3]),
            hovertemplate="fixed point %{customdata}<br>θ %{x:.3f}<br>τ %{y:.3g} tokens"
                          f"<extra>mode {mode + 1}</extra>",
        ))
    if sel.size:
        traces.append(go.Scatter(
            x=style.f32(th[sel]), y=_finite_tau(tau[sel, 0]), mode="markers", name="selected",
            customdata=sel.astype(np.int32), showlegend=False,
            marker=dict(size=14, symbol="circle-open", color=style.HIGHLIGHT, line=dict(width=3)),
            hovertemplate="selected fixed point %{customdata}<extra></extra>",
        ))
    return traces


def top_time_constants(theta, tau_top3, selected=None, *, webgl: bool | None = None
                       ) -> go.Figure:
    """Fig. 3c: time constants of the three slowest modes along the manifold coordinate θ.

    Parameters
    ----------
    theta : ndarray of shape (K,)
        Manifold coordinate of each fixed point.
    tau_top3 : ndarray of shape (K, 3)
        τ = |1/ln|λ|| of the leading modes, in tokens. Infinite values (|λ| = 1) are not
        drawable on the log axis and are replaced by NaN.
    selected : int or sequence of int, optional
        Highlighted points (ring on their τ1).
    """
    fig = go.Figure(top_time_constant_traces(theta, tau_top3, selected, webgl=webgl))
    fig.update_layout(**style.layout("Time constants along the manifold"), xaxis_title="θ",
                      yaxis_title="τ (tokens)")
    fig.update_yaxes(**style.log_ticks(tau_top3))
    n_inf = int(np.sum(~np.isfinite(np.asarray(tau_top3, dtype=np.float64))))
    if n_inf:
        style.empty_note(fig, f"{n_inf} infinite τ not shown", y=0.02, yanchor="bottom")
    return fig


def time_constant_traces(tau_for_points: Sequence, labels: Sequence[str] | None = None) -> list:
    """Traces of Fig. 3d; see ``time_constants``."""
    labels = _labels(labels, len(tau_for_points))
    traces = []
    for i, (tau, label) in enumerate(zip(tau_for_points, labels)):
        t = np.sort(_checks.vector(f"tau[{i}]", tau))[::-1]
        traces.append(dict(
            type="scatter", x=np.arange(1, len(t) + 1, dtype=np.int32), y=_finite_tau(t), mode="lines+markers",
            name=label, line=dict(color=style.QUALITATIVE[i % len(style.QUALITATIVE)], width=1.5),
            marker=dict(size=4), hovertemplate="mode %{x}: τ %{y:.3g} tokens<extra>"
                                               + label + "</extra>",
        ))
    return traces


def time_constants(tau_for_points: Sequence, labels: Sequence[str] | None = None) -> go.Figure:
    """Fig. 3d: all time constants at a few fixed points, sorted descending, log scale.

    Parameters
    ----------
    tau_for_points : sequence of ndarray, each of shape (D,)
        τ of every eigenmode at each shown point, in tokens (any order; sorted here).
    labels : sequence of str, optional
        Legend label per point.
    """
    fig = go.Figure(time_constant_traces(tau_for_points, labels))
    fig.update_layout(**style.layout("All time constants"), xaxis_title="mode (sorted)",
                      yaxis_title="τ (tokens)")
    fig.update_yaxes(**style.log_ticks(*tau_for_points))
    return fig


def tau_from_eigvals(eigvals) -> np.ndarray:
    """Time constants τ = |1 / ln|λ||, in tokens (inf where |λ| = 1, 0 where λ = 0).

    Parameters
    ----------
    eigvals : complex ndarray of any shape

    Returns
    -------
    float64 ndarray of the same shape
    """
    mag = np.abs(np.asarray(eigvals))
    with np.errstate(divide="ignore"):
        return np.abs(1.0 / np.log(mag))
