"""Fixed-point manifold (Fig. 2c) and the selected fixed point (Fig. 3b-d, 4a-b).

Every figure is sent once per report, drawn at the default point; a click only stores
``{"key", "index"}`` in ``ids.SELECTED_FP``, and the views follow with ``Patch``es: the
"selected" rings of Fig. 2c and 3c move, and Fig. 3b, 3d, 4a and 4b get new traces for
the selected point (the report's spectrum there and J_inp, ``Services.point_modes``, cached;
above ``Settings.click_max_state`` Fig. 4a says in words that J_inp is not computed at a click).
"""
from __future__ import annotations

import numpy as np
from dash import Input, Output, Patch, State, no_update

from rnnscope.analysis.summary import read as read_summary
from rnnscope.app import figures, ids
from rnnscope.app.callbacks import per_report
from rnnscope.app.figures import manifold as manifold_figs
from rnnscope.app.figures import projections, spectra, style
from rnnscope.app.layout import NO_REPORT, fp_summary, placeholder
from rnnscope.app.services import Services, point_index, report_or_none, valid_key


def clickable(fig) -> dict:
    """``fig`` as a dict whose traces carry ``customdata`` as plain JSON lists.

    dcc.Graph copies ``customdata`` into ``clickData`` by indexing the trace's array in
    the page; plotly sends numeric arrays as base64 typed-array specs, which it cannot
    index, so a click would arrive without the fixed point's index.
    """
    out = fig.to_plotly_json()
    out["data"] = [_plain_customdata(trace, source.customdata) for trace, source in zip(out["data"], fig.data)]
    return out


def _plain_customdata(trace, data=None) -> dict:
    """A trace (plotly object or plain dict) as JSON with ``customdata`` as a plain list:
    ``data``, or the trace's own (a figure's JSON may already hold the base64 form, so
    ``clickable`` passes the trace object's array)."""
    if data is None:
        data = trace.get("customdata") if isinstance(trace, dict) else trace.customdata
    out = dict(trace) if isinstance(trace, dict) else trace.to_plotly_json()
    if data is not None:
        out["customdata"] = np.asarray(data).tolist()
    return out


def _trace_index(fig, name: str) -> int:
    """Index of the (first) trace called ``name`` in ``fig``."""
    return next(i for i, trace in enumerate(fig.data) if trace.name == name)


def point_labels(a: dict) -> list[str]:
    """A hover line per point: q (fixed or slow), the integration mode's |λ| and τ."""
    out = []
    for q, fixed, lam, tau in zip(a["q"], a["point_is_fixed"], a["mode_eigval"], a["mode_tau"]):
        kind = "fixed" if fixed else "slow"
        out.append(f"q {q:.1e} ({kind}) · integration mode |λ| {abs(lam):.4f}, τ {tau:.4g} tokens")
    return out


def _manifold_figures(report, index: int) -> tuple:
    a = report.arrays
    title = f"Fixed and slow points: {read_summary(report.summary).attractor.name}"
    manifold = figures.fixed_point_manifold(a["fp_pc"], a["theta"], a.get("fp_pca_explained_variance_ratio"),
                                            selected=index, title=title, labels=point_labels(a))
    tau = figures.top_time_constants(a["theta"], a["tau_top3"], selected=index)
    return manifold, tau


def _selected_traces(svc: Services, key: str, report) -> tuple[int, int]:
    """Indices of the "selected" traces in Fig. 2c and 3c of this report (memoized)."""
    def make():
        manifold, tau = _manifold_figures(report, 0)
        return _trace_index(manifold, "selected"), _trace_index(tau, "selected")
    return svc.memo.get(("selected-traces", key), make)


def slow_tol(report) -> float | None:
    """The class geometry's slow-mode band for a C > 2 report (Fig. 3b rings those modes);
    None for a binary one."""
    geometry = report.summary.get("class_geometry") or {}
    return float(geometry["slow_tol"]) if geometry.get("applies") and geometry.get("slow_tol") is not None else None


@per_report
def report_figures(svc: Services, report_ref: dict | None) -> tuple:
    """-> (Fig. 2c, 3c, 3b, 3d, 4a, 4b, summary strip, default selection) for a new report.

    Every figure is built once here, at the default point (the one nearest θ = 0); a
    click then only patches them (``select_point``).
    """
    report = report_or_none(svc, report_ref)
    if report is None or not len(report.arrays["fixed_points"]):
        note = "no fixed points" if report is not None else NO_REPORT
        blank = placeholder(note)
        return blank, blank, blank, blank, blank, blank, "no fixed point selected", None
    key, a = report_ref["key"], report.arrays
    k = figures.example_point(a)
    manifold, tau = _manifold_figures(report, k)
    svc.memo.get(("selected-traces", key),
                 lambda: (_trace_index(manifold, "selected"), _trace_index(tau, "selected")))
    p = _point_inputs(svc, key, report, k)
    return (
        clickable(manifold), clickable(tau),
        figures.eigenvalue_plane([p["modes"].eigvals], p["label"], p["mode_eigval"], slow_tol(report)),
        figures.time_constants([p["modes"].tau], p["label"]),
        (figures.input_effects(p["effects_pc"], a["word_valence"], p["l1_pc"], list(a["words"]))
         if p["effects_pc"] is not None else placeholder(too_large_for_a_click(svc, report))),
        clickable(figures.right_eigenvector_on_manifold(a["fp_pc"], k, p["r1_pc"])),
        fp_summary(p["modes"], float(a["theta"][k]), float(a["q"][k])),
        {"key": key, "index": k},
    )


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
    report = report_or_none(svc, selection) if isinstance(selection, dict) else None
    index = point_index(report, selection)
    return (None, None) if index is None else (report, index)


def _point_inputs(svc: Services, key: str, report, k: int) -> dict:
    """What the single-point panels draw at point k, projected on the state PCs."""
    a = report.arrays
    comps = a["state_pca_components"]
    modes = svc.point_modes(key, k)
    effects = svc.word_effects(key, k)
    return {"modes": modes, "label": [f"fixed point {k}"], "mode_eigval": modes.eigvals[modes.mode],
            "effects_pc": None if effects is None else figures.project_directions(effects, comps),
            "l1_pc": figures.project_directions(modes.l1, comps),
            "r1_pc": figures.project_directions(modes.r1, comps)}


def too_large_for_a_click(svc: Services, report) -> str:
    """Why Fig. 4a is empty for a network whose state is larger than a click may handle."""
    D, limit = report.arrays["fixed_points"].shape[1], svc.settings.click_max_state
    return (f"The words' effects need J_inp at the point, which a click computes from D x D Jacobians; "
            f"this network's state has D = {D:,} dimensions, more than the {limit:,} a click may take "
            f"(RNNSCOPE_CLICK_MAX_STATE). The spectra shown are the analysis job's.")


def _data_patch(traces) -> Patch:
    """A Patch replacing a figure's traces (layout, axes and title stay as sent)."""
    patch = Patch()
    patch["data"] = [_plain_customdata(t) for t in traces]
    return patch


def _tau_patch(traces, tau) -> Patch:
    """``_data_patch`` of Fig. 3d with its log axis's ticks set for the new point's τ
    (``style.log_ticks``; a key it leaves out is reset to plotly's default)."""
    patch = _data_patch(traces)
    ticks = style.log_ticks(tau)
    for name in ("dtick", "minorloglabels", "exponentformat"):
        patch["layout"]["yaxis"][name] = ticks.get(name)
    return patch


def select_point(svc: Services, selection: dict | None) -> tuple:
    """-> Patches of Fig. 2c and 3c (the "selected" rings), the summary strip, and the
    new traces of Fig. 3b, 3d, 4a, 4b for the selected point.

    Only the traces are rebuilt (``*_traces`` builders of ``rnnscope.app.figures``); the figures'
    layouts were sent with the report, which keeps a click to a few milliseconds.
    """
    report, k = _selection(svc, selection)
    if report is None:
        return (no_update,) * 7
    key, a = selection["key"], report.arrays
    i, j = _selected_traces(svc, key, report)
    manifold, tau = Patch(), Patch()
    manifold["data"][i]["x"], manifold["data"][i]["y"] = [float(a["fp_pc"][k, 0])], [float(a["fp_pc"][k, 1])]
    manifold["data"][i]["customdata"] = [k]
    tau1 = float(a["tau_top3"][k, 0])
    tau["data"][j]["x"], tau["data"][j]["y"] = [float(a["theta"][k])], [tau1 if tau1 < float("inf") else None]
    tau["data"][j]["customdata"] = [k]
    p = _point_inputs(svc, key, report, k)
    return (
        manifold, tau,
        fp_summary(p["modes"], float(a["theta"][k]), float(a["q"][k])),
        _data_patch(spectra.eigenvalue_traces([p["modes"].eigvals], p["label"], p["mode_eigval"], slow_tol(report))),
        _tau_patch(spectra.time_constant_traces([p["modes"].tau], p["label"]), p["modes"].tau),
        _data_patch(projections.input_effect_traces(p["effects_pc"], a["word_valence"], p["l1_pc"],
                                                    list(a["words"]))) if p["effects_pc"] is not None else no_update,
        _data_patch(manifold_figs.right_eigenvector_traces(a["fp_pc"], k, p["r1_pc"])),
    )


POINT_VIEWS = (ids.FIG_EIGVALS, ids.FIG_TAU_ALL, ids.FIG_INPUT_EFFECTS, ids.FIG_R1_MANIFOLD)


def register(app, svc: Services) -> None:
    @app.callback(Output(ids.FIG_MANIFOLD, "figure"), Output(ids.FIG_TAU_THETA, "figure"),
                  *[Output(view, "figure") for view in POINT_VIEWS],
                  Output(ids.FP_SUMMARY, "children"), Output(ids.SELECTED_FP, "data"),
                  Input(ids.REPORT, "data"))
    def _report(report_ref):
        return report_figures(svc, report_ref)

    for graph in (ids.FIG_MANIFOLD, ids.FIG_TAU_THETA, ids.FIG_R1_MANIFOLD):
        app.callback(Output(ids.SELECTED_FP, "data", allow_duplicate=True),
                     Input(graph, "clickData"), State(ids.REPORT, "data"),
                     prevent_initial_call=True)(lambda click, ref: select_from_click(ref, click))

    @app.callback(Output(ids.FIG_MANIFOLD, "figure", allow_duplicate=True),
                  Output(ids.FIG_TAU_THETA, "figure", allow_duplicate=True),
                  Output(ids.FP_SUMMARY, "children", allow_duplicate=True),
                  *[Output(view, "figure", allow_duplicate=True) for view in POINT_VIEWS],
                  Input(ids.SELECTED_FP, "data"), prevent_initial_call=True)
    def _select(selection):
        return select_point(svc, selection)
