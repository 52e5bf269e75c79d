"""``rnnscope worker``: a Celery prefork worker running analysis jobs from Redis.

    REDIS_URL=redis://host:6379/0 rnnscope worker [--concurrency N] [--device cpu|cuda]
                                                  [--queues rnnscope] [--loglevel info]

Imports ``rnnscope.workers.tasks`` (the ``rnnscope.*`` jobs) and the dashboard (``rnnscope.app.wsgi``), so the
Dash background callbacks that ``CeleryManager`` registered on ``rnnscope.workers.celery_app`` exist
here under the same names. Web and workers must share the artifact store
(``RNNSCOPE_STORE``: a shared volume) and ``REDIS_URL``. Run one worker per GPU.
"""
from __future__ import annotations

import argparse
import importlib
import os
import socket
import sys

from rnnscope.app.commands import redis_settings
from rnnscope.settings import export


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Register ``worker``."""
    parser = subparsers.add_parser(
        "worker", help="run a Celery worker for analysis jobs (needs REDIS_URL)",
        description="Start a Celery prefork worker on REDIS_URL that runs rnnscope analysis "
                    "jobs and the dashboard's background callbacks.")
    parser.add_argument("--concurrency", type=int, default=1,
                        help="worker processes (default 1; one per GPU with --device cuda)")
    parser.add_argument("--device", choices=("cpu", "cuda"), default=None,
                        help="torch device for jobs (default $RNNSCOPE_DEVICE or cpu)")
    parser.add_argument("--queues", default=None,
                        help="comma-separated queues to consume (default rnnscope)")
    parser.add_argument("--loglevel", default="info",
                        choices=("debug", "info", "warning", "error", "critical"))
    parser.add_argument("--hostname", default=None,
                        help="worker node name (default rnnscope@<host>-<pid>)")
    parser.set_defaults(func=run)
    return parser


# lazy imports: `rnnscope --help` imports every command module (app/cli.py) and runs in 0.2-0.3 s
# without numpy; the store, the Celery app and torch would add 3.4 s if imported at the top
# (measured with -X importtime on the 2-core machine), so each function imports what it uses.
def run(args: argparse.Namespace) -> int:
    """Start the worker (blocks until it is stopped); 2 when it cannot start."""
    if args.concurrency < 1:
        print(f"error: --concurrency must be >= 1, got {args.concurrency}", file=sys.stderr)
        return 2
    if args.device:
        export(device=args.device)  # for the pool children too
    settings = redis_settings("REDIS_URL is not set. A worker takes jobs from Redis, e.g. "
                              "REDIS_URL=redis://127.0.0.1:6379/0 rnnscope worker. Without REDIS_URL the "
                              "dashboard and `rnnscope analyze` run jobs themselves.")
    if settings is None:
        return 2
    if settings.device == "cuda" and not _cuda_available():
        print("error: --device cuda but torch sees no CUDA device here", file=sys.stderr)
        return 2
    # One torch/BLAS thread per pool process: the per-token work is too small for intra-op
    # threads to pay, and on a busy machine they make a job many times slower
    # (bench/worker_throughput.py); use --concurrency to use more cores.
    export(torch_threads=1, replace=False)
    from rnnscope.workers.store import ArtifactStore, StoreError

    try:
        ArtifactStore(settings.store)  # a worker that cannot write results must not start
    except StoreError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    from rnnscope.workers.celery_app import QUEUE, celery_app

    importlib.import_module("rnnscope.workers.tasks")
    for module in ("rnnscope.analysis.pipeline", "rnnscope.analysis.fixed_points", "rnnscope.analysis.linearize"):
        importlib.import_module(module)  # heavy imports once, before the pool forks
    _register_dashboard_callbacks()
    hostname = args.hostname or f"rnnscope@{socket.gethostname()}-{os.getpid()}"
    celery_app.worker_main(argv=[
        "worker", "--pool=prefork", f"--concurrency={args.concurrency}",
        f"--queues={args.queues or QUEUE}", f"--loglevel={args.loglevel.upper()}",
        f"--hostname={hostname}", "--without-mingle", "--without-gossip",
    ])
    return 0


def _register_dashboard_callbacks() -> None:
    """Build the dashboard so its background callbacks become tasks of ``celery_app`` here."""
    for module in ("rnnscope.app.wsgi", "rnnscope.app.dashboard"):
        try:
            mod = importlib.import_module(module)
        except ModuleNotFoundError as exc:
            if exc.name == module:
                continue  # not built yet: analysis jobs still work
            raise
        if module == "rnnscope.app.dashboard" and hasattr(mod, "create_app"):
            mod.create_app()
        print(f"registered the dashboard's background callbacks from {module}", file=sys.stderr)
        return
    print("note: no dashboard module found; serving rnnscope.* jobs only", file=sys.stderr)


def _cuda_available() -> bool:
    import torch

    return torch.cuda.is_available()
