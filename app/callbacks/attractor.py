"""The attractor verdict beside the manifold, and its evidence (``analysis.attractors``)."""
from __future__ import annotations

from dash import Input, Output

from app import ids
from app.callbacks import per_report
from app.figures.attractor import attractor_evidence
from app.layout import attractor_verdict, placeholder
from app.services import Services, report_or_none


@per_report
def attractor_view(svc: Services, report_ref: dict | None) -> tuple:
    """-> (verdict in words, evidence figure) of the report on screen."""
    report = report_or_none(svc, report_ref)
    if report is None:
        return "waiting for the analysis…", placeholder()
    s, a = report.summary, report.arrays
    fp = s["fixed_points"]
    sweep = {k: a[f"sweep_{k}"] for k in ("tolerance", "n_points", "extent_ratio", "continuous")}
    fig = attractor_evidence(a["seed_q"], a["seed_class"], fp["tol"], fp["slow_q_max"], sweep,
                             a["attractor_curve_steps"], a["attractor_curve_extent"], a["attractor_curve_inner"])
    return attractor_verdict(s), fig


def register(app, svc: Services) -> None:
    @app.callback(Output(ids.ATTRACTOR_VERDICT, "children"), Output(ids.FIG_ATTRACTOR, "figure"),
                  Input(ids.REPORT, "data"))
    def _attractor(report_ref):
        return attractor_view(svc, report_ref)
