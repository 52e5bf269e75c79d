"""Fixtures for the security and reliability tests: real servers on real sockets.

``serve(env)`` starts ``rnnscope serve --port <free port>`` as a subprocess (its own
process group, so it and the analysis jobs it forks are stopped together), waits until
the page answers, and stops it at the end. ``tiny_env`` is the tiny GRU trained on MR and
analysed with small parameters (``tests/app/tiny.py``), in a store of its own; servers
started on it show that model and its report at once.
"""
from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

RNNSCOPE = str(Path(sys.executable).with_name("rnnscope"))
#: Seconds a server may take to import torch/Dash and answer its first page.
START_TIMEOUT_S = 180


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Server:
    """A running ``rnnscope serve``: its URL, process, log file and environment."""

    url: str
    port: int
    proc: subprocess.Popen
    log: Path
    env: dict

    def alive(self) -> bool:
        return self.proc.poll() is None

    def log_text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""


def wait_until_serving(url: str, proc: subprocess.Popen, log: Path, timeout_s: float = START_TIMEOUT_S) -> None:
    """Poll ``url`` until it answers 200; fail with the server's log if it dies or stalls."""
    deadline = time.monotonic() + timeout_s
    while True:
        if proc.poll() is not None:
            raise AssertionError(f"server exited with {proc.returncode}:\n{log.read_text(errors='replace')[-4000:]}")
        try:
            if requests.get(url + "/", timeout=5).status_code == 200:
                return
        except requests.RequestException:
            pass
        if time.monotonic() > deadline:
            raise AssertionError(f"server not up after {timeout_s} s:\n{log.read_text(errors='replace')[-4000:]}")
        time.sleep(0.3)


def stop(proc: subprocess.Popen, sig: int = signal.SIGTERM) -> None:
    """Stop the process group we started (the server and any job child it forked)."""
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, sig)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)
    else:  # the leader is gone; children of its group may still run
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)


@contextlib.contextmanager
def serve(env: dict, log: Path, *extra: str, port: int | None = None) -> Iterator[Server]:
    """``rnnscope serve --port N [extra...]`` with ``env`` until the block ends."""
    port = port or free_port()
    url = f"http://127.0.0.1:{port}"
    with open(log, "w") as out:
        proc = subprocess.Popen([RNNSCOPE, "serve", "--port", str(port), *extra], env=env, stdout=out,
                                stderr=subprocess.STDOUT, start_new_session=True)
    try:
        wait_until_serving(url, proc, log)
        yield Server(url, port, proc, log, env)
    finally:
        stop(proc)


def server_env(tiny, **extra: str) -> dict:
    """The environment of a server on ``tiny``'s store, with tiny analysis parameters."""
    from tests.app.tiny import TINY_PARAMS

    env = {**os.environ, **tiny.environ(), "RNNSCOPE_ANALYSIS_PARAMS": json.dumps(TINY_PARAMS),
           "RNNSCOPE_TORCH_THREADS": "1", "PYTHONUNBUFFERED": "1"}
    env.pop("REDIS_URL", None)  # embedded mode unless a test asks for Redis
    env.update(extra)
    return env


@pytest.fixture(scope="session")
def tiny_env(rnnscope_home, tmp_path_factory):
    """The tiny MR GRU, its store (checkpoint + analysis) and demo directory."""
    from tests.app.tiny import make_env

    return make_env(tmp_path_factory.mktemp("security-tiny"), rnnscope_home)


@pytest.fixture(scope="session")
def tiny_server(tiny_env, tmp_path_factory):
    """One ``rnnscope serve`` on the tiny store (default settings) for the whole session:
    the callback-body tests and the fuzzing pass post to it."""
    log = tmp_path_factory.mktemp("tiny-server") / "server.log"
    with serve(server_env(tiny_env), log) as srv:
        yield srv
