"""The dashboard in Celery mode, in real headless Chromium: a job runs on a real worker.

The web app is built as ``rnnscope serve`` builds it when ``REDIS_URL`` is set
(``create_app()`` reading the environment, so its background callbacks go through Dash's
``CeleryManager``) and served by ``dash_duo``. Redis database 13 on 127.0.0.1:6379 is
flushed first (11 belongs to the worker integration tests, 12 to
``bench/worker_throughput.py``). The store is fresh and holds only the tiny GRU of
``tests/app/tiny.py`` as the demo model, not analysed, with small analysis parameters
(``RNNSCOPE_ANALYSIS_PARAMS``) for the web app and the worker alike.

The page is opened before any worker runs, so the test can see the request wait in Redis;
then a real ``rnnscope worker`` subprocess starts, takes the job, reports progress to
the page, writes the report to the shared store, and the views draw it.
"""
from __future__ import annotations

import contextlib
import json
import os

import dash
import numpy as np
import pytest

from rnnscope.app import ids
from tests.app.tiny import TINY_PARAMS, TinyEnv, environ, train_tiny
from tests.browser.test_dashboard import JOB_TIMEOUT, TIMEOUT, graph_data, trace, wait_for
from tests.celery_helpers import running_worker
from rnnscope.workers.celery_app import QUEUE
from rnnscope.workers.jobs import analysis_key

pytestmark = [pytest.mark.browser, pytest.mark.redis]

REDIS_URL = "redis://127.0.0.1:6379/13"
#: What a job says while another process holds its compute lock (``rnnscope.workers.store``).
WAITING = "waiting for another worker computing the same job"

#: Records every (stage text, progress value, progress class) the page shows, every 25 ms.
RECORD_PROGRESS = """
    window.__progress = [];
    window.__recorder = setInterval(() => {
        const stage = document.getElementById(arguments[0]);
        const bar = document.getElementById(arguments[1]);
        if (!stage || !bar) { return; }
        const now = [stage.textContent, bar.getAttribute('value'), bar.className];
        const last = window.__progress[window.__progress.length - 1];
        if (!last || last.some((v, i) => v !== now[i])) { window.__progress.push(now); }
    }, 25);
"""


@pytest.fixture(scope="module")
def site(rnnscope_home, tmp_path_factory) -> tuple[TinyEnv, dict]:
    """A fresh store, the tiny GRU as the only demo model (not analysed), and the
    environment that the web app and the worker share."""
    import redis

    redis.Redis.from_url(REDIS_URL).flushdb()
    root = tmp_path_factory.mktemp("celery-browser")
    demo_dir = root / "demo"
    demo_dir.mkdir()
    tiny = TinyEnv(rnnscope_home, root / "store", demo_dir, demo_dir / "gru-mr.safetensors", "", "")
    with environ(tiny.environ()):
        tiny.sha = train_tiny(tiny.checkpoint)
    env = {**tiny.environ(), "REDIS_URL": REDIS_URL, "RNNSCOPE_ANALYSIS_PARAMS": json.dumps(TINY_PARAMS),
           "RNNSCOPE_LOCK_TTL_S": "5", "RNNSCOPE_TORCH_THREADS": "1", "PYTHONUNBUFFERED": "1"}
    return tiny, env


@pytest.fixture
def celery_page(dash_duo, site, monkeypatch):
    """The dashboard as ``rnnscope serve`` builds it with ``REDIS_URL`` set, on ``dash_duo``.

    ``rnnscope.workers.celery_app.celery_app`` is made from the environment when that module is first
    imported; in a test session that may have happened without ``REDIS_URL``, so it is
    rebuilt here from this test's environment, as a fresh ``rnnscope serve`` process would.
    """
    import rnnscope.workers.celery_app as celery_module
    from rnnscope.app.dashboard import create_app
    from rnnscope.settings import Settings

    tiny, env = site
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    client = celery_module.make_celery(Settings.from_env())
    monkeypatch.setattr(celery_module, "celery_app", client)
    app = create_app()
    assert isinstance(app._background_manager, dash.CeleryManager)
    assert app._background_manager.handle is client
    dash_duo.start_server(app)
    return dash_duo, app, client


def queued_tasks() -> list[dict]:
    """Headers of the messages waiting in the rnnscope queue on Redis."""
    import redis

    raw = redis.Redis.from_url(REDIS_URL).lrange(QUEUE, 0, -1)
    return [json.loads(item)["headers"] for item in raw]


def page_state(duo) -> str:
    """What the job panel shows and what waits on Redis, for failure messages."""
    text = {name: duo.find_element(f"#{name}").text for name in (ids.JOB_STATUS, ids.JOB_STAGE, ids.JOB_ALERT)}
    return f"page: {text}; queued on Redis: {queued_tasks()}; browser log: {duo.get_logs()}"


def test_the_page_runs_its_analysis_on_a_celery_worker(celery_page, site, tmp_path):
    import psutil

    duo, app, client = celery_page
    tiny, env = site
    svc = app.rnnscope_services
    assert svc.stored_analysis(tiny.sha, "mr") is None  # not analysed in this store yet

    # the page asks for the analysis: one background-callback task waits in Redis (no worker yet)
    wait_for(duo, lambda: len(queued_tasks()) > 0, message="the page queued no task on Redis")
    queued = queued_tasks()
    assert len(queued) == 1, page_state(duo)
    (task,) = queued
    assert task["task"].startswith("background_callback_")
    wait_for(duo, lambda: "running" in duo.find_element(f"#{ids.JOB_PROGRESS}").get_attribute("class"),
             message="the page does not show a running job")
    assert duo.find_element(f"#{ids.JOB_STATUS}").text == "no report ready for the selected model on mr"

    # a real worker comes up and takes the job. Until the test lets go of the analysis's
    # compute lock (as if another worker were computing it) the job waits and says so, so
    # the page's progress can be seen at a known point; then the worker computes it itself.
    key = analysis_key(tiny.sha, "mr", svc.analysis_params)
    with contextlib.ExitStack() as held:
        held.enter_context(svc.store.lock(key))
        with running_worker({**os.environ, **env}, client, tmp_path / "worker.log",
                            concurrency=1) as worker:
            wait_for(duo, lambda: duo.find_element(f"#{ids.JOB_STAGE}").text == f"{WAITING} · 0%",
                     timeout=JOB_TIMEOUT, message=f"no waiting job shown (log: {worker['log']})")
            assert "running" in duo.find_element(f"#{ids.JOB_PROGRESS}").get_attribute("class")
            duo.driver.execute_script(RECORD_PROGRESS, ids.JOB_STAGE, ids.JOB_PROGRESS)
            held.close()
            try:
                duo.wait_for_contains_text(f"#{ids.JOB_STATUS}", "GRU-16 on mr", timeout=JOB_TIMEOUT)
            except Exception as exc:
                raise AssertionError(f"{page_state(duo)}\nworker log:\n"
                                     f"{worker['log'].read_text()[-3000:]}") from exc
            pool = {p.pid for p in psutil.Process(worker["proc"].pid).children(recursive=True)}
            log = worker["log"].read_text()

    # the worker computed it: its log has the page's task, the store's log names its pool process
    assert f"{task['task']}[{task['id']}] received" in log
    assert f"{task['task']}[{task['id']}] succeeded" in log
    assert svc.stored_analysis(tiny.sha, "mr") == key
    (started,) = svc.store.computations(key, "started")
    (finished,) = svc.store.computations(key, "finished")
    assert started["pid"] == finished["pid"] and finished["pid"] in pool

    # progress after the wait: "<stage> · <percent>%" with percentages that never go back,
    # then an idle bar
    seen = duo.driver.execute_script("clearInterval(window.__recorder); return window.__progress;")
    stages = [(text, int(value)) for text, value, _ in seen if text]
    assert all(text.endswith(f" · {value}%") for text, value in stages), stages
    percents = [value for _, value in stages]
    assert percents == sorted(percents), stages
    assert "running" not in duo.find_element(f"#{ids.JOB_PROGRESS}").get_attribute("class")

    # the views show the worker's report
    report = svc.report(key)
    k = len(report.arrays["fixed_points"])
    assert f"{k} points: {report.summary['attractor']['name']}" in duo.find_element(f"#{ids.JOB_STATUS}").text
    wait_for(duo, lambda: (trace(duo, ids.FIG_MANIFOLD, "fixed points") or {}).get("customdata")
             == list(range(k)), message="the manifold does not show the report's fixed points")
    points = trace(duo, ids.FIG_MANIFOLD, "fixed points")
    np.testing.assert_allclose(points["x"], report.arrays["fp_pc"][:, 0], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(points["y"], report.arrays["fp_pc"][:, 1], rtol=1e-5, atol=1e-6)
    duo.wait_for_contains_text(f"#{ids.FP_SUMMARY}", "fixed point #", timeout=TIMEOUT)
    for graph in (ids.FIG_PCA, ids.FIG_STATE_DENSITY, ids.FIG_EIGVALS):
        wait_for(duo, lambda g=graph: len(graph_data(duo, g)) > 0, message=f"{graph} stays empty")
    assert duo.get_logs() == []

    # a new visit (no worker running now) shows the stored report at once and queues nothing
    duo.driver.refresh()
    duo.wait_for_contains_text(f"#{ids.JOB_STATUS}", f"{k} points: ", timeout=TIMEOUT)
    assert queued_tasks() == []
    assert len(svc.store.computations(key, "finished")) == 1
