"""The datasets the dashboard offers, the user's own data, and opening any stored analysis.

A dataset reaches an analysis by one of two kinds of value, never by a path:

- a registered name of ``rnnscope.analysis.data`` listed in ``rnnscope.app.services.DATASETS`` (mr, imdb,
  tweets). The server downloads one that is not cached only when its operator allows it
  (``rnnscope serve --fetch-data``, ``RNNSCOPE_FETCH_DATA=1``); otherwise the page says
  how the operator gets it (``rnnscope data fetch NAME``);
- ``file:<sha256>``: a labelled CSV/TSV/JSONL/JSON file in the artifact store
  (``rnnscope.workers.store.ArtifactStore.put_dataset``), put there by an upload through the page,
  by the operator (``rnnscope serve --dataset NAME=PATH``) or by ``rnnscope analyze --data
  FILE`` on the same store. The value is also the dataset's identity in cache keys
  (``rnnscope.workers.jobs.dataset_id``), so an analysis of the same bytes is found whoever made it.

Every file is checked by ``rnnscope.analysis.data.load_checked`` before it is stored: size cap,
UTF-8 text (no binary or archive), a text and a label column, two classes of an accepted
label set, enough rows of each.
"""
from __future__ import annotations

import logging
import re
import tempfile
from pathlib import Path

from rnnscope.analysis.data import DataError, load_checked
from rnnscope.analysis.data_sources import SOURCES
from rnnscope.app.report_index import stored_summary
from rnnscope.app.services import DATASETS, DEFAULT_POINT_SET, POINT_SETS, Services, not_downloaded, valid_key
from rnnscope.app.uploads import UploadError, display_filename, receive
from rnnscope.workers.dataset_check import check_file, summarize
from rnnscope.workers.jobs import dataset_id, resolve_params
from rnnscope.workers.store import content_key, dataset_format, sha256_bytes

log = logging.getLogger(__name__)

#: Names an operator may register with ``rnnscope serve --dataset NAME=PATH``.
OPERATOR_NAME = re.compile(r"[A-Za-z0-9_-]{1,40}")
ORIGIN_LABELS = {"upload": "uploaded", "operator": "server", "cli": "rnnscope analyze"}


# --------------------------------------------------------------------------- what the page offers


def dataset_label(info: dict) -> str:
    """Dropdown label of a stored dataset: its name, short sha256 (uploads) and origin."""
    origin = info.get("origin", "upload")
    if origin == "operator":
        return f"{display_filename(info.get('name'), 40)} (server)"
    name = display_filename(info.get("filename"), 40)
    return f"{name} · {str(info.get('sha256', ''))[:8]} ({ORIGIN_LABELS.get(origin, origin)})"


def dataset_options(svc: Services) -> list[dict]:
    """Registered datasets (marked when not downloaded and the server may not fetch them),
    then every dataset in the store, oldest first."""
    options = []
    for name, label in DATASETS:
        missing = not_downloaded(svc, name) is not None
        options.append({"label": label + (" (not downloaded)" if missing else ""), "value": name})
    for info in svc.store.list_datasets():
        options.append({"label": dataset_label(info), "value": "file:" + info["sha256"]})
    return options


# --------------------------------------------------------------------------- putting files in the store


def _checked(path: Path, display_name: str):
    """``rnnscope.analysis.data.load_checked``: the dataset, or UploadError in words."""
    try:
        return load_checked(path, display_name)
    except DataError as exc:
        raise UploadError(str(exc)) from None
    except Exception as exc:  # noqa: BLE001 - a hostile file must never crash the server
        log.warning("unexpected error reading dataset %r: %r", display_name, exc)
        raise UploadError(f"{display_name} could not be read as a labelled dataset.") from None


def _info(dataset, filename: str, origin: str, name: str | None = None) -> dict:
    counts = summarize(dataset)
    return {**counts, "filename": filename, "name": name or counts["name"], "origin": origin}


def accept_dataset(svc: Services, contents, filename) -> tuple[str, str, bool, dict]:
    """Validate and store an uploaded dataset: -> (``file:<sha256>``, label, newly stored, sidecar).

    The bytes are decoded under the upload cap, written to a private temporary file in the
    store (its suffix from the file name, which is display text only) and read completely
    by ``load_checked`` in a child process (``rnnscope.workers.dataset_check``: not in this request
    thread, with a CPU limit) before anything is stored.

    Raises
    ------
    UploadError
        In plain words: not base64, too large, not UTF-8, binary, no label column, one
        class, unknown labels, too few rows.
    """
    data, name = receive(contents, filename, svc.max_upload_bytes, "a labelled dataset")
    fmt = dataset_format(filename if isinstance(filename, str) else None)  # the suffix only, before any cut
    with tempfile.TemporaryDirectory(dir=svc.store.root / "tmp", prefix="dataset-") as tmp:
        path = Path(tmp) / f"upload.{fmt}"
        path.write_bytes(data)
        try:
            counts = check_file(path, name)
        except DataError as exc:
            raise UploadError(str(exc)) from None
    sha = sha256_bytes(data)
    is_new = not svc.store.has_dataset(sha)
    svc.store.put_dataset(data, {**counts, "filename": name, "origin": "upload", "format": fmt})
    info = svc.store.dataset_info(sha)
    return "file:" + sha, dataset_label(info), is_new, info


def register_operator_dataset(store, spec: str) -> str:
    """``NAME=PATH`` of ``rnnscope serve --dataset``: check the file and store it under NAME.

    Returns ``file:<sha256>``. Raises ValueError in words (bad NAME, not a file, not a
    labelled dataset).
    """
    name, sep, path = str(spec).partition("=")
    if not sep or not OPERATOR_NAME.fullmatch(name):
        raise ValueError(f"--dataset expects NAME=PATH with NAME of letters, digits, '-' or '_' "
                         f"(at most 40), got {spec!r}")
    file = Path(path).expanduser()
    if not file.is_file():
        raise ValueError(f"--dataset {name}: {path} is not a file (one CSV, TSV, JSONL or JSON file)")
    try:
        dataset = _checked(file, name + file.suffix)
    except UploadError as exc:
        raise ValueError(f"--dataset {name}: {exc}") from None
    return "file:" + store.put_dataset_file(file, _info(dataset, file.name, "operator", name))


def store_cli_dataset(store, path: str | Path) -> str | None:
    """Copy a single-file dataset analysed by ``rnnscope analyze`` into the store (so the
    dashboard can list it and reopen its analyses); None for anything but a readable file."""
    file = Path(path).expanduser()
    if str(path) in SOURCES or not file.is_file():
        return None
    try:
        dataset = _checked(file, file.name)
    except UploadError:
        return None  # the analysis itself read it with load(), which is less strict; keep the report
    return "file:" + store.put_dataset_file(file, _info(dataset, file.name, "cli"))


# --------------------------------------------------------------------------- reopening a stored analysis


def open_analysis(svc: Services, key) -> dict | None:
    """What to select to put the stored analysis ``key`` on screen.

    Returns ``{"key", "sha", "data", "points"}``: the checkpoint, the dataset value whose
    identity, with the report's own parameters and version, gives exactly ``key`` (None when
    no listed dataset does: a directory, or a file not in the store), and the point-set
    choice matching its ``slow_q_max``. None if ``key`` is not a stored report.
    """
    if not valid_key(key) or not svc.store.report_dir(key).is_dir():
        return None
    summary = stored_summary(svc, key)
    if not isinstance(summary, dict) or not valid_key((summary.get("model") or {}).get("sha256")):
        return None
    sha, params = summary["model"]["sha256"], summary.get("params") or {}
    try:
        resolved = resolve_params(params)
    except (TypeError, ValueError):
        resolved = None
    data = None
    candidates = [name for name, _ in DATASETS] + ["file:" + i["sha256"] for i in svc.store.list_datasets()]
    for ref in candidates if resolved is not None else []:
        if content_key("full_analysis", sha, resolved, dataset_id(ref), str(summary.get("version"))) == key:
            data = ref
            break
    points = next((v for v, _, q in POINT_SETS if q == params.get("slow_q_max")), DEFAULT_POINT_SET)
    return {"key": key, "sha": sha, "data": data, "points": points,
            "name": str((summary.get("data") or {}).get("name", ""))}
