"""WSGI entry point: ``gunicorn app.wsgi:server``.

Building the app at import also registers its background callbacks; with ``REDIS_URL``
set they are Celery tasks of ``rnnscope.workers.celery_app.celery_app``, so a Celery worker that
imports this module can run the dashboard's analysis jobs.
"""
from __future__ import annotations

from rnnscope.app.dashboard import create_app

app = create_app()
server = app.server
