"""The sentence explorer: a text's trajectory over the points and the readout's zero line in
the visited-state PC plane, and what moved the readout token by token."""
from __future__ import annotations

import html

import numpy as np
import plotly.graph_objects as go

from . import _checks, style
from .state_space import _line_in_box

#: Every explorer figure colours by P(positive) on this one fixed scale (0.5 = readout 0),
#: whatever the sentence: the same colour is the same readout from one text to the next.
PROBABILITY_AXIS = dict(cmin=0.0, cmax=1.0, colorscale=style.theta_colors(),
                        colorbar=dict(title=dict(text="P(positive)"), thickness=12, len=0.8, y=0.55,
                                      tickvals=[0, 0.25, 0.5, 0.75, 1],
                                      ticktext=["0", "0.25", "0.5 (readout 0)", "0.75", "1"]))
#: Up to this many tokens every point is labelled with its token; beyond, only the
#: ``LABELLED_TOP`` largest pushes are.
LABEL_ALL_MAX = 30
LABELLED_TOP = 10


def _token_label(token: str, logit: float, probability: float, push: float | None,
                 unknown: bool) -> str:
    """Hover text of one token; the token is escaped (it is user text)."""
    flag = " (unknown)" if unknown else ""
    text = f"<b>{html.escape(str(token))}</b>{flag}<br>readout {logit:+.3f} (P(+) {probability:.3f})"
    return text + (f"<br>its push {push:+.3f}" if push is not None and np.isfinite(push) else "")


def _segments(starts: np.ndarray, ends: np.ndarray) -> tuple[list, list]:
    """x, y lists drawing one segment per row of ``starts``/``ends`` (N, 2), None-separated."""
    x, y = [], []
    for a, b in zip(starts, ends):
        x += [float(a[0]), float(b[0]), None]
        y += [float(a[1]), float(b[1]), None]
    return x, y


def _push_traces(before: np.ndarray, after: np.ndarray, push: np.ndarray) -> list:
    """One arrow per token from F(s, 0) to F(s, x), green where the push is positive."""
    traces = []
    for name, keep, color in (("token pushed toward positive", push > 0, style.POSITIVE),
                              ("token pushed toward negative", push <= 0, style.NEGATIVE)):
        if not keep.any():
            continue
        x, y = _segments(before[keep], after[keep])
        traces.append(dict(
            type="scatter", x=x, y=y, mode="lines+markers", name=name, line=dict(color=color, width=2.5),
            marker=dict(symbol="arrow", size=[0, 12, 0] * int(keep.sum()), angleref="previous",
                        color=color), hoverinfo="skip", legendgroup="push"))
    return traces


def _point_traces(points_pc, point_probability, point_is_fixed, point_labels, webgl) -> list:
    """The fixed and the slow points, coloured by their own readout on the fixed scale."""
    pc = _checks.matrix("points_pc", points_pc, min_cols=2)
    k = pc.shape[0]
    prob = _checks.vector("point_probability", point_probability, length=k)
    fixed = (np.ones(k, bool) if point_is_fixed is None
             else _checks.vector("point_is_fixed", point_is_fixed, length=k, dtype=bool))
    labels = [""] * k if point_labels is None else [str(t) for t in point_labels]
    traces = []
    for name, keep, symbol in (("fixed points", fixed, "diamond"), ("slow points", ~fixed, "square")):
        idx = np.flatnonzero(keep)
        if not idx.size:
            continue
        traces.append(dict(
            type=style.scatter_type(idx.size, webgl), x=style.f32(pc[idx, 0]), y=style.f32(pc[idx, 1]),
            mode="markers",
            name=f"{name} ({idx.size})", customdata=idx.astype(np.int32),
            text=[labels[i] for i in idx],
            marker=dict(symbol=symbol, size=7, opacity=0.6, color=style.f32(prob[idx]),
                        coloraxis="coloraxis", line=dict(color=style.INK, width=0.5)),
            hovertemplate=name[:-1] + " %{customdata}<br>%{text}<extra></extra>"))
    return traces


def _unit(v: np.ndarray) -> np.ndarray:
    norm = float(np.linalg.norm(v))
    return v / norm if norm > 0 else v


def _readout_traces(readout_pc, arrow, origin, readout_zero, box) -> list:
    """The readout arrow from ``origin`` (the initial state) and the plane's readout-zero line."""
    share = float(np.linalg.norm(readout_pc))
    traces = [style.arrow(origin, arrow, color=style.HIGHLIGHT, name="readout", width=3,
                          hovertemplate=f"readout direction, toward positive ({share:.0%} of it lies in "
                                        "the PC1-PC2 plane)<extra></extra>")]
    if readout_zero is not None:
        ends = _line_in_box(readout_pc, float(readout_zero), box)
        if ends is not None:
            traces.append(dict(
                type="scatter", x=ends[:, 0], y=ends[:, 1], mode="lines", name="readout = 0",
                line=dict(color=style.INK, width=1.5, dash="dash"),
                hovertemplate="readout = 0 in this plane (the off-plane part of a state moves the "
                              "readout too)<extra></extra>"))
    return traces


def _box(*blocks) -> tuple[float, float, float, float]:
    """(x0, x1, y0, y1) around every row of the (N, 2) ``blocks``, padded by 8%."""
    xy = np.vstack([b for b in blocks if b is not None and len(b)])
    lo, hi = xy.min(0), xy.max(0)
    pad = np.maximum(0.08 * (hi - lo), 1e-3)
    return float(lo[0] - pad[0]), float(hi[0] + pad[0]), float(lo[1] - pad[1]), float(hi[1] + pad[1])


def sentence_trajectory(traj_pc, tokens, logit, *, drift_pc=None, push=None, points_pc=None,
                        point_logit=None, point_is_fixed=None, point_labels=None,
                        readout_pc=None, readout_zero: float | None = None, unknown=None,
                        step: int | None = None, webgl: bool | None = None) -> go.Figure:
    """The sentence explorer: a text's trajectory on the points of the analysis, in the
    visited-state PC1/PC2 plane, with the readout's zero line and each token's push.

    Parameters
    ----------
    traj_pc : ndarray of shape (T+1, 2) or (T, 2)
        The initial state (row 0, a star; only with T+1 rows) and the state after each token.
    tokens : sequence of str, length T
        The tokens (labels and hover, escaped).
    logit : ndarray of shape (T,)
        Readout logit after each token; markers are coloured by P(positive) = σ(logit) on the
        fixed scale ``PROBABILITY_AXIS`` (the same for every sentence).
    drift_pc : ndarray of shape (T, 2), optional
        F(s_{t−1}, 0), where each step would have gone without its token: a dotted segment
        from the state before, then the token's push as an arrow from there to the state
        after (green if ``push`` > 0, red otherwise).
    push : ndarray of shape (T,), optional
        The token's own readout change (``rnnscope.analysis.sentence``), logit units.
    points_pc : ndarray of shape (K, >=2), optional
        The analysis's fixed and slow points on the same PCs.
    point_logit : ndarray of shape (K,), optional
        Their readout logits (colour, same scale; required with ``points_pc``).
    point_is_fixed : bool ndarray of shape (K,), optional
        True for fixed points, False for slow points (separate legend entries).
    point_labels : sequence of str, length K, optional
        One hover line per point.
    readout_pc : ndarray of shape (2,), optional
        The readout direction in PC1/PC2 coordinates (``readout_pc`` of the report): an
        arrow from the initial state toward positive readout.
    readout_zero : float, optional
        Offset c of the plane's readout-zero line ``readout_pc · p = c``
        (``state_space.readout_zero_offset``), dashed.
    unknown : bool ndarray of shape (T,), optional
        True for out-of-vocabulary tokens (crosses).
    step : int, optional
        Current token (0-based), ringed and labelled.

    Notes
    -----
    Trace names the dashboard and the tests read: ``"tokens"`` (``customdata`` = token
    index), ``"current token"``, ``"initial state"``, ``"fixed points (K)"``,
    ``"slow points (K)"``, ``"readout"``, ``"readout = 0"``.
    """
    tokens = [str(t) for t in tokens]
    n = len(tokens)
    xy = _checks.matrix("traj_pc", traj_pc, cols=2)
    if xy.shape[0] not in (n, n + 1):
        raise ValueError(f"traj_pc must have {n} or {n + 1} rows for {n} tokens, got {xy.shape[0]}")
    start, xy = (xy[0], xy[1:]) if xy.shape[0] == n + 1 else (None, xy)
    logit = _checks.vector("logit", logit, length=n)
    prob = 1.0 / (1.0 + np.exp(-logit))
    unk = (np.zeros(n, bool) if unknown is None else _checks.vector("unknown", unknown, length=n, dtype=bool))
    push = None if push is None else _checks.vector("push", push, length=n)
    drift = None if drift_pc is None else _checks.matrix("drift_pc", drift_pc, cols=2, rows=n)
    pts = None if points_pc is None else _checks.matrix("points_pc", points_pc, min_cols=2)[:, :2]
    traces = [] if pts is None or not len(pts) else _point_traces(
        pts, 1.0 / (1.0 + np.exp(-_checks.vector("point_logit", point_logit, length=len(pts)))),
        point_is_fixed, point_labels, webgl)
    line = xy if start is None else np.vstack([start, xy])
    traces.append(dict(type="scatter", x=style.f32(line[:, 0]), y=style.f32(line[:, 1]), mode="lines",
                       line=dict(color=style.INK, width=1.2), name="trajectory", hoverinfo="skip"))
    if drift is not None and start is not None:
        x, y = _segments(line[:-1], drift)
        traces.append(dict(type="scatter", x=x, y=y, mode="lines", name="zero-input step F(h, 0)",
                           hoverinfo="skip", line=dict(color=style.NULL, width=1, dash="dot")))
        traces.extend(_push_traces(drift, xy, push if push is not None else np.zeros(n)))
    origin = start if start is not None else xy.mean(0)
    readout_pc = None if readout_pc is None else _checks.vector("readout_pc", readout_pc, length=2)
    direction = None if readout_pc is None else _unit(readout_pc)
    box = _box(line, drift, pts)
    if direction is not None:  # the readout arrow has a fixed share of the view, inside it
        tip = origin + 0.25 * min(box[1] - box[0], box[3] - box[2]) * direction
        box = _box(line, drift, pts, tip[None, :])
    if start is not None:
        traces.append(dict(type="scatter", x=[float(start[0])], y=[float(start[1])], mode="markers",
                           name="initial state", hoverinfo="name",
                           marker=dict(symbol="star", size=15, color=style.INK,
                                       line=dict(color="white", width=1))))
    if direction is not None:
        traces.extend(_readout_traces(readout_pc, tip - origin, origin, readout_zero, box))
    traces.append(_token_trace(xy, tokens, logit, prob, push, unk))
    if step is not None:
        traces.append(_ring(xy, tokens, n, step))
    return style.quick_figure(traces, style.layout(
        "Sentence trajectory on the points (PC1/PC2 of the visited states)",
        legend=dict(orientation="h", y=-0.16, x=0.0, font=dict(size=10)),
        xaxis=dict(title=dict(text="PC1"), range=[box[0], box[1]]),
        yaxis=dict(title=dict(text="PC2"), range=[box[2], box[3]]), coloraxis=PROBABILITY_AXIS))


def _token_trace(xy, tokens, logit, prob, push, unk) -> dict:
    """One marker per token, coloured by P(positive); labelled (all, or the largest pushes)."""
    n = len(tokens)
    if n <= LABEL_ALL_MAX or push is None:
        shown = set(range(min(n, LABEL_ALL_MAX)))
    else:
        shown = set(np.argsort(-np.abs(push), kind="stable")[:LABELLED_TOP].tolist())
    return dict(
        type="scatter", x=style.f32(xy[:, 0]), y=style.f32(xy[:, 1]), mode="markers+text", name="tokens",
        customdata=np.arange(n, dtype=np.int32),
        text=[html.escape(t) if i in shown else "" for i, t in enumerate(tokens)],
        # alternate above / below, so that neighbouring tokens' labels overlap less
        textposition=["top center" if i % 2 == 0 else "bottom center" for i in range(n)],
        textfont=dict(size=11),
        hovertext=[_token_label(t, lg, p, None if push is None else push[i], u)
                   for i, (t, lg, p, u) in enumerate(zip(tokens, logit, prob, unk))],
        hoverinfo="text",
        marker=dict(size=10, color=style.f32(prob), coloraxis="coloraxis",
                    symbol=np.where(unk, "x", "circle").tolist(), line=dict(color=style.INK, width=0.8)),
    )


def _ring(xy, tokens, n: int, step: int) -> dict:
    if not 0 <= int(step) < n:
        raise ValueError(f"step {step} out of range for {n} tokens")
    s = int(step)
    return dict(
        type="scatter", x=[float(xy[s, 0])], y=[float(xy[s, 1])], mode="markers+text", name="current token",
        text=[html.escape(tokens[s])], textposition="middle right", customdata=[s],
        marker=dict(size=20, symbol="circle-open", color=style.HIGHLIGHT, line=dict(width=3)),
        hoverinfo="skip", showlegend=False,
    )


def sentence_readout_steps(tokens, logit, push, drift, start_logit: float, *,
                           unknown=None, linear_push=None, modifier=None) -> go.Figure:
    """What moved the readout, token by token: each step's change as the token's push
    (green up / red down) stacked on the zero-input drift (grey), and the readout after it.

    Parameters
    ----------
    tokens : sequence of str, length T
        The tokens (x axis, numbered from 1 as in the table; escaped).
    logit : ndarray of shape (T,)
        Readout logit after each token.
    push, drift : ndarray of shape (T,)
        The two parts of each step's readout change (``rnnscope.analysis.sentence``); push + drift is
        the change from the readout before the token, in logit units.
    start_logit : float
        Readout of the initial state (x = 0, "start").
    unknown : bool ndarray of shape (T,), optional
        Out-of-vocabulary tokens (marked "(unk)" on the axis).
    linear_push : ndarray of shape (T,), optional
        What a linear integrator would have added for each token (``SentenceTrace.linear_push``,
        logit units): drawn as diamonds beside the push, so a token whose push the context
        changed (after a modifier) stands out.
    modifier : bool ndarray of shape (T,), optional
        Tokens that are modifier words (marked "(modifier)" on the axis).

    Notes
    -----
    Trace names: ``"token's push"``, ``"zero-input drift"``, ``"readout after the token"``,
    ``"linear integrator's push"``.
    """
    tokens = [str(t) for t in tokens]
    n = len(tokens)
    logit = _checks.vector("logit", logit, length=n)
    push = _checks.vector("push", push, length=n)
    drift = _checks.vector("drift", drift, length=n)
    unk = (np.zeros(n, bool) if unknown is None else _checks.vector("unknown", unknown, length=n, dtype=bool))
    mod = (np.zeros(n, bool) if modifier is None else _checks.vector("modifier", modifier, length=n, dtype=bool))
    x = np.arange(1, n + 1, dtype=np.int32)
    names = [f"{i} {html.escape(t)}" + (" (unk)" if u else "") + (" (modifier)" if m else "")
             for i, t, u, m in zip(x, tokens, unk, mod)]
    hover = "%{customdata}: %{y:+.3f}<extra>%{fullData.name}</extra>"
    traces = [
        dict(type="bar", x=x, y=style.f32(drift), name="zero-input drift", marker=dict(color=style.GREY),
             customdata=names, hovertemplate=hover),
        dict(type="bar", x=x, y=style.f32(push), name="token's push", customdata=names, hovertemplate=hover,
             marker=dict(color=[style.POSITIVE if p > 0 else style.NEGATIVE for p in push])),
        dict(type="scatter", x=np.r_[0, x].astype(np.int32), y=style.f32(np.r_[start_logit, logit]),
             name="readout after the token", mode="lines+markers",
             line=dict(color=style.INK, width=1.5), marker=dict(size=6),
             customdata=["start", *names], hovertemplate=hover),
    ]
    if linear_push is not None:
        lin = _checks.vector("linear_push", linear_push, length=n)
        traces.append(dict(type="scatter", x=x, y=style.f32(lin), name="linear integrator's push", mode="markers",
                           marker=dict(symbol="diamond-open", size=9, color=style.EIGVEC), customdata=names,
                           hovertemplate=hover))
    ticks = x if n <= 40 else x[:: int(np.ceil(n / 40))]
    zero = dict(type="line", xref="x domain", x0=0, x1=1, yref="y", y0=0, y1=0,
                line=dict(color=style.INK, width=1, dash="dash"))
    return style.quick_figure(traces, style.layout(
        "What moved the readout (logit units)", legend=dict(orientation="h", y=-0.3, x=0.0),
        barmode="relative", shapes=[zero], yaxis=dict(title=dict(text="readout change / readout")),
        xaxis=dict(title=dict(text="token"), tickvals=np.r_[0, ticks].tolist(),
                   ticktext=["start", *[names[i - 1] for i in ticks]], tickangle=-45)))
