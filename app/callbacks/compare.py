"""Compare models (Fig. 6): every analysis in the store, side by side."""
from __future__ import annotations

from dash import Input, Output

from app import figures, ids
from app.callbacks import figure_output
from app.layout import compare_table, placeholder
from app.services import Services


@figure_output
def compare_view(svc: Services, report_ref: dict | None) -> tuple:
    """-> (comparison figure, table) over all stored analyses; the one on screen marked."""
    current = report_ref.get("key") if isinstance(report_ref, dict) else None
    rows = svc.analysed_reports(keep=current)
    if not rows:
        return placeholder("no analysed model yet"), None
    fig = figures.compare_models([summary for _, _, summary in rows], [label for _, label, _ in rows])
    fig.update_layout(width=None, height=560, autosize=True)  # fill the card, not a fixed page
    return fig, compare_table(rows, current)


def register(app, svc: Services) -> None:
    @app.callback(Output(ids.FIG_COMPARE, "figure"), Output(ids.COMPARE_TABLE, "children"),
                  Input(ids.REPORT, "data"))
    def _compare(report_ref):
        return compare_view(svc, report_ref)
