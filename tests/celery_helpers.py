"""A real ``rnnscope worker`` subprocess for tests that need Celery on Redis.

Shared by ``tests/integration/test_celery_worker.py`` and ``tests/browser/test_celery_mode.py``.
``running_worker(env, client, log)`` starts ``rnnscope worker`` with the environment
``env`` (which must hold ``REDIS_URL`` and ``RNNSCOPE_STORE``) in a process group of its
own, waits until it answers a ping through ``client`` (a Celery app on the same Redis),
and stops the whole group (worker and pool) when the block ends.
"""
from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

RNNSCOPE = str(Path(sys.executable).with_name("rnnscope"))
#: Seconds a worker may take to import torch and the dashboard and answer a ping.
WORKER_START_TIMEOUT_S = 120


@contextlib.contextmanager
def running_worker(env: dict, client, log: Path, *, concurrency: int = 2,
                   hostname: str | None = None) -> Iterator[dict]:
    """``rnnscope worker --concurrency N`` until the block ends: yields ``{"proc", "log"}``."""
    from rnnscope.workers.tasks import workers_online

    hostname = hostname or f"test-{os.getpid()}@%h"
    with open(log, "w") as out:
        proc = subprocess.Popen([RNNSCOPE, "worker", "--concurrency", str(concurrency),
                                 "--loglevel", "info", "--hostname", hostname], env=env, stdout=out,
                                stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + WORKER_START_TIMEOUT_S
        while not workers_online(app=client):
            assert proc.poll() is None, f"worker exited: {log.read_text()[-3000:]}"
            assert time.monotonic() < deadline, f"worker not ready: {log.read_text()[-3000:]}"
        yield {"proc": proc, "log": log}
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)  # the group we started: worker + its pool
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)
