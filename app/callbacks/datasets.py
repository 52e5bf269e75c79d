"""The user's own data (a dataset upload) and opening a stored analysis from Compare.

Flow: the browser checks an upload's size (as for checkpoints), the server checks and
stores it (``rnnscope.app.datasets.accept_dataset``) and selects it, which files an analysis of the
selected model on it (``rnnscope.app.callbacks.model``). Clicking a model in the Compare table
selects that analysis's model, dataset and point set and leaves the opened report in
``ids.OPENED``, which ``resolve_analysis`` puts on screen.
"""
from __future__ import annotations

from dash import ALL, Input, Output, ctx, html, no_update

from rnnscope.app import ids
from rnnscope.app.callbacks.uploads import register_upload, upload_reply
from rnnscope.app.datasets import accept_dataset, dataset_options, open_analysis
from rnnscope.app.layout import alert, pct
from rnnscope.app.services import Services


def dataset_upload(svc: Services, payload) -> tuple:
    """Store an uploaded dataset; -> (options patch, selected value, alert).

    Any problem gives an error alert in words and leaves the list and selection unchanged.
    """
    return upload_reply(payload, lambda contents, filename: accept_dataset(svc, contents, filename),
                        "Dataset refused: ", _uploaded)


def _uploaded(label: str, info: dict) -> tuple:
    """The success alert's children after "Uploaded ": the name, rows, splits and balance."""
    splits = info.get("splits") or {}
    text = (f": {info.get('rows', 0):,} labelled rows ({splits.get('train', 0):,} train / "
            f"{splits.get('validation', 0):,} validation / {splits.get('test', 0):,} test), "
            f"{pct(info.get('positive_fraction'))} positive. It is selected for the analysis.")
    return html.B(label), text


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
    register_upload(app, ids.DATASET_UPLOAD, ids.DATASET_UPLOAD_PAYLOAD, ids.DATASET_UPLOAD_ALERT,
                    ids.DATASET_SELECT, lambda payload: dataset_upload(svc, payload))

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
