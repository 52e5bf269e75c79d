"""Figures of modifier words (Maheswaranathan & Sussillo, ICML 2020), pure functions of the
report's ``modifier_*`` arrays (``rnnscope.analysis.modifier_stage``).

- :func:`modifier_deflection`: for one modifier, the mean state path after it through the
  filler tokens that follow, and the path of the same contexts and fillers with a filler in
  its slot (what it is compared with), on
  the visited states' PC1/PC2 over the report's fixed and slow points (``fp_pc``): where the
  modifier throws the state, and how it comes back;
- :func:`modifier_profile`: its modulation ratio r_k at k = 1 … K tokens (the settled
  readout increment and the linearized one), with 1 (no change) and 0 marked.

Every word drawn is escaped: words are vocabulary tokens of an uploaded checkpoint.
"""
from __future__ import annotations

import html

import numpy as np
import plotly.graph_objects as go

from rnnscope.app.figures import _checks, style


def _path_hover(n: int, word: str, with_word: bool) -> list[str]:
    """Hover labels of a path's points: the context's end, the modifier (or the filler in its
    place), then fillers."""
    slot = word if with_word else "a filler in its place"
    return ["end of the context", f"after {slot}"] + [f"{t} filler{'s' if t > 1 else ''} after {slot}"
                                                      for t in range(1, n - 1)]


def modifier_deflection(fp_pc, path, base_path, word: str, *, decay_tokens: int | None = None) -> go.Figure:
    """One modifier's deflection and its return, on the state PC plane.

    Parameters
    ----------
    fp_pc : (K, >= 2) the report's points on the visited states' PCs (state units); K may be 0
    path : (T + 2, 2) mean state after the context, after the modifier, then after each of
        the T fillers that follow it (``modifier_path[m]``)
    base_path : (T + 2, 2) the same contexts and fillers with a filler in the modifier's
        slot (``modifier_base_path``)
    word : the modifier (escaped here)
    decay_tokens : tokens until its transient fell to 1/e (−1 or None: not within T), for
        the title

    Notes
    -----
    Trace names: ``"fixed and slow points"``, ``"a filler in its place"``, ``"after <word>"``
    (escaped) and ``"the modifier's step"``.
    """
    pts = _checks.matrix("fp_pc", fp_pc, min_cols=2)
    with_w = _checks.matrix("path", path, cols=2)
    without = _checks.matrix("base_path", base_path, cols=2)
    if len(with_w) != len(without) or len(without) < 2:
        raise ValueError(f"path and base_path need the same number of points (2 or more), got {len(with_w)} "
                         f"and {len(without)}")
    name = html.escape(str(word))
    label = f"after '{name}'"
    traces = [
        dict(type=style.scatter_type(len(pts)), x=style.f32(pts[:, 0]), y=style.f32(pts[:, 1]), mode="markers",
             name="fixed and slow points", marker=dict(color=style.GREY, size=5), hoverinfo="skip"),
        dict(type="scatter", x=without[:, 0], y=without[:, 1], mode="lines+markers", name="a filler in its place",
             line=dict(color=style.INK, width=1.5, dash="dot"), marker=dict(size=5, color=style.INK),
             customdata=_path_hover(len(without), name, False),
             hovertemplate="%{customdata}<extra>a filler in its place</extra>"),
        dict(type="scatter", x=with_w[1:, 0], y=with_w[1:, 1], mode="lines+markers", name=label,
             line=dict(color=style.HIGHLIGHT, width=2.5), marker=dict(size=6, color=style.HIGHLIGHT),
             customdata=_path_hover(len(with_w), name, True)[1:],
             hovertemplate="%{customdata}<extra>" + label + "</extra>"),
        dict(type="scatter", x=with_w[:2, 0], y=with_w[:2, 1], mode="lines+markers", name="the modifier's step",
             line=dict(color=style.HIGHLIGHT, width=2.5, dash="dash"),
             marker=dict(size=[12, 9], symbol=["star", "circle"], color=[style.INK, style.HIGHLIGHT]),
             customdata=_path_hover(len(with_w), name, True)[:2],
             hovertemplate="%{customdata}<extra>the modifier's step</extra>"),
    ]
    decay = ("" if decay_tokens is None else " · back to 1/e in " + (f"{int(decay_tokens)} tokens" if decay_tokens >= 0
                                                                     else "more tokens than measured"))
    return style.quick_figure(traces, style.layout(
        f"'{name}': where it moves the state, and its return{decay}",
        xaxis=dict(title=dict(text="PC1 (state units)")), yaxis=dict(title=dict(text="PC2 (state units)")),
        legend=dict(orientation="h", y=-0.2, x=0.0)))


def modifier_profile(ratio, ratio_linear, word: str) -> go.Figure:
    """The modulation ratio r_k of one modifier at k = 1 … K tokens: of the settled readout
    increment (``modifier_ratio[i]``) and linearized (``modifier_ratio_linear[i]``, nan where
    not measured); dashed lines at 1 (no change) and 0 (the words after it do not count).

    Trace names: ``"readout ratio"``, ``"linearized ratio"``.
    """
    r = _checks.vector("ratio", ratio)
    lin = _checks.vector("ratio_linear", ratio_linear, length=len(r))
    k = np.arange(1, len(r) + 1)
    name = html.escape(str(word))
    traces = [dict(type="scatter", x=k, y=r, mode="lines+markers", name="readout ratio",
                   line=dict(color=style.TRAINED, width=2), hovertemplate="k = %{x}: r = %{y:.3f}<extra></extra>")]
    if np.isfinite(lin).any():
        traces.append(dict(type="scatter", x=k, y=[float(v) if np.isfinite(v) else None for v in lin],
                           mode="lines+markers", name="linearized ratio", line=dict(color=style.EIGVEC, dash="dash"),
                           marker=dict(symbol="diamond-open", size=9),
                           hovertemplate="k = %{x}: linearized r = %{y:.3f}<extra></extra>"))
    lines = [dict(type="line", xref="x domain", x0=0, x1=1, yref="y", y0=v, y1=v,
                  line=dict(color=style.NULL if v else style.INK, width=1, dash="dash")) for v in (1.0, 0.0)]
    return style.quick_figure(traces, style.layout(
        f"How the words after '{name}' count (1: as without it; below 0: flipped)",
        xaxis=dict(title=dict(text="tokens after the modifier, k"), dtick=1),
        yaxis=dict(title=dict(text="modulation ratio r_k")), shapes=lines,
        legend=dict(orientation="h", y=-0.25, x=0.0)))
