"""Shared colours, layout and small trace helpers for every rnnscope figure.

Colours follow the paper: trained blue vs untrained purple (Fig. 2a), positive green /
negative red / neutral cyan (Figs. 2b, 4), left/right eigenvectors blue (Fig. 4),
fixed points grey when another element is highlighted (Figs. 3a, 4b).
"""
from __future__ import annotations

import functools
from collections.abc import Sequence

import numpy as np
import plotly.colors
import plotly.graph_objects as go
import plotly.io as pio

TRAINED = "#1f5fbf"
UNTRAINED = "#8e44ad"
POSITIVE = "#2ca02c"
NEGATIVE = "#d62728"
NEUTRAL = "#17becf"
EIGVEC = "#1f3fff"
HIGHLIGHT = "#ff7f0e"
GREY = "#b0b0b0"
INK = "#222222"
NULL = "#999999"

#: Colour scale for θ ∈ [-1, 1] (negative end red, positive end green, as the readout).
THETA_SCALE = "RdYlGn"
#: Palette for a handful of highlighted fixed points / models.
QUALITATIVE = ("#1f77b4", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22")

#: Above this many points a scatter trace is drawn with WebGL (``go.Scattergl``).
WEBGL_MIN_POINTS = 1000

TEMPLATE = "plotly_white"
#: The look every figure has (``TEMPLATE`` is swapped to ``"none"`` while the dashboard
#: builds figures, see ``rnnscope.app.callbacks``; this name never changes).
LOOK = "plotly_white"
FONT = dict(family="Helvetica, Arial, sans-serif", size=12, color=INK)


def layout(title: str | None = None, **kwargs) -> dict:
    """Base layout keywords shared by every figure (template, font, margins, title)."""
    base = dict(
        template=TEMPLATE,
        font=FONT,
        margin=dict(l=60, r=20, t=50 if title else 20, b=50),
        hovermode="closest",
        legend=dict(bgcolor="rgba(255,255,255,0.6)"),
    )
    if title:
        base["title"] = dict(text=title, x=0.02, xanchor="left", font=dict(size=14))
    base.update(kwargs)
    return base


#: Most labels a log axis spanning many decades gets (one per ``dtick`` decades).
LOG_MAX_LABELS = 6


def log_ticks(*values, max_labels: int = LOG_MAX_LABELS) -> dict:
    """Keywords for a log axis (``fig.update_xaxes(**log_ticks(v))``) whose every tick
    label is a whole number, read without its neighbours.

    plotly's own log ticks label the steps inside a decade with bare digits ("7 8 9 0.1
    2 3 … 9 1": which 2 is 0.02?). From the span of the positive finite ``values``:

    - under 0.8 decade: plotly's ticks as they are (under one decade it labels in full);
    - up to 2.5 decades: 1, 2 and 5 of each decade (``dtick="D2"``), labelled in full
      (``minorloglabels="complete"``: 0.02, 0.05, 0.1, …), at most 9 labels;
    - more: one label every ``ceil(span / max_labels)`` decades as a power of ten.

    Parameters
    ----------
    *values : array-like
        The data drawn on the axis (several arrays are pooled); zero, negative and
        non-finite values are ignored. With none left, plain ``type="log"``.
    """
    pooled = [np.asarray(v, dtype=np.float64).ravel() for v in values]
    v = np.concatenate(pooled) if pooled else np.zeros(0)
    v = v[np.isfinite(v) & (v > 0)]
    out: dict = {"type": "log"}
    if v.size == 0:
        return out
    span = float(np.log10(v.max()) - np.log10(v.min()))
    if span < 0.8:
        return out
    if span <= 2.5:
        return {**out, "dtick": "D2", "minorloglabels": "complete"}
    return {**out, "dtick": int(np.ceil(span / max_labels)), "exponentformat": "power",
            "minorloglabels": "none"}


def scatter_cls(n_points: int, webgl: bool | None = None):
    """``go.Scattergl`` for many points (or when forced), else ``go.Scatter``.

    Parameters
    ----------
    n_points : int
        Number of markers the trace will carry.
    webgl : bool or None
        Force WebGL on (True) or off (False, e.g. for static image export); None picks
        WebGL at ``WEBGL_MIN_POINTS`` points or more.
    """
    return go.Scattergl if scatter_type(n_points, webgl) == "scattergl" else go.Scatter


def scatter_type(n_points: int, webgl: bool | None = None) -> str:
    """``"scattergl"`` or ``"scatter"``: the plain-dict form of :func:`scatter_cls`."""
    use = n_points >= WEBGL_MIN_POINTS if webgl is None else webgl
    return "scattergl" if use else "scatter"


def f32(values) -> np.ndarray:
    """Values as a float32 array (halves the JSON payload of base64-encoded arrays)."""
    return np.asarray(values, dtype=np.float32)


def theta_colors() -> list:
    """``THETA_SCALE`` as plotly's [[position, colour], ...] list (figures built as plain
    dicts are not validated, which is what resolves a scale's name, and plotly.js does not
    know every name plotly does)."""
    return plotly.colors.get_colorscale(THETA_SCALE)


@functools.cache
def look_json() -> dict:
    """The ``LOOK`` template as plain JSON, resolved once."""
    return pio.templates[LOOK].to_plotly_json()


def quick_figure(traces: Sequence[dict], layout: dict) -> go.Figure:
    """A figure from plain trace dicts (``{"type": "scatter", ...}``) and a layout dict,
    without plotly's per-property validation, in the ``LOOK`` template.

    Validating costs most of a request's CPU on the figures rebuilt per request (the
    sentence explorer: ~8x the build itself); the figures built this way are validated in
    the tests instead (``tests/unit/test_figures.py``). Nested properties must be given
    nested (``xaxis=dict(title=dict(text=...))``): plotly's magic underscores are not
    expanded here.
    """
    return go.Figure(data=list(traces), layout={**layout, "template": _build_look()}, _validate=False)


def _build_look() -> dict:
    """The template a quick figure is built with: the ``LOOK`` JSON, or nothing while the
    dashboard builds figures (``TEMPLATE`` is then ``"none"``): it puts the look into what
    it sends, once per response (``rnnscope.app.callbacks.restyle``), where a template in
    the figure itself would be copied twice more on the way (~40% of a sentence request)."""
    return look_json() if TEMPLATE == LOOK else {}


def arrow(start: Sequence[float], vector: Sequence[float], *, color: str, name: str,
          width: float = 2.5, showlegend: bool = True, dash: str | None = None,
          legendgroup: str | None = None, **kwargs) -> dict:
    """A straight arrow as a line trace (a plain ``scatter`` dict) with an arrow-head
    marker at the tip.

    Drawn as a trace (not a layout annotation) so it lands on the right axes inside
    ``make_subplots`` and shows in the legend. ``kwargs`` must be nested plotly
    properties (no magic underscores).

    Parameters
    ----------
    start : (2,) sequence of float
        Tail of the arrow, in data coordinates.
    vector : (2,) sequence of float
        Tip minus tail, in data coordinates.
    """
    x0, y0 = float(start[0]), float(start[1])
    x1, y1 = x0 + float(vector[0]), y0 + float(vector[1])
    trace = dict(
        type="scatter", x=[x0, x1], y=[y0, y1], mode="lines+markers", name=name,
        line=dict(color=color, width=width) | ({} if dash is None else {"dash": dash}),
        marker=dict(symbol="arrow", size=[0, 13], angleref="previous", color=color),
        hoverinfo="name", showlegend=showlegend, **kwargs,
    )
    return trace | ({} if legendgroup is None else {"legendgroup": legendgroup})


def empty_note(fig: go.Figure, text: str, **kwargs) -> go.Figure:
    """Add a centred grey note (e.g. "no fixed points found") to ``fig`` and return it."""
    fig.add_annotation(text=text, showarrow=False, font=dict(color=NULL, size=13),
                       xref=kwargs.pop("xref", "paper"), yref=kwargs.pop("yref", "paper"),
                       x=kwargs.pop("x", 0.5), y=kwargs.pop("y", 0.5), **kwargs)
    return fig
