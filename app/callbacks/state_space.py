"""State space (Fig. 2a, 2b): dimensionality of the visited states and their density."""
from __future__ import annotations

from dash import Input, Output

from rnnscope.app import figures, ids
from rnnscope.app.callbacks import per_report
from rnnscope.app.layout import placeholder
from rnnscope.app.services import Services, report_or_none


@per_report
def state_space_figures(svc: Services, report_ref: dict | None) -> tuple:
    """Fig. 2a and 2b of the report on screen (placeholders when there is none)."""
    report = report_or_none(svc, report_ref)
    if report is None:
        return placeholder(), placeholder()
    a = report.arrays
    pca = figures.explained_variance(a["explained_variance_ratio"],
                                     a.get("explained_variance_ratio_untrained"))
    zero = figures.readout_zero_offset(a["readout"], a["readout_bias"][0], a["state_pca_mean"]) \
        if len(a["state_pca_components"]) >= 2 else None
    density = figures.state_density(
        a["density_pos"], a["density_neg"], a["density_edges"], a.get("example_traj_pos"),
        a.get("example_traj_neg"), a.get("initial_state_pc"), a.get("readout_pc"),
        readout_zero=zero)
    return pca, density


def register(app, svc: Services) -> None:
    @app.callback(Output(ids.FIG_PCA, "figure"), Output(ids.FIG_STATE_DENSITY, "figure"),
                  Input(ids.REPORT, "data"))
    def _state_space(report_ref):
        return state_space_figures(svc, report_ref)
