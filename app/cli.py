"""The ``rnnscope`` command line.

Each subcommand lives in ``app/commands/<name>.py`` and exposes ``add_parser(subparsers)``
(which registers its parser and sets ``func=run``) and ``run(args) -> int``. Modules are
imported only when listed here, so ``rnnscope --help`` stays fast and a subcommand's heavy
imports (Dash, Celery, torch) load only when it runs.
"""
from __future__ import annotations

import argparse
import importlib
import sys

from rnnscope.settings import SettingsError

COMMANDS = (
    "data", "train", "baseline", "import_", "analyze", "bench",
    "serve", "worker", "submit", "sweep", "reproduce",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="rnnscope",
        description="Reverse-engineer recurrent sentiment classifiers (fixed points, "
                    "linearization, line attractors).",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        try:
            module = importlib.import_module(f"rnnscope.app.commands.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"rnnscope.app.commands.{name}":
                raise
            continue  # a command not built yet
        module.add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 0
    try:
        return int(args.func(args) or 0)
    except SettingsError as exc:  # a bad environment variable: say which, no traceback
        print(f"rnnscope: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
