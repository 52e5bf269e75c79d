"""Sweeps: a population of networks, each trained and analysed by one job.

A sweep is a grid of *cells* (architecture × hidden size × seed) on one dataset, with the
same training overrides and analysis parameters for every cell (:class:`SweepSpec`). One
cell is one job, :func:`run_cell`: train the network (cached under its *training key*: the
job name, every ``TrainConfig`` field that changes the result, the split seed, the dataset's
identity and the analysis version), store its checkpoint by sha256, then run the full
analysis (``jobs.full_analysis``, cached under its own content key). A rerun of a sweep
computes only what is missing (:func:`cell_state` reads both keys), whichever process or
worker computed the rest.

Where the cells run:

- **here** (:func:`run_here`, no ``REDIS_URL``): one after the other in this process;
  Ctrl-C stops, and a rerun goes on where it stopped;
- **on Celery workers** (:func:`submit`, then :func:`follow`): one task
  ``rnnscope.sweep_cell`` per missing cell. :func:`follow` polls until every cell is done,
  and resubmits a cell whose worker no longer answers a ping for :data:`LOST_AFTER_S`
  (a SIGKILLed worker's job would otherwise wait for Redis's visibility timeout, hours; the
  resubmitted job finds the keys the dead one did not finish and computes those). A job
  that fails is not retried by :func:`follow`: its error is in the table. :func:`cancel`
  revokes every job of the sweep and marks it cancelled.

The manifest (``ArtifactStore.put_sweep``) holds the spec, each cell's latest task id and
whether the sweep was cancelled; the results themselves are only in the content-keyed
store. Training runs where the worker runs (``RNNSCOPE_DEVICE``: ``cpu`` or ``cuda``); the
device and thread count are not part of the keys.
"""
from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from rnnscope.analysis import checkpoint
from rnnscope.analysis.training import TrainConfig, train
from rnnscope.settings import Settings
from rnnscope.workers import jobs
from rnnscope.workers.locks import Progress
from rnnscope.workers.store import ArtifactNotFound, ArtifactStore, content_key

ARCHS = ("lstm", "gru", "ugrnn", "vrnn")
#: ``TrainConfig`` fields a sweep may set for all of its cells (arch, hidden and seed are the grid).
TRAIN_FIELDS = ("embed", "vocab_size", "max_len", "epochs", "batch_size", "lr", "weight_decay",
                "dropout", "clip", "patience", "bucket_batches")
#: Seconds a cell's worker must fail to answer a ping before :func:`follow` resubmits the cell.
LOST_AFTER_S = 10.0
MAX_SEEDS = 100
MAX_CELLS = 1000
#: Stands for "no checkpoint" in the content keys of trainings and sweeps (they start from data).
NO_CHECKPOINT = "0" * 64
#: Celery states after which a job does nothing more.
FINISHED = ("SUCCESS", "FAILURE", "REVOKED")


@dataclass(frozen=True)
class SweepSpec:
    """A grid of networks: every ``archs`` × ``hidden`` × seeds ``0 .. seeds-1`` on ``data``.

    ``train`` holds ``TrainConfig`` overrides (:data:`TRAIN_FIELDS`) and ``analysis``
    ``AnalysisParams`` overrides, the same for every cell; ``split_seed`` splits the data.
    Raises ValueError, in words, for anything a job would refuse later.
    """

    archs: tuple[str, ...]
    seeds: int
    data: str
    hidden: tuple[int, ...] = (128,)
    train: Mapping = field(default_factory=dict)
    analysis: Mapping = field(default_factory=dict)
    split_seed: int = 0

    def __post_init__(self):
        object.__setattr__(self, "archs", tuple(self.archs))
        object.__setattr__(self, "hidden", tuple(self.hidden))
        object.__setattr__(self, "train", dict(self.train))
        object.__setattr__(self, "analysis", jobs.resolve_params(dict(self.analysis)))
        _check_spec(self)

    def cells(self) -> list[dict]:
        """Every cell ``{"arch", "hidden", "seed"}``, in the order of the grid."""
        return [{"arch": a, "hidden": h, "seed": s}
                for a in self.archs for h in self.hidden for s in range(self.seeds)]

    def to_dict(self) -> dict:
        """A JSON-able dict; :meth:`from_dict` reads it back."""
        return {"archs": list(self.archs), "seeds": self.seeds, "data": self.data,
                "hidden": list(self.hidden), "train": dict(self.train),
                "analysis": dict(self.analysis), "split_seed": self.split_seed}

    @classmethod
    def from_dict(cls, value: Mapping) -> SweepSpec:
        """The spec :meth:`to_dict` wrote (ValueError for anything else)."""
        if not isinstance(value, Mapping):
            raise ValueError("a sweep spec must be a JSON object")
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(value) - known)
        if unknown:
            raise ValueError(f"unknown sweep field(s): {', '.join(unknown)}")
        return cls(**dict(value))

    def sweep_id(self) -> str:
        """The sweep's content key: the same spec on the same data is the same sweep."""
        return content_key("sweep", NO_CHECKPOINT, self.to_dict(), jobs.dataset_id(self.data),
                           jobs.analysis_version())


def _check_spec(spec: SweepSpec) -> None:
    """ValueError naming the first thing wrong with ``spec``."""
    bad = [a for a in spec.archs if a not in ARCHS]
    if not spec.archs or bad or len(set(spec.archs)) != len(spec.archs):
        raise ValueError(f"architectures must be distinct names among {', '.join(ARCHS)}; got "
                         f"{', '.join(spec.archs) or 'none'}")
    if type(spec.seeds) is not int or not 1 <= spec.seeds <= MAX_SEEDS:
        raise ValueError(f"seeds must be a whole number from 1 to {MAX_SEEDS}, got {spec.seeds!r}")
    if not spec.hidden or any(type(h) is not int or not 1 <= h <= 4096 for h in spec.hidden):
        raise ValueError(f"hidden sizes must be whole numbers from 1 to 4096, got {list(spec.hidden)}")
    unknown = sorted(set(spec.train) - set(TRAIN_FIELDS))
    if unknown:
        raise ValueError(f"training option(s) {', '.join(unknown)} cannot be set for a sweep; "
                         f"these can: {', '.join(TRAIN_FIELDS)}")
    if not isinstance(spec.data, str) or not spec.data:
        raise ValueError("a sweep needs a dataset name")
    if len(spec.cells()) > MAX_CELLS:
        raise ValueError(f"{len(spec.cells())} cells is more than {MAX_CELLS}")
    train_config(spec, spec.cells()[0])  # TrainConfig checks the values


# --------------------------------------------------------------------------- one cell
def train_config(spec: SweepSpec, cell: Mapping) -> TrainConfig:
    """The ``TrainConfig`` of ``cell``, on the device this process runs on (``RNNSCOPE_DEVICE``)."""
    return TrainConfig(arch=cell["arch"], hidden=int(cell["hidden"]), seed=int(cell["seed"]),
                       device=Settings.from_env().device, **spec.train)


def train_key(spec: SweepSpec, cell: Mapping) -> str:
    """Content key of ``cell``'s training: its config without where it runs (device, threads)."""
    config = dataclasses.asdict(train_config(spec, cell))
    for where in ("device", "threads"):
        config.pop(where)
    return content_key("train", NO_CHECKPOINT, {**config, "split_seed": spec.split_seed},
                       jobs.dataset_id(spec.data), jobs.analysis_version())


def cell_state(store: ArtifactStore, spec: SweepSpec, cell: Mapping) -> dict:
    """What the store holds of ``cell``: ``{"cell", "checkpoint", "test_accuracy", "report",
    "done"}`` (``checkpoint`` None until trained, ``report`` None until analysed)."""
    state = {"cell": dict(cell), "checkpoint": None, "test_accuracy": None, "report": None, "done": False}
    try:
        trained = store.get_json(train_key(spec, cell))
    except ArtifactNotFound:
        return state
    state.update(checkpoint=trained["checkpoint"], test_accuracy=trained["metrics"].get("test_accuracy"))
    report = jobs.analysis_key(trained["checkpoint"], spec.data, spec.analysis)
    if store.report_dir(report).is_dir():
        state.update(report=report, done=True)
    return state


def _train(spec: SweepSpec, cell: Mapping, store: ArtifactStore, progress: jobs.MonotoneProgress) -> None:
    """Train ``cell`` and store its checkpoint and the record under its training key."""
    dataset = jobs.load_dataset(spec.data, progress.part(0.0, 0.05), store)
    model, history = train(dataset, train_config(spec, cell), progress.part(0.05, 0.98),
                           command=f"rnnscope sweep cell {cell_name(cell)} of {spec.to_dict()}",
                           split_seed=spec.split_seed, show_bar=False)
    sha = store.put_checkpoint(checkpoint.encode(model), f"{cell_name(cell)}-{spec.data}.safetensors")
    store.put_json(train_key(spec, cell), {"checkpoint": sha, "cell": dict(cell), "metrics": model.metrics,
                                           "history": history})


def run_cell(spec: SweepSpec | Mapping, cell: Mapping, *, store: ArtifactStore | None = None,
             progress: Progress | None = None) -> dict:
    """Train (unless cached) and analyse (unless cached) one cell; returns its :func:`cell_state`."""
    spec = spec if isinstance(spec, SweepSpec) else SweepSpec.from_dict(spec)
    store, report = jobs.store_or_default(store), jobs.MonotoneProgress(progress)
    name = cell_name(cell)
    jobs.run_cached(store, train_key(spec, cell), f"{name}: training",
                     lambda p: _train(spec, cell, store, p), report.part(0.0, 0.6))
    sha = store.get_json(train_key(spec, cell))["checkpoint"]
    jobs.full_analysis(sha, spec.data, spec.analysis, store=store, progress=_named(report.part(0.6, 1.0), name))
    return cell_state(store, spec, cell)


def cell_name(cell: Mapping) -> str:
    """``gru-h64-s2``: a cell's short name."""
    return f"{cell['arch']}-h{cell['hidden']}-s{cell['seed']}"


def _named(progress: Progress, name: str) -> Progress:
    return lambda fraction, message: progress(fraction, f"{name}: {message}")


# --------------------------------------------------------------------------- a whole sweep
def new_manifest(spec: SweepSpec) -> dict:
    """The manifest of a sweep nothing was submitted for yet."""
    return {"spec": spec.to_dict(), "tasks": {}, "cancelled": False, "created": time.time()}


def open_sweep(store: ArtifactStore, spec: SweepSpec) -> tuple[str, dict]:
    """``(sweep id, manifest)``: the stored manifest of ``spec``'s sweep, or a new one
    (stored). A sweep that was cancelled is opened again, not cancelled, and without jobs:
    every job it had was revoked (a revoked job a worker has not received yet still reads
    PENDING, so its id must not count as queued)."""
    sweep_id = spec.sweep_id()
    try:
        manifest = store.get_sweep(sweep_id)
    except ArtifactNotFound:
        manifest = new_manifest(spec)
    if manifest["cancelled"]:
        manifest.update(cancelled=False, tasks={})
    store.put_sweep(sweep_id, manifest)
    return sweep_id, manifest


def states(store: ArtifactStore, spec: SweepSpec) -> list[dict]:
    """:func:`cell_state` of every cell, in grid order."""
    return [cell_state(store, spec, cell) for cell in spec.cells()]


def run_here(spec: SweepSpec, store: ArtifactStore | None = None,
             on_cell: Callable[[int, int, dict, str], None] | None = None,
             progress: Callable[[dict], Progress] | None = None) -> list[dict]:
    """Run every missing cell in this process, one after the other; returns :func:`states`.

    ``on_cell(i, n, cell, what)`` is told ``"cached"``, ``"running"`` or ``"done"`` for each
    cell; ``progress(cell)`` gives the progress callback of that cell's job.
    """
    store = jobs.store_or_default(store)
    open_sweep(store, spec)
    cells = spec.cells()
    for i, cell in enumerate(cells):
        if cell_state(store, spec, cell)["done"]:
            on_cell and on_cell(i, len(cells), cell, "cached")
            continue
        on_cell and on_cell(i, len(cells), cell, "running")
        run_cell(spec, cell, store=store, progress=progress(cell) if progress else None)
        on_cell and on_cell(i, len(cells), cell, "done")
    return states(store, spec)


# --------------------------------------------------------------------------- the summary
def summary_row(store: ArtifactStore, state: Mapping) -> dict:
    """One table row of a cell: its name, test accuracy and, once analysed, the report's
    attractor verdict, point count, median τ1 (tokens) and median number of slow modes."""
    cell = state["cell"]
    row = {"cell": cell_name(cell), "arch": cell["arch"], "hidden": cell["hidden"], "seed": cell["seed"],
           "test_accuracy": state.get("test_accuracy"), "attractor": None, "points": None,
           "tau1": None, "slow_modes": None, "report": state.get("report")}
    if state.get("report"):
        summary = store.get_report_summary(state["report"])
        row.update(attractor=summary["attractor"].get("kind"),
                   points=summary["fixed_points"].get("n_unique"),
                   tau1=summary["spectra"].get("tau1_median"),
                   slow_modes=summary["spectra"].get("n_slow_modes_median"))
    return row


def format_table(rows: list[dict]) -> str:
    """``rows`` (:func:`summary_row`, plus an optional ``state``) as a plain-text table."""
    head = ("cell", "state", "test acc", "attractor", "points", "τ1 (tokens)", "slow modes")
    lines = [head]
    for r in rows:
        lines.append((r["cell"], r.get("state", "done" if r["report"] else "missing"),
                      _fmt(r["test_accuracy"], ".4f"), r["attractor"] or "-", _fmt(r["points"], "d"),
                      _fmt(r["tau1"], ".1f"), _fmt(r["slow_modes"], ".0f")))
    widths = [max(len(str(line[i])) for line in lines) for i in range(len(head))]
    return "\n".join("  ".join(str(v).ljust(w) for v, w in zip(line, widths)).rstrip() for line in lines)


def _fmt(value, spec: str) -> str:
    return "-" if value is None else format(value, spec)
