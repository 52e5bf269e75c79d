"""Untrusted ``.pt`` checkpoints are read in a child process, never in a web request thread.

Reading a ``.pt`` runs torch's weights-only unpickler, which is pure Python: in the web
process it would hold the interpreter lock for as long as it runs (about 0.6 µs of CPU per
pickle operation) and slow every other visitor's requests. The bounds of
:mod:`rnnscope.analysis.pt_format` (``PKL_*``) keep that work proportional to the tensors a file
holds (about a second at most); this module moves it out of the web process:

- :class:`CheckpointReader` keeps one child process (``python -m rnnscope.workers.checkpoint_reader``)
  that reads one checkpoint at a time (further requests wait their turn, at most
  :data:`MAX_WAITING` of them) at a lower CPU priority (:data:`NICE` steps below the server), with one torch
  thread and an environment without the server's secrets. It is started with
  ``close_fds``, so it holds no descriptor of the server but its two pipes (never the
  listening socket).
- The child answers with the validated model re-encoded as a ``.safetensors`` byte string
  (:func:`rnnscope.analysis.checkpoint.to_safetensors`: tensors, config and vocabulary; no pickle
  crosses the pipe), which the server loads with ``load_bytes``, checking it again as it
  checks any upload.
- **A time limit.** A read that uses more than ``cpu_limit_s`` seconds of CPU
  (``RNNSCOPE_PARSE_LIMIT_S``, default 30) is stopped by the child's watchdog (the child
  exits with :data:`EXIT_CPU_LIMIT`) and refused in words; the server also stops waiting
  after :meth:`CheckpointReader.wall_limit_s` of wall-clock time and kills the child. The
  next read starts a new child.
- The child exits when its server does: at the end of its input, or, in the middle of a
  read, when its watchdog sees that its parent changed; and after :data:`IDLE_EXIT_S`
  seconds without work.

Only ``.pt`` files go to the child: ``.safetensors`` files are parsed in C (a JSON header and
a copy of the bytes). Messages (parent -> child): 8-byte big-endian length + JSON header
(``filename``, ``max_bytes``, ``cpu_s``), 8-byte length + the file. Answers: one byte
(``M`` a model, ``E`` a message in words), 8-byte length, payload.
"""
from __future__ import annotations

import hashlib
import io
import json
import os
import select
import struct
import subprocess
import sys
import threading
import time
import weakref
from pathlib import Path

import torch

import rnnscope
from rnnscope.analysis.checkpoint import CheckpointError, check_container, load_bytes, read_file, to_safetensors
from rnnscope.analysis.checkpoint_spec import FORMAT
from rnnscope.analysis.model import Model, RNNClassifier
from rnnscope.analysis.tokenizer import PAD, UNK, Tokenizer

#: CPU priority of the reading process (0 = the server's; 19 = lowest).
NICE = 10
#: Reads that may wait for the reading process while another runs; more are refused in words.
MAX_WAITING = 4
#: Seconds the reading process stays up without work.
IDLE_EXIT_S = 600.0
#: Exit status of a child stopped by its CPU limit (and of one whose server went away).
EXIT_CPU_LIMIT, EXIT_ORPHANED = 3, 4
#: Seconds between two checks of the child's watchdog.
WATCH_EVERY_S = 0.05
_LEN = struct.Struct(">Q")
_READERS: weakref.WeakSet = weakref.WeakSet()


class CheckpointReader:
    """Reads checkpoints for the web process: ``.pt`` in the child process, the rest here.

    Parameters
    ----------
    cpu_limit_s : float
        CPU seconds one ``.pt`` read may take in the child before it is stopped.
    """

    def __init__(self, cpu_limit_s: float = 30.0):
        if not cpu_limit_s > 0:
            raise ValueError(f"cpu_limit_s must be > 0, got {cpu_limit_s!r}")
        self.cpu_limit_s = float(cpu_limit_s)
        self._forget()
        _READERS.add(self)

    def _forget(self) -> None:
        """Fresh state (also in a forked child: the parent's reading process is not ours)."""
        self._lock = threading.Lock()
        self._waiting = threading.BoundedSemaphore(MAX_WAITING + 1)
        self._proc: subprocess.Popen | None = None
        self.reads = 0

    @property
    def wall_limit_s(self) -> float:
        """Seconds the server waits for one read (start of the child included)."""
        return max(120.0, 4 * self.cpu_limit_s)

    @property
    def pid(self) -> int | None:
        """Process id of the reading process, if one is running."""
        proc = self._proc
        return proc.pid if proc is not None and proc.poll() is None else None

    # --- the API -------------------------------------------------------------------------
    def load_bytes(self, data: bytes, filename: str = "", *, max_bytes: int) -> Model:
        """Like :func:`rnnscope.analysis.checkpoint.load_bytes`; a ``.pt`` is read in the child.

        Raises CheckpointError with a message in words for every problem, including the
        time limit and a busy reader.
        """
        if check_container(data, filename, max_bytes=max_bytes) != "pt":  # no pickle: parsed here
            return load_bytes(data, filename, max_bytes=max_bytes)
        encoded = self._read_in_child(data, filename, max_bytes)
        model = load_bytes(encoded, filename, max_bytes=len(encoded))
        model.sha256 = hashlib.sha256(data).hexdigest()
        return model

    def load(self, path: str | os.PathLike, *, max_bytes: int) -> Model:
        """Like :func:`rnnscope.analysis.checkpoint.load`, reading a ``.pt`` in the child."""
        return self.load_bytes(read_file(path, max_bytes), Path(path).name, max_bytes=max_bytes)

    def close(self) -> None:
        """Stop the reading process (it would stop by itself when idle or orphaned)."""
        with self._lock:
            self._stop()

    # --- the parent's side -----------------------------------------------------------------
    def _read_in_child(self, data: bytes, filename: str, max_bytes: int) -> bytes:
        if not self._waiting.acquire(blocking=False):
            raise CheckpointError("The server is reading several other checkpoints right now; "
                                  "try the upload again in a minute.")
        try:
            if not self._lock.acquire(timeout=self.wall_limit_s):
                raise CheckpointError("The server is busy reading other checkpoints; try the upload "
                                      "again in a minute.")
            try:
                self.reads += 1
                return self._exchange(data, filename, max_bytes)
            finally:
                self._lock.release()
        finally:
            self._waiting.release()

    def _exchange(self, data: bytes, filename: str, max_bytes: int) -> bytes:
        """One request and its answer (holding the lock); a dead idle child is replaced once."""
        header = json.dumps({"filename": filename, "max_bytes": max_bytes,
                             "cpu_s": self.cpu_limit_s}).encode()
        deadline = time.monotonic() + self.wall_limit_s
        for attempt in (1, 2):
            proc = self._child()
            try:
                for part in (header, data):
                    _write_all(proc.stdin.fileno(), _LEN.pack(len(part)))
                    _write_all(proc.stdin.fileno(), part)
                break
            except (BrokenPipeError, OSError):  # it had exited (idle): once more with a new one
                self._stop()
                if attempt == 2:
                    raise CheckpointError("The checkpoint could not be read (the reading process "
                                          "did not start).") from None
        try:
            fd = proc.stdout.fileno()
            kind = _read_exact(fd, 1, deadline)
            (n,) = _LEN.unpack(_read_exact(fd, _LEN.size, deadline))
            if n > 2 * max_bytes + 2**26:
                raise EOFError("answer too large")
            payload = _read_exact(fd, n, deadline)
        except TimeoutError:
            self._stop()
            raise CheckpointError(self._too_long(f"{self.wall_limit_s:g} seconds of waiting")) from None
        except EOFError:
            code = self._stop()
            if code == EXIT_CPU_LIMIT:
                raise CheckpointError(self._too_long(f"{self.cpu_limit_s:g} seconds of CPU time")) from None
            raise CheckpointError("The checkpoint could not be read (the reading process stopped "
                                  f"with status {code}).") from None
        if kind == b"E":
            raise CheckpointError(payload.decode("utf-8", "replace"))
        return payload

    @staticmethod
    def _too_long(what: str) -> str:
        return (f"Reading this checkpoint took more than the {what} a checkpoint may take "
                "(RNNSCOPE_PARSE_LIMIT_S); it was stopped. A file written by torch.save reads in a "
                "few seconds.")

    def _child(self) -> subprocess.Popen:
        if self._proc is None or self._proc.poll() is not None:
            self._proc = subprocess.Popen(
                [sys.executable, "-m", "rnnscope.workers.checkpoint_reader"], stdin=subprocess.PIPE,
                stdout=subprocess.PIPE, bufsize=0, close_fds=True, env=_child_env())
        return self._proc

    def _stop(self) -> int | None:
        """Kill the child if it runs; -> its exit status."""
        proc, self._proc = self._proc, None
        if proc is None:
            return None
        if proc.poll() is None:
            try:
                proc.wait(0.5)  # it may be exiting by itself (CPU limit): keep its status
            except subprocess.TimeoutExpired:
                proc.kill()
        code = proc.wait()
        for pipe in (proc.stdin, proc.stdout):
            try:
                pipe.close()
            except OSError:
                pass
        return code


def _forget_after_fork() -> None:
    for reader in list(_READERS):
        reader._forget()


os.register_at_fork(after_in_child=_forget_after_fork)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def _read_exact(fd: int, n: int, deadline: float = float("inf")) -> bytes:
    """``n`` bytes from ``fd``; TimeoutError after ``deadline``, EOFError if it closes."""
    buf = bytearray()
    while len(buf) < n:
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError
        ready, _, _ = select.select([fd], [], [], min(left, 1.0))
        if not ready:
            continue
        chunk = os.read(fd, min(n - len(buf), 1 << 20))
        if not chunk:
            raise EOFError
        buf += chunk
    return bytes(buf)


def _child_env() -> dict[str, str]:
    """What the reading process needs: no secrets, no Redis URL, one thread, this package."""
    keep = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR")}
    root = str(Path(rnnscope.__file__).resolve().parent.parent)  # where the rnnscope package lies
    path = os.pathsep.join(p for p in (root, os.environ.get("PYTHONPATH", "")) if p)
    return {**keep, "PYTHONPATH": path, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
            "PYTHONDONTWRITEBYTECODE": "1"}


# --------------------------------------------------------------------------- the child's side


class _Budget:
    """CPU seconds of the read in progress (``None`` between reads)."""

    def __init__(self):
        self.started: float | None = None
        self.limit = 0.0

    def over(self) -> bool:
        started = self.started
        return started is not None and time.process_time() - started > self.limit


def _watch(parent: int, budget: _Budget) -> None:
    """Exit when the server is gone or the read in progress is over its CPU budget."""
    while True:
        time.sleep(WATCH_EVERY_S)
        if os.getppid() != parent:
            os._exit(EXIT_ORPHANED)
        if budget.over():
            print(f"rnnscope checkpoint reader {os.getpid()}: over its {budget.limit:g} s CPU limit; "
                  "stopping", file=sys.stderr, flush=True)
            os._exit(EXIT_CPU_LIMIT)


def _next_request(fd: int) -> tuple[dict, bytes] | None:
    """(header, file bytes) from the server, or None at the end of input or when idle."""
    if not select.select([fd], [], [], IDLE_EXIT_S)[0]:
        return None
    try:
        header = _read_exact(fd, _LEN.unpack(_read_exact(fd, _LEN.size))[0])
        data = _read_exact(fd, _LEN.unpack(_read_exact(fd, _LEN.size))[0])
    except EOFError:
        return None
    return json.loads(header), data


def _answer(header: dict, data: bytes, budget: _Budget) -> tuple[bytes, bytes]:
    budget.limit, budget.started = float(header["cpu_s"]), time.process_time()
    try:
        return b"M", to_safetensors(data, header["filename"], max_bytes=int(header["max_bytes"]))
    except CheckpointError as exc:
        return b"E", str(exc).encode("utf-8", "replace")
    except Exception as exc:  # noqa: BLE001 - a hostile file must never stop the reader silently
        print(f"rnnscope checkpoint reader: unexpected {exc!r}", file=sys.stderr, flush=True)
        return b"E", b"The file could not be read as a checkpoint."
    finally:
        budget.started = None


def _warm_up() -> None:
    """Read one tiny ``.pt`` before the first request, so that no read is charged for the
    modules torch and safetensors import on first use."""
    net = RNNClassifier("gru", 3, 2, 2, 1)
    config = {"format": FORMAT, **net.shape_config(), "tokenizer": Tokenizer().to_config()}
    buf = io.BytesIO()
    torch.save({"format": FORMAT, "config": config, "vocab": [PAD, UNK, "x"],
                "state_dict": {k: v.detach().clone() for k, v in net.state_dict().items()}}, buf)
    to_safetensors(buf.getvalue())


def main() -> int:
    """The reading process: answer requests on stdin until it closes (see the module docstring)."""
    out = os.dup(1)  # answers only; anything printed goes to the server's log
    os.dup2(2, 1)
    parent = os.getppid()
    os.nice(NICE)
    torch.set_num_threads(1)
    _warm_up()
    budget = _Budget()
    threading.Thread(target=_watch, args=(parent, budget), daemon=True, name="watchdog").start()
    while (request := _next_request(0)) is not None:
        kind, payload = _answer(*request, budget)
        _write_all(out, kind + _LEN.pack(len(payload)))
        _write_all(out, payload)
    return 0


if __name__ == "__main__":
    sys.exit(main())
