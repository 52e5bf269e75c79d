"""Fixed-point manifold (Fig. 2c) and the selected fixed point (Fig. 3b-d, 4a-b).

The manifold and τ-along-θ figures are sent once per report, with the default point
selected; a click only stores ``{"key", "index"}`` in ``ids.SELECTED_FP`` and moves the
"selected" ring with a ``Patch``. The selected point's own panels come from one
eigen-decomposition at that point (``Services.point_modes``, cached).
"""
from __future__ import annotations

import numpy as np
from dash import Input, Output, Patch, State, no_update

from app import figures, ids
from app.layout import fp_summary, placeholder
from app.services import Services, report_or_none, valid_key


def clickable(fig) -> dict:
    """``fig`` as a dict whose traces carry ``customdata`` as plain JSON lists.

    dcc.Graph copies ``customdata`` into ``clickData`` by indexing the trace's array in
    the page; plotly sends numeric arrays as base64 typed-array specs, which it cannot
    index, so a click would arrive without the fixed point's index.
    """
    out = fig.to_plotly_json()
    for trace, source in zip(out["data"], fig.data):
        if getattr(source, "customdata", None) is not None:
            trace["customdata"] = np.asarray(source.customdata).tolist()
    return out


def _trace_index(fig, name: str) -> int:
    """Index of the (first) trace called ``name`` in ``fig``."""
    return next(i for i, trace in enumerate(fig.data) if trace.name == name)


def _manifold_figures(report, index: int) -> tuple:
    a = report.arrays
    manifold = figures.fixed_point_manifold(a["fp_pc"], a["theta"],
                                            a.get("fp_pca_explained_variance_ratio"), selected=index)
    tau = figures.top_time_constants(a["theta"], a["tau_top3"], selected=index)
    return manifold, tau


def _selected_traces(svc: Services, key: str, report) -> tuple[int, int]:
    """Indices of the "selected" traces in Fig. 2c and 3c of this report (memoized)."""
    def make():
        manifold, tau = _manifold_figures(report, 0)
        return _trace_index(manifold, "selected"), _trace_index(tau, "selected")
    return svc.memo.get(("selected-traces", key), make)


def report_figures(svc: Services, report_ref: dict | None) -> tuple:
    """-> (Fig. 2c, Fig. 3c, default selection) for a new report on screen."""
    report = report_or_none(svc, report_ref)
    if report is None or not len(report.arrays["fixed_points"]):
        note = "no fixed points" if report is not None else "waiting for the analysis…"
        return placeholder(note), placeholder(note), None
    index = figures.example_point(report.arrays)
    manifold, tau = _manifold_figures(report, index)
    svc.memo.get(("selected-traces", report_ref["key"]),
                 lambda: (_trace_index(manifold, "selected"), _trace_index(tau, "selected")))
    return clickable(manifold), clickable(tau), {"key": report_ref["key"], "index": index}


def select_from_click(report_ref: dict | None, click: dict | None):
    """``{"key", "index"}`` from a plotly click whose point carries its index as customdata."""
    try:
        index = int(click["points"][0]["customdata"])
    except (TypeError, KeyError, IndexError, ValueError):
        return no_update
    if not isinstance(report_ref, dict) or not valid_key(report_ref.get("key")):
        return no_update
    return {"key": report_ref["key"], "index": index}


def _selection(svc: Services, selection: dict | None):
    """(report, index) for a valid selection, else (None, None)."""
    if not isinstance(selection, dict):
        return None, None
    report = report_or_none(svc, selection)
    index = selection.get("index")
    if report is None or not isinstance(index, int) or not 0 <= index < len(report.arrays["theta"]):
        return None, None
    return report, index


def highlight(svc: Services, selection: dict | None) -> tuple:
    """Patches moving the "selected" rings of Fig. 2c and 3c to the selected point."""
    report, k = _selection(svc, selection)
    if report is None:
        return no_update, no_update
    a = report.arrays
    i, j = _selected_traces(svc, selection["key"], report)
    manifold, tau = Patch(), Patch()
    manifold["data"][i]["x"], manifold["data"][i]["y"] = [float(a["fp_pc"][k, 0])], [float(a["fp_pc"][k, 1])]
    manifold["data"][i]["customdata"] = [k]
    tau1 = float(a["tau_top3"][k, 0])
    tau["data"][j]["x"], tau["data"][j]["y"] = [float(a["theta"][k])], [tau1 if tau1 < float("inf") else None]
    tau["data"][j]["customdata"] = [k]
    return manifold, tau


def selected_point_views(svc: Services, selection: dict | None) -> tuple:
    """-> (summary strip, Fig. 3b, Fig. 3d, Fig. 4a, Fig. 4b) for the selected point."""
    report, k = _selection(svc, selection)
    if report is None:
        blank = placeholder("click a fixed point")
        return "no fixed point selected", blank, blank, blank, blank
    a = report.arrays
    modes = svc.point_modes(selection["key"], k)
    label = [f"fixed point {k}"]
    comps = a["state_pca_components"]
    effects = svc.word_effects(selection["key"], k)
    return (
        fp_summary(modes, float(a["theta"][k]), float(a["q"][k])),
        figures.eigenvalue_plane([modes.eigvals], label),
        figures.time_constants([modes.tau], label),
        figures.input_effects(figures.project_directions(effects, comps), a["word_valence"],
                              figures.project_directions(modes.l1, comps), list(a["words"]), point=k),
        clickable(figures.right_eigenvector_on_manifold(a["fp_pc"], k,
                                                        figures.project_directions(modes.r1, comps))),
    )


def register(app, svc: Services) -> None:
    @app.callback(Output(ids.FIG_MANIFOLD, "figure"), Output(ids.FIG_TAU_THETA, "figure"),
                  Output(ids.SELECTED_FP, "data"), Input(ids.REPORT, "data"))
    def _report(report_ref):
        return report_figures(svc, report_ref)

    for graph in (ids.FIG_MANIFOLD, ids.FIG_TAU_THETA, ids.FIG_R1_MANIFOLD):
        app.callback(Output(ids.SELECTED_FP, "data", allow_duplicate=True),
                     Input(graph, "clickData"), State(ids.REPORT, "data"),
                     prevent_initial_call=True)(lambda click, ref: select_from_click(ref, click))

    @app.callback(Output(ids.FIG_MANIFOLD, "figure", allow_duplicate=True),
                  Output(ids.FIG_TAU_THETA, "figure", allow_duplicate=True),
                  Input(ids.SELECTED_FP, "data"), prevent_initial_call=True)
    def _highlight(selection):
        return highlight(svc, selection)

    @app.callback(Output(ids.FP_SUMMARY, "children"), Output(ids.FIG_EIGVALS, "figure"),
                  Output(ids.FIG_TAU_ALL, "figure"), Output(ids.FIG_INPUT_EFFECTS, "figure"),
                  Output(ids.FIG_R1_MANIFOLD, "figure"), Input(ids.SELECTED_FP, "data"))
    def _selected(selection):
        return selected_point_views(svc, selection)
