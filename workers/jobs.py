"""Job functions: plain Python, each taking a ``progress(fraction, message)`` callable.

The same function runs in a Celery task (``rnnscope.workers.tasks``), a Dash background callback,
the CLI (``rnnscope analyze``) or a test. Every job:

1. resolves its parameters (``AnalysisParams`` defaults filled in, unknown keys refused),
2. computes its content key (:func:`rnnscope.workers.store.content_key`: job name, checkpoint
   sha256, parameters, data identity, ``rnnscope.analysis.pipeline.ANALYSIS_VERSION``),
3. returns that key at once if the artifact is stored, else computes it once under the
   store's per-key lock (a second caller waits and reads the result) and stores it.

Results are read back with ``store.get_report(key)`` / ``store.get_arrays(key)``; only keys
cross process boundaries.

Jobs
----
``full_analysis``       the whole ``run_analysis`` -> ``Report`` (report.json + arrays.npz)
``collect_states_job``  visited states on the held-out documents -> arrays (``VisitedStates``)
``find_fixed_points_job`` fixed points from seeds drawn from those states -> arrays
``linearize_job``       eigenmodes of J_rec at those fixed points -> arrays
``word_projections_job`` ℓ1ᵀ J_inp x for every vocabulary word at every fixed point of a
                        stored report -> arrays
"""
from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Iterable
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import torch

from rnnscope.analysis.analysis_params import AnalysisParams
from rnnscope.analysis.checkpoint import DEFAULT_MAX_BYTES
from rnnscope.analysis.checkpoint import load as load_checkpoint
from rnnscope.analysis.data import DataError, load_checked
from rnnscope.analysis.data import load as load_data
from rnnscope.analysis.data_sources import SOURCES
from rnnscope.analysis.fixed_points import find_fixed_points
from rnnscope.analysis.linearize import linearize
from rnnscope.analysis.multiclass_data import NAMES as MULTICLASS_NAMES
from rnnscope.analysis.multiclass_data import dataset_identity
from rnnscope.analysis.projections import input_projection
from rnnscope.analysis.states import collect_states, draw_seeds
from rnnscope.analysis.tokenizer import encode_texts
from rnnscope.analysis.toy_language import NAME as TOY_NAME
from rnnscope.analysis.toy_language import VERSION as TOY_VERSION
from rnnscope.settings import Settings
from rnnscope.workers.store import ArtifactNotFound, ArtifactStore, content_key

Progress = Callable[[float, str], None]

#: AnalysisParams fields each sub-job depends on (its cache key holds only these).
STATES_PARAMS = ("n_docs", "max_len", "batch_size", "seed")
FIXED_POINT_PARAMS = STATES_PARAMS + ("n_seeds", "seed_noise", "tol")
LINEARIZE_PARAMS = FIXED_POINT_PARAMS + ("n_modes",)


# --------------------------------------------------------------------------- helpers
class MonotoneProgress:
    """Wraps a progress callback: fractions clipped to [lo, hi] of the parent, never decreasing."""

    def __init__(self, progress: Progress | None, lo: float = 0.0, hi: float = 1.0):
        self.progress, self.lo, self.hi = progress, lo, hi
        self.last = lo

    def __call__(self, fraction: float, message: str) -> None:
        value = self.lo + (self.hi - self.lo) * min(max(float(fraction), 0.0), 1.0)
        self.last = max(self.last, value)
        if self.progress is not None:
            self.progress(self.last, message)

    def part(self, lo: float, hi: float) -> MonotoneProgress:
        """A child reporter mapping [0, 1] onto [lo, hi] of this one."""
        return MonotoneProgress(self, lo, hi)


def analysis_version() -> str:
    """``rnnscope.analysis.pipeline.ANALYSIS_VERSION``: part of every key."""
    # lazy: rnnscope.analysis.pipeline brings scipy and scikit-learn, +2.3 s after torch
    # (measured); `rnnscope submit --status/--cancel` imports this module through
    # rnnscope.workers.tasks and took 6.8 s instead of 4.5 s with it at the top
    from rnnscope.analysis.pipeline import ANALYSIS_VERSION

    return str(ANALYSIS_VERSION)


def resolve_params(params: dict | None) -> dict:
    """Every ``AnalysisParams`` field, defaults filled in; ValueError for bad or unknown keys."""
    if params is not None and not isinstance(params, dict):
        raise ValueError(f"analysis parameters must be a JSON object, not {type(params).__name__}")
    return AnalysisParams.from_dict(dict(params or {})).to_dict()


#: A dataset file in the artifact store is named ``file:<sha256>`` (``store.put_dataset``):
#: the same identity as the local file with those bytes, so both share cached analyses.
STORED_DATASET_PREFIX = "file:"


def stored_dataset_sha(name: object) -> str | None:
    """The sha256 of a ``file:<sha256>`` reference to a stored dataset, else None."""
    if isinstance(name, str) and name.startswith(STORED_DATASET_PREFIX):
        sha = name[len(STORED_DATASET_PREFIX):]
        if len(sha) == 64 and all(c in "0123456789abcdef" for c in sha):
            return sha
    return None


def dataset_id(name_or_path: str | os.PathLike) -> str:
    """Identity of a dataset for cache keys.

    A registered name gives ``name@sha256`` of its pinned archive (a built-in one, ``toy`` or
    ``counting-C``, the version of its generator); a local file the sha256
    of its bytes (``file:<sha256>``, which is also how a dataset in the store is named); a
    local directory the sha256 over its files' relative paths and digests. Anything else
    raises ``rnnscope.analysis.data.DataError``.
    """
    name = str(name_or_path)
    if name == TOY_NAME:
        return f"{TOY_NAME}@builtin-{TOY_VERSION}"
    if name in MULTICLASS_NAMES:
        return dataset_identity(name)
    if name in SOURCES:
        if SOURCES[name].kind != "dataset":
            raise DataError(f"{name!r} is a {SOURCES[name].kind}, not a labelled dataset")
        return f"{name}@{SOURCES[name].sha256}"
    if stored_dataset_sha(name):
        return name
    path = Path(name).expanduser()
    if path.is_file():
        return f"file:{_sha256_file(path)}"
    if path.is_dir():
        digest = hashlib.sha256()
        for item in sorted(p for p in path.rglob("*") if p.is_file()):
            digest.update(f"{item.relative_to(path).as_posix()}\0{_sha256_file(item)}\n".encode())
        return f"dir:{digest.hexdigest()}"
    datasets = [n for n, s in SOURCES.items() if s.kind == "dataset"]
    raise DataError(f"{name!r} is neither a registered dataset ({', '.join(datasets)}) "
                    "nor an existing file or directory")


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _subset(params: dict, names: Iterable[str]) -> dict:
    return {name: params[name] for name in names}


def store_or_default(store: ArtifactStore | None) -> ArtifactStore:
    """``store``, or the one the environment names (``ArtifactStore.from_env``)."""
    return store if store is not None else ArtifactStore.from_env()


def load_model(store: ArtifactStore, checkpoint_sha: str):
    """The checkpoint ``checkpoint_sha`` from ``store``, on ``RNNSCOPE_DEVICE``, in eval mode."""
    settings = Settings.from_env()
    model = load_checkpoint(store.checkpoint_path(checkpoint_sha),
                            max_bytes=max(settings.max_upload_bytes, DEFAULT_MAX_BYTES))
    if settings.device == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("RNNSCOPE_DEVICE=cuda but torch sees no CUDA device on this worker")
    model.net.to(settings.device).eval()
    return model


def load_dataset(data_name: str, progress: Progress, store: ArtifactStore | None = None,
                  fetch_missing: bool = True):
    """The dataset ``data_name`` names: a registered one (downloaded only if ``fetch_missing``),
    a stored one (``file:<sha256>``, checked as an upload is) or a local path."""
    sha = stored_dataset_sha(data_name)
    if sha is None:
        return load_data(data_name, progress=progress, fetch_missing=fetch_missing)
    store = store_or_default(store)
    try:
        path, info = store.dataset_path(sha), store.dataset_info(sha)
    except ArtifactNotFound:
        raise DataError(f"dataset {sha[:12]} is no longer in the artifact store") from None
    return load_checked(path, str(info.get("name") or info.get("filename") or sha[:12]))


def _job_key(job: str, checkpoint_sha: str, params: dict, data_name: str) -> str:
    """Content key of ``job`` on a checkpoint and a dataset: the job's name, the checkpoint's
    sha256, the parameters the job depends on, the dataset's identity (:func:`dataset_id`) and
    the analysis version."""
    return content_key(job, checkpoint_sha, params, dataset_id(data_name), analysis_version())


def run_cached(store: ArtifactStore, key: str, label: str, compute: Callable[[MonotoneProgress], Any],
                progress: MonotoneProgress) -> str:
    """Compute ``key`` once (``compute(progress)`` stores it) and report how it went."""
    if store.exists(key):
        progress(1.0, f"{label}: cached (computed before), nothing to do")
        return key
    computed = store.compute_once(key, lambda: compute(progress), label=label, on_wait=progress)
    progress(1.0, f"{label}: done" if computed else f"{label}: computed by another worker")
    return key


# --------------------------------------------------------------------------- full analysis
def analysis_key(checkpoint_sha: str, data_name: str, params: dict | None = None) -> str:
    """Content key of ``full_analysis`` for these inputs (no computation)."""
    return _job_key("full_analysis", checkpoint_sha, resolve_params(params), data_name)


def full_analysis(checkpoint_sha: str, data_name: str, params: dict | None = None, *,
                  store: ArtifactStore | None = None, progress: Progress | None = None,
                  fetch_missing: bool = True) -> str:
    """Run ``rnnscope.analysis.pipeline.run_analysis`` on a stored checkpoint; returns the report key.

    Parameters
    ----------
    checkpoint_sha : str
        sha256 of a checkpoint in the store (``store.put_checkpoint``).
    data_name : str
        Registered dataset (``imdb``, ``mr``, ``tweets``), a dataset in the store
        (``file:<sha256>``) or a local path readable here.
    params : dict, optional
        ``AnalysisParams`` overrides (JSON-able); unknown keys raise ValueError.
    store : ArtifactStore, optional
        Default: the store at ``RNNSCOPE_STORE``.
    progress : callable, optional
        ``progress(fraction, message)``, fraction non-decreasing from 0 to 1.0.
    fetch_missing : bool
        Download a registered dataset that is not cached (``rnnscope.analysis.data.fetch``); when
        False such a dataset raises ``DataError`` naming ``rnnscope data fetch NAME``.

    Returns
    -------
    str
        Key of the report: ``store.get_report(key)``, files in ``store.report_dir(key)``.
    """
    store, report = store_or_default(store), MonotoneProgress(progress)
    report(0.0, "checking the cache")
    params = resolve_params(params)
    key = _job_key("full_analysis", checkpoint_sha, params, data_name)

    def compute(p: MonotoneProgress) -> None:
        from rnnscope.analysis.pipeline import run_analysis  # lazy: see analysis_version

        p(0.01, "loading the checkpoint")
        model = load_model(store, checkpoint_sha)
        dataset = load_dataset(data_name, p.part(0.01, 0.05), store, fetch_missing)
        result = run_analysis(model, dataset, AnalysisParams.from_dict(params), p.part(0.05, 0.98),
                              memory_budget=Settings.from_env().memory_budget_bytes)
        p(0.99, "storing the report")
        store.put_report(key, result)

    return run_cached(store, key, "full analysis", compute, report)


# --------------------------------------------------------------------------- sub-jobs
def _test_docs(model, dataset, params: dict) -> tuple[list[np.ndarray], np.ndarray]:
    """The held-out documents ``run_analysis`` collects states on (same seed, same order, the
    same ``max_len`` tokens of each: ``Model.window``)."""
    seqs = encode_texts(dataset.test.texts, model.tokenizer, model.vocab)
    seqs = [model.window(s, params["max_len"]) for s in seqs]
    docs = np.random.default_rng(params["seed"]).permutation(len(seqs))[: params["n_docs"]]
    return [seqs[i] for i in docs], np.asarray(dataset.test.labels)[docs]


def collect_states_job(checkpoint_sha: str, data_name: str, params: dict | None = None, *,
                       store: ArtifactStore | None = None, progress: Progress | None = None) -> str:
    """States visited on ``n_docs`` held-out documents (``rnnscope.analysis.states.collect_states``).

    Returns the key of arrays named after the ``VisitedStates`` fields: ``states``
    float32 (N, D), ``doc``, ``position``, ``token``, ``label`` (N,), ``final`` (n_docs, D),
    ``lengths``, ``doc_labels`` (n_docs,), ``initial`` (D,).
    """
    store, report = store_or_default(store), MonotoneProgress(progress)
    params = _subset(resolve_params(params), STATES_PARAMS)
    key = _job_key("collect_states", checkpoint_sha, params, data_name)

    def compute(p: MonotoneProgress) -> None:
        p(0.0, "loading the checkpoint and the dataset")
        model = load_model(store, checkpoint_sha)
        seqs, labels = _test_docs(model, load_dataset(data_name, p.part(0.0, 0.2), store), params)
        p(0.2, f"collecting states on {len(seqs)} documents")
        visited = collect_states(model.net, seqs, labels=labels, max_len=params["max_len"],
                                 batch_size=params["batch_size"])
        store.put_arrays(key, asdict(visited))

    return run_cached(store, key, "visited states", compute, report)


def find_fixed_points_job(checkpoint_sha: str, data_name: str, params: dict | None = None, *,
                          store: ArtifactStore | None = None,
                          progress: Progress | None = None) -> str:
    """Fixed points of s = F(s, 0) from ``n_seeds`` seeds drawn from the visited states.

    Returns the key of arrays: ``points`` (K, D), ``q`` (K,), ``seed_q``, ``seed_iters``,
    ``seed_converged``, ``seed_unique_index`` (n_seeds,), ``tol`` and ``seconds`` (scalars).
    """
    store, report = store_or_default(store), MonotoneProgress(progress)
    full = resolve_params(params)
    params = _subset(full, FIXED_POINT_PARAMS)
    key = _job_key("find_fixed_points", checkpoint_sha, params, data_name)

    def compute(p: MonotoneProgress) -> None:
        states = store.get_arrays(collect_states_job(checkpoint_sha, data_name, full, store=store,
                                                     progress=p.part(0.0, 0.3)))["states"]
        model = load_model(store, checkpoint_sha)
        seeds = draw_seeds(states, params["n_seeds"], np.random.default_rng(params["seed"]),
                           params["seed_noise"])
        p(0.3, f"finding fixed points from {len(seeds)} seeds")
        fp = find_fixed_points(model.net, seeds, tol=params["tol"],
                               memory_budget=Settings.from_env().memory_budget_bytes)
        store.put_arrays(key, {
            "points": np.asarray(fp.points, np.float32).reshape(-1, model.net.state_size),
            "q": np.asarray(fp.q, np.float64), "seed_q": np.asarray(fp.seed_q, np.float64),
            "seed_iters": np.asarray(fp.seed_iters), "seed_converged": np.asarray(fp.seed_converged),
            "seed_unique_index": np.asarray(fp.seed_unique_index),
            "tol": np.float64(fp.tol), "seconds": np.float64(fp.seconds)})

    return run_cached(store, key, "fixed points", compute, report)


def linearize_job(checkpoint_sha: str, data_name: str, params: dict | None = None, *,
                  store: ArtifactStore | None = None, progress: Progress | None = None) -> str:
    """Eigenmodes of J_rec at the fixed points of :func:`find_fixed_points_job`.

    Returns the key of arrays (``rnnscope.analysis.linearize.linearize``): ``eigvals`` complex128
    (K, D) sorted by |λ| descending, ``tau`` (K, D) in tokens, ``right`` (K, D, M) unit-norm
    columns, ``left`` (K, M, D) rows of R⁻¹, ``left_inp`` (K, M, E) = ℓ_aᵀ J_inp. The sign of
    each mode is arbitrary here (the full report signs them along the manifold axis).
    """
    store, report = store_or_default(store), MonotoneProgress(progress)
    full = resolve_params(params)
    params = _subset(full, LINEARIZE_PARAMS)
    key = _job_key("linearize", checkpoint_sha, params, data_name)

    def compute(p: MonotoneProgress) -> None:
        points = store.get_arrays(find_fixed_points_job(
            checkpoint_sha, data_name, full, store=store, progress=p.part(0.0, 0.7)))["points"]
        model = load_model(store, checkpoint_sha)
        D = model.net.state_size
        M = min(params["n_modes"], D)
        p(0.7, f"linearizing at {len(points)} fixed points")
        if len(points) == 0:
            E = model.net.embed_dim
            arrays = {"eigvals": np.zeros((0, D), np.complex128), "tau": np.zeros((0, D)),
                      "right": np.zeros((0, D, M), np.complex128),
                      "left": np.zeros((0, M, D), np.complex128),
                      "left_inp": np.zeros((0, M, E), np.complex128)}
        else:
            lin = linearize(model.net, points, n_modes=M, memory_budget=Settings.from_env().memory_budget_bytes)
            arrays = {name: np.asarray(getattr(lin, name))
                      for name in ("eigvals", "tau", "right", "left", "left_inp")}
        store.put_arrays(key, arrays)

    return run_cached(store, key, "linearization", compute, report)


def word_projections_job(report_key: str, *, mode: int = 0, store: ArtifactStore | None = None,
                         progress: Progress | None = None) -> str:
    """Input projection of every vocabulary word x at every point of a stored report.

    ``mode=0``: on the integration mode, signed (``mode_coef``, ``rnnscope.analysis.modes``: the
    report's ``input_projection`` for the whole vocabulary). ``mode=a > 0``: ℓ_aᵀ J_inp x
    on the a-th largest-|λ| mode (the report's ``left_inp``, real part, signed by the readout).

    Returns the key of arrays: ``projection`` float32 (K, V) and ``order`` int64 (V,), the
    vocabulary ids sorted by projection averaged over the points where its sign is
    defined (all points if none), most positive first.
    """
    store, report = store_or_default(store), MonotoneProgress(progress)
    summary = store.get_report(report_key).summary
    sha = summary["model"]["sha256"]
    key = content_key("word_projections", sha, {"report": report_key, "mode": int(mode)},
                      f"report:{report_key}", analysis_version())

    def compute(p: MonotoneProgress) -> None:
        arrays = store.get_report(report_key).arrays
        left_inp = arrays["left_inp"]
        if not 0 <= mode < left_inp.shape[1]:
            raise ValueError(f"mode {mode} is out of range: the report keeps {left_inp.shape[1]} modes")
        model = load_model(store, sha)
        emb = model.net.embedding.weight.detach().double().cpu().numpy()
        p(0.3, f"projecting {len(emb)} words on mode {mode + 1} at {len(left_inp)} points")
        if mode == 0:
            proj = arrays["mode_coef"].astype(np.float64) @ emb.T
        else:
            proj = input_projection(left_inp, emb, mode=mode)
        signed = arrays["mode_sign_source"] != "none" if mode == 0 else np.ones(len(proj), bool)
        rows = proj[signed] if signed.any() else proj  # order by points whose sign is defined
        order = np.argsort(-rows.mean(0), kind="stable") if len(rows) else np.arange(len(emb))
        store.put_arrays(key, {"projection": proj.astype(np.float32), "order": order.astype(np.int64)})

    return run_cached(store, key, "word projections", compute, report)


# --------------------------------------------------------------------------- demo models
def demo_checkpoints(store: ArtifactStore | None = None,
                     directory: str | os.PathLike | None = None) -> list[dict]:
    """Copy the bundled ``*.safetensors`` demo checkpoints into the store (once each).

    Parameters
    ----------
    directory : path, optional
        Default ``RNNSCOPE_DEMO_DIR`` or the repository's ``models/demo``.

    Returns
    -------
    list of dict
        Sidecar of each (``sha256``, ``filename``, ``size``, ``format``), by file name.
    """
    store = store_or_default(store)
    directory = Path(directory or Settings.from_env().demo_dir)
    if not directory.is_dir():
        return []
    infos = []
    for path in sorted(directory.glob("*.safetensors")):
        sha = store.put_checkpoint(path.read_bytes(), path.name)
        infos.append(store.checkpoint_info(sha))
    return infos
