"""Faults: Redis restarted under a running dashboard, the web process restarted, a bad store.

(a) A dashboard in Celery mode (``REDIS_URL``) and an ``rnnscope worker``, both on a Redis
    server this test starts on a free port (never the shared 6379 one), with no persistence
    (``--save "" --appendonly no``): a restart loses every queue and result. An analysis is
    started through the dashboard's background callback; Redis is killed while the job is in
    its fixed-point stage and started again. The dashboard must report the failed poll, serve
    the next request without being restarted, and a resubmitted analysis must complete; the
    report is computed at most once more and finished exactly once (content-keyed store).
(b) The web process restarted: an analysis run by one server process is shown at once by
    the next one on the same store; the store's computation log proves nothing was recomputed.
(c) A store that cannot be created: ``rnnscope serve`` exits 2 at start with a message naming
    the directory. The tests run as root, and root ignores permission bits, so a chmod'ed
    directory would not stop it: the store is put under a regular file (ENOTDIR), on a regular
    file, or under ``/sys`` (a read-only pseudo filesystem, EPERM even for root).
"""
from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from rnnscope.bench.load import DashClient, DashError
from tests.security.conftest import RNNSCOPE, free_port, serve, server_env, stop

#: Enough work that the job is still in its fixed-point stage when Redis goes away.
#: Analysis parameters that keep the tiny model's job running for several seconds after its
#: first progress report (30,000 fixed-point seeds), so Redis can be killed mid-job.
SLOW = {"n_seeds": 30000, "n_error_samples": 20000, "seed": 9}


def params(tiny_params: dict, **extra) -> str:
    return json.dumps({**tiny_params, **extra})


def fresh_store_env(tiny, root: Path, **extra: str) -> dict:
    """A server environment on a new, empty store (the demo checkpoint is copied in on load)."""
    return server_env(tiny, RNNSCOPE_STORE=str(root / "store"), **extra)


def analysis_key(tiny, data: str, analysis_params: dict) -> str:
    from tests.app.tiny import environ
    from rnnscope.workers.jobs import analysis_key as key_of

    with environ(tiny.environ()):
        return key_of(tiny.sha, data, analysis_params)


def job_callback(client: DashClient):
    return client.find(input="job-request-store.data")


# --------------------------------------------------------------------------- (a) Redis restart


@contextlib.contextmanager
def redis_server(port: int, log: Path) -> Iterator[subprocess.Popen]:
    """``redis-server`` on 127.0.0.1:``port`` without persistence, until the block ends."""
    proc = start_redis(port, log)
    try:
        yield proc
    finally:
        stop(proc)


def start_redis(port: int, log: Path) -> subprocess.Popen:
    import redis

    with open(log, "a") as out:
        proc = subprocess.Popen(["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                                 "--appendonly", "no", "--daemonize", "no"], stdout=out,
                                stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.monotonic() + 30
    while True:
        try:
            if redis.Redis(port=port, socket_timeout=1).ping():
                return proc
        except redis.exceptions.ConnectionError:
            pass
        assert proc.poll() is None, log.read_text()[-2000:]
        assert time.monotonic() < deadline, "redis-server did not answer"
        time.sleep(0.1)


@contextlib.contextmanager
def celery_worker(env: dict, log: Path) -> Iterator[subprocess.Popen]:
    """``rnnscope worker --concurrency 1`` until the block ends."""
    from rnnscope.settings import Settings
    from rnnscope.workers.celery_app import make_celery
    from rnnscope.workers.tasks import workers_online

    client = make_celery(Settings.from_env(env))
    with open(log, "w") as out:
        proc = subprocess.Popen([RNNSCOPE, "worker", "--concurrency", "1", "--loglevel", "info"], env=env,
                                stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 180
        while not workers_online(app=client):
            assert proc.poll() is None, f"worker exited: {log.read_text()[-3000:]}"
            assert time.monotonic() < deadline, f"worker not ready: {log.read_text()[-3000:]}"
        yield proc
    finally:
        stop(proc)


def progress_text(data: dict) -> str:
    return " ".join(str(v) for v in (data.get("progress") or {}).values())


def polled(client, poll: dict, query: dict) -> dict:
    """One poll of a running background job: its JSON body, or {} for 204 (nothing new)."""
    answer = client.post(poll, params=query)
    assert answer.status_code in (200, 204), f"poll answered {answer.status_code}: {answer.text[:300]}"
    return answer.json() if answer.status_code == 200 else {}


@pytest.mark.redis
def test_redis_restart_mid_job_dashboard_recovers_and_the_job_can_be_resubmitted(tiny_env, tmp_path):
    from tests.app.tiny import TINY_PARAMS
    from rnnscope.workers.store import ArtifactStore

    port = free_port()
    slow = {**TINY_PARAMS, **SLOW}
    env = fresh_store_env(tiny_env, tmp_path, REDIS_URL=f"redis://127.0.0.1:{port}/0",
                          RNNSCOPE_ANALYSIS_PARAMS=json.dumps(slow), RNNSCOPE_LOCK_TTL_S="2")
    key = analysis_key(tiny_env, "mr", slow)
    with redis_server(port, tmp_path / "redis.log") as first_redis, \
            celery_worker(env, tmp_path / "worker.log"), \
            serve(env, tmp_path / "server.log") as server:
        client = DashClient(server.url)
        client.initial_callbacks()
        request = client.value("job-request-store.data")
        assert request["sha"] == tiny_env.sha  # not analysed yet: the page asks for a job
        job = job_callback(client)
        body = client.payload(job, ["job-request-store.data"])
        handles = client.post(body).json()
        poll = json.loads(json.dumps(body))
        for item in poll["inputs"]:
            item["value"] = None
        query = {"cacheKey": handles["cacheKey"], "job": handles["job"]}
        deadline = time.monotonic() + 300
        while True:  # until the worker reports the fixed-point stage: the job is in flight
            data = polled(client, poll, query)
            assert "response" not in data, "the job finished before Redis could be killed: make SLOW slower"
            if "fixed points" in progress_text(data):
                break
            assert time.monotonic() < deadline, "the job never reached its fixed-point stage"
            time.sleep(0.1)

        stop(first_redis, signal.SIGKILL)  # Redis dies with the job in flight
        with pytest.raises(DashError) as failed:  # the page's next poll fails, visibly
            answer = client.post(poll, params=query)
            client._apply(job, answer)
            raise AssertionError(f"poll answered {answer.status_code} with Redis down: {answer.text[:300]}")
        assert failed.value.status is None or failed.value.status >= 500
        assert server.alive()

        with redis_server(port, tmp_path / "redis.log"):  # back, empty
            assert requests.get(server.url + "/", timeout=30).status_code == 200
            fresh = DashClient(server.url)  # a new visitor, no restart of anything
            fresh.initial_callbacks()
            assert fresh.value("model-card.children") is not None
            # resubmit: the analysis completes and its report comes back to the page
            result = fresh.run_background(job_callback(fresh), ["job-request-store.data"], timeout_s=900)
            assert result["report-store.data"]["key"] == key
            assert fresh.value("job-alert.children") is None
            store = ArtifactStore(env["RNNSCOPE_STORE"], redis_url="")
            assert store.report_dir(key).is_dir()
            assert len(store.computations(key, "finished")) == 1
            assert len(store.computations(key, "started")) <= 2
            # the workers client recovers too: a plain job through the same worker
            from rnnscope.settings import Settings
            from rnnscope.workers.celery_app import make_celery
            from rnnscope.workers.tasks import submit_full_analysis, wait

            app = make_celery(Settings.from_env(env))
            task = submit_full_analysis(tiny_env.sha, "mr", {**TINY_PARAMS, "seed": 12}, app=app)
            assert wait(task, poll_s=0.2, timeout_s=600, app=app)["state"] == "SUCCESS"


# --------------------------------------------------------------------------- (b) web restart


def test_restarted_web_process_reuses_cached_analyses(tiny_env, tmp_path):
    from tests.app.tiny import TINY_PARAMS
    from rnnscope.workers.store import ArtifactStore

    analysis_params = {**TINY_PARAMS, "seed": 3}
    env = fresh_store_env(tiny_env, tmp_path, RNNSCOPE_ANALYSIS_PARAMS=json.dumps(analysis_params))
    key = analysis_key(tiny_env, "mr", analysis_params)
    store = ArtifactStore(env["RNNSCOPE_STORE"], redis_url="")
    with serve(env, tmp_path / "first.log") as first:
        client = DashClient(first.url)
        client.initial_callbacks()
        assert client.value("job-request-store.data")["sha"] == tiny_env.sha
        result = client.run_background(job_callback(client), ["job-request-store.data"], timeout_s=900)
        assert result["report-store.data"]["key"] == key
        before = store.computations(event="started")
        assert [row["key"] for row in before if row["key"] == key] == [key]
        first_tokens = trace(client, "a wonderful film")
    log_size = (store.root / "computations.jsonl").stat().st_size
    with serve(env, tmp_path / "second.log") as second:
        client = DashClient(second.url)
        updates = client.initial_callbacks()
        assert "job-request-store.data" not in updates  # nothing to compute: shown at once
        assert client.value("report-store.data")["key"] == key
        assert trace(client, "a wonderful film") == first_tokens
    assert store.computations(event="started") == before
    assert (store.root / "computations.jsonl").stat().st_size == log_size


def trace(client: DashClient, text: str) -> list:
    """The sentence explorer's trajectory traces for ``text`` (over HTTP)."""
    client.set("sentence-input.value", text)
    client.set("sentence-run.n_clicks", (client.value("sentence-run.n_clicks") or 0) + 1)
    updates = client.call(client.find(input="sentence-run.n_clicks"), ["sentence-run.n_clicks"])
    data = updates["fig-sentence-trajectory.figure"]["data"]
    assert data
    return data


# --------------------------------------------------------------------------- (c) unusable store


def _under_a_file(tmp: Path) -> Path:
    (tmp / "file.txt").write_text("not a directory")
    return tmp / "file.txt" / "store"


def _is_a_file(tmp: Path) -> Path:
    (tmp / "store").write_text("a file where the store should be")
    return tmp / "store"


def _read_only_fs(tmp: Path) -> Path:
    """sysfs: the kernel refuses mkdir there, even to root (chmod cannot make root fail)."""
    return Path("/sys/rnnscope-store-test")


@pytest.mark.parametrize("where", [_under_a_file, _is_a_file, _read_only_fs],
                         ids=["under-a-file", "is-a-file", "read-only-fs"])
def test_unusable_store_stops_serve_at_start_with_a_message(tmp_path, where):
    store = where(tmp_path)
    env = {**os.environ, "RNNSCOPE_HOME": str(tmp_path / "home"), "RNNSCOPE_STORE": str(store)}
    env.pop("REDIS_URL", None)
    done = subprocess.run([RNNSCOPE, "serve", "--port", str(free_port())], env=env, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 2, done.stderr[-2000:]
    assert done.stderr.startswith("error: artifact store ") and str(store) in done.stderr
    assert "Traceback" not in done.stderr and "RNNSCOPE_STORE" in done.stderr
