"""Labelled splits of a sentiment dataset, and the seeded rules that cut them (no I/O).

Splits are deterministic for a given seed. IMDB: exact duplicate texts are dropped
(first kept), then a 50/50 train/test split, and 10% of train is held out for
validation. Everything else that comes as one file: 80/10/10 train/validation/test.
Labels are int64 0 (negative) and 1 (positive).
"""
from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

log = logging.getLogger(__name__)


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

