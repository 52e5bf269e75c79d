"""The web process killed in the middle of an embedded analysis (as an OOM kill does).

Embedded jobs are forked from the web process (Dash ``DiskcacheManager``), so they start
with copies of its file descriptors, the listening socket among them. Before
``workers/embedded.py`` a SIGKILL of the web process alone left the job running as an
orphan that held the port: the page timed out and a restart failed with "Address already
in use" until the job ended, and embedded jobs had no time limit.

(a) An analysis is started over HTTP; once its job is in the fixed-point stage only the web
    process is SIGKILLed (not its process group: ``--workers 1``, the web process;
    ``--workers 2``, gunicorn's arbiter, whose workers then exit by themselves and must
    neither wait for their jobs nor keep the port meanwhile) and ``rnnscope serve`` is
    started again at once on the same port. With one web process nothing may listen on the
    port right after the kill. The new server must answer ``GET /`` (safety timeouts only),
    the orphaned job must die without having finished, the store must hold no report for
    it, and the same analysis rerun through the new server must complete (the dead job's
    per-key lock is gone).
(b) ``RNNSCOPE_JOB_SOFT_LIMIT_S=1``: a slow analysis is stopped by the time limit and the
    page says so in words; the job process is gone and nothing is stored.
"""
from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

import psutil
import pytest
import requests

from rnnscope.bench.load import DashClient
from tests.security.conftest import serve, server_env
from tests.security.test_faults import SLOW, analysis_key, job_callback, polled, progress_text

#: Safety net for processes to appear or go away (never a speed assertion).
SAFETY_S = 120


def fresh_env(tiny, root: Path, analysis_params: dict, **extra: str) -> dict:
    """A server environment on an empty store with these analysis parameters."""
    return server_env(tiny, RNNSCOPE_STORE=str(root / "store"),
                      RNNSCOPE_ANALYSIS_PARAMS=json.dumps(analysis_params), **extra)


def start_job(client: DashClient) -> tuple[dict, dict]:
    """POST the analysis job as the page does; -> (poll body, signed handles)."""
    client.initial_callbacks()
    assert client.value("job-request-store.data") is not None, "the page did not ask for a job"
    body = client.payload(job_callback(client), ["job-request-store.data"])
    handles = client.post(body).json()
    assert "response" not in handles, "the analysis was answered from the cache: nothing ran"
    poll = json.loads(json.dumps(body))
    for item in poll["inputs"]:
        item["value"] = None
    return poll, {"cacheKey": handles["cacheKey"], "job": handles["job"]}


def wait_for_stage(client: DashClient, poll: dict, query: dict, stage: str) -> None:
    """Poll the job until its progress names ``stage`` (it must not finish first)."""
    deadline = time.monotonic() + SAFETY_S * 5
    while True:
        data = polled(client, poll, query)
        assert "response" not in data, f"the job finished before reaching {stage!r}: make SLOW slower"
        if stage in progress_text(data):
            return
        assert time.monotonic() < deadline, f"the job never reached {stage!r}"
        time.sleep(0.1)


def listeners(port: int) -> set[int]:
    """PIDs of every process holding a listening TCP socket on ``port``."""
    return {c.pid for c in psutil.net_connections(kind="tcp")
            if c.status == psutil.CONN_LISTEN and c.laddr and c.laddr.port == port}


def gone(pid: int) -> bool:
    """True once ``pid`` has exited (a zombie waiting for its reaper counts as gone)."""
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def wait_gone(pid: int, what: str) -> None:
    deadline = time.monotonic() + SAFETY_S
    while not gone(pid):
        assert time.monotonic() < deadline, f"{what} (pid {pid}) still runs after {SAFETY_S} s"
        time.sleep(0.1)


def job_process(server_pid: int, workers: int) -> psutil.Process:
    """The one analysis job: a child of the server, or of one of gunicorn's workers."""
    top = psutil.Process(server_pid)
    jobs = [job for parent in ([top] if workers == 1 else top.children()) for job in parent.children()]
    assert len(jobs) == 1, f"expected one job process, found {jobs}"
    return jobs[0]


@pytest.mark.parametrize("workers", [1, 2], ids=["threaded", "gunicorn"])
def test_sigkilled_web_process_restarts_at_once_and_its_job_dies(tiny_env, tmp_path, workers):
    """``--workers 1``: the web process is SIGKILLed. ``--workers 2``: gunicorn's arbiter is;
    its workers see it and exit, and must not wait for (or keep the port for) their jobs."""
    from rnnscope.analysis.report import Report
    from tests.app.tiny import TINY_PARAMS
    from rnnscope.workers.store import ArtifactStore

    slow = {**TINY_PARAMS, **SLOW, "seed": 20 + workers}  # uncached: a fresh analysis must run
    env = fresh_env(tiny_env, tmp_path, slow)
    key = analysis_key(tiny_env, "mr", slow)
    store = ArtifactStore(env["RNNSCOPE_STORE"], redis_url="")
    mode = ("--workers", str(workers))
    with serve(env, tmp_path / "first.log", *mode) as first:
        client = DashClient(first.url)
        poll, query = start_job(client)
        wait_for_stage(client, poll, query, "fixed points")
        job = job_process(first.proc.pid, workers)
        web = psutil.Process(first.proc.pid).children() if workers > 1 else []  # gunicorn workers

        os.kill(first.proc.pid, signal.SIGKILL)  # the web process only, as the OOM killer does
        first.proc.wait(30)
        for worker in web:  # they notice their arbiter is gone and exit (gunicorn, ~1 s)
            wait_gone(worker.pid, "a gunicorn worker whose arbiter died")
        assert listeners(first.port) == set(), (
            f"after the web process died, {sorted(listeners(first.port))} still listen on "
            f"port {first.port} (the job is pid {job.pid}); a restart would fail")

        with serve(env, tmp_path / "second.log", *mode, port=first.port) as second:  # at once
            assert requests.get(second.url + "/", timeout=30).status_code == 200
            wait_gone(job.pid, "the orphaned analysis job")
            # the job was stopped, not waited for, and left no partial artifact
            assert store.computations(key, "finished") == []
            assert not store.report_dir(key).exists()
            for report_dir in (store.root / "reports").iterdir():
                Report.load(report_dir)

            rerun = DashClient(second.url)
            rerun.initial_callbacks()
            result = rerun.run_background(job_callback(rerun), ["job-request-store.data"],
                                          timeout_s=SAFETY_S * 10)
            assert result["report-store.data"]["key"] == key
            assert rerun.value("job-alert.children") is None
            assert Report.load(store.report_dir(key)).summary["model"]["sha256"] == tiny_env.sha
            assert len(store.computations(key, "finished")) == 1
            assert len(store.computations(key, "started")) == 2  # killed once, completed once


def test_embedded_job_is_stopped_by_its_time_limit(tiny_env, tmp_path):
    from tests.app.tiny import TINY_PARAMS
    from rnnscope.workers.store import ArtifactStore

    slow = {**TINY_PARAMS, **SLOW, "seed": 22}
    env = fresh_env(tiny_env, tmp_path, slow, RNNSCOPE_JOB_SOFT_LIMIT_S="1",
                    RNNSCOPE_JOB_HARD_LIMIT_S="30")
    key = analysis_key(tiny_env, "mr", slow)
    store = ArtifactStore(env["RNNSCOPE_STORE"], redis_url="")
    with serve(env, tmp_path / "server.log") as server:
        client = DashClient(server.url)
        client.initial_callbacks()
        result = client.run_background(job_callback(client), ["job-request-store.data"],
                                       timeout_s=SAFETY_S * 5)
        text = json.dumps(result.get("job-alert.children"))
        assert "time limit of 1 s" in text and "RNNSCOPE_JOB_SOFT_LIMIT_S" in text, text
        assert "report-store.data" not in result
        assert not store.report_dir(key).exists()
        assert store.computations(key, "finished") == []
        assert server.alive()
