"""Find or train, analyse and draw every (dataset, architecture) model: ``run_reproduction``.

For each (dataset, architecture) pair:

1. find the checkpoint (``<models>/<dataset>/<arch>-<dataset>.safetensors``; for MR also the
   demo models ``<models>/demo/<arch>-mr.safetensors``), or train it when asked
   (``train_missing``), else report it missing;
2. analyse it with ``rnnscope.workers.jobs.full_analysis`` in the content-addressed artifact store, so
   a second run computes nothing;
3. export its Fig. 7 summary (``rnnscope.app.report_html.export_summary_image``; the image bytes are
   cached in the store too);

and per dataset fit the bag-of-words baseline (``rnnscope.analysis.baseline.fit_bow``; its accuracy
is cached in the store). The result is a :class:`Reproduction`, which
``rnnscope.app.reproduction.markdown`` turns into ``docs/REPRODUCTION.md``.
"""
from __future__ import annotations

import shlex
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from rnnscope.analysis import checkpoint
from rnnscope.analysis.atomic import write_bytes
from rnnscope.analysis.baseline import fit_bow
from rnnscope.analysis.checkpoint import CheckpointError
from rnnscope.analysis.data import load as load_data
from rnnscope.analysis.data_sources import SOURCES
from rnnscope.analysis.summary import Summary, read
from rnnscope.analysis.tokenizer import encode_texts
from rnnscope.analysis.training import TrainConfig, train
from rnnscope.app.report_html import ImageExportError, export_summary_image
from rnnscope.app.reproduction import follow_ups
from rnnscope.workers import jobs
from rnnscope.workers.store import ArtifactStore, content_key

Log = Callable[[str], None]
Progress = Callable[[float, str], None]

ARCHS = ("lstm", "gru", "ugrnn", "vrnn")
#: Column order of the paper's Table 1.
ARCH_ORDER = ("vrnn", "ugrnn", "gru", "lstm")
ARCH_NAMES = {"lstm": "LSTM", "gru": "GRU", "ugrnn": "UGRNN", "vrnn": "Vanilla RNN"}
DATASET_NAMES = {"imdb": "IMDB", "mr": "MR", "tweets": "Tweets"}

#: The paper's Table 1, test accuracy in percent.
PAPER_TABLE1 = {
    "Yelp 2015": {"bow": 93.37, "vrnn": 92.96, "ugrnn": 95.67, "gru": 95.84, "lstm": 95.05},
    "IMDB": {"bow": 88.53, "vrnn": 87.08, "ugrnn": 87.96, "gru": 86.86, "lstm": 86.93},
    "SST": {"bow": 79.74, "vrnn": 78.09, "ugrnn": 77.74, "gru": 80.25, "lstm": 80.09},
}
#: The paper's row each dataset is compared with (MR is the sentence pool SST was built from).
PAPER_ROW = {"imdb": "IMDB", "mr": "SST"}
PAPER_ROW_NOTE = {"IMDB": "directly comparable (same reviews; our split is a seeded 50/50 of the de-duplicated 50k)",
                  "SST": "closest available: MR snippets are the sentences SST was built from; SST itself is not on any registry",
                  "Yelp 2015": "not reproduced: Yelp polarity is not available from a package registry"}

#: Training settings used when a checkpoint is missing and ``train_missing`` is set
#: (``TrainConfig`` fields; anything not listed takes ``TrainConfig``'s default).
TRAIN_SETTINGS = {
    "imdb": dict(hidden=128, embed=64, vocab_size=20000, max_len=400, epochs=8, batch_size=64,
                 dropout=0.3),
    "mr": dict(hidden=128, embed=64, vocab_size=10000, max_len=60, epochs=8, batch_size=64,
               dropout=0.3),
    "tweets": dict(hidden=128, embed=64, vocab_size=8000, max_len=60, epochs=8, batch_size=64,
                   dropout=0.3),
}
#: ``--quick``: a smoke run (small analyses, one training epoch); not for conclusions.
QUICK_PARAMS = dict(n_docs=100, max_len=200, n_seeds=64, n_null=2000, lin_docs=50,
                    n_error_samples=500)
QUICK_TRAIN = dict(epochs=1)

FIGURE_SIZE = dict(width=1500, height=720, scale=1.0)


# --------------------------------------------------------------------------- result records
@dataclass
class ModelResult:
    """One (dataset, architecture) pair of a reproduction run.

    Attributes
    ----------
    dataset, arch : str
    status : {"analysed", "missing", "failed"}
    checkpoint : str or None     path of the checkpoint used (as found or written)
    summary : Summary or None    typed ``Report.summary`` of its analysis
    metrics, provenance : dict   from the checkpoint (training accuracies, seconds, command)
    figure : str or None         summary image, relative to the output directory
    trained_here : bool          trained by this run (``train_missing``)
    analysis_cached : bool       the analysis was in the store already
    note : str                   why it is missing / failed, or what degraded
    train_tokens : int or None   real training tokens per epoch (for the GPU and CPU estimates)
    modifiers : dict             the report's ``modifiers`` block (the typed summary leaves it out)
    """

    dataset: str
    arch: str
    status: str
    checkpoint: str | None = None
    summary: Summary | None = None
    metrics: dict = field(default_factory=dict)
    provenance: dict = field(default_factory=dict)
    figure: str | None = None
    trained_here: bool = False
    analysis_cached: bool = False
    note: str = ""
    train_tokens: int | None = None
    modifiers: dict = field(default_factory=dict)


@dataclass
class Reproduction:
    """Everything :func:`render_markdown` writes.

    Attributes
    ----------
    datasets, archs : list of str
    models : list of ModelResult      one per (dataset, arch), datasets outer
    bow : dict dataset -> float       bag-of-words test accuracy in [0, 1] (None: not fitted)
    params : dict                     ``AnalysisParams`` used for every analysis
    command : str                     the command line that regenerates the document
    seconds : float                   wall time of the whole run
    figure_format : str
    references : dict arch -> ModelResult
        GPU-trained checkpoints (metrics/provenance only) whose measured throughput gives the
        "on one GPU worker" estimate of CPU-trained models (:func:`gpu_seconds_estimate`)
    class_geometry : list of follow_ups.ClassGeometryResult
        The multi-class checkpoints under ``<models_dir>/multiclass``, analysed on their datasets
    """

    datasets: list[str]
    archs: list[str]
    models: list[ModelResult]
    bow: dict[str, float | None]
    params: dict
    command: str
    seconds: float = 0.0
    figure_format: str = "png"
    references: dict[str, ModelResult] = field(default_factory=dict)
    class_geometry: list = field(default_factory=list)

    def get(self, dataset: str, arch: str) -> ModelResult | None:
        """The result for ``(dataset, arch)``, or None if not part of the run."""
        return next((m for m in self.models if m.dataset == dataset and m.arch == arch), None)


# --------------------------------------------------------------------------- locating models
def dataset_label(data: str) -> str:
    """Name used in file names: the registered name, or a local file's stem (``a/b.csv`` -> ``b``)."""
    return data if data in SOURCES else Path(data).stem


def checkpoint_candidates(models_dir: str | Path, dataset: str, arch: str) -> list[Path]:
    """Where the checkpoint of ``arch`` on ``dataset`` may be, in order of preference."""
    root = Path(models_dir)
    name = f"{arch}-{dataset}"
    out = [root / dataset / f"{name}{suffix}" for suffix in (".safetensors", ".pt")]
    if dataset == "mr":
        out.append(root / "demo" / f"{name}.safetensors")
    return out


def find_checkpoint(models_dir: str | Path, dataset: str, arch: str) -> Path | None:
    """The first existing :func:`checkpoint_candidates` path, or None."""
    return next((p for p in checkpoint_candidates(models_dir, dataset, arch) if p.is_file()), None)


# --------------------------------------------------------------------------- cached small jobs
def _cached_json(store, job: str, data: str, params: dict, compute: Callable[[], object]):
    """``compute()`` once per (job, data, params) in ``store`` (JSON), like the analysis jobs."""
    key = content_key(job, "", params, jobs.dataset_id(data), jobs.analysis_version())
    if not store.exists(key):
        store.compute_once(key, lambda: store.put_json(key, compute()), label=job)
    return store.get_json(key)


def bow_accuracy(store, data: str, load_dataset: Callable[[], object], seed: int = 0) -> float:
    """Test accuracy of the paper's BoW baseline on ``data`` (as ``rnnscope baseline``), cached."""
    def compute():
        return {"accuracy": float(fit_bow(load_dataset(), seed=seed).accuracy_)}

    return _cached_json(store, "bow_baseline", data, {"seed": seed, "binary": True}, compute)["accuracy"]


def train_tokens_per_epoch(store, data: str, model, load_dataset: Callable[[], object]) -> int:
    """Real (non-pad) tokens one training epoch of ``model`` reads: sum of min(len, max_len)."""
    max_len = int((model.provenance.get("config") or {}).get("max_len") or 0) or None
    params = {"tokenizer": model.tokenizer.to_config(), "vocab": model.sha256, "max_len": max_len}

    def compute():
        seqs = encode_texts(load_dataset().train.texts, model.tokenizer, model.vocab, max_len)
        return {"tokens": int(sum(len(s) for s in seqs))}

    return int(_cached_json(store, "train_tokens", data, params, compute)["tokens"])


# --------------------------------------------------------------------------- one model
def train_model(dataset, data: str, arch: str, out: Path, *, quick: bool = False,
                overrides: Mapping | None = None):
    """Train ``arch`` on ``dataset`` with :data:`TRAIN_SETTINGS` and save it to ``out``."""
    settings = {**TRAIN_SETTINGS.get(data, {}), **(QUICK_TRAIN if quick else {}), **(overrides or {})}
    config = TrainConfig(arch=arch, **settings)
    parts = ["rnnscope", "train", "--arch", arch, "--data", data]
    for name, value in settings.items():  # TrainConfig field -> its `rnnscope train` flag
        parts += [f"--{name.replace('_', '-')}", str(value)]
    command = shlex.join(parts + ["--out", str(out)])
    model, _ = train(dataset, config, command=command, split_seed=0, show_bar=False)
    out.parent.mkdir(parents=True, exist_ok=True)
    checkpoint.save(model, out)
    return model


def analyse(store, path: Path, data: str, params: dict, progress: Progress | None = None):
    """Analyse the checkpoint at ``path`` through ``rnnscope.workers.jobs.full_analysis``.

    Returns (report, report_key, cached) where ``cached`` says nothing was computed.
    """
    sha = store.put_checkpoint(path.read_bytes(), path.name)
    key = jobs.analysis_key(sha, data, params)
    cached = store.exists(key)
    jobs.full_analysis(sha, data, params, store=store, progress=progress)
    return store.get_report(key), key, cached


def export_figure(store, report, report_key: str, path: Path) -> Path:
    """Write the Fig. 7 summary image of ``report`` to ``path``; the bytes are cached in ``store``."""
    fmt = path.suffix.lower().lstrip(".")
    key = content_key("summary_figure", report.summary.get("model", {}).get("sha256", ""),
                      {"format": fmt, **FIGURE_SIZE}, report_key, jobs.analysis_version())
    if not store.exists(key):
        def compute():
            tmp = store.root / "tmp" / f"figure-{key[:16]}.{fmt}"
            try:
                export_summary_image(report, tmp, **FIGURE_SIZE)
                store.put_bytes(key, tmp.read_bytes())
            finally:
                tmp.unlink(missing_ok=True)
        store.compute_once(key, compute, label="summary figure")
    return write_bytes(path, store.get_bytes(key), mode_bits=0o644)


# --------------------------------------------------------------------------- the run
def run_reproduction(datasets: Sequence[str], archs: Sequence[str], *, out_dir: str | Path = "docs",
                     models_dir: str | Path = "models", train_missing: bool = False,
                     params: Mapping | None = None, quick: bool = False, store=None,
                     figure_format: str = "png", train_overrides: Mapping | None = None,
                     command: str = "", log: Log | None = None,
                     progress_for: Callable[[str], Progress | None] | None = None) -> Reproduction:
    """Find or train, analyse and draw every (dataset, arch) model; write nothing but figures.

    Parameters
    ----------
    datasets : sequence of str
        Registered names (``imdb``, ``mr``, ``tweets``) or local dataset paths.
    archs : sequence of str
        Subset of :data:`ARCHS`.
    out_dir : path
        Figures go to ``<out_dir>/figures/<arch>-<dataset>.<figure_format>``.
    models_dir : path
        Root of ``<dataset>/<arch>-<dataset>.safetensors`` (and ``demo/<arch>-mr.safetensors``).
    train_missing : bool
        Train a missing checkpoint with :data:`TRAIN_SETTINGS` (saved under ``models_dir``).
    params : mapping, optional
        ``AnalysisParams`` overrides for every analysis (``QUICK_PARAMS`` added if ``quick``).
    store : workers.store.ArtifactStore, optional
        Default ``ArtifactStore.from_env()``.
    train_overrides : mapping, optional
        ``TrainConfig`` fields overriding :data:`TRAIN_SETTINGS` (tests train tiny models).
    log : callable(str), optional
        One line per step (default: stderr).
    progress_for : callable(label) -> progress callable, optional
        A progress reporter for each analysis (e.g. a tqdm bar).

    Returns
    -------
    Reproduction
    """
    t0 = time.perf_counter()
    log = log or (lambda line: print(line, file=sys.stderr, flush=True))
    bad = sorted(set(archs) - set(ARCHS))
    if bad:
        raise ValueError(f"unknown architecture(s) {', '.join(bad)}; choose from {', '.join(ARCHS)}")
    for data in datasets:
        jobs.dataset_id(data)  # unknown dataset: fail before any work
    run = _Run(store=store or ArtifactStore.from_env(), out_dir=Path(out_dir), models_dir=Path(models_dir),
               params=jobs.resolve_params({**(QUICK_PARAMS if quick else {}), **(params or {})}),
               train_missing=train_missing, quick=quick, figure_format=figure_format,
               train_overrides=dict(train_overrides or {}), log=log, progress_for=progress_for)
    models, bows = [], {}
    for data in datasets:
        source = _Source(data, dataset_label(data), log)
        log(f"[{source.label}] bag-of-words baseline")
        bows[source.label] = bow_accuracy(run.store, data, source.load)
        models += [_one_model(run, source, arch) for arch in archs]
    classes = follow_ups.class_geometry_results(run.store, models_dir, run.params, log, analyse)
    return Reproduction(datasets=[dataset_label(d) for d in datasets], archs=list(archs), models=models,
                        bow=bows, params=run.params, command=command,
                        seconds=time.perf_counter() - t0, figure_format=figure_format,
                        references=gpu_references(models_dir, archs, models), class_geometry=classes)


@dataclass
class _Run:
    """What every model of one run shares (see :func:`run_reproduction`'s parameters)."""

    store: ArtifactStore
    out_dir: Path
    models_dir: Path
    params: dict
    train_missing: bool
    quick: bool
    figure_format: str
    train_overrides: dict
    log: Log
    progress_for: Callable[[str], Progress | None] | None


@dataclass
class _Source:
    """One dataset of the run, loaded once on first use."""

    data: str
    label: str
    log: Log
    _loaded: object = None

    def load(self):
        if self._loaded is None:
            self.log(f"[{self.label}] loading the dataset")
            self._loaded = load_data(self.data)
        return self._loaded


def gpu_references(models_dir: str | Path, archs: Sequence[str],
                   models: Sequence[ModelResult] = ()) -> dict[str, ModelResult]:
    """Per arch, a GPU-trained checkpoint: one of ``models``, else one under ``models_dir``."""
    out = {}
    for arch in archs:
        found = next((m for m in models if m.arch == arch and trained_on_gpu(m.provenance)), None)
        for data in ("imdb", "mr", "tweets"):
            path = None if found is not None else find_checkpoint(models_dir, data, arch)
            if path is None:
                continue
            try:
                model = checkpoint.load(path)
            except CheckpointError:
                continue
            if trained_on_gpu(model.provenance):
                found = ModelResult(data, arch, "reference", checkpoint=str(path),
                                    metrics=dict(model.metrics), provenance=dict(model.provenance))
        if found is not None:
            out[arch] = found
    return out


def _one_model(run: _Run, source: _Source, arch: str) -> ModelResult:
    """Find (or train), analyse and draw ``arch`` on ``source``; failures become a result, not an error."""
    label, name = source.label, f"{arch}-{source.label}"
    path = find_checkpoint(run.models_dir, label, arch)
    trained = False
    try:
        if path is None and not run.train_missing:
            where = " or ".join(str(p) for p in checkpoint_candidates(run.models_dir, label, arch)[::2])
            run.log(f"[{name}] missing: no checkpoint at {where}")
            return ModelResult(label, arch, "missing", note=f"no checkpoint at {where} (run with --train-missing)")
        if path is None:
            path = run.models_dir / label / f"{name}.safetensors"
            run.log(f"[{name}] training (missing checkpoint) -> {path}")
            train_model(source.load(), label, arch, path, quick=run.quick, overrides=run.train_overrides)
            trained = True
        model = checkpoint.load(path)
        run.log(f"[{name}] analysing {path}")
        progress = run.progress_for(name) if run.progress_for else None
        report, key, cached = analyse(run.store, path, source.data, run.params, progress)
        run.log(f"[{name}] {'cached' if cached else 'analysed'} in "
                f"{report.summary.get('timings', {}).get('total', float('nan')):.1f} s (analysis time)")
    except (ValueError, RuntimeError, OSError) as exc:  # CheckpointError/DataError/StoreError
        run.log(f"[{name}] failed: {exc}")
        return ModelResult(label, arch, "failed", checkpoint=str(path) if path else None,
                           trained_here=trained, note=str(exc))
    result = ModelResult(label, arch, "analysed", checkpoint=str(path), summary=read(report.summary),
                         metrics=dict(model.metrics), provenance=dict(model.provenance),
                         trained_here=trained, analysis_cached=cached,
                         modifiers=dict(report.summary.get("modifiers") or {}))
    result.train_tokens = train_tokens_per_epoch(run.store, source.data, model, source.load)
    result.figure, note = _figure(run, report, key, name)
    result.note = note or result.note
    return result


def _figure(run: _Run, report, key: str, name: str) -> tuple[str | None, str]:
    """Export the model's summary figure: (its path relative to the output directory, or None; a note)."""
    figure = run.out_dir / "figures" / f"{name}.{run.figure_format}"
    try:
        export_figure(run.store, report, key, figure)
    except (ImageExportError, ValueError, OSError) as exc:
        run.log(f"[{name}] summary figure not written: {exc}")
        return None, f"summary figure not written: {exc}"
    return figure.relative_to(run.out_dir).as_posix(), ""


def trained_on_gpu(provenance: Mapping) -> bool:
    """The checkpoint was trained on a CUDA device (its provenance says so)."""
    return str((provenance.get("config") or {}).get("device", "cpu")).startswith("cuda")
