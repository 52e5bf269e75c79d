"""Guard for embedded jobs: child processes forked from the web server.

In embedded mode (no ``REDIS_URL``) Dash's ``DiskcacheManager`` forks one child of the web
process per analysis job. A forked child starts with copies of every file descriptor of the
server, its listening socket among them, and nothing ties its life to the server's: after a
SIGKILL of the web process alone (an OOM kill) such an orphan kept the port, the page timed
out, and a restart failed with "Address already in use" until the job ended.

:func:`run_guarded` runs a job function in that child under three rules, set up before the
job does anything:

1. **No inherited sockets.** Every inherited TCP/UDP socket (the listening one and the
   connections other request threads were serving) is pointed at ``/dev/null``
   (:func:`release_inherited_sockets`). A restarted server binds the port at once and no
   client waits on a connection an orphan holds.
2. **Dies with its server.** A watchdog thread checks every :data:`WATCH_EVERY_S` seconds
   that the job's parent is still the server that started it, and kills the job (and any
   child of it) when it is not; it checks once before the job starts too, in case the
   server died during the fork. ``prctl(PR_SET_PDEATHSIG)`` is not used: on Linux it fires
   when the *thread* that forked exits, and each request thread of the web server exits
   as soon as it has started the job. Gunicorn's workers watch their arbiter the same way.
3. **A time limit.** ``RNNSCOPE_JOB_SOFT_LIMIT_S`` (default 3600) raises :class:`JobTimeLimit`
   in the job (``SIGALRM``), which the page shows in words; ``RNNSCOPE_JOB_HARD_LIMIT_S``
   (default soft + 300) kills the job if it is still running then (a long C call delays a
   Python exception). Celery tasks have the same two limits (``rnnscope.workers.celery_app``).

A killed job leaves nothing half-written (the store writes a temp file or directory and
renames it into place) and no lock behind (its per-key ``flock`` is released by the
kernel), so the same analysis can be rerun at once.

A forked child can run autograd only if its parent never did so with an accelerator present:
autograd starts one thread per device at the first backward pass when torch sees a device
(CUDA, or a registered backend), and a child forked after that fails its first backward
("Unable to handle autograd's threading in combination with fork-based multiprocessing";
the page shows it in words). The web process therefore does forward work only: Jacobians in
closed form (``analysis/cells.py``) and forward-mode ``jvp``; training, fixed-point solves and
modifier gradients run in the jobs. ``tests/unit/test_emulated_device.py`` keeps the test
session itself fork-safe.
"""
from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import psutil

#: Seconds between two checks of the watchdog (server alive, hard limit).
WATCH_EVERY_S = 0.2


class JobTimeLimit(RuntimeError):
    """The job ran past its soft time limit (``RNNSCOPE_JOB_SOFT_LIMIT_S``)."""


def release_inherited_sockets() -> list[int]:
    """Point every inherited TCP/UDP socket of this process at ``/dev/null``.

    Returns the file descriptors released. ``dup2`` rather than ``close``: the descriptor
    number stays taken, so a socket object inherited from the server that is garbage-collected
    later closes ``/dev/null``, never a file the job has opened since.
    """
    fds = sorted({conn.fd for conn in psutil.Process().net_connections(kind="inet") if conn.fd >= 0})
    if not fds:
        return []
    devnull = os.open(os.devnull, os.O_RDWR)
    try:
        for fd in fds:
            os.dup2(devnull, fd, inheritable=False)
    finally:
        os.close(devnull)
    return fds


def default_signal_handlers() -> list[int]:
    """Undo the server's Python signal handlers in this (main) thread; returns the signals reset.

    A forked job inherits them: under gunicorn, SIGTERM in a worker only sets a flag, so a
    job keeping that handler would ignore the SIGTERM its exiting worker sends it. SIGINT
    gets Python's own handler back (KeyboardInterrupt), every other signal its default.
    """
    if threading.current_thread() is not threading.main_thread():
        return []
    reset = []
    for signum in signal.valid_signals():
        with contextlib.suppress(OSError, ValueError):
            handler = signal.getsignal(signum)
            if callable(handler) and handler is not signal.default_int_handler:
                signal.signal(signum, signal.default_int_handler if signum == signal.SIGINT
                              else signal.SIG_DFL)
                reset.append(int(signum))
    return reset


def kill_job(reason: str) -> None:
    """Say why on stderr, then SIGKILL this process's children and this process."""
    print(f"rnnscope job {os.getpid()}: {reason}; stopping it", file=sys.stderr, flush=True)
    with contextlib.suppress(psutil.Error):
        for child in psutil.Process().children(recursive=True):
            with contextlib.suppress(psutil.Error):
                child.kill()
    os.kill(os.getpid(), signal.SIGKILL)


def _watch(server_pid: int, hard_deadline: float, hard_limit_s: float, stop: threading.Event) -> None:
    """Kill the job once its parent is not ``server_pid`` or the hard limit has passed."""
    while not stop.wait(WATCH_EVERY_S):
        if os.getppid() != server_pid:
            kill_job(f"its server (pid {server_pid}) is gone")
        if time.monotonic() > hard_deadline:
            kill_job(f"it ran past its hard time limit of {hard_limit_s:g} s (RNNSCOPE_JOB_HARD_LIMIT_S)")


@contextlib.contextmanager
def _soft_limit(seconds: float) -> Iterator[None]:
    """Raise :class:`JobTimeLimit` in this (main) thread after ``seconds``."""
    if threading.current_thread() is not threading.main_thread():
        yield  # signals reach the main thread only: the hard limit still applies
        return

    def expired(_signum, _frame):
        raise JobTimeLimit(f"the job ran past its time limit of {seconds:g} s "
                           "(RNNSCOPE_JOB_SOFT_LIMIT_S) and was stopped")

    previous = signal.signal(signal.SIGALRM, expired)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


@contextlib.contextmanager
def guarded(server_pid: int, soft_limit_s: float, hard_limit_s: float) -> Iterator[None]:
    """The three rules of the module docstring, for the duration of the block.

    Parameters
    ----------
    server_pid : int
        PID of the web process that forked this one (``os.getpid()`` taken before the fork).
    soft_limit_s, hard_limit_s : float
        Seconds from now until :class:`JobTimeLimit` is raised / the process is killed.
    """
    release_inherited_sockets()
    default_signal_handlers()
    if os.getppid() != server_pid:  # the server died while forking this job
        kill_job(f"its server (pid {server_pid}) is gone")
    stop = threading.Event()
    watchdog = threading.Thread(target=_watch, name="job-watchdog", daemon=True,
                                args=(server_pid, time.monotonic() + hard_limit_s, hard_limit_s, stop))
    watchdog.start()
    try:
        with _soft_limit(soft_limit_s):
            yield
    finally:
        stop.set()


def run_guarded(job_fn: Callable[..., Any], server_pid: int, soft_limit_s: float,
                hard_limit_s: float, *args: Any) -> Any:
    """``job_fn(*args)`` under :func:`guarded` (the target of a forked job process)."""
    with guarded(server_pid, soft_limit_s, hard_limit_s):
        return job_fn(*args)
