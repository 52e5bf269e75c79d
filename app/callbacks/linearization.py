"""Linearization (Fig. 5b): one-step error histogram and the linearized model's accuracy."""
from __future__ import annotations

from dash import Input, Output

from rnnscope.app import figures, ids
from rnnscope.app.callbacks import per_report
from rnnscope.app.figures.linearization import error_variants
from rnnscope.app.layout import linearization_summary, placeholder
from rnnscope.app.services import Services, report_or_none


@per_report
def linearization_view(svc: Services, report_ref: dict | None) -> tuple:
    """-> (Fig. 5b, summary tiles) of the report on screen."""
    report = report_or_none(svc, report_ref)
    if report is None:
        return placeholder(), None
    a = report.arrays
    return (figures.linearization_error_hist(a["one_step_rel_error"], variants=error_variants(a)),
            linearization_summary(report.summary))


def register(app, svc: Services) -> None:
    @app.callback(Output(ids.FIG_LINEARIZATION, "figure"), Output(ids.LINEARIZATION_SUMMARY, "children"),
                  Input(ids.REPORT, "data"))
    def _linearization(report_ref):
        return linearization_view(svc, report_ref)
