"""The user's own data (a dataset upload) and opening a stored analysis from Compare.

Flow: the browser checks an upload's size (as for checkpoints), the server checks and
stores it (``rnnscope.app.datasets.accept_dataset``) and selects it, which files an analysis of the
selected model on it (``rnnscope.app.callbacks.model``). Clicking a model in the Compare table
selects that analysis's model, dataset and point set and leaves the opened report in
``ids.OPENED``, which ``resolve_analysis`` puts on screen.
"""
from __future__ import annotations

from dash import ALL, Input, Output, Patch, State, ctx, html, no_update

from rnnscope.app import ids
from rnnscope.app.callbacks.model import UPLOAD_SIZE_CHECK
from rnnscope.app.datasets import accept_dataset, dataset_options, open_analysis
from rnnscope.app.layout import alert, pct
from rnnscope.app.services import Services, UploadError


def dataset_upload(svc: Services, payload) -> tuple:
    """Store an uploaded dataset; -> (options patch, selected value, alert).

    Any problem gives an error alert in words and leaves the list and selection unchanged.
    """
    payload = payload if isinstance(payload, dict) else {}
    try:
        ref, label, is_new, info = accept_dataset(svc, payload.get("contents"), payload.get("filename"))
    except UploadError as exc:
        return no_update, no_update, alert("error", "Dataset refused: ", str(exc))
    options = Patch()
    if is_new:
        options.append({"label": label, "value": ref})
    splits = info.get("splits") or {}
    text = (f": {info.get('rows', 0):,} labelled rows ({splits.get('train', 0):,} train / "
            f"{splits.get('validation', 0):,} validation / {splits.get('test', 0):,} test), "
            f"{pct(info.get('positive_fraction'))} positive. It is selected for the analysis.")
    return options, ref, alert("success", "Uploaded ", html.B(label), text)


def open_from_compare(svc: Services, key) -> tuple:
    """-> (model, dataset options, dataset, point set, opened ref, alert) for a Compare click."""
    opened = open_analysis(svc, key)
    if opened is None:
        return (no_update,) * 5 + (alert("error", "This analysis is no longer in the store."),)
    if opened["data"] is None:
        return (no_update,) * 5 + (alert(
            "warning", f"The dataset of this analysis ({opened['name']}) is not in the store (a directory, or a "
                       "file analysed elsewhere), so it cannot be opened here; its numbers are in the table."),)
    return opened["sha"], dataset_options(svc), opened["data"], opened["points"], opened, None


def register(app, svc: Services) -> None:
    app.clientside_callback(
        UPLOAD_SIZE_CHECK,
        Output(ids.DATASET_UPLOAD_PAYLOAD, "data"), Output(ids.DATASET_UPLOAD_ALERT, "children"),
        Input(ids.DATASET_UPLOAD, "contents"), State(ids.DATASET_UPLOAD, "filename"),
        State(ids.UPLOAD_LIMIT, "data"), prevent_initial_call=True)

    @app.callback(Output(ids.DATASET_SELECT, "options"), Output(ids.DATASET_SELECT, "value"),
                  Output(ids.DATASET_UPLOAD_ALERT, "children", allow_duplicate=True),
                  Output(ids.DATASET_UPLOAD, "contents"),
                  Input(ids.DATASET_UPLOAD_PAYLOAD, "data"), prevent_initial_call=True)
    def _dataset_upload(payload):
        return (*dataset_upload(svc, payload), None)  # clear contents: the same file may come again

    @app.callback(Output(ids.MODEL_SELECT, "value", allow_duplicate=True),
                  Output(ids.DATASET_SELECT, "options", allow_duplicate=True),
                  Output(ids.DATASET_SELECT, "value", allow_duplicate=True),
                  Output(ids.POINT_SET_SELECT, "value", allow_duplicate=True),
                  Output(ids.OPENED, "data"), Output(ids.COMPARE_ALERT, "children"),
                  Input({"type": ids.COMPARE_OPEN, "key": ALL}, "n_clicks"), prevent_initial_call=True)
    def _open(clicks):
        trigger = ctx.triggered_id
        value = ctx.triggered[0].get("value") if ctx.triggered else None
        if not isinstance(trigger, dict) or type(value) is not int or value < 1:  # a table re-render, not a click
            return (no_update,) * 6
        return open_from_compare(svc, trigger.get("key"))
