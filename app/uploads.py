"""What every upload through the page shares: the ``dcc.Upload`` payload decoded under the
upload cap and the file's name as display text.

The two uploads (a checkpoint: ``rnnscope.app.services.Services.accept_upload``; a labelled
dataset: ``rnnscope.app.datasets.accept_dataset``) each check their own kind of file between
``receive`` and storing it; their page wiring is ``rnnscope.app.callbacks.uploads``. The
browser checks the size first (``UPLOAD_SIZE_CHECK`` there) and the server again here.
"""
from __future__ import annotations

import base64
import binascii
import os


class UploadError(ValueError):
    """An upload was refused; the message is meant for the user as it is."""


def decode_upload(contents: str | None, max_bytes: int, what: str = "a checkpoint") -> bytes:
    """Bytes of a ``dcc.Upload`` payload (``data:<mime>;base64,<data>``); ``what`` names the
    expected kind of file in the messages.

    Raises
    ------
    UploadError
        Empty, not base64, or larger than ``max_bytes`` once decoded.
    """
    if not contents or not isinstance(contents, str):
        raise UploadError("No file was received.")
    _, sep, payload = contents.partition(",")
    if not sep:
        raise UploadError("The upload is malformed (no data part).")
    if len(payload) * 3 // 4 > max_bytes + 3:  # check before decoding a huge string
        raise UploadError(f"The file is larger than the {_mib(max_bytes)} upload limit.")
    try:
        data = base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError):
        raise UploadError("The upload is malformed (not base64 data).") from None
    if not data:
        raise UploadError(f"The file is empty; it is not {what}.")
    if len(data) > max_bytes:
        raise UploadError(f"The file is {_mib(len(data))}, larger than the "
                          f"{_mib(max_bytes)} upload limit.")
    return data


def _mib(n: int) -> str:
    return f"{n / 2**20:.1f} MiB" if n >= 2**20 else f"{n} bytes"


def display_filename(filename: object, limit: int = 80) -> str:
    """The uploaded file's name as display text: one line, printable, at most ``limit`` chars."""
    text = "".join(ch for ch in str(filename or "upload") if ch.isprintable()).strip()
    text = os.path.basename(text.replace("\\", "/")) or "upload"
    return text if len(text) <= limit else text[: limit - 1] + "…"


def receive(contents: str | None, filename, max_bytes: int, what: str) -> tuple[bytes, str]:
    """An upload's bytes (``decode_upload``: at most ``max_bytes``) and its display name.

    Raises
    ------
    UploadError
        Empty, not base64, or too large, in words naming ``what`` was expected.
    """
    return decode_upload(contents, max_bytes, what), display_filename(filename)


def upload_label(info: dict) -> str:
    """Display label of an uploaded checkpoint: its file name and short sha256."""
    return f"{display_filename(info.get('filename'), 48)} · {str(info.get('sha256', ''))[:8]}"
