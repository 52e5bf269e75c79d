"""The Celery application, configured from the environment (``REDIS_URL``).

Used by ``rnnscope worker`` (which runs the tasks in ``rnnscope.workers.tasks``), by ``rnnscope
submit``, and by the dashboard's ``dash.CeleryManager`` in scale-out mode (its background
callbacks become tasks of this same app, so a worker must import the dashboard too).

Choices, and why:

- JSON only (``task_serializer``, ``result_serializer``, ``accept_content``): a message from
  Redis is never unpickled. Task results are small dicts holding store keys, never arrays.
- ``task_acks_late`` + ``task_reject_on_worker_lost``: a job is acknowledged only when it
  finished, so a worker child killed mid-job (OOM, SIGKILL) puts the job back on the queue
  instead of losing it. Jobs are idempotent (content-keyed, atomic writes), so a rerun is safe.
- ``worker_prefetch_multiplier=1``: a worker takes one long job at a time per process,
  leaving the rest of the queue to idle workers.
- ``visibility_timeout`` longer than the hard time limit: Redis must not hand a job that is
  still running to a second worker.
- ``task_track_started``: the dashboard can tell "queued" from "running".

Without ``REDIS_URL`` (embedded mode) the app points at an in-memory broker so importing it
never tries to connect anywhere; ``rnnscope worker`` and ``rnnscope submit`` refuse to run.
"""
from __future__ import annotations

from celery import Celery

from rnnscope.settings import Settings
from rnnscope.workers.config import visibility_timeout_s

QUEUE = "rnnscope"


def make_celery(settings: Settings | None = None) -> Celery:
    """A Celery app for ``settings`` (default: the environment)."""
    settings = settings or Settings.from_env()
    app = Celery("rnnscope", include=["rnnscope.workers.tasks"])
    app.conf.update(
        broker_url=settings.redis_url or "memory://",
        result_backend=settings.redis_url or "cache+memory://",
        task_serializer="json",
        result_serializer="json",
        accept_content=["json"],
        result_accept_content=["json"],
        event_serializer="json",
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        task_soft_time_limit=settings.soft_time_limit_s,
        task_time_limit=settings.hard_time_limit_s,
        broker_transport_options={"visibility_timeout": visibility_timeout_s(settings)},
        result_backend_transport_options={"visibility_timeout": visibility_timeout_s(settings)},
        result_expires=settings.result_ttl_s,
        result_extended=True,
        task_track_started=True,
        task_default_queue=QUEUE,
        broker_connection_retry_on_startup=True,
        worker_send_task_events=True,
        task_send_sent_event=True,
    )
    return app


celery_app = make_celery()
