"""The analyses in the store as the dashboard lists them (Compare, reopening one).

``reports/<key>/report.json`` is read once per key (memoized in ``Services.memo``); a
summary that is unreadable or written by another analysis version is left out, never
misread (``is_current``). Of several analyses of one checkpoint on one dataset (other
parameters) the newest is listed, or the one on screen.
"""
from __future__ import annotations

import json
import re
from pathlib import Path

from rnnscope.analysis.pipeline import ANALYSIS_VERSION
from rnnscope.analysis.report import SUMMARY_FILE
from rnnscope.analysis.summary import SummaryError
from rnnscope.analysis.summary import read as read_summary
from rnnscope.app.figures import model_label
from rnnscope.app.uploads import display_filename


def valid_key(value) -> bool:
    """True for a 64-character lowercase hex string (a content key or sha256)."""
    return isinstance(value, str) and len(value) == 64 and all(c in "0123456789abcdef" for c in value)


def read_json(path: Path):
    """The JSON document at ``path``, or None when it cannot be read or parsed."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def is_current(summary) -> bool:
    """The summary reads as this analysis version's (``rnnscope.analysis.summary``)."""
    if not isinstance(summary, dict) or summary.get("version") != ANALYSIS_VERSION:
        return False
    try:
        read_summary(summary)
    except SummaryError:
        return False
    return True


def stored_summary(svc, key: str):
    """The summary JSON of the stored report ``key`` as written (None if unreadable), read once."""
    return svc.memo.get(("summary", key), lambda: read_json(svc.store.report_dir(key) / SUMMARY_FILE))


def _report_keys(svc) -> list[str]:
    """Keys of the report directories in the store, oldest first (by mtime, then key)."""
    root = svc.store.root / "reports"
    paths = [p for p in root.iterdir() if valid_key(p.name)] if root.is_dir() else []
    return [p.name for p in sorted(paths, key=lambda p: (p.stat().st_mtime, p.name))]


def latest_per_pair(svc, keep: str | None = None) -> list[tuple[str, dict]]:
    """(key, summary) of the current analyses, one per (checkpoint, dataset), oldest first:
    the newest of each pair, or ``keep`` when it is one of them."""
    latest: dict[tuple, tuple] = {}
    for key in _report_keys(svc):
        summary = stored_summary(svc, key)
        # unreadable, or made by another analysis version: never misread
        if not svc.memo.get(("current", key), lambda s=summary: is_current(s)):
            continue
        pair = (summary["model"].get("sha256"), str(summary.get("data", {}).get("name")))
        if pair not in latest or latest[pair][0] != keep:
            latest[pair] = (key, summary)
    return list(latest.values())


def analysed_reports(svc, keep: str | None = None) -> list[tuple[str, str, dict]]:
    """(key, label, summary) of the analyses in the store, oldest first (``latest_per_pair``).

    Labels are ``rnnscope.app.figures.model_label`` ("LSTM-128 mr") for the demos and the file
    name for uploads (``upload_report_label``: "my-gru mr"), with the architecture and
    file name (``report_label``) where two would otherwise share a label.
    """
    latest = latest_per_pair(svc, keep)
    demos = {sha for sha, _ in svc.demo_models()}
    labels = [model_label(summary) if summary["model"].get("sha256") in demos else upload_report_label(svc, summary)
              for _, summary in latest]
    return [(key, label if labels.count(label) == 1 else report_label(svc, summary), summary)
            for (key, summary), label in zip(latest, labels)]


def upload_report_label(svc, summary: dict) -> str:
    """"my-gru mr": an uploaded checkpoint's analysis by its file name (without the
    suffix) and dataset; ``model_label`` when the store has no name for it."""
    name = str(svc.checkpoint_info(str(summary.get("model", {}).get("sha256", ""))).get("filename") or "")
    if not name:
        return model_label(summary)
    stem = display_filename(re.sub(r"\.(safetensors|pt|pth)$", "", name, flags=re.IGNORECASE), 32)
    data = summary.get("data", {}).get("name") if isinstance(summary.get("data"), dict) else None
    return f"{stem} {data}" if data else stem


def report_label(svc, summary: dict) -> str:
    """"LSTM-64 mr · lstm-mr": architecture, size, dataset and the checkpoint's name."""
    name = str(svc.checkpoint_info(summary.get("model", {}).get("sha256", "")).get("filename", ""))
    stem = name.rsplit(".", 1)[0][:24]
    return f"{model_label(summary)} · {stem}" if stem else model_label(summary)
