"""Thin glue between the dashboard and the engine: load, cache and call.

Callbacks call these functions and hand the results to ``rnnscope.app.figures``; nothing here
draws, and nothing here computes: every number comes from ``rnnscope.analysis`` (a sentence's
trace, a point's modes, word ranks) or from a job of ``rnnscope.workers.jobs`` (the full
analysis). What this module keeps is their ingredients and results, in memory:

- loaded models and reports, by checkpoint sha256 / report key (``rnnscope.app.model_cache``:
  bounded LRUs, the models also by bytes),
- the linearization at one fixed point (its spectrum from the report, J_inp computed when
  the state is small enough: ``point_modes_at``) and the words' J_inp x there, by
  (report key, index),
- the vocabulary's input projections at one fixed point, by (report key, index),
- sentence traces, by (report key, text).

Every cache is bounded, so a long-running server does not grow without limit. Its
neighbours: ``rnnscope.app.uploads`` (an upload's bytes and name), ``rnnscope.app.report_index``
(the analyses in the store, labelled for Compare), ``rnnscope.app.datasets`` (the datasets offered).
"""
from __future__ import annotations

import logging
import math
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import numpy as np
import torch

from rnnscope.analysis.checkpoint import CheckpointError
from rnnscope.analysis.data import DataError
from rnnscope.analysis.data_sources import is_cached
from rnnscope.analysis.multiclass_data import NAMES as MULTICLASS_NAMES
from rnnscope.analysis.multiclass_data import is_cached as multiclass_is_cached
from rnnscope.analysis.toy_language import NAME as TOY_NAME
from rnnscope.analysis.model import Model
from rnnscope.analysis.point_modes import PointModes, point_modes_at, word_input_effects
from rnnscope.analysis.report import ReportError
from rnnscope.analysis.sentence import SentenceTrace, trace_sentence
from rnnscope.analysis.words import WordLookup, look_up_words, vocabulary_projection
from rnnscope.app import report_index
from rnnscope.app.model_cache import LRU, model_cache
from rnnscope.app.report_index import valid_key
from rnnscope.app.uploads import UploadError, receive, upload_label
from rnnscope.settings import Settings
from rnnscope.workers.checkpoint_reader import CheckpointReader
from rnnscope.workers.jobs import analysis_key, demo_checkpoints, full_analysis, stored_dataset_sha
from rnnscope.workers.store import ArtifactNotFound, ArtifactStore, StoreError, sha256_bytes

Progress = Callable[[float, str], None]
log = logging.getLogger(__name__)

#: Longest sentence the explorer runs, in tokens (longer text is cut with a message).
MAX_SENTENCE_TOKENS = 2000
#: Characters of a typed sentence that are kept, after Unicode normalization (NFKC can make
#: one character 18): at least ten per traced token, and a bound on what is cached and echoed.
MAX_SENTENCE_CHARS = 20_000
#: Datasets offered for states and word sets (registered names of ``rnnscope.analysis.data``).
DATASETS = (("mr", "MR (Rotten Tomatoes snippets)"), ("imdb", "IMDB reviews"),
            ("tweets", "Tweets"), ("toy", "Toy language with 'not' and 'very' (built in)"),
            ("counting-3", "Counting task, 3 classes (built in)"), ("counting-4", "Counting task, 4 classes (built in)"),
            ("counting-3-close", "Counting task, 3 classes, won by one count over 100-300 tokens (built in)"),
            ("tweets3", "Tweets, 3 classes (negative, neutral, positive)"),
            ("mr-valence3", "MR crowd valence, 3 ordered classes"), ("mr-valence5", "MR crowd valence, 5 ordered classes"))
#: How the operator gets a listed dataset that is not cached (the ones not named here: ``data fetch NAME``).
FETCH_COMMAND = {"tweets3": "rnnscope analyze MODEL --data tweets3 (it downloads the tweets archive once)",
                 "mr-valence3": "rnnscope data fetch mr-valence", "mr-valence5": "rnnscope data fetch mr-valence"}
DEFAULT_DATASET = "mr"
#: The point sets the downstream views can use (value -> label, ``slow_q_max`` of the analysis).
#: "auto" is the default rule of ``rnnscope.analysis.slow_points``.
POINT_SETS = (("auto", "Fixed + slow points (default rule)", None), ("fixed", "Fixed points only (q < 1e-8)", 0.0),
              ("1e-6", "Fixed + slow points, q < 1e-6", 1e-6), ("1e-5", "Fixed + slow points, q < 1e-5", 1e-5),
              ("1e-4", "Fixed + slow points, q < 1e-4", 1e-4), ("1e-3", "Fixed + slow points, q < 1e-3", 1e-3))
DEFAULT_POINT_SET = "auto"
#: What the page shows when it is sent anything but one of those names.
UNKNOWN_DATASET = ("Choose one of the listed datasets (" + ", ".join(dict(DATASETS)) + ", or one uploaded "
                   "or registered on this server).")
#: Preferred demo model on start (file stem in ``models/demo``), and the demo order.
DEFAULT_DEMO = "lstm-mr"
DEMO_ORDER = ("lstm", "gru", "ugrnn", "vrnn")
#: Word-set codes of the report's ``word_valence``.
#: Most words the word lookup answers for at once (each on its own).
MAX_LOOKUP_WORDS = 12


# --------------------------------------------------------------------------- the service object


@dataclass
class Services:
    """Everything the callbacks need, bound to one store and one set of settings.

    Parameters
    ----------
    settings : Settings
        Store location, upload cap, demo directory, device.
    analysis_params : dict, optional
        Overrides of ``AnalysisParams`` for jobs started from the dashboard (default: the
        JSON in ``$RNNSCOPE_ANALYSIS_PARAMS``, else none).
    """

    settings: Settings = field(default_factory=Settings.from_env)
    analysis_params: dict | None = None
    models: LRU | None = None  # default: 6 models and settings.model_cache_bytes
    reports: LRU = field(default_factory=lambda: LRU(12))
    eigenmodes: LRU = field(default_factory=lambda: LRU(256))
    vocab_projections: LRU = field(default_factory=lambda: LRU(64))
    sentences: LRU = field(default_factory=lambda: LRU(32))
    memo: LRU = field(default_factory=lambda: LRU(256))

    def __post_init__(self):
        if self.analysis_params is None:
            self.analysis_params = params_from_env()
        if self.models is None:
            self.models = model_cache(self.settings.model_cache_bytes)

    @cached_property
    def store(self):
        return ArtifactStore(self.settings.store)

    @property
    def max_upload_bytes(self) -> int:
        return int(self.settings.max_upload_bytes)

    @cached_property
    def reader(self):
        """Reads ``.pt`` checkpoints in a child process (``rnnscope.workers.checkpoint_reader``)."""
        return CheckpointReader(self.settings.parse_limit_s)

    # --- models and reports ------------------------------------------------------------
    def model(self, sha: str) -> Model:
        """The checkpoint ``sha`` from the store, loaded once (LRU bounded by count and bytes;
        a ``.pt`` is read in the reading process, off the request threads)."""
        def make() -> Model:
            model = self.reader.load(self.store.checkpoint_path(sha), max_bytes=max(self.max_upload_bytes, 2**30))
            model.net.eval()
            return model
        return self.models.get(sha, make)

    def report(self, key: str):
        """The report under ``key`` from the store, loaded once (LRU)."""
        return self.reports.get(key, lambda: self.store.get_report(key))

    def model_of(self, key: str) -> Model:
        """The model a stored report was computed from (its summary names the checkpoint)."""
        return self.model(self.report(key).summary["model"]["sha256"])

    def checkpoint_info(self, sha: str) -> dict:
        """Display name, size and format of a stored checkpoint ({} if unknown)."""
        try:
            return self.store.checkpoint_info(sha)
        except (ArtifactNotFound, ValueError):
            return {}

    # --- the model list ------------------------------------------------------------------
    def demo_models(self) -> list[tuple[str, str]]:
        """(sha256, label) of each bundled demo checkpoint (copied into the store once)."""
        directory = Path(self.settings.demo_dir)
        files = sorted(directory.glob("*.safetensors")) if directory.is_dir() else []
        stamp = tuple((p.name, p.stat().st_mtime_ns, p.stat().st_size) for p in files)
        infos = self.memo.get(("demos", str(directory), stamp),
                              lambda: demo_checkpoints(self.store, directory))
        order = {arch: i for i, arch in enumerate(DEMO_ORDER)}
        stems = sorted((Path(i["filename"]).stem, i["sha256"]) for i in infos)
        stems.sort(key=lambda item: order.get(item[0].split("-")[0], len(order)))
        return [(sha, demo_label(stem)) for stem, sha in stems]

    def model_options(self) -> tuple[list[dict], str | None]:
        """Dropdown options (demos first, then uploads) and the model selected on start."""
        demos = self.demo_models()
        seen = {sha for sha, _ in demos}
        options = [{"label": label, "value": sha} for sha, label in demos]
        for info in self.store.list_checkpoints():
            if info["sha256"] not in seen:
                options.append({"label": upload_label(info), "value": info["sha256"]})
        default = next((sha for sha, label in demos if label == demo_label(DEFAULT_DEMO)),
                       options[0]["value"] if options else None)
        return options, default

    def accept_upload(self, contents: str | None, filename) -> tuple[str, str, bool]:
        """Validate and store an uploaded checkpoint: -> (sha256, label, newly stored).

        The bytes are fully loaded (``rnnscope.analysis.checkpoint.load_bytes``: no code executed,
        every shape and value checked; a ``.pt`` in the reading process, within its CPU limit,
        ``rnnscope.workers.checkpoint_reader``) before anything is written to the store.

        Raises
        ------
        UploadError
            With the checkpoint loader's own plain-words message when it refuses the file.
        """
        cap = self.max_upload_bytes
        data, name = receive(contents, filename, cap, "a checkpoint")
        try:
            model = self.reader.load_bytes(data, name, max_bytes=cap)
        except CheckpointError as exc:
            raise UploadError(str(exc)) from None
        except Exception as exc:  # noqa: BLE001 - a hostile file must never crash the server
            log.warning("unexpected error loading upload %r: %r", name, exc)
            raise UploadError(f"{name} could not be read as a checkpoint.") from None
        sha = sha256_bytes(data)
        is_new = not self.store.has_checkpoint(sha)
        try:
            self.store.put_checkpoint(data, name, max_bytes=cap)
        except (ValueError, StoreError) as exc:
            raise UploadError(f"The checkpoint could not be stored: {exc}") from None
        model.net.eval()
        self.models.get(sha, lambda: model)
        return sha, upload_label(self.checkpoint_info(sha) or {"sha256": sha, "filename": name}), is_new

    # --- small computations per request ------------------------------------------------
    def sentence(self, ref: dict, text: str) -> SentenceTrace:
        """The trace of ``text`` under the report ``ref["key"]`` (cached by key and the clipped text)."""
        key, text = ref["key"], clip_sentence(text)
        return self.sentences.get((key, text), lambda: trace_sentence(
            self.model_of(key), self.report(key).arrays, text, MAX_SENTENCE_TOKENS))

    def point_modes(self, key: str, index: int) -> PointModes:
        """The linearization at fixed point ``index`` of report ``key`` (``rnnscope.analysis.point_modes.point_modes_at``:
        the report's spectrum; J_inp when D <= ``settings.click_max_state``), cached (LRU)."""
        def make() -> PointModes:
            return point_modes_at(self.model_of(key).net, self.report(key).arrays, index,
                                       max_state=self.settings.click_max_state)
        return self.eigenmodes.get(("modes", key, index), make)

    def word_effects(self, key: str, index: int) -> np.ndarray | None:
        """J_inp x_w at fixed point ``index`` for each listed word w: (W, D) float64; None when
        J_inp is not computed at a click (the state is larger than ``settings.click_max_state``)."""
        def make():
            report, model = self.report(key), self.model_of(key)
            j_inp = self.point_modes(key, index).j_inp
            if j_inp is None:
                return None
            return word_input_effects(model.net, report.arrays["word_ids"], j_inp)
        return self.eigenmodes.get(("word-effects", key, index), make)

    def lookup_word(self, selection: dict, word: str | None) -> WordLookup | None:
        """Input projection of ``word`` (its first token) at the selected point and its rank."""
        found = self.lookup_words(selection, word)
        return found[0] if found else None

    def lookup_words(self, selection: dict, text: str | None,
                     limit: int = MAX_LOOKUP_WORDS) -> list[WordLookup]:
        """Each word of ``text`` looked up on its own at the selected point: its input
        projection and vocabulary rank, in the order typed, repeats once, at most ``limit``."""
        key, index = selection["key"], int(selection["index"])
        model, report = self.model_of(key), self.report(key)
        proj = self.vocab_projections.get((key, index), lambda: vocabulary_projection(
            model, report.arrays["mode_coef"][index]))
        return look_up_words(model, proj, report.arrays["word_ids"], report.arrays["word_valence"], text, limit)

    # --- analyses ------------------------------------------------------------------------
    def params_for(self, point_set=DEFAULT_POINT_SET) -> dict:
        """The server's analysis parameters with the chosen point set."""
        return {**(self.analysis_params or {}), **point_set_params(point_set)}

    def stored_analysis(self, sha: str, data_name: str, point_set=DEFAULT_POINT_SET) -> str | None:
        """Key of the stored full analysis of ``sha`` on ``data_name``, or None if not stored."""
        if not known_dataset(data_name):
            return None
        try:
            key = analysis_key(sha, data_name, self.params_for(point_set))
        except (DataError, ValueError):
            return None  # the job will say what is wrong, in words
        return key if self.store.report_dir(key).is_dir() else None

    def analyse(self, sha: str, data_name: str, progress: Progress | None = None,
                point_set=DEFAULT_POINT_SET) -> str:
        """Run (or find) the full analysis; returns the report key (``rnnscope.workers.jobs.full_analysis``).

        ``data_name`` must be one of ``DATASETS`` or a stored ``file:<sha256>`` (ValueError
        otherwise): never a path. A registered dataset that is not cached is downloaded only
        when the operator allows it (``Settings.fetch_data``); otherwise ValueError says how.
        """
        if not known_dataset(data_name):
            raise ValueError(UNKNOWN_DATASET)
        missing = not_downloaded(self, data_name)
        if missing:
            raise ValueError(missing)
        return full_analysis(sha, data_name, self.params_for(point_set), store=self.store, progress=progress,
                             fetch_missing=self.settings.fetch_data)

    def use_job_threads(self) -> None:
        """Torch threads of an embedded analysis job (its own child process): one.

        Measured with ``bench/worker_throughput.py`` on the demo GRU-128, one thread runs a
        full analysis faster than two (17.3 vs 13.2 analyses/min), and it leaves the other
        cores to the web server. ``$RNNSCOPE_TORCH_THREADS`` wins when set; on a Celery
        worker the worker's own setting is kept.
        """
        if self.settings.redis_url:
            return
        torch.set_num_threads(self.settings.torch_threads or 1)

    @staticmethod
    def explain(exc: BaseException) -> str:
        """A failed job's exception as a sentence for the page."""
        text = str(exc).strip()
        if isinstance(exc, (ValueError, RuntimeError, OSError)) and text:
            return text
        return f"{type(exc).__name__}: {text}" if text else type(exc).__name__

    # --- analyses in the store (``rnnscope.app.report_index``) -----------------------------
    def analysed_reports(self, keep: str | None = None) -> list[tuple[str, str, dict]]:
        """(key, label, summary) of the analyses in the store, oldest first; one per checkpoint
        and dataset: the newest, or ``keep`` (the report on screen) when it is one of them."""
        return report_index.analysed_reports(self, keep)

    def upload_report_label(self, summary: dict) -> str:
        """"my-gru mr": an uploaded checkpoint's analysis by its file name and dataset."""
        return report_index.upload_report_label(self, summary)

    def report_label(self, summary: dict) -> str:
        """"LSTM-64 mr · lstm-mr": architecture, size, dataset and the checkpoint's name."""
        return report_index.report_label(self, summary)


def demo_label(stem: str) -> str:
    """"lstm-mr" -> "LSTM · MR (demo)"."""
    arch, _, data = stem.partition("-")
    return f"{arch.upper()} · {data.upper()} (demo)" if data else f"{stem} (demo)"


def params_from_env(env: dict | None = None) -> dict:
    """JSON object in ``$RNNSCOPE_ANALYSIS_PARAMS`` (``{}`` when unset); ValueError if malformed."""
    return dict(Settings.from_env(env).analysis_params)


def finite_or_none(value) -> float | None:
    """A float, or None for missing / NaN / inf (for display)."""
    try:
        value = float(value)
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) else None


# --------------------------------------------------------------------------- report references


def clip_sentence(text) -> str:
    """The sentence as it is traced, cached and sent back: NFKC-normalized (as the tokenizer
    does) and cut to ``MAX_SENTENCE_CHARS``; anything that is not a string is empty."""
    if not isinstance(text, str):
        return ""
    return unicodedata.normalize("NFKC", text[:MAX_SENTENCE_CHARS])[:MAX_SENTENCE_CHARS]


def point_set_choice(value) -> str:
    """The point-set choice if it is one of ``POINT_SETS``, else the default (client input)."""
    return value if isinstance(value, str) and value in {v for v, *_ in POINT_SETS} else DEFAULT_POINT_SET


def point_set_params(value) -> dict:
    """``AnalysisParams`` override for a point-set choice (``point_set_choice`` first)."""
    return {"slow_q_max": {v: q for v, _, q in POINT_SETS}[point_set_choice(value)]}


def point_index(report, selection) -> int | None:
    """The selected point's index if ``selection["index"]`` is a plain int (not a bool) naming
    a point of ``report``, else None (the selection comes from the client)."""
    index = selection.get("index") if isinstance(selection, dict) else None
    if type(index) is not int or report is None or not 0 <= index < len(report.arrays["fixed_points"]):
        return None
    return index


def not_downloaded(svc: Services, name) -> str | None:
    """Why a registered dataset cannot be analysed on this server now, in words; None if it can."""
    labels = dict(DATASETS)
    if name not in labels or svc.settings.fetch_data or dataset_cached(name, svc.settings.home):
        return None
    return (f"{labels[name]} is not downloaded on this server, and the dashboard downloads nothing by itself. "
            f"Whoever runs the server can get it with `{FETCH_COMMAND.get(name, f'rnnscope data fetch {name}')}`, "
            "or start it with `rnnscope serve --fetch-data` to let analyses download the pinned datasets.")


def dataset_cached(name: str, home) -> bool:
    """Whether a listed dataset is read without downloading (built-in ones always are)."""
    if name == TOY_NAME:
        return True
    if name in MULTICLASS_NAMES:
        return multiclass_is_cached(name, home)
    return is_cached(name, home)


def known_dataset(name) -> bool:
    """True for a name in ``DATASETS`` or ``file:<sha256>`` (a dataset in the store, ``rnnscope.app.datasets``);
    the dashboard never takes a path from the client."""
    return isinstance(name, str) and (name in dict(DATASETS) or stored_dataset_sha(name) is not None)


def report_or_none(svc: Services, ref: dict | None):
    """The report a ``{"key": ...}`` store points at, or None (no ref, bad key, not found)."""
    if not isinstance(ref, dict) or not valid_key(ref.get("key")):
        return None
    try:
        return svc.report(ref["key"])
    except (ArtifactNotFound, ReportError):
        return None


def model_or_none(svc: Services, sha) -> Model | None:
    """The checkpoint ``sha`` from the store, or None when absent or unreadable."""
    if not valid_key(sha):
        return None
    try:
        return svc.model(sha)
    except (ArtifactNotFound, CheckpointError):
        return None
