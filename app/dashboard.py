"""The Dash application: ``create_app(settings=None) -> dash.Dash``.

One switch picks where analysis jobs run:

- embedded (default, no ``REDIS_URL``): Dash background callbacks with a
  ``DiskcacheManager`` whose cache lives in ``$RNNSCOPE_HOME/dash-jobs``; each job runs in
  a child process of the web server, guarded by ``rnnscope.workers.embedded`` (no inherited
  sockets, dies with its server, time limits) through :class:`EmbeddedJobManager`;
- scale-out (``REDIS_URL`` set): ``CeleryManager(workers.celery_app.celery_app)``; the same
  callback runs on a Celery worker, which must import this module's app (``rnnscope.app.wsgi``) so
  that the background callbacks are registered as tasks there too.

The Flask server enforces the upload cap (``MAX_CONTENT_LENGTH``, from
``Settings.max_upload_bytes`` plus base64 overhead) and signs sessions with
``RNNSCOPE_SECRET_KEY`` (random per process when unset). Callback bodies are checked against
the registered callbacks before Dash reads them (``rnnscope.app.callback_guard``: HTTP 400 in words).
"""
from __future__ import annotations

import os
import secrets
from pathlib import Path

import dash
import diskcache
import torch
from multiprocess import Process

from rnnscope.app import callback_guard, layout
from rnnscope.app.callbacks import (attractor, class_geometry, compare, datasets, fixed_points, linearization, model,
                                    modifiers, population, sentence, state_space, words)
from rnnscope.app.services import Services
from rnnscope.settings import Settings
from rnnscope.workers.embedded import run_guarded

ASSETS = Path(__file__).resolve().parent / "assets"
#: Room for the JSON envelope around a base64-encoded upload.
REQUEST_OVERHEAD_BYTES = 1024 * 1024


def max_request_bytes(max_upload_bytes: int) -> int:
    """Largest request body: the base64 form of the biggest upload (4/3) plus the envelope."""
    return (int(max_upload_bytes) + 2) // 3 * 4 + REQUEST_OVERHEAD_BYTES


def background_manager(settings: Settings):
    """``CeleryManager`` when ``REDIS_URL`` is set, else a ``DiskcacheManager`` under home."""
    if settings.redis_url:
        # lazy: importing celery_app builds the Celery app from the environment (celery and
        # kombu: +0.26 s measured after dash), which embedded mode never uses
        from rnnscope.workers.celery_app import celery_app

        return dash.CeleryManager(celery_app, expire=settings.result_ttl_s)
    cache_dir = Path(settings.home) / "dash-jobs"
    cache_dir.mkdir(parents=True, exist_ok=True)
    os.chmod(cache_dir, 0o700)  # job results hold report keys and messages: private, like the store
    return EmbeddedJobManager(diskcache.Cache(str(cache_dir)), expire=3600,
                              limits_s=(settings.soft_time_limit_s, settings.hard_time_limit_s))


class EmbeddedJobManager(dash.DiskcacheManager):
    """``DiskcacheManager`` whose forked job processes run under ``rnnscope.workers.embedded.guarded``.

    ``limits_s`` is (soft, hard) seconds, ``RNNSCOPE_JOB_SOFT_LIMIT_S`` / ``_HARD_LIMIT_S``.
    The server's PID is taken here, in the web process, just before the fork. Jobs are
    *daemon* processes: a web process that exits (a gunicorn worker whose arbiter died)
    terminates them instead of waiting for them, with the listening socket still open.
    """

    def __init__(self, cache, *, expire: int, limits_s: tuple[float, float]):
        super().__init__(cache, expire=expire)
        self.limits_s = limits_s

    def call_job_fn(self, key, job_fn, args, context):
        """Start ``job_fn`` in a guarded daemon child (as Dash's own does, plus the guard)."""
        process = Process(target=run_guarded, daemon=True,
                          args=(job_fn, os.getpid(), *self.limits_s,
                                key, self._make_progress_key(key), args, context))
        process.start()
        return process.pid


def create_app(settings: Settings | None = None, *, analysis_params: dict | None = None,
               services: Services | None = None) -> dash.Dash:
    """Build the dashboard.

    Parameters
    ----------
    settings : Settings, optional
        Store, home, upload cap, ``REDIS_URL``; default ``Settings.from_env()``.
    analysis_params : dict, optional
        Overrides of ``AnalysisParams`` for jobs started here (default
        ``$RNNSCOPE_ANALYSIS_PARAMS``), e.g. small values for tests.
    services : Services, optional
        Reuse an existing service object (its caches); built from ``settings`` otherwise.
    """
    settings = settings or Settings.from_env()
    # Callbacks do small matmuls: one intra-op thread each is fastest and does not fight
    # other requests (and embedded analysis jobs, which set their own count) for the cores.
    torch.set_num_threads(1)
    svc = services or Services(settings, analysis_params=analysis_params)
    app = dash.Dash(
        __name__, title="rnnscope", assets_folder=str(ASSETS), update_title=None,
        background_callback_manager=background_manager(settings),
        suppress_callback_exceptions=False,
    )
    server = app.server
    server.config["MAX_CONTENT_LENGTH"] = max_request_bytes(settings.max_upload_bytes)
    server.config["SECRET_KEY"] = settings.secret_key or secrets.token_hex(32)
    app.layout = lambda: layout.build_layout(svc)
    for module in (model, datasets, state_space, attractor, fixed_points, words, sentence, modifiers, linearization,
                   compare, class_geometry, population):
        module.register(app, svc)
    callback_guard.install(app)  # malformed callback bodies: HTTP 400 in words, one log line
    app.rnnscope_services = svc  # for tests and benchmarks: the caches behind the callbacks
    return app
