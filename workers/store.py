"""Content-addressed artifact store shared by the web process, the CLI and every worker.

Layout under ``root`` (every directory mode 0700)::

    checkpoints/<sha256>.safetensors|.pt   uploaded checkpoint bytes, named by their sha256
    checkpoints/<sha256>.json              sidecar: display filename, size, format
    datasets/<sha256>.data.<fmt>           labelled dataset files (uploads, ``serve --dataset``,
                                           ``analyze --data FILE``), named by their sha256
    datasets/<sha256>.json                 sidecar: display name, origin, size, rows
    blobs/<key>                            raw bytes (``put_bytes``)
    arrays/<key>.npz                       named arrays (``put_arrays``), no pickle
    json/<key>.json                        small JSON documents (``put_json``)
    reports/<key>/report.json, arrays.npz  analysis reports (``put_report``)
    sweeps/<sweep id>.json                 a sweep's manifest: its spec and job ids (``put_sweep``)
    locks/<key>.lock                       ``flock`` files for :meth:`ArtifactStore.compute_once`
    tmp/                                   writes in progress (never read as artifacts)
    computations.jsonl                     one line per computation started / finished

A key is the sha256 of canonical JSON of everything a result depends on (job name,
checkpoint sha256, parameters, data identity, analysis version), see :func:`content_key`.

Every write goes to ``tmp/`` first and is moved into place with ``os.replace`` /
``os.rename`` on the same filesystem, so a killed process leaves either the whole artifact
or nothing. Only raw bytes, ``.npz`` (loaded with ``allow_pickle=False``) and JSON are
written; nothing is ever unpickled.

``compute_once(key, fn)`` serializes work per key (``rnnscope.workers.locks``): an
exclusive ``fcntl.flock`` on ``locks/<key>.lock`` (released by the kernel when the holder
dies, so a SIGKILLed worker never blocks anyone) and, when ``REDIS_URL`` is set, also a
Redis lock (``SET NX PX``, renewed by a thread while held, expiring ``lock_ttl_s`` after its
holder stops renewing) for stores on network filesystems where ``flock`` is not reliable
across machines.
"""
from __future__ import annotations

import contextlib
import errno
import hashlib
import io
import json
import os
import re
import shutil
import socket
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from rnnscope.analysis.atomic import atomic_open
from rnnscope.analysis.npz_io import read_npz
from rnnscope.analysis.report import Report
from rnnscope.settings import Settings
from rnnscope.workers.locks import LockTimeout, Progress, file_lock, redis_client, redis_lock

_HEX64 = re.compile(r"[0-9a-f]{64}")
_SUBDIRS = ("checkpoints", "datasets", "blobs", "arrays", "json", "reports", "sweeps", "locks", "tmp")
#: How a stored dataset file is read (``rnnscope.analysis.data_readers.read_table`` by suffix; txt: sniffed).
DATASET_FORMATS = {".csv": "csv", ".tsv": "tsv", ".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "json"}
#: File name endings of a stored checkpoint or dataset after its sha256, in lookup order.
_STORED_SUFFIXES = {"checkpoints": (".safetensors", ".pt"),
                    "datasets": tuple(f".data.{fmt}" for fmt in sorted(set(DATASET_FORMATS.values())) + ["txt"])}
_LOG_NAME = "computations.jsonl"
_ZIP_MAGIC = b"PK\x03\x04"
_MAX_SAFETENSORS_HEADER = 100 * 1024**2  # safetensors' own limit on the JSON header
_TMP_MAX_AGE_S = 24 * 3600  # leftovers of killed writers are removed after a day


class StoreError(RuntimeError):
    """The store cannot be used (not writable, corrupt artifact, missing result)."""


class ArtifactNotFound(KeyError):
    """No artifact under this key."""

    def __str__(self) -> str:  # KeyError quotes its argument; say it plainly
        return str(self.args[0]) if self.args else "artifact not found"


def canonical_json(value: Any) -> str:
    """JSON with sorted keys and no whitespace, the same for equal dicts in any order.

    Tuples become lists; numpy scalars and arrays become Python numbers and lists; floats
    use Python's shortest round-trip repr. NaN/Inf are refused (not valid JSON).
    """
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      allow_nan=False, default=_json_default)


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"cannot key a {type(value).__name__}: {value!r}")


def content_key(job: str, checkpoint_sha256: str, params: Mapping[str, Any],
                data_id: str, version: str) -> str:
    """Content key: sha256 hex (64 chars) of the canonical JSON of all inputs.

    Parameters
    ----------
    job : str
        Job name (``"full_analysis"``, ``"fixed_points"`` ...).
    checkpoint_sha256 : str
        sha256 hex of the checkpoint file.
    params : mapping
        Job parameters (order does not matter; must be JSON-serializable).
    data_id : str
        Identity of the dataset (registered name + pinned hash, or a file's sha256).
    version : str
        Analysis version; a new version never reads an old result.
    """
    doc = {"job": job, "checkpoint": checkpoint_sha256, "params": dict(params),
           "data": data_id, "analysis version": version}
    return hashlib.sha256(canonical_json(doc).encode()).hexdigest()


def sha256_bytes(data: bytes) -> str:
    """sha256 hex digest of ``data``."""
    return hashlib.sha256(data).hexdigest()


def checkpoint_format(data: bytes) -> str:
    """``"pt"`` (torch zip) or ``"safetensors"`` from the leading bytes; ValueError otherwise.

    Only the container is recognized here; the contents are validated by
    ``rnnscope.analysis.checkpoint`` when the checkpoint is loaded.
    """
    if data[:4] == _ZIP_MAGIC:
        return "pt"
    if len(data) >= 10:
        header_len = int.from_bytes(data[:8], "little")
        if 2 <= header_len <= min(_MAX_SAFETENSORS_HEADER, len(data) - 8) and data[8:9] == b"{":
            return "safetensors"
    raise ValueError("not a checkpoint: expected a .safetensors file or a torch zip (.pt) file")


class ArtifactStore:
    """A directory of immutable artifacts named by content.

    Parameters
    ----------
    root : path
        Created (mode 0700) if missing. Raises :class:`StoreError` if it cannot be
        created or written.
    redis_url : str or None, optional
        Also take a Redis lock in :meth:`compute_once` (for stores shared over NFS). Default:
        ``REDIS_URL`` from the environment.
    lock_ttl_s : float, optional
        Lifetime of an unrenewed Redis lock. Default: ``RNNSCOPE_LOCK_TTL_S`` or 30 s.
    """

    def __init__(self, root: str | os.PathLike, *, redis_url: str | None = None,
                 lock_ttl_s: float | None = None):
        env = Settings.from_env() if redis_url is None or lock_ttl_s is None else None
        self.root = Path(root).expanduser().resolve()
        self.redis_url = env.redis_url if redis_url is None else (redis_url or None)
        self.lock_ttl_s = float(env.lock_ttl_s if lock_ttl_s is None else lock_ttl_s)
        self._redis = None
        self._prepare()

    def __repr__(self) -> str:
        return f"ArtifactStore({str(self.root)!r})"

    @classmethod
    def from_env(cls) -> ArtifactStore:
        """The store at ``RNNSCOPE_STORE`` (default ``$RNNSCOPE_HOME/store``)."""
        return cls(Settings.from_env().store)

    # --- setup --------------------------------------------------------------------------
    def _prepare(self) -> None:
        try:
            self.root.mkdir(mode=0o700, parents=True, exist_ok=True)
            if not self.root.is_dir():
                raise NotADirectoryError(errno.ENOTDIR, "not a directory", str(self.root))
            for name in _SUBDIRS:
                (self.root / name).mkdir(mode=0o700, exist_ok=True)
            os.chmod(self.root, 0o700)
            fd, probe = tempfile.mkstemp(dir=self.root / "tmp", prefix="probe-")
            os.close(fd)
            os.unlink(probe)
        except OSError as exc:
            raise StoreError(f"artifact store {self.root} is not a writable directory: "
                             f"{exc.strerror or exc}. Set RNNSCOPE_STORE to a directory "
                             "this user can write.") from None
        self._remove_stale_temp()

    def _remove_stale_temp(self) -> None:
        """Delete leftovers of writers killed more than a day ago (never read anyway)."""
        cutoff = time.time() - _TMP_MAX_AGE_S
        for entry in (self.root / "tmp").iterdir():
            with contextlib.suppress(OSError):
                if entry.lstat().st_mtime < cutoff:
                    shutil.rmtree(entry) if entry.is_dir() else entry.unlink()

    # --- paths --------------------------------------------------------------------------
    @staticmethod
    def _check_hex(value: str, what: str = "key") -> str:
        if not isinstance(value, str) or not _HEX64.fullmatch(value):
            raise ValueError(f"invalid {what} {value!r}: expected 64 lowercase hex characters")
        return value

    def _path(self, kind: str, key: str) -> Path:
        self._check_hex(key)
        suffix = {"blobs": "", "arrays": ".npz", "json": ".json", "reports": "", "sweeps": ".json"}[kind]
        return self.root / kind / f"{key}{suffix}"

    def _stored_file(self, kind: str, sha256: str) -> Path | None:
        """The first existing ``<kind>/<sha256><suffix>`` of ``kind`` checkpoints or datasets
        (``_STORED_SUFFIXES``), or None; ValueError for a malformed ``sha256``."""
        self._check_hex(sha256, f"{kind[:-1]} sha256")
        return next((path for path in (self.root / kind / f"{sha256}{suffix}" for suffix in _STORED_SUFFIXES[kind])
                     if path.exists()), None)

    def _stored_path(self, kind: str, sha256: str) -> Path:
        """``_stored_file``, or :class:`ArtifactNotFound` ("no checkpoint <sha256> in the store")."""
        path = self._stored_file(kind, sha256)
        if path is None:
            raise ArtifactNotFound(f"no {kind[:-1]} {sha256} in the store")
        return path

    def report_dir(self, key: str) -> Path:
        """Directory of the report under ``key`` (may not exist yet)."""
        return self._path("reports", key)

    # --- atomic primitives ----------------------------------------------------------------
    def _write_file(self, dest: Path, write: Callable[[io.BufferedWriter], object]) -> None:
        """Write via ``write(fh)`` into a private temp file under ``tmp/``, then rename it onto ``dest``."""
        with atomic_open(dest, "wb", mode_bits=0o600, tmp_dir=self.root / "tmp") as fh:
            write(fh)

    # --- bytes, arrays, json ----------------------------------------------------------------
    def put_bytes(self, key: str, data: bytes) -> Path:
        """Store raw bytes under ``key``; returns the artifact path."""
        dest = self._path("blobs", key)
        self._write_file(dest, lambda fh: fh.write(bytes(data)))
        return dest

    def get_bytes(self, key: str) -> bytes:
        """Raw bytes under ``key``; :class:`ArtifactNotFound` if absent."""
        return self._read(self._path("blobs", key), key).read_bytes()

    def put_arrays(self, key: str, arrays: Mapping[str, np.ndarray]) -> Path:
        """Store named arrays as one ``.npz`` (object arrays are refused: no pickle)."""
        clean = {}
        for name, value in arrays.items():
            arr = np.asarray(value)
            if arr.dtype.hasobject:
                raise TypeError(f"array {name!r} has dtype object; only numeric/str arrays are stored")
            clean[name] = arr
        dest = self._path("arrays", key)
        self._write_file(dest, lambda fh: np.savez(fh, **clean))
        return dest

    def get_arrays(self, key: str) -> dict[str, np.ndarray]:
        """Named arrays under ``key`` (read with ``allow_pickle=False``)."""
        return read_npz(self._read(self._path("arrays", key), key))

    def put_json(self, key: str, value: Any) -> Path:
        """Store a JSON-serializable value under ``key``."""
        text = json.dumps(value, indent=1, sort_keys=True, allow_nan=False, default=_json_default)
        dest = self._path("json", key)
        self._write_file(dest, lambda fh: fh.write(text.encode()))
        return dest

    def get_json(self, key: str) -> Any:
        """The JSON value under ``key``."""
        return json.loads(self._read(self._path("json", key), key).read_text())

    # --- sweeps (the one mutable record: a manifest is rewritten as jobs are submitted) ---------
    def put_sweep(self, sweep_id: str, manifest: Mapping[str, Any]) -> Path:
        """Write (or replace, atomically) the manifest of sweep ``sweep_id``."""
        text = json.dumps(dict(manifest), indent=1, sort_keys=True, allow_nan=False)
        dest = self._path("sweeps", sweep_id)
        self._write_file(dest, lambda fh: fh.write(text.encode()))
        return dest

    def get_sweep(self, sweep_id: str) -> dict:
        """The manifest of sweep ``sweep_id``; :class:`ArtifactNotFound` if there is none."""
        return json.loads(self._read(self._path("sweeps", sweep_id), sweep_id).read_text())

    def list_sweeps(self) -> list[str]:
        """Ids of the stored sweeps, newest first."""
        paths = [p for p in (self.root / "sweeps").glob("*.json") if _HEX64.fullmatch(p.stem)]
        return [p.stem for p in sorted(paths, key=lambda p: p.stat().st_mtime, reverse=True)]

    @staticmethod
    def _read(path: Path, key: str) -> Path:
        if not path.exists():
            raise ArtifactNotFound(f"no artifact {key} in the store")
        return path

    # --- reports ----------------------------------------------------------------------------
    def put_report(self, key: str, report: Report) -> Path:
        """Store ``report`` (``report.save(dir)``) as ``reports/<key>/``; returns that dir.

        The report is written into a temp directory which is renamed into place, so a
        reader sees the whole report or none. If the key is already present (another
        worker finished first) the existing, identical-by-construction report is kept.
        """
        dest = self.report_dir(key)
        work = Path(tempfile.mkdtemp(dir=self.root / "tmp", prefix="report-"))
        try:
            staged = work / "report"
            report.save(staged)
            _fsync_tree(staged)
            os.chmod(staged, 0o700)
            for item in staged.rglob("*"):  # rule 10: private files whatever the umask
                os.chmod(item, 0o700 if item.is_dir() else 0o600)
            try:
                os.rename(staged, dest)
            except OSError as exc:
                if exc.errno not in (errno.EEXIST, errno.ENOTEMPTY) or not dest.is_dir():
                    raise
        finally:
            shutil.rmtree(work, ignore_errors=True)
        return dest

    def get_report(self, key: str) -> Report:
        """The report under ``key``; :class:`ArtifactNotFound` if absent."""
        return Report.load(self._read(self.report_dir(key), key))

    def get_report_summary(self, key: str) -> dict:
        """The summary (``report.json``) of the report under ``key``, without its arrays."""
        return json.loads(self._read(self.report_dir(key) / "report.json", key).read_text())

    def exists(self, key: str) -> bool:
        """True if any artifact (bytes, arrays, json or report) is stored under ``key``."""
        return any(self._path(kind, key).exists() for kind in ("reports", "arrays", "json", "blobs"))

    # --- checkpoints --------------------------------------------------------------------------
    def put_checkpoint(self, data: bytes, filename: str | None = None, *,
                       max_bytes: int | None = None) -> str:
        """Store checkpoint bytes by their sha256; returns the sha256 hex.

        ``filename`` is display text only (kept in a JSON sidecar, never used as a path).
        Raises ValueError if the bytes are neither safetensors nor a torch zip, or exceed
        ``max_bytes``.
        """
        data = bytes(data)
        if max_bytes is not None and len(data) > max_bytes:
            raise ValueError(f"checkpoint is {len(data) / 1e6:.1f} MB; the limit is "
                             f"{max_bytes / 1e6:.1f} MB")
        fmt = checkpoint_format(data)
        sha = sha256_bytes(data)
        dest = self.root / "checkpoints" / f"{sha}.{fmt}"
        if not dest.exists():
            self._write_file(dest, lambda fh: fh.write(data))
        sidecar = self.root / "checkpoints" / f"{sha}.json"
        if not sidecar.exists():
            info = {"sha256": sha, "filename": _display_name(filename, sha, fmt),
                    "size": len(data), "format": fmt, "stored_at": time.time()}
            self._write_file(sidecar, lambda fh: fh.write(json.dumps(info, indent=1).encode()))
        return sha

    def checkpoint_path(self, sha256: str) -> Path:
        """Path of the stored checkpoint (suffix tells its format); ArtifactNotFound if absent."""
        return self._stored_path("checkpoints", sha256)

    def has_checkpoint(self, sha256: str) -> bool:
        """True if the checkpoint ``sha256`` is stored (in either format); ValueError if
        ``sha256`` is not 64 lowercase hex characters."""
        return self._stored_file("checkpoints", sha256) is not None

    def checkpoint_info(self, sha256: str) -> dict:
        """Sidecar of a stored checkpoint: ``sha256``, ``filename``, ``size``, ``format``."""
        path = self.checkpoint_path(sha256).with_suffix(".json")
        try:
            return json.loads(path.read_text())
        except (OSError, ValueError):  # sidecar lost: the bytes are what matter
            ckpt = self.checkpoint_path(sha256)
            return {"sha256": sha256, "filename": ckpt.name, "size": ckpt.stat().st_size,
                    "format": ckpt.suffix[1:]}

    def list_checkpoints(self) -> list[dict]:
        """Sidecars of every stored checkpoint, oldest first."""
        infos = []
        for path in (self.root / "checkpoints").iterdir():
            if path.suffix in (".safetensors", ".pt") and _HEX64.fullmatch(path.stem):
                infos.append(self.checkpoint_info(path.stem))
        return sorted(infos, key=lambda info: (info.get("stored_at", 0), info["sha256"]))

    # --- datasets ------------------------------------------------------------------------------
    def put_dataset(self, data: bytes, info: Mapping[str, Any]) -> str:
        """Store a validated dataset file by its sha256; returns the sha256 hex.

        ``info["filename"]`` is display text only; ``info["format"]`` (else that name's suffix,
        ``dataset_format``) picks how the file is read. The sidecar keeps ``info`` (display ``name``, ``origin``, row
        counts) with ``sha256``, ``size`` and ``format``; the first one written stays, except
        that an operator's registration (``origin`` "operator") replaces it.
        """
        data = bytes(data)
        return self._put_dataset(sha256_bytes(data), len(data), info, lambda fh: fh.write(data))

    def put_dataset_file(self, path: str | os.PathLike, info: Mapping[str, Any]) -> str:
        """``put_dataset`` for a file on disk, copied in blocks (no whole-file read)."""
        path = Path(path)
        digest = hashlib.sha256()
        with open(path, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                digest.update(block)

        def copy(out) -> None:
            with open(path, "rb") as src:
                shutil.copyfileobj(src, out, 1 << 20)
        return self._put_dataset(digest.hexdigest(), path.stat().st_size, info, copy)

    def _put_dataset(self, sha: str, size: int, info: Mapping[str, Any], write) -> str:
        fmt = info.get("format") if info.get("format") in (*DATASET_FORMATS.values(), "txt") \
            else dataset_format(info.get("filename"))
        if not self.has_dataset(sha):  # same bytes under another suffix: the first one stays
            self._write_file(self.root / "datasets" / f"{sha}.data.{fmt}", write)
        sidecar = self.root / "datasets" / f"{sha}.json"
        if not sidecar.exists() or info.get("origin") == "operator":
            doc = {**dict(info), "sha256": sha, "size": int(size), "format": fmt, "stored_at": time.time(),
                   "filename": _display_name(info.get("filename"), sha, fmt)}
            self._write_file(sidecar, lambda fh: fh.write(json.dumps(doc, indent=1, default=_json_default).encode()))
        return sha

    def dataset_path(self, sha256: str) -> Path:
        """Path of a stored dataset file (its suffix says how to read it); ArtifactNotFound if absent."""
        return self._stored_path("datasets", sha256)

    def has_dataset(self, sha256: str) -> bool:
        """True if the dataset file ``sha256`` is stored (in any format); ValueError if
        ``sha256`` is not 64 lowercase hex characters."""
        return self._stored_file("datasets", sha256) is not None

    def dataset_info(self, sha256: str) -> dict:
        """Sidecar of a stored dataset (``filename``, ``name``, ``origin``, ``size``, ``format`` ...)."""
        path = self.dataset_path(sha256)
        try:
            info = json.loads((self.root / "datasets" / f"{sha256}.json").read_text())
        except (OSError, ValueError):  # sidecar lost: the bytes are what matter
            info = {}
        return info if isinstance(info, dict) and info.get("sha256") == sha256 else {
            "sha256": sha256, "filename": path.name, "size": path.stat().st_size, "format": path.suffix[1:]}

    def list_datasets(self) -> list[dict]:
        """Sidecars of every stored dataset, oldest first."""
        shas = {p.name.split(".", 1)[0] for p in (self.root / "datasets").glob("*.data.*")}
        infos = [self.dataset_info(sha) for sha in shas if _HEX64.fullmatch(sha)]
        return sorted(infos, key=lambda info: (info.get("stored_at", 0), info["sha256"]))

    # --- computation log ------------------------------------------------------------------------
    def record(self, event: str, key: str, label: str, **extra: Any) -> None:
        """Append one line to ``computations.jsonl`` (who computed what, when, how long)."""
        line = canonical_json({"event": event, "key": key, "label": label, "pid": os.getpid(),
                               "host": socket.gethostname(), "time": time.time(), **extra})
        fd = os.open(self.root / _LOG_NAME, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(fd, (line + "\n").encode())  # one O_APPEND write: lines never interleave
        finally:
            os.close(fd)

    def computations(self, key: str | None = None, event: str = "finished") -> list[dict]:
        """Logged computations (``event`` ``"started"`` or ``"finished"``), optionally for one key."""
        path = self.root / _LOG_NAME
        if not path.exists():
            return []
        rows = []
        for line in path.read_text().splitlines():
            with contextlib.suppress(ValueError):
                row = json.loads(line)
                if row.get("event") == event and (key is None or row.get("key") == key):
                    rows.append(row)
        return rows

    # --- compute once -----------------------------------------------------------------------
    def compute_once(self, key: str, fn: Callable[[], object], *, label: str = "",
                     present: Callable[[], bool] | None = None,
                     on_wait: Progress | None = None, timeout_s: float | None = None) -> bool:
        """Run ``fn()`` (which must store the artifact under ``key``) unless it is stored.

        Holds a per-key lock while computing, so two processes asking for the same key at
        the same time compute once: the second waits and then finds the artifact.

        Parameters
        ----------
        key : str
            Content key of the artifact ``fn`` writes.
        fn : callable
            Computes and stores the artifact.
        label : str
            Job name, written to ``computations.jsonl``.
        present : callable, optional
            Whether the artifact is there; default ``self.exists(key)``.
        on_wait : callable, optional
            ``on_wait(0.0, message)`` is called once if another process holds the lock.
        timeout_s : float, optional
            Give up waiting for the lock after this long (:class:`StoreError`).

        Returns
        -------
        bool
            True if this call ran ``fn``; False if the artifact was already stored.
        """
        present = present or (lambda: self.exists(key))
        if present():
            return False
        with self.lock(key, on_wait=on_wait, timeout_s=timeout_s):
            if present():  # another process finished it while we waited
                return False
            self.record("started", key, label)
            start = time.perf_counter()
            fn()
            if not present():
                raise StoreError(f"job {label or key} finished without storing its artifact")
            self.record("finished", key, label, seconds=round(time.perf_counter() - start, 3))
        return True

    @contextlib.contextmanager
    def lock(self, key: str, *, on_wait: Progress | None = None,
             timeout_s: float | None = None) -> Iterator[None]:
        """Exclusive per-key lock across processes (flock) and machines (Redis, if set):
        ``rnnscope.workers.locks``. Raises :class:`StoreError` past ``timeout_s``."""
        self._check_hex(key)
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        with contextlib.ExitStack() as stack:
            try:
                if self.redis_url:
                    if self._redis is None:
                        self._redis = redis_client(self.redis_url)
                    stack.enter_context(redis_lock(self._redis, key, self.lock_ttl_s, on_wait, deadline))
                stack.enter_context(file_lock(self.root / "locks" / f"{key}.lock", key, on_wait, deadline))
            except LockTimeout as exc:
                raise StoreError(str(exc)) from None
            yield


def _fsync_tree(path: Path) -> None:
    """fsync every file under ``path`` and the directory itself, before it is renamed."""
    for item in path.rglob("*"):
        if item.is_file():
            fd = os.open(item, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def dataset_format(filename: object) -> str:
    """How a dataset file named ``filename`` is read: csv, tsv, jsonl, json, or txt (sniffed)."""
    return DATASET_FORMATS.get(Path(str(filename or "")).suffix.lower(), "txt")


def _display_name(filename: str | None, sha: str, fmt: str) -> str:
    """A printable base name for display; the sha-based name if none was given."""
    name = os.path.basename(str(filename or "")).strip()
    name = "".join(ch for ch in name if ch.isprintable())[:200]
    return name or f"{sha[:12]}.{fmt}"
