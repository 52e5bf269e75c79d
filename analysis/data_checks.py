"""How well a model fits the dataset it is analysed on: vocabulary coverage and chance.

Two checks that say whether an analysis on this dataset means anything, as pure functions
of the encoded documents, the accuracy and the labels:

- **vocabulary coverage**: the share of the dataset's tokens that the model reads as
  ``<unk>`` (id 1). A model whose vocabulary barely covers a dataset sees mostly one
  input vector there; its states, fixed points and accuracy say little about that data.
- **chance**: the network's accuracy against the majority-class rate of the same
  documents (always answering the commoner label). An accuracy at or below it means the
  model has not learned the dataset, or reads its labels the other way round.

``UNK_WARN_FRACTION`` is 15%: on the shipped GRUs the in-domain ``<unk>`` share is 2.6%
(IMDB), 5.8% (tweets) and 7.8% (MR), and 14.9-28% across domains (the MR GRU on tweets:
28%), so the threshold is about twice the worst in-domain share.
"""
from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence

import numpy as np

from rnnscope.analysis.summary import Summary
from rnnscope.analysis.tokenizer import UNK_ID

#: Warn when more than this share of the dataset's tokens is ``<unk>``.
UNK_WARN_FRACTION = 0.15


def vocabulary_coverage(seqs: Sequence[np.ndarray], unk_id: int = UNK_ID,
                        warn_above: float = UNK_WARN_FRACTION) -> dict:
    """Share of ``<unk>`` tokens over all tokens of the encoded documents.

    Parameters
    ----------
    seqs : sequence of int arrays, each (T_i,)
        Token ids of each document under the model's vocabulary (``encode_texts``).
    unk_id : int
        Id of ``<unk>``.
    warn_above : float
        Threshold recorded with the result (fraction in [0, 1]).

    Returns
    -------
    dict
        ``n_docs``, ``n_tokens``, ``n_unk`` (counts), ``unk_fraction`` (n_unk / n_tokens,
        None when there are no tokens), ``docs_all_unk`` (documents with tokens, every one
        ``<unk>``), ``unk_warn_above`` and ``poor`` (unk_fraction > warn_above).
    """
    lengths = np.array([len(s) for s in seqs], dtype=np.int64)
    unk = np.array([int(np.count_nonzero(np.asarray(s) == unk_id)) for s in seqs], dtype=np.int64)
    n_tokens, n_unk = int(lengths.sum()), int(unk.sum())
    fraction = n_unk / n_tokens if n_tokens else None
    return {"n_docs": int(len(lengths)), "n_tokens": n_tokens, "n_unk": n_unk, "unk_fraction": fraction,
            "docs_all_unk": int(np.count_nonzero((lengths > 0) & (unk == lengths))),
            "unk_warn_above": float(warn_above),
            "poor": bool(fraction is not None and fraction > warn_above)}


def chance_level(labels: np.ndarray, accuracy: float | None) -> dict:
    """The majority-class rate of ``labels`` (0/1, shape (N,)) and whether ``accuracy`` beats it.

    Returns
    -------
    dict
        ``majority_rate`` (share of the commoner label, None for no labels),
        ``majority_class`` ("positive" or "negative"; positive on a tie) and
        ``at_or_below_chance`` (accuracy <= majority_rate; False when either is unknown).
    """
    y = np.asarray(labels).reshape(-1)
    if y.size == 0:
        return {"majority_rate": None, "majority_class": None, "at_or_below_chance": False}
    positive = float(np.mean(y == 1))
    rate, cls = (positive, "positive") if positive >= 0.5 else (1.0 - positive, "negative")
    below = accuracy is not None and np.isfinite(accuracy) and float(accuracy) <= rate
    return {"majority_rate": rate, "majority_class": cls, "at_or_below_chance": bool(below)}


def fit_warnings(coverage: dict, accuracy: float | None, chance: dict) -> list[str]:
    """The warnings, in words, that ``vocabulary_coverage`` and ``chance_level`` call for."""
    out = []
    if coverage.get("poor"):
        out.append(f"{coverage['unk_fraction']:.0%} of this dataset's tokens are not in the model's vocabulary "
                   f"(read as <unk>; warning above {coverage['unk_warn_above']:.0%}): the model sees little of "
                   "this data, so its states and accuracy here say little about it")
    if chance.get("at_or_below_chance"):
        out.append(f"test accuracy {accuracy:.1%} is at or below chance: always answering "
                   f"{chance['majority_class']} scores {chance['majority_rate']:.1%} on the same documents. "
                   "The model has not learned this dataset, or reads its labels the other way round "
                   "(rnnscope reads the last output of a multi-output head as positive, the first as negative)")
    return out


def fit_lines(summary: Summary) -> tuple[str, list[str]]:
    """The coverage and chance check of one report in words: (the numbers, the warnings)."""
    vocab, acc = summary.data.vocabulary, summary.accuracy
    unk = "–" if math.isnan(vocab.unk_fraction) else f"{vocab.unk_fraction:.1%}"
    text = (f"{unk} of the test split's {vocab.n_tokens:,} tokens are not in the model's vocabulary (<unk>); "
            f"test accuracy {acc.test:.1%} against chance {acc.majority_rate:.1%} (always {acc.majority_class})")
    return text, fit_warnings(dataclasses.asdict(vocab), acc.test, dataclasses.asdict(acc))
