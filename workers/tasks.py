"""Celery tasks ``rnnscope.<job>`` wrapping :mod:`rnnscope.workers.jobs`, and helpers to use them.

Each task runs its job function with a progress callback that publishes
``state="PROGRESS", meta={"fraction": f, "message": m}`` (throttled), and returns a small
JSON dict with the artifact's key; arrays stay in the shared store. Cancel a running job
with :func:`cancel` (``revoke(terminate=True)``: the prefork child running it is
terminated; an artifact is either complete or absent, and the lock dies with the child).

Helpers for the dashboard and ``rnnscope submit``: :func:`submit_full_analysis`,
:func:`job_status`, :func:`cancel`, :func:`wait`, :func:`workers_online`.
"""
from __future__ import annotations

import os
import socket
import time
from collections.abc import Callable

import redis
import torch
from celery import Celery, signals
from threadpoolctl import threadpool_limits

from rnnscope.settings import Settings
from rnnscope.workers import jobs, sweeps
from rnnscope.workers.celery_app import celery_app
from rnnscope.workers.config import visibility_timeout_s
from rnnscope.workers.store import ArtifactStore

#: Publish at most this often, unless the message changes (seconds).
PROGRESS_INTERVAL_S = 0.5
#: A job whose worker process died this many times is failed instead of requeued again
#: (``task_reject_on_worker_lost`` would otherwise redeliver a job that always OOMs forever).
MAX_DELIVERIES = 3


class TooManyDeliveries(RuntimeError):
    """The job killed its worker process on every try."""


def _count_delivery(task) -> None:
    """Count deliveries of this task id in Redis; refuse the ``MAX_DELIVERIES``-th + 1."""
    url = Settings.from_env().redis_url
    if not url or not task.request.id:
        return
    name = f"rnnscope:deliveries:{task.request.id}"
    with redis.Redis.from_url(url) as client:
        count = client.incr(name)
        client.expire(name, visibility_timeout_s(Settings.from_env()))
    if count > MAX_DELIVERIES:
        raise TooManyDeliveries(f"this job's worker process died {count - 1} times (out of memory? "
                                "killed?); it is not retried again")


class _TaskProgress:
    """``progress(fraction, message)`` -> ``task.update_state(PROGRESS)``, throttled."""

    def __init__(self, task, interval_s: float = PROGRESS_INTERVAL_S):
        self.task, self.interval_s = task, interval_s
        self.sent = (-1.0, None, 0.0)  # fraction, message, time

    def __call__(self, fraction: float, message: str) -> None:
        last_fraction, last_message, last_time = self.sent
        now = time.monotonic()
        if (message == last_message and fraction < 1.0
                and (fraction - last_fraction < 0.01 or now - last_time < self.interval_s)):
            return
        self.sent = (fraction, message, now)
        if self.task.request.id:  # called directly (not through a worker): nothing to publish
            self.task.update_state(state="PROGRESS", meta={
                "fraction": float(fraction), "message": str(message),
                "pid": os.getpid(), "hostname": socket.gethostname(),
                "worker": self.task.request.hostname})


def _result(store: ArtifactStore, key: str, kind: str) -> dict:
    where = store.report_dir(key) if kind == "report" else store.root / "arrays" / f"{key}.npz"
    return {"key": key, "kind": kind, "path": str(where)}


@celery_app.task(bind=True, name="rnnscope.full_analysis")
def full_analysis(self, checkpoint_sha: str, data_name: str, params: dict | None = None) -> dict:
    """``jobs.full_analysis``; returns ``{"key", "kind": "report", "path"}``."""
    _count_delivery(self)
    store = ArtifactStore.from_env()
    key = jobs.full_analysis(checkpoint_sha, data_name, params, store=store,
                             progress=_TaskProgress(self))
    return _result(store, key, "report")


@celery_app.task(bind=True, name="rnnscope.collect_states")
def collect_states(self, checkpoint_sha: str, data_name: str, params: dict | None = None) -> dict:
    """``jobs.collect_states_job``; returns ``{"key", "kind": "arrays", "path"}``."""
    _count_delivery(self)
    store = ArtifactStore.from_env()
    key = jobs.collect_states_job(checkpoint_sha, data_name, params, store=store,
                                  progress=_TaskProgress(self))
    return _result(store, key, "arrays")


@celery_app.task(bind=True, name="rnnscope.find_fixed_points")
def find_fixed_points(self, checkpoint_sha: str, data_name: str, params: dict | None = None) -> dict:
    """``jobs.find_fixed_points_job``; returns ``{"key", "kind": "arrays", "path"}``."""
    _count_delivery(self)
    store = ArtifactStore.from_env()
    key = jobs.find_fixed_points_job(checkpoint_sha, data_name, params, store=store,
                                     progress=_TaskProgress(self))
    return _result(store, key, "arrays")


@celery_app.task(bind=True, name="rnnscope.linearize")
def linearize(self, checkpoint_sha: str, data_name: str, params: dict | None = None) -> dict:
    """``jobs.linearize_job``; returns ``{"key", "kind": "arrays", "path"}``."""
    _count_delivery(self)
    store = ArtifactStore.from_env()
    key = jobs.linearize_job(checkpoint_sha, data_name, params, store=store,
                             progress=_TaskProgress(self))
    return _result(store, key, "arrays")


@celery_app.task(bind=True, name="rnnscope.word_projections")
def word_projections(self, report_key: str, mode: int = 0) -> dict:
    """``jobs.word_projections_job``; returns ``{"key", "kind": "arrays", "path"}``."""
    _count_delivery(self)
    store = ArtifactStore.from_env()
    key = jobs.word_projections_job(report_key, mode=mode, store=store,
                                    progress=_TaskProgress(self))
    return _result(store, key, "arrays")


@celery_app.task(bind=True, name="rnnscope.sweep_cell")
def sweep_cell(self, spec: dict, cell: dict) -> dict:
    """``sweeps.run_cell``: train and analyse one cell of a sweep; returns its state."""
    _count_delivery(self)
    return sweeps.run_cell(spec, cell, store=ArtifactStore.from_env(), progress=_TaskProgress(self))


# --------------------------------------------------------------------------- worker setup
@signals.worker_process_init.connect
def _limit_threads(**_) -> None:
    """``RNNSCOPE_TORCH_THREADS`` torch and BLAS threads in each prefork child.

    Without a limit every child would start one thread per core (torch and OpenBLAS each),
    and N children on N cores would fight over them.
    """
    threads = Settings.from_env().torch_threads
    if threads:
        torch.set_num_threads(threads)
        threadpool_limits(threads)


# --------------------------------------------------------------------------- client helpers
def submit_full_analysis(checkpoint_sha: str, data_name: str, params: dict | None = None, *,
                         app: Celery | None = None) -> str:
    """Queue ``rnnscope.full_analysis``; returns the Celery task id.

    Parameters are validated here first, so a typo fails at once instead of on a worker.
    ``app`` defaults to :data:`rnnscope.workers.celery_app.celery_app` (likewise below).
    """
    jobs.resolve_params(params)
    return (app or celery_app).send_task(
        full_analysis.name, args=(checkpoint_sha, data_name, params or {})).id


def job_status(task_id: str, *, app: Celery | None = None) -> dict:
    """``{"state", "fraction", "message", "result", "error"}`` of a task, JSON-able.

    ``state`` is Celery's: PENDING (queued or unknown), STARTED, PROGRESS, SUCCESS, FAILURE,
    REVOKED, RETRY. ``result`` is the task's dict on SUCCESS (else None); ``pid`` and
    ``hostname`` say which process on which machine runs it, ``worker`` the Celery worker's
    node name (what :func:`workers_online` lists), while in PROGRESS.
    """
    res = (app or celery_app).AsyncResult(task_id)
    # One read of the backend: ``res.state`` then ``res.info`` are two reads, and a task that
    # finishes between them pairs PROGRESS with the result dict (fraction 0 after 0.99).
    meta = res.backend.get_task_meta(res.id)
    state, info = meta["status"], meta["result"]
    status = {"state": state, "fraction": 0.0, "message": state.lower(), "result": None,
              "error": None, "pid": None, "hostname": None, "worker": None}
    if state == "PROGRESS" and isinstance(info, dict):
        status.update(fraction=float(info.get("fraction", 0.0)), message=str(info.get("message", "")),
                      pid=info.get("pid"), hostname=info.get("hostname"), worker=info.get("worker"))
    elif state == "SUCCESS":
        status.update(fraction=1.0, message="done", result=info)
    elif state in ("FAILURE", "REVOKED"):
        status.update(error=f"{type(info).__name__}: {info}" if isinstance(info, BaseException)
                      else str(info))
    return status


def cancel(task_id: str, signal: str = "SIGTERM", *, app: Celery | None = None) -> None:
    """Revoke a task and terminate the worker child running it (prefork pool)."""
    (app or celery_app).control.revoke(task_id, terminate=True, signal=signal)


def workers_online(timeout_s: float = 1.0, *, app: Celery | None = None) -> list[str]:
    """Names of the workers that answer a ping within ``timeout_s`` (empty if none)."""
    replies = (app or celery_app).control.ping(timeout=timeout_s) or []
    return sorted(name for reply in replies for name in reply)


def wait(task_id: str, on_status: Callable[[dict], None] | None = None,
         poll_s: float = 0.5, timeout_s: float | None = None, *,
         app: Celery | None = None) -> dict:
    """Poll :func:`job_status` until the task is ready; ``on_status`` sees each change."""
    deadline = None if timeout_s is None else time.monotonic() + timeout_s
    last = None
    while True:
        status = job_status(task_id, app=app)
        view = (status["state"], round(status["fraction"], 3), status["message"])
        if on_status is not None and view != last:
            on_status(status)
        last = view
        if status["state"] in ("SUCCESS", "FAILURE", "REVOKED"):
            return status
        if deadline is not None and time.monotonic() > deadline:
            raise TimeoutError(f"task {task_id} not finished after {timeout_s} s")
        time.sleep(poll_s)
