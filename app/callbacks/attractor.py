"""The attractor verdict beside the manifold, and its evidence (``rnnscope.analysis.attractors``)."""
from __future__ import annotations

from dash import Input, Output

from rnnscope.app import ids
from rnnscope.app.callbacks import per_report
from rnnscope.app.figures.attractor import attractor_evidence_of
from rnnscope.app.layout import NO_REPORT, attractor_verdict, placeholder
from rnnscope.app.services import Services, report_or_none


@per_report
def attractor_view(svc: Services, report_ref: dict | None) -> tuple:
    """-> (verdict in words, evidence figure) of the report on screen."""
    report = report_or_none(svc, report_ref)
    if report is None:
        return NO_REPORT, placeholder()
    return attractor_verdict(report.summary), attractor_evidence_of(report.summary, report.arrays)


def register(app, svc: Services) -> None:
    @app.callback(Output(ids.ATTRACTOR_VERDICT, "children"), Output(ids.FIG_ATTRACTOR, "figure"),
                  Input(ids.REPORT, "data"))
    def _attractor(report_ref):
        return attractor_view(svc, report_ref)
