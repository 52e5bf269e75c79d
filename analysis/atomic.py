"""Atomic file writes: every file rnnscope writes appears whole or not at all.

A writer goes to a temporary file beside its destination (or in ``tmp_dir``, which must be
on the same filesystem), is flushed and fsynced, gets its permission bits, and is renamed
over the destination with ``os.replace``; if anything fails on the way the temporary file
is removed and the destination is left as it was. A killed process leaves at most a
``.<name>.*.tmp`` file, never a half-written destination.
"""
from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import IO


@contextlib.contextmanager
def atomic_open(path: str | os.PathLike, mode: str = "wb", *, mode_bits: int = 0o600,
                tmp_dir: str | os.PathLike | None = None, encoding: str | None = None,
                newline: str | None = None) -> Iterator[IO]:
    """Open ``path`` for writing (``"wb"`` or ``"w"``); it is replaced when the block ends without error.

    ``mode_bits`` are the file's permissions (0o600: private, the default; 0o644 for files
    meant to be shared, such as an exported report).
    """
    if mode not in ("wb", "w"):
        raise ValueError(f"atomic_open writes whole files: mode 'wb' or 'w', not {mode!r}")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    where = Path(tmp_dir) if tmp_dir is not None else path.parent
    fd, name = tempfile.mkstemp(dir=where, prefix=f".{path.name}.", suffix=".tmp")
    tmp = Path(name)
    try:
        text = {"encoding": encoding or "utf-8", "newline": newline} if mode == "w" else {}
        with os.fdopen(fd, mode, **text) as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, mode_bits)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_bytes(path: str | os.PathLike, data: bytes, *, mode_bits: int = 0o600,
                tmp_dir: str | os.PathLike | None = None) -> Path:
    """Write ``data`` to ``path`` atomically; returns the path."""
    with atomic_open(path, "wb", mode_bits=mode_bits, tmp_dir=tmp_dir) as fh:
        fh.write(data)
    return Path(path)


def write_text(path: str | os.PathLike, text: str, *, mode_bits: int = 0o600) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically; returns the path."""
    with atomic_open(path, "w", mode_bits=mode_bits) as fh:
        fh.write(text)
    return Path(path)


def replace_dir(tmp: str | os.PathLike, target: str | os.PathLike) -> None:
    """Rename the finished directory ``tmp`` to ``target``, moving an existing ``target`` aside first.

    Each rename is atomic; between the two the old directory is kept aside and restored if
    the second rename fails.
    """
    tmp, target = Path(tmp), Path(target)
    if not target.exists():
        os.replace(tmp, target)
        return
    old = target.with_name(f".{target.name}.{uuid.uuid4().hex}.old")
    os.replace(target, old)
    try:
        os.replace(tmp, target)
    except BaseException:
        os.replace(old, target)
        raise
    shutil.rmtree(old, ignore_errors=True)
