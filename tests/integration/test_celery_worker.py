"""A real ``rnnscope worker`` (Celery prefork) on real Redis, sharing a store with the test.

Redis database 11 on 127.0.0.1:6379 is flushed first. The worker runs as a subprocess with
``REDIS_URL``, ``RNNSCOPE_STORE`` and a short ``RNNSCOPE_LOCK_TTL_S``; the test talks to it
through its own Celery client (``rnnscope.workers.celery_app.make_celery``) and reads results from
the same store. Analyses use a tiny GRU trained on a synthetic corpus so jobs take seconds.
"""
from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest

from rnnscope.settings import Settings
from tests.celery_helpers import RNNSCOPE, running_worker
from tests.corpus import SMALL_PARAMS, train_tiny

REDIS_URL = "redis://127.0.0.1:6379/11"
SMALL = SMALL_PARAMS
#: The same analysis with enough work that it is still running when we interrupt it.
#: Keeps a job in its fixed-point stage for seconds even on an idle machine (30,000 seeds), so
#: cancel and SIGKILL land mid-job; 3,000 seeds finished before the first progress poll.
SLOW = {**SMALL, "n_docs": 300, "n_seeds": 30000, "lin_docs": 300, "n_error_samples": 20000}


@pytest.fixture(scope="module")
def env(tmp_path_factory) -> dict:
    import redis

    redis.Redis.from_url(REDIS_URL).flushdb()
    root = tmp_path_factory.mktemp("celery")
    return {**os.environ, "REDIS_URL": REDIS_URL, "RNNSCOPE_STORE": str(root / "store"),
            "RNNSCOPE_HOME": str(root / "home"), "RNNSCOPE_LOCK_TTL_S": "2",
            "RNNSCOPE_DEMO_DIR": str(root / "no-demos")}


@pytest.fixture(scope="module")
def client(env):
    from rnnscope.workers.celery_app import make_celery

    return make_celery(Settings.from_env(env))


@pytest.fixture(scope="module")
def store(env):
    from rnnscope.workers.store import ArtifactStore

    return ArtifactStore(env["RNNSCOPE_STORE"], redis_url=REDIS_URL, lock_ttl_s=2)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory, store) -> dict:
    """A trained GRU-8 checkpoint (in the shared store) and its CSV corpus."""
    data, ckpt = train_tiny(tmp_path_factory.mktemp("tiny"))
    return {"data": str(data), "ckpt": ckpt, "sha": store.put_checkpoint(ckpt.read_bytes(), ckpt.name)}


@pytest.fixture(scope="module")
def worker(env, client, tmp_path_factory):
    """``rnnscope worker --concurrency 2`` until the module's tests are done."""
    with running_worker(env, client, tmp_path_factory.mktemp("worker-log") / "worker.log") as running:
        yield running


def follow(task_id: str, client, timeout_s: float = 300) -> tuple[dict, list[dict]]:
    """Poll every 50 ms until the task ends: (final status, every status seen)."""
    from rnnscope.workers.tasks import job_status

    seen, deadline = [], time.monotonic() + timeout_s
    while True:
        status = job_status(task_id, app=client)
        seen.append(status)
        if status["state"] in ("SUCCESS", "FAILURE", "REVOKED"):
            return status, seen
        assert time.monotonic() < deadline, f"task still {status['state']} after {timeout_s} s"
        time.sleep(0.05)


def wait_for_progress(task_id: str, client, after: str, timeout_s: float = 120) -> dict:
    """The first PROGRESS status whose message contains ``after``."""
    from rnnscope.workers.tasks import job_status

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        status = job_status(task_id, app=client)
        if status["state"] == "PROGRESS" and after in status["message"]:
            return status
        assert status["state"] not in ("SUCCESS", "FAILURE", "REVOKED"), status
        time.sleep(0.05)
    raise AssertionError(f"no progress message with {after!r} within {timeout_s} s")


def start_slow_job(tiny, client, seed: int) -> tuple[str, str, dict]:
    """Submit a ``SLOW`` analysis and wait until it is in its fixed-point stage.

    Returns (content key, task id, the running status with the pool child's ``pid``)."""
    from rnnscope.workers import jobs
    from rnnscope.workers.tasks import submit_full_analysis

    params = {**SLOW, "seed": seed}
    task_id = submit_full_analysis(tiny["sha"], tiny["data"], params, app=client)
    running = wait_for_progress(task_id, client, "fixed points")
    return jobs.analysis_key(tiny["sha"], tiny["data"], params), task_id, running


def pid_gone(pid: int, timeout_s: float = 15) -> bool:
    import psutil

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if psutil.Process(pid).status() == psutil.STATUS_ZOMBIE:
                return True
        except psutil.NoSuchProcess:
            return True
        time.sleep(0.1)
    return False


def test_worker_needs_redis_url():
    env = {k: v for k, v in os.environ.items() if k != "REDIS_URL"}
    done = subprocess.run([RNNSCOPE, "worker"], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and "REDIS_URL is not set" in done.stderr
    done = subprocess.run([RNNSCOPE, "submit", "x.safetensors", "--data", "mr"], env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and "REDIS_URL is not set" in done.stderr


@pytest.mark.redis
def test_submitted_analysis_reports_progress_and_equals_the_embedded_run(worker, client, store, tiny, tmp_path):
    from rnnscope.workers import jobs
    from rnnscope.workers.store import ArtifactStore
    from rnnscope.workers.tasks import submit_full_analysis

    task_id = submit_full_analysis(tiny["sha"], tiny["data"], SMALL, app=client)
    final, seen = follow(task_id, client)
    assert final["state"] == "SUCCESS", final["error"]
    key = final["result"]["key"]
    assert key == jobs.analysis_key(tiny["sha"], tiny["data"], SMALL)
    assert final["result"]["path"] == str(store.report_dir(key))
    progress = [s["fraction"] for s in seen if s["state"] == "PROGRESS"]
    assert progress and all(0 <= f <= 1 for f in progress)
    assert all(b >= a for a, b in zip(progress, progress[1:]))
    assert {s["pid"] for s in seen if s["state"] == "PROGRESS"} - {None}

    local = ArtifactStore(tmp_path / "embedded", redis_url="")
    local.put_checkpoint(tiny["ckpt"].read_bytes())
    assert jobs.full_analysis(tiny["sha"], tiny["data"], SMALL, store=local) == key
    remote, embedded = store.get_report(key), local.get_report(key)
    assert set(remote.arrays) == set(embedded.arrays)
    for name in remote.arrays:
        np.testing.assert_array_equal(remote.arrays[name], embedded.arrays[name], err_msg=name)
    assert remote.summary["fixed_points"]["n_unique"] == embedded.summary["fixed_points"]["n_unique"]


@pytest.mark.redis
def test_two_identical_submissions_compute_once(worker, client, store, tiny):
    from rnnscope.workers.tasks import submit_full_analysis

    params = {**SMALL, "seed": 1}  # not computed by any other test
    ids = [submit_full_analysis(tiny["sha"], tiny["data"], params, app=client) for _ in range(2)]
    finals = [follow(task_id, client)[0] for task_id in ids]
    assert [f["state"] for f in finals] == ["SUCCESS", "SUCCESS"]
    (key,) = {f["result"]["key"] for f in finals}
    assert len(store.computations(key, "started")) == 1
    assert len(store.computations(key, "finished")) == 1


@pytest.mark.redis
def test_cancel_terminates_the_job_and_the_worker_goes_on(worker, client, store, tiny):
    from rnnscope.workers.tasks import cancel, submit_full_analysis

    key, task_id, running = start_slow_job(tiny, client, seed=2)
    cancel(task_id, app=client)
    final, _ = follow(task_id, client, timeout_s=60)
    assert final["state"] == "REVOKED"
    assert pid_gone(running["pid"])
    assert not store.exists(key) and not store.report_dir(key).exists()
    assert store.computations(key, "finished") == []
    # the pool replaced the child: the next job runs
    again = submit_full_analysis(tiny["sha"], tiny["data"], {**SMALL, "seed": 3}, app=client)
    assert follow(again, client)[0]["state"] == "SUCCESS"


@pytest.mark.redis
def test_sigkill_mid_job_leaves_nothing_partial_and_the_job_reruns(worker, client, store, tiny):
    key, task_id, running = start_slow_job(tiny, client, seed=4)
    os.kill(running["pid"], signal.SIGKILL)
    assert pid_gone(running["pid"])
    assert not store.exists(key) and not store.report_dir(key).exists()
    # acks_late + reject_on_worker_lost: the job goes back on the queue and reruns to the end
    final, seen = follow(task_id, client, timeout_s=600)
    assert final["state"] == "SUCCESS", final["error"]
    assert len(store.computations(key, "started")) == 2  # the killed run and the rerun
    assert len(store.computations(key, "finished")) == 1
    report = store.get_report(key)
    assert report.summary["fixed_points"]["n_seeds"] == SLOW["n_seeds"]
    assert "WorkerLostError" in worker["log"].read_text()


@pytest.mark.redis
def test_submit_cli_waits_and_prints_the_report(worker, env, store, tiny):
    params = {**SMALL, "seed": 5}
    argv = [RNNSCOPE, "submit", str(tiny["ckpt"]), "--data", tiny["data"], "--wait"]
    argv += [f"--param={k}={str(v).lower() if isinstance(v, bool) else v}" for k, v in params.items()]
    done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    lines = done.stdout.strip().splitlines()
    task_id, report_line = lines[0], lines[-1]
    assert len(task_id) == 36 and report_line.startswith("report: ")
    path = Path(report_line.removeprefix("report: "))
    assert path.parent == store.root / "reports" and (path / "report.json").exists()
    status = subprocess.run([RNNSCOPE, "submit", "--status", task_id], env=env, capture_output=True,
                            text=True, timeout=120)
    assert status.returncode == 0 and status.stdout.startswith("SUCCESS 100%")


@pytest.mark.redis
def test_a_job_that_keeps_killing_its_worker_stops_being_retried(env, monkeypatch):
    """Each delivery of a task id is counted in Redis; past MAX_DELIVERIES the task fails
    instead of being requeued forever by task_reject_on_worker_lost."""
    import uuid
    from types import SimpleNamespace

    from rnnscope.workers import tasks

    monkeypatch.setenv("REDIS_URL", REDIS_URL)
    task = SimpleNamespace(request=SimpleNamespace(id=str(uuid.uuid4())))
    for _ in range(tasks.MAX_DELIVERIES):
        tasks._count_delivery(task)
    with pytest.raises(tasks.TooManyDeliveries, match="died 3 times"):
        tasks._count_delivery(task)


@pytest.mark.redis
def test_worker_registers_the_dashboards_background_callbacks(worker, client, env):
    """In scale-out mode the dashboard's background callbacks are Celery tasks; the worker
    must know each of them by the same name, or clicking "analyse" would hang."""
    from rnnscope.app.dashboard import create_app
    from rnnscope.workers.celery_app import celery_app

    create_app(Settings.from_env(env))  # CeleryManager registers the callbacks on celery_app
    web = {name for name in celery_app.tasks if name.startswith("background_callback_")}
    assert web
    registered = client.control.inspect(timeout=5).registered() or {}
    (names,) = registered.values()
    assert web <= set(names)
    assert {"rnnscope.full_analysis", "rnnscope.linearize", "rnnscope.word_projections"} <= set(names)
