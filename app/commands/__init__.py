"""The subcommands of ``rnnscope`` (``app/cli.py`` lists them), and what several of them share."""
from __future__ import annotations

import sys

from rnnscope.settings import Settings


def redis_settings(missing: str) -> Settings | None:
    """The settings of a command that needs Redis, or None once it has printed why it cannot run.

    Prints ``error: <the bad setting>`` for a malformed environment variable, or
    ``error: <missing>`` when ``REDIS_URL`` is not set.
    """
    try:
        settings = Settings.from_env()
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return None
    if not settings.redis_url:
        print(f"error: {missing}", file=sys.stderr)
        return None
    return settings
