"""The page wiring both uploads share (a checkpoint: ``rnnscope.app.callbacks.model``; a
labelled dataset: ``rnnscope.app.callbacks.datasets``).

Flow: the browser checks the file's size against the upload cap (``UPLOAD_SIZE_CHECK``; a
200 MB data URL must not travel to the server only to be refused there) and passes the
payload on; the server decodes, checks and stores it (``accept``), adds it to the dropdown
when it is new, selects it and says so in an alert. The server still enforces the cap
(``MAX_CONTENT_LENGTH`` and ``rnnscope.app.uploads.decode_upload``).
"""
from __future__ import annotations

from collections.abc import Callable

from dash import Input, Output, Patch, State, no_update

from rnnscope.app import ids
from rnnscope.app.layout import alert
from rnnscope.app.uploads import UploadError

UPLOAD_SIZE_CHECK = """
function(contents, filename, limit) {
    const nu = window.dash_clientside.no_update;
    if (!contents) { return [nu, nu]; }
    const comma = contents.indexOf(',');
    const bytes = Math.floor((contents.length - comma - 1) * 3 / 4);
    if (bytes > limit) {
        const mib = (n) => (n / 1048576).toFixed(1) + ' MiB';
        return [nu, 'The file is ' + mib(bytes) + ', larger than the ' + mib(limit)
                    + ' upload limit. Nothing was uploaded.'];
    }
    return [{contents: contents, filename: filename}, ''];
}
"""


def upload_reply(payload, accept: Callable, refused: str, said: Callable) -> tuple:
    """-> (options patch, selected value, alert) for an upload ``payload`` from the page.

    Parameters
    ----------
    payload : dict or anything
        ``{"contents", "filename"}`` as ``UPLOAD_SIZE_CHECK`` passes it on (else treated as empty).
    accept : callable
        ``accept(contents, filename) -> (value, label, newly stored, ...)``; raises
        ``UploadError`` in words.
    refused : str
        Lead of the error alert ("Upload refused: ").
    said : callable
        ``said(label, *rest)``: the success alert's children after "Uploaded ".

    Any problem gives an error alert in words and leaves the list and selection unchanged.
    """
    payload = payload if isinstance(payload, dict) else {}
    try:
        value, label, is_new, *rest = accept(payload.get("contents"), payload.get("filename"))
    except UploadError as exc:
        return no_update, no_update, alert("error", refused, str(exc))
    options = Patch()
    if is_new:
        options.append({"label": label, "value": value})
    return options, value, alert("success", "Uploaded ", *said(label, *rest))


def register_upload(app, upload: str, payload: str, message: str, select: str,
                    reply: Callable[[object], tuple]) -> None:
    """Wire the ``dcc.Upload`` ``upload`` to the dropdown ``select``: the browser's size check
    into the store ``payload`` (its refusal into the alert ``message``), then ``reply(payload)``
    (``upload_reply``) into the dropdown's options and value and the alert."""
    app.clientside_callback(
        UPLOAD_SIZE_CHECK,
        Output(payload, "data"), Output(message, "children"),
        Input(upload, "contents"), State(upload, "filename"),
        State(ids.UPLOAD_LIMIT, "data"), prevent_initial_call=True)

    @app.callback(Output(select, "options"), Output(select, "value"),
                  Output(message, "children", allow_duplicate=True),
                  Output(upload, "contents"),
                  Input(payload, "data"), prevent_initial_call=True)
    def _upload(data):
        return (*reply(data), None)  # clear contents: the same file may come again
