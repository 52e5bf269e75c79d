"""What the job layer derives from the settings (``rnnscope.settings.Settings``).

Every environment variable is read in ``rnnscope.settings``; this module holds the rules that
concern Celery and Redis only. Nothing here imports Celery, Redis or torch.
"""
from __future__ import annotations

from collections.abc import Mapping

from rnnscope.settings import Settings


def visibility_timeout_s(settings: Settings) -> int:
    """Seconds before Redis redelivers an unacknowledged job: longer than any job."""
    return 2 * settings.hard_time_limit_s + 600


def is_distributed(env: Mapping[str, str] | None = None) -> bool:
    """True when ``REDIS_URL`` is set: jobs go to Celery workers instead of running here."""
    return Settings.from_env(env).redis_url is not None
