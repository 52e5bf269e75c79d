"""``rnnscope.workers.embedded``: the guard of job processes forked from the web server.

Real forked processes (``fork``, as Dash's ``DiskcacheManager`` starts jobs), real sockets
and real signals. The end-to-end proof through ``rnnscope serve`` is
``tests/security/test_killed_server.py``.
"""
from __future__ import annotations

import multiprocessing
import os
import signal
import socket
import time
from pathlib import Path

import psutil
import pytest

from rnnscope.workers.embedded import JobTimeLimit, release_inherited_sockets, run_guarded

FORK = multiprocessing.get_context("fork")
SPAWN = multiprocessing.get_context("spawn")
#: Safety net for a process to finish or die (never a speed assertion).
SAFETY_S = 60


def _fresh(case, *args) -> None:
    """Run ``case(*args)`` in a new interpreter and re-raise its failure here.

    The cases fork, as Dash's ``DiskcacheManager`` does; forking the test runner itself, late
    in a suite whose browser tests left server threads behind, can deadlock the child on a
    lock another thread held at the fork (seen: jobs that never started). A fresh interpreter
    has one thread, so its forks are clean; it is killed if it outlives the safety net.
    """
    queue = SPAWN.Queue()
    proc = SPAWN.Process(target=_report, args=(queue, case, args))
    proc.start()
    try:
        ok, message = queue.get(timeout=3 * SAFETY_S)
    finally:
        proc.kill()
        proc.join(SAFETY_S)
    assert ok, message


def _report(queue, case, args) -> None:
    try:
        case(*args)
    except BaseException as exc:  # noqa: BLE001 - every failure goes back to the test
        queue.put((False, f"{type(exc).__name__}: {exc}"))
    else:
        queue.put((True, ""))


def _spin() -> None:
    """A job that never ends by itself (Python code, so a signal handler can run)."""
    while True:
        time.sleep(0.01)


def _stubborn() -> None:
    """A job that swallows the soft limit and carries on."""
    while True:
        try:
            _spin()
        except JobTimeLimit:
            pass


def _report_soft_limit(server_pid: int, out: Path) -> None:
    try:
        run_guarded(_spin, server_pid, 1, 60)
    except JobTimeLimit as exc:
        out.write_text(str(exc))


def _server(port_file: Path, pid_file: Path) -> None:
    """A stand-in web server: listens on a port, forks one guarded job, then waits."""
    listener = socket.create_server(("127.0.0.1", 0))
    job = FORK.Process(target=run_guarded, args=(_spin, os.getpid(), 600, 900))
    job.start()
    pid_file.write_text(str(job.pid))
    port_file.write_text(str(listener.getsockname()[1]))
    time.sleep(600)


def _wait(condition, what: str) -> None:
    deadline = time.monotonic() + SAFETY_S
    while not condition():
        assert time.monotonic() < deadline, f"{what}: not within {SAFETY_S} s"
        time.sleep(0.05)


def _gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def _listening(pid: int) -> set[int]:
    return {c.laddr.port for c in psutil.Process(pid).net_connections(kind="tcp")
            if c.status == psutil.CONN_LISTEN}


def test_soft_time_limit_raises_in_the_job(tmp_path):
    _fresh(_case_soft_time_limit_raises_in_the_job, tmp_path)


def _case_soft_time_limit_raises_in_the_job(tmp_path):
    out = tmp_path / "message"
    job = FORK.Process(target=_report_soft_limit, args=(os.getpid(), out))
    job.start()
    job.join(SAFETY_S)
    assert job.exitcode == 0, "the job did not end by its soft time limit"
    assert out.read_text() == ("the job ran past its time limit of 1 s (RNNSCOPE_JOB_SOFT_LIMIT_S) "
                               "and was stopped")


def test_hard_time_limit_kills_a_job_that_swallows_the_soft_one():
    _fresh(_case_hard_time_limit_kills_a_job_that_swallows_the_soft_one)


def _case_hard_time_limit_kills_a_job_that_swallows_the_soft_one():
    job = FORK.Process(target=run_guarded, args=(_stubborn, os.getpid(), 1, 2))
    job.start()
    job.join(SAFETY_S)
    assert job.exitcode == -signal.SIGKILL


def test_job_whose_server_died_during_the_fork_is_killed_at_once():
    _fresh(_case_job_whose_server_died_during_the_fork_is_killed_at_once)


def _case_job_whose_server_died_during_the_fork_is_killed_at_once():
    not_the_parent = os.getpid() + 1_000_000  # the job's parent is this process, not that one
    job = FORK.Process(target=run_guarded, args=(_spin, not_the_parent, 600, 900))
    job.start()
    job.join(SAFETY_S)
    assert job.exitcode == -signal.SIGKILL


def test_job_holds_no_socket_of_its_server_and_dies_with_it(tmp_path):
    _fresh(_case_job_holds_no_socket_of_its_server_and_dies_with_it, tmp_path)


def _case_job_holds_no_socket_of_its_server_and_dies_with_it(tmp_path):
    port_file, pid_file = tmp_path / "port", tmp_path / "pid"
    server = FORK.Process(target=_server, args=(port_file, pid_file))
    server.start()
    try:
        _wait(port_file.exists, "the stand-in server did not start")
        port, job_pid = int(port_file.read_text()), int(pid_file.read_text())
        assert port in _listening(server.pid)
        _wait(lambda: _listening(job_pid) == set(), "the job kept the server's listening socket")
        assert port in _listening(server.pid)  # the server's own socket is untouched

        os.kill(server.pid, signal.SIGKILL)  # the server alone, as an OOM kill does
        server.join(SAFETY_S)
        with socket.create_server(("127.0.0.1", port)):  # a restart binds the port at once
            pass
        _wait(lambda: _gone(job_pid), "the orphaned job outlived its server")
    finally:
        if server.is_alive():
            server.kill()


@pytest.mark.parametrize("kind", ["listening", "connected"])
def test_release_points_inherited_sockets_at_dev_null(kind):
    listener = socket.create_server(("127.0.0.1", 0))
    keep = [listener]
    if kind == "connected":
        keep.append(socket.create_connection(listener.getsockname()))
        keep.append(listener.accept()[0])
    expected = {s.fileno() for s in keep}
    reader, writer = os.pipe()
    child = os.fork()
    if child == 0:  # the job: release, then tell the parent what is left
        try:
            released = set(release_inherited_sockets())
            devnull = os.stat(os.devnull).st_rdev
            ok = (expected <= released
                  and all(os.fstat(fd).st_rdev == devnull for fd in expected)
                  and not psutil.Process().net_connections(kind="inet"))
            os.write(writer, b"ok" if ok else repr(released).encode())
        finally:
            os._exit(0)
    os.close(writer)
    try:
        answer = os.read(reader, 1000)
        os.waitpid(child, 0)
        assert answer == b"ok", answer
        assert listener.getsockname()[1] in _listening(os.getpid())  # the parent still listens
    finally:
        os.close(reader)
        for s in keep:
            s.close()


def _server_with_handlers(pid_file: Path) -> None:
    """A stand-in gunicorn worker: its SIGTERM handler only sets a flag; then one job."""
    signal.signal(signal.SIGTERM, lambda *_: None)
    job = FORK.Process(target=run_guarded, args=(_spin, os.getpid(), 600, 900))
    job.start()
    pid_file.write_text(str(job.pid))
    job.join()


def test_job_does_not_keep_the_servers_signal_handlers(tmp_path):
    _fresh(_case_job_does_not_keep_the_servers_signal_handlers, tmp_path)


def _case_job_does_not_keep_the_servers_signal_handlers(tmp_path):
    pid_file = tmp_path / "pid"
    server = FORK.Process(target=_server_with_handlers, args=(pid_file,))
    server.start()
    try:
        _wait(pid_file.exists, "the stand-in server did not start its job")
        job = psutil.Process(int(pid_file.read_text()))
        _wait(lambda: job.net_connections() == [] and _sigterm_default(job.pid), "guard not set up")
        job.terminate()  # SIGTERM, as an exiting worker sends its daemon children
        _wait(lambda: _gone(job.pid), "the job ignored SIGTERM")
    finally:
        server.kill()
        server.join(SAFETY_S)


def _sigterm_default(pid: int) -> bool:
    """True when ``pid`` neither catches nor ignores SIGTERM (from /proc/<pid>/status)."""
    fields = dict(line.split(":\t", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines()
                  if ":\t" in line)
    mask = 1 << (signal.SIGTERM - 1)
    return not int(fields["SigCgt"], 16) & mask and not int(fields["SigIgn"], 16) & mask
