"""Model panel: pick or upload a checkpoint, run or cancel its analysis, the model card.

Flow: choosing a model or dataset (or pressing Analyse) resolves the report key at once
when the analysis is already in the store; otherwise it files a job request, which the
background callback runs (``DiskcacheManager`` child process or Celery worker) with a
progress bar, a stage message and a Cancel button. The job's result goes on screen only
if that model and dataset are still selected. The result is only a key in
``ids.REPORT``; every view reads the report from the store by that key.
"""
from __future__ import annotations

import time

from dash import Input, Output, State, html, no_update

from rnnscope.app import ids
from rnnscope.app.callbacks.uploads import register_upload, upload_reply
from rnnscope.app.layout import alert, model_card, status_line
from rnnscope.app.services import (DEFAULT_POINT_SET, UNKNOWN_DATASET, Services, known_dataset, model_or_none,
                                   not_downloaded, point_set_choice, report_or_none, valid_key)

#: Minimum seconds between two progress writes (each is a cache write and a poll result).
PROGRESS_EVERY_S = 0.25


# --------------------------------------------------------------------------- plain functions


def accept_upload(svc: Services, payload: dict | None) -> tuple:
    """Store an uploaded checkpoint; -> (options patch, selected sha, alert).

    Any problem (not base64, too large, not a checkpoint, hostile content) gives an error
    alert in plain words and leaves the model list and selection unchanged.
    """
    return upload_reply(payload, svc.accept_upload, "Upload refused: ", lambda label: (html.B(label), "."))


def resolve_analysis(svc: Services, sha, data_name, _clicks=None, point_set=DEFAULT_POINT_SET,
                     opened=None) -> tuple:
    """-> (report ref, job request or no_update, alert).

    A stored analysis goes on screen at once; a missing one becomes a job request, and
    the ref says so (``"key": None``): no view goes on showing the previous model's report
    while the job runs, after Cancel or after a failure (they say ``layout.NO_REPORT``).
    A selection that cannot be analysed clears the ref (None) with an alert. ``opened``
    (``rnnscope.app.datasets.open_analysis``, from Compare) is shown while its model, dataset and
    point set are the ones selected, whatever parameters it was computed with. A
    registered dataset that is not downloaded files no job unless the server may fetch it.
    """
    point_set = point_set_choice(point_set)
    if not valid_key(sha):
        return None, no_update, alert("info", "Choose a demo model or upload a checkpoint.")
    if model_or_none(svc, sha) is None:
        return None, no_update, alert("error", "This checkpoint is no longer in the store "
                                               "or cannot be read.")
    if not known_dataset(data_name):
        return None, no_update, alert("error", UNKNOWN_DATASET)
    key = svc.stored_analysis(sha, data_name, point_set)
    if isinstance(opened, dict) and (opened.get("sha"), opened.get("data"), opened.get("points")) == \
            (sha, data_name, point_set) and valid_key(opened.get("key")) and svc.store.report_dir(opened["key"]).is_dir():
        key = opened["key"]
    ref = {"key": key, "sha": sha, "data": data_name, "points": point_set}
    if key is not None:
        return ref, no_update, None
    missing = not_downloaded(svc, data_name)
    if missing:
        return ref, no_update, alert("warning", missing)
    return ref, {"sha": sha, "data": data_name, "points": point_set, "at": time.time()}, None


def throttled(set_progress, every_s: float = PROGRESS_EVERY_S):
    """``progress(fraction, message)`` forwarding to ``set_progress([percent, stage])``.

    Forwards when the message changes, at the end, or at most every ``every_s`` seconds.
    """
    last = {"t": 0.0, "message": None}

    def progress(fraction: float, message: str) -> None:
        now = time.monotonic()
        if message == last["message"] and now - last["t"] < every_s and fraction < 1:
            return
        last.update(t=now, message=message)
        percent = max(0, min(100, int(round(100 * float(fraction)))))
        set_progress((str(percent), f"{message} · {percent}%"))
    return progress


def run_analysis_job(svc: Services, set_progress, request: dict | None) -> tuple:
    """Background job: analyse ``request["sha"]`` on ``request["data"]``.

    Returns (report ref, alert); failures come back as an error alert, never raised.
    """
    if not isinstance(request, dict) or not valid_key(request.get("sha")):
        return no_update, no_update
    sha, data_name, point_set = request["sha"], request.get("data"), point_set_choice(request.get("points"))
    if not known_dataset(data_name):
        return no_update, alert("error", UNKNOWN_DATASET)
    svc.use_job_threads()
    try:
        key = svc.analyse(sha, data_name, throttled(set_progress), point_set)
    except Exception as exc:  # noqa: BLE001 - every failure is shown to the user in words
        name = svc.checkpoint_info(sha).get("filename", sha[:8])
        return no_update, alert("error", f"The analysis of {name} on {data_name} failed: ",
                                svc.explain(exc))
    return {"key": key, "sha": sha, "data": data_name, "points": point_set}, None


def accept_result(result: dict | None, sha, data_name, point_set=DEFAULT_POINT_SET):
    """Put a finished job's report on screen only if its model, dataset and point set are
    still the ones selected (the user may have moved on while it ran; the report stays stored)."""
    if (isinstance(result, dict) and result.get("sha") == sha and result.get("data") == data_name
            and result.get("points", DEFAULT_POINT_SET) == point_set_choice(point_set)):
        return result
    return no_update


def card_and_status(svc: Services, sha, report_ref) -> tuple:
    """-> (model card, top-bar status line) for the selected model and the report on screen."""
    model = model_or_none(svc, sha)
    report = report_or_none(svc, report_ref)
    same = report is not None and report_ref.get("sha") == sha
    info = svc.checkpoint_info(sha) if model is not None else None
    if report is None:
        data = report_ref.get("data") if isinstance(report_ref, dict) else None
        status = f"no report ready for the selected model on {data}" if known_dataset(data) else "no report ready"
    else:
        status = status_line(report)
    return model_card(model, info, report if same else None), status


# --------------------------------------------------------------------------- wiring


def register(app, svc: Services) -> None:
    register_upload(app, ids.UPLOAD, ids.UPLOAD_PAYLOAD, ids.UPLOAD_ALERT, ids.MODEL_SELECT,
                    lambda payload: accept_upload(svc, payload))

    @app.callback(Output(ids.REPORT, "data"), Output(ids.JOB_REQUEST, "data"),
                  Output(ids.JOB_ALERT, "children"),
                  Input(ids.MODEL_SELECT, "value"), Input(ids.DATASET_SELECT, "value"),
                  Input(ids.JOB_START, "n_clicks"), Input(ids.POINT_SET_SELECT, "value"),
                  State(ids.OPENED, "data"))
    def _resolve(sha, data_name, clicks, point_set, opened):
        return resolve_analysis(svc, sha, data_name, clicks, point_set, opened)

    @app.callback(Output(ids.JOB_RESULT, "data"),
                  Output(ids.JOB_ALERT, "children", allow_duplicate=True),
                  Input(ids.JOB_REQUEST, "data"),
                  background=True, prevent_initial_call=True, interval=400,
                  progress=[Output(ids.JOB_PROGRESS, "value"), Output(ids.JOB_STAGE, "children")],
                  progress_default=["0", ""],
                  running=[(Output(ids.JOB_START, "disabled"), True, False),
                           (Output(ids.JOB_CANCEL, "disabled"), False, True),
                           (Output(ids.JOB_PROGRESS, "className"), "job running", "job")],
                  cancel=[Input(ids.JOB_CANCEL, "n_clicks")])
    def _job(set_progress, request):
        return run_analysis_job(svc, set_progress, request)

    @app.callback(Output(ids.REPORT, "data", allow_duplicate=True), Input(ids.JOB_RESULT, "data"),
                  State(ids.MODEL_SELECT, "value"), State(ids.DATASET_SELECT, "value"),
                  State(ids.POINT_SET_SELECT, "value"), prevent_initial_call=True)
    def _result(result, sha, data_name, point_set):
        return accept_result(result, sha, data_name, point_set)

    @app.callback(Output(ids.JOB_ALERT, "children", allow_duplicate=True),
                  Input(ids.JOB_CANCEL, "n_clicks"), prevent_initial_call=True)
    def _cancelled(clicks):
        return alert("info", "Analysis cancelled; nothing was stored.") if clicks else no_update

    @app.callback(Output(ids.MODEL_CARD, "children"), Output(ids.JOB_STATUS, "children"),
                  Input(ids.MODEL_SELECT, "value"), Input(ids.REPORT, "data"))
    def _card(sha, report_ref):
        return card_and_status(svc, sha, report_ref)
