"""Local datasets: CSV/TSV/JSONL/JSON files and directory layouts, read into labelled splits.

Local datasets are recognized by layout: an ``aclImdb`` directory, GLUE SST-2 TSV,
Yelp polarity CSV (headerless ``"label","text"``, labels 1/2), or a generic
CSV/TSV/JSONL file with a text and a label column. Labels become int64 0 (negative)
and 1 (positive). Every problem with the input raises :class:`DataError`, naming the
file, line and column where it can. Splitting is ``rnnscope.analysis.data_splits``'s.
"""
from __future__ import annotations

import contextlib
import csv
import io
import json
import logging
import math
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from rnnscope.analysis.data_splits import (DataError, Dataset, Split, holdout_validation,
                                           split_80_10_10)

log = logging.getLogger(__name__)

MAX_FILE_BYTES = 2 * 1024**3  # a local dataset file larger than this is refused
MAX_FIELD_CHARS = 1_000_000  # one text (IMDB's longest review is 13,704 characters)
MAX_LINE_CHARS = 2 * MAX_FIELD_CHARS  # one JSONL line / one TSV line

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


# --------------------------------------------------------------------------- files and directories


def load_path(path: Path, text_col: str | None = None, label_col: str | None = None,
              seed: int = 0) -> Dataset:
    """A local directory (``aclImdb``, or ``train.*`` with ``dev``/``validation``/``test``
    files) or one labelled file, split as ``rnnscope.analysis.data.load`` describes."""
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
def csv_field_limit(limit: int) -> Iterator[None]:
    """``csv``'s field size limit set to ``limit`` characters inside the block, then restored."""
    old = csv.field_size_limit(limit)
    try:
        yield
    finally:
        csv.field_size_limit(old)


def _read_delimited(path: Path, delimiter: str, text_col, label_col,
                    require_label: bool) -> Table:
    quoting = csv.QUOTE_NONE if delimiter == "\t" else csv.QUOTE_MINIMAL
    with csv_field_limit(MAX_FIELD_CHARS), \
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
        _require_found(f"{path}:1", "column", first, text_idx, label_idx, text_col, label_col, require_label)
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


def _require_found(where: str, noun: str, names: list, text, label, text_col, label_col,
                   require_label: bool) -> None:
    """DataError naming ``where`` when the text column (``noun``: "column" or "field") was not
    found among ``names``, or the label column was not and is required or was asked for."""
    if text is None:
        raise DataError(f"{where}: no text {noun} {text_col or ' / '.join(TEXT_COLUMNS)!r}; "
                        f"{noun}s are {names}")
    if label is None and (require_label or label_col):
        raise DataError(f"{where}: no label {noun} {label_col or ' / '.join(LABEL_COLUMNS)!r}; "
                        f"{noun}s are {names}")


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
    _require_found(f"{path}:{records[0][0]}", "field", keys, text_key, label_key, text_col, label_col,
                   require_label)
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
