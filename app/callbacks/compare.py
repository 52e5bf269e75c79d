"""Compare models (Fig. 6): every analysis in the store, side by side."""
from __future__ import annotations

import numpy as np
from dash import Input, Output

from rnnscope.analysis.projections import readout_share
from rnnscope.app import figures, ids
from rnnscope.app.callbacks import figure_output
from rnnscope.app.layout import compare_table, placeholder
from rnnscope.app.services import Services, report_or_none


def word_shares(svc: Services, key: str) -> dict[str, float]:
    """Mean ``rnnscope.analysis.projections.readout_share`` of each word set in report ``key``:
    {"positive", "negative", "neutral"} -> the logit change one word of the set makes along
    the integration mode, as a share of the logit range over the report's points (NaN when
    undefined or the report cannot be read). Memoized per key (reports never change)."""
    def make() -> dict[str, float]:
        report = report_or_none(svc, {"key": key})
        if report is None:
            return {}
        a = report.arrays
        share = readout_share(a["input_projection"], a["r1"], a["readout"], a["fixed_points"])
        valence = np.asarray(a["word_valence"])
        out = {}
        for name, code in (("positive", 1), ("negative", -1), ("neutral", 0)):
            sel = share[:, valence == code]
            out[name] = float(np.nanmean(sel)) if np.isfinite(sel).any() else float("nan")
        return out
    return svc.memo.get(("word-shares", key), make)


def compare_view(svc: Services, report_ref: dict | None) -> tuple:
    """-> (comparison figure, table) over all stored analyses; the one on screen marked.

    Built once per set of analyses (and the one on screen): reports never change under
    their keys, so the same rows give the same outputs."""
    current = report_ref.get("key") if isinstance(report_ref, dict) else None
    rows = svc.analysed_reports(keep=current)
    if not rows:
        return _compare_outputs(svc, rows, current)
    marker = ("compare", tuple((key, label) for key, label, _ in rows), current)
    return svc.memo.get(marker, lambda: _compare_outputs(svc, rows, current))


@figure_output
def _compare_outputs(svc: Services, rows: list, current: str | None) -> tuple:
    if not rows:
        return placeholder("no analysed model yet"), None
    fig = figures.compare_models([summary for _, _, summary in rows], [label for _, label, _ in rows],
                                 [word_shares(svc, key) for key, _, _ in rows])
    fig.update_layout(width=None, height=560, autosize=True)  # fill the card, not a fixed page
    return fig, compare_table(rows, current)


def register(app, svc: Services) -> None:
    @app.callback(Output(ids.FIG_COMPARE, "figure"), Output(ids.COMPARE_TABLE, "children"),
                  Input(ids.REPORT, "data"))
    def _compare(report_ref):
        return compare_view(svc, report_ref)
