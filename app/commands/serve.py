"""``rnnscope serve``: start the dashboard (Dash's built-in server).

    rnnscope serve [--host 127.0.0.1] [--port 8050] [--debug]

The server binds the loopback interface unless told otherwise: uploads are checked, but a
research dashboard has no login, so exposing it is a deliberate choice and gets a warning.
For a multi-user deployment run ``gunicorn app.wsgi:server`` (see docker-compose.yml).
"""
from __future__ import annotations

import argparse
import ipaddress
import sys

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
    parser.add_argument("--debug", action="store_true",
                        help="Dash debug mode: dev tools, hot reload, tracebacks in the page")
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


def run(args: argparse.Namespace) -> int:
    """Build the app and serve it until interrupted; 2 on a bad port, settings or store."""
    if not 0 < args.port < 65536:
        print(f"error: --port must be in 1..65535, got {args.port}", file=sys.stderr)
        return 2
    if not is_loopback(args.host):
        print(f"warning: binding {args.host}: the dashboard has no authentication and anyone "
              "who can reach this address can use it and upload checkpoints.", file=sys.stderr)
    from app.dashboard import create_app
    from workers.store import StoreError

    try:
        dash_app = create_app()
        dash_app.rnnscope_services.store  # open (or create) the store now: fail here, not per request
    except (ValueError, StoreError) as exc:  # bad RNNSCOPE_* settings, store not writable
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"rnnscope dashboard on http://{args.host}:{args.port}/", file=sys.stderr)
    dash_app.run(host=args.host, port=args.port, debug=args.debug)
    return 0
