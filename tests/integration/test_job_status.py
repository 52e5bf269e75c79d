"""``job_status`` on a real Redis result backend: one consistent read per status.

A task that finishes between two backend reads used to be reported as PROGRESS with the
result dict's (missing) fraction, 0.0 after 0.99: the Celery integration test saw progress
go backwards in a CI run. Here the finish is forced between the first read and any second one.
"""
from __future__ import annotations

import uuid

import pytest

from rnnscope.settings import Settings
from rnnscope.workers.celery_app import make_celery
from rnnscope.workers.tasks import job_status

REDIS_URL = "redis://127.0.0.1:6379/12"


@pytest.mark.redis
def test_a_task_finishing_between_reads_never_reports_progress_without_its_fraction():
    app = make_celery(Settings.from_env({"REDIS_URL": REDIS_URL}))
    backend = app.backend
    task_id = str(uuid.uuid4())
    backend.store_result(task_id, {"fraction": 0.99, "message": "storing the report"}, "PROGRESS")
    read = backend.get_task_meta
    reads = []

    def read_then_finish(tid, *args, **kwargs):
        meta = read(tid, *args, **kwargs)
        reads.append(meta["status"])
        if len(reads) == 1:  # the worker finishes right after the first read
            backend.store_result(tid, {"key": "k", "kind": "report", "path": "/p"}, "SUCCESS")
        return meta

    backend.get_task_meta = read_then_finish
    try:
        status = job_status(task_id, app=app)
        assert status["state"] == "PROGRESS" and status["fraction"] == pytest.approx(0.99)
        assert status["message"] == "storing the report"
        status = job_status(task_id, app=app)
        assert status["state"] == "SUCCESS" and status["fraction"] == 1.0
        assert status["result"] == {"key": "k", "kind": "report", "path": "/p"}
    finally:
        del backend.get_task_meta
        backend.forget(task_id)
