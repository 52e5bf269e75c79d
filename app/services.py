"""Thin glue between the dashboard and the engine: load, cache, compute small things.

Callbacks call these functions and hand the results to ``rnnscope.app.figures``; nothing here
draws. Heavy work (the full analysis) runs as ``rnnscope.workers.jobs.full_analysis``; what is
computed here is small and per-request, and its ingredients are cached in memory:

- loaded models and reports, by checkpoint sha256 / report key (bounded LRU),
- the linearization at one fixed point (its spectrum from the report, J_inp computed when
  the state is small enough: ``compute_point_modes``) and the words' J_inp x there, by
  (report key, index),
- the vocabulary's input projections at one fixed point, by (report key, index),
- sentence traces, by (report key, text).

Every cache is bounded, so a long-running server does not grow without limit.
"""
from __future__ import annotations

import base64
import binascii
import json
import logging
import math
import os
import re
import threading
import unicodedata
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import numpy as np
import torch

from rnnscope.analysis.model import Model
from rnnscope.analysis.pipeline import ANALYSIS_VERSION
from rnnscope.analysis.point_modes import PointModes, point_modes_at, word_input_effects
from rnnscope.analysis.sentence import SentenceTrace, trace_sentence
from rnnscope.analysis.summary import SummaryError
from rnnscope.analysis.summary import read as read_summary
from rnnscope.analysis.words import WordLookup, look_up_words, vocabulary_projection
from rnnscope.settings import Settings

Progress = Callable[[float, str], None]
log = logging.getLogger(__name__)

#: Longest sentence the explorer runs, in tokens (longer text is cut with a message).
MAX_SENTENCE_TOKENS = 2000
#: Characters of a typed sentence that are kept, after Unicode normalization (NFKC can make
#: one character 18): at least ten per traced token, and a bound on what is cached and echoed.
MAX_SENTENCE_CHARS = 20_000
#: Datasets offered for states and word sets (registered names of ``rnnscope.analysis.data``).
DATASETS = (("mr", "MR (Rotten Tomatoes snippets)"), ("imdb", "IMDB reviews"),
            ("tweets", "Tweets"))
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


class UploadError(ValueError):
    """An upload was refused; the message is meant for the user as it is."""


# --------------------------------------------------------------------------- caches


class LRU:
    """A thread-safe least-recently-used cache of at most ``maxsize`` entries and, when
    ``max_bytes`` is given, at most that many bytes as ``sizeof(value)`` counts them.

    ``get(key, make)`` returns the cached value or computes ``make()`` and stores it.
    Two threads asking for the same missing key may both compute it (the computation is
    pure); only one result is kept. A value larger than ``max_bytes`` on its own is
    returned to its caller but not kept (nothing else is evicted for it).
    """

    def __init__(self, maxsize: int, max_bytes: int | None = None,
                 sizeof: Callable[[object], int] | None = None):
        if maxsize < 1:
            raise ValueError(f"maxsize must be >= 1, got {maxsize}")
        if max_bytes is not None and (max_bytes < 1 or sizeof is None):
            raise ValueError("max_bytes must be >= 1 and comes with sizeof")
        self.maxsize, self.max_bytes, self.sizeof = maxsize, max_bytes, sizeof
        self._data: OrderedDict = OrderedDict()
        self._sizes: dict = {}
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0
        self.refused = 0

    def get(self, key: Hashable, make: Callable[[], object]):
        with self._lock:
            if key in self._data:
                self._data.move_to_end(key)
                self.hits += 1
                return self._data[key]
            self.misses += 1
        value = make()
        size = self.sizeof(value) if self.max_bytes is not None else 0
        with self._lock:
            if self.max_bytes is not None and size > self.max_bytes:
                self.refused += 1
                return value
            self._data[key], self._sizes[key] = value, size
            self._data.move_to_end(key)
            while len(self._data) > self.maxsize or sum(self._sizes.values()) > (self.max_bytes or math.inf):
                old, _ = self._data.popitem(last=False)
                del self._sizes[old]
        return value

    def __len__(self) -> int:
        return len(self._data)

    @property
    def nbytes(self) -> int:
        """Bytes held, as ``sizeof`` counts them (0 without a byte bound)."""
        with self._lock:
            return sum(self._sizes.values())

    def keys(self) -> list:
        """The cached keys, oldest first."""
        with self._lock:
            return list(self._data)

    def clear(self) -> None:
        with self._lock:
            self._data.clear()
            self._sizes.clear()


#: Bytes one vocabulary token holds in memory besides its characters: the string object, its
#: list slot, its entry and id in ``Vocab.index`` (measured: 124 for 200,000 short tokens).
TOKEN_OVERHEAD_BYTES = 128


def model_nbytes(model: Model) -> int:
    """Memory a loaded model holds, in bytes: its parameters and buffers (numel x element
    size) plus its vocabulary (characters + ``TOKEN_OVERHEAD_BYTES`` per token)."""
    tensors = [*model.net.parameters(), *model.net.buffers()]
    tokens = model.vocab.tokens
    return (sum(t.numel() * t.element_size() for t in tensors) + sum(map(len, tokens))
            + TOKEN_OVERHEAD_BYTES * len(tokens))


# --------------------------------------------------------------------------- uploads


def decode_upload(contents: str | None, max_bytes: int, what: str = "a checkpoint") -> bytes:
    """Bytes of a ``dcc.Upload`` payload (``data:<mime>;base64,<data>``); ``what`` names the
    expected kind of file in the messages.

    Raises
    ------
    UploadError
        Empty, not base64, or larger than ``max_bytes`` once decoded.
    """
    if not contents or not isinstance(contents, str):
        raise UploadError("No file was received.")
    _, sep, payload = contents.partition(",")
    if not sep:
        raise UploadError("The upload is malformed (no data part).")
    if len(payload) * 3 // 4 > max_bytes + 3:  # check before decoding a huge string
        raise UploadError(f"The file is larger than the {_mib(max_bytes)} upload limit.")
    try:
        data = base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError):
        raise UploadError("The upload is malformed (not base64 data).") from None
    if not data:
        raise UploadError(f"The file is empty; it is not {what}.")
    if len(data) > max_bytes:
        raise UploadError(f"The file is {_mib(len(data))}, larger than the "
                          f"{_mib(max_bytes)} upload limit.")
    return data


def _mib(n: int) -> str:
    return f"{n / 2**20:.1f} MiB" if n >= 2**20 else f"{n} bytes"


def display_filename(filename: object, limit: int = 80) -> str:
    """The uploaded file's name as display text: one line, printable, at most ``limit`` chars."""
    text = "".join(ch for ch in str(filename or "upload") if ch.isprintable()).strip()
    text = os.path.basename(text.replace("\\", "/")) or "upload"
    return text if len(text) <= limit else text[: limit - 1] + "…"


# --------------------------------------------------------------------------- sentences


# --------------------------------------------------------------------------- words


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
            self.models = LRU(6, max_bytes=int(self.settings.model_cache_bytes), sizeof=model_nbytes)

    @cached_property
    def store(self):
        from rnnscope.workers.store import ArtifactStore

        return ArtifactStore(self.settings.store)

    @property
    def max_upload_bytes(self) -> int:
        return int(self.settings.max_upload_bytes)

    @cached_property
    def reader(self):
        """Reads ``.pt`` checkpoints in a child process (``rnnscope.workers.checkpoint_reader``)."""
        from rnnscope.workers.checkpoint_reader import CheckpointReader

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
        from rnnscope.workers.store import ArtifactNotFound

        try:
            return self.store.checkpoint_info(sha)
        except (ArtifactNotFound, ValueError):
            return {}

    # --- the model list ------------------------------------------------------------------
    def demo_models(self) -> list[tuple[str, str]]:
        """(sha256, label) of each bundled demo checkpoint (copied into the store once)."""
        from rnnscope.workers.jobs import demo_checkpoints

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
        from rnnscope.analysis.checkpoint import CheckpointError
        from rnnscope.workers.store import ArtifactNotFound, StoreError, sha256_bytes

        cap = self.max_upload_bytes
        data = decode_upload(contents, cap)
        name = display_filename(filename)
        try:
            model = self.reader.load_bytes(data, name, max_bytes=cap)
        except CheckpointError as exc:
            raise UploadError(str(exc)) from None
        except Exception as exc:  # noqa: BLE001 - a hostile file must never crash the server
            log.warning("unexpected error loading upload %r: %r", name, exc)
            raise UploadError(f"{name} could not be read as a checkpoint.") from None
        sha = sha256_bytes(data)
        try:
            self.store.checkpoint_path(sha)
            is_new = False
        except ArtifactNotFound:
            is_new = True
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
        from rnnscope.analysis.data import DataError
        from rnnscope.workers.jobs import analysis_key

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
        from rnnscope.app.datasets import not_downloaded
        from rnnscope.workers.jobs import full_analysis

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

    # --- analyses in the store -------------------------------------------------------
    def analysed_reports(self, keep: str | None = None) -> list[tuple[str, str, dict]]:
        """(key, label, summary) of the analyses in the store, oldest first.

        One per checkpoint and dataset: the newest, or ``keep`` (the report on screen)
        when it is one of them; older parameter sets of the same pair are left out.
        Labels are ``rnnscope.app.figures.model_label`` ("LSTM-128 mr") for the demos and the file
        name for uploads (``upload_report_label``: "my-gru mr"), with the architecture and
        file name (``report_label``) where two would otherwise share a label.
        """
        from rnnscope.analysis.report import SUMMARY_FILE
        from rnnscope.app.figures import model_label

        root = self.store.root / "reports"
        latest: dict[tuple, tuple] = {}
        paths = [p for p in root.iterdir() if valid_key(p.name)] if root.is_dir() else []
        for path in sorted(paths, key=lambda p: (p.stat().st_mtime, p.name)):
            summary = self.memo.get(("summary", path.name), lambda p=path: _read_json(p / SUMMARY_FILE))
            if not self.memo.get(("current", path.name), lambda s=summary: _current(s)):  # unreadable, or made by another analysis version: never misread
                continue
            pair = (summary["model"].get("sha256"), str(summary.get("data", {}).get("name")))
            if pair not in latest or latest[pair][0] != keep:
                latest[pair] = (path.name, summary)
        demos = {sha for sha, _ in self.demo_models()}
        labels = [model_label(summary) if summary["model"].get("sha256") in demos else self.upload_report_label(summary)
                  for _, summary in latest.values()]
        return [(key, label if labels.count(label) == 1 else self.report_label(summary), summary)
                for (key, summary), label in zip(latest.values(), labels)]

    def upload_report_label(self, summary: dict) -> str:
        """"my-gru mr": an uploaded checkpoint's analysis by its file name (without the
        suffix) and dataset; ``model_label`` when the store has no name for it."""
        from rnnscope.app.figures import model_label

        name = str(self.checkpoint_info(str(summary.get("model", {}).get("sha256", ""))).get("filename") or "")
        if not name:
            return model_label(summary)
        stem = display_filename(re.sub(r"\.(safetensors|pt|pth)$", "", name, flags=re.IGNORECASE), 32)
        data = summary.get("data", {}).get("name") if isinstance(summary.get("data"), dict) else None
        return f"{stem} {data}" if data else stem

    def report_label(self, summary: dict) -> str:
        """"LSTM-64 mr · lstm-mr": architecture, size, dataset and the checkpoint's name."""
        from rnnscope.app.figures import model_label

        name = str(self.checkpoint_info(summary.get("model", {}).get("sha256", "")).get("filename", ""))
        stem = name.rsplit(".", 1)[0][:24]
        return f"{model_label(summary)} · {stem}" if stem else model_label(summary)


def demo_label(stem: str) -> str:
    """"lstm-mr" -> "LSTM · MR (demo)"."""
    arch, _, data = stem.partition("-")
    return f"{arch.upper()} · {data.upper()} (demo)" if data else f"{stem} (demo)"


def upload_label(info: dict) -> str:
    """Display label of an uploaded checkpoint: its file name and short sha256."""
    return f"{display_filename(info.get('filename'), 48)} · {str(info.get('sha256', ''))[:8]}"


def _current(summary) -> bool:
    """The summary reads as this analysis version's (``rnnscope.analysis.summary``)."""
    if not isinstance(summary, dict) or summary.get("version") != ANALYSIS_VERSION:
        return False
    try:
        read_summary(summary)
    except SummaryError:
        return False
    return True


def _read_json(path: Path):
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


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


def valid_key(value) -> bool:
    """True for a 64-character lowercase hex string (a content key or sha256)."""
    return isinstance(value, str) and len(value) == 64 and all(c in "0123456789abcdef" for c in value)


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


def known_dataset(name) -> bool:
    """True for a name in ``DATASETS`` or ``file:<sha256>`` (a dataset in the store, ``rnnscope.app.datasets``);
    the dashboard never takes a path from the client."""
    from rnnscope.workers.jobs import stored_dataset_sha

    return isinstance(name, str) and (name in dict(DATASETS) or stored_dataset_sha(name) is not None)


def report_or_none(svc: Services, ref: dict | None):
    """The report a ``{"key": ...}`` store points at, or None (no ref, bad key, not found)."""
    if not isinstance(ref, dict) or not valid_key(ref.get("key")):
        return None
    from rnnscope.workers.store import ArtifactNotFound
    from rnnscope.analysis.report import ReportError

    try:
        return svc.report(ref["key"])
    except (ArtifactNotFound, ReportError):
        return None


def model_or_none(svc: Services, sha) -> Model | None:
    """The checkpoint ``sha`` from the store, or None when absent or unreadable."""
    if not valid_key(sha):
        return None
    from rnnscope.analysis.checkpoint import CheckpointError
    from rnnscope.workers.store import ArtifactNotFound

    try:
        return svc.model(sha)
    except (ArtifactNotFound, CheckpointError):
        return None
