"""Positive, negative and neutral word sets (paper §4.5, Fig. 4).

The paper labels words by the sign and size of their bag-of-words logistic-regression
coefficients: the ``n`` largest positive coefficients, the ``n`` most negative, and
``n`` neutral words with the smallest |coefficient| among frequent words. Sets are
restricted to tokens the model knows (so they have an embedding). The VADER lexicon
(human valence ratings) is an independent cross-check of the signed sets.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from analysis.tokenizer import PAD, UNK


@dataclass
class WordSets:
    """Listed words: positive, then negative, then neutral.

    Attributes
    ----------
    words : list of str, length W
    valence : int8 ndarray of shape (W,)
        1 positive, -1 negative, 0 neutral.
    coef : float64 ndarray of shape (W,)
        Bag-of-words coefficient of each word.
    doc_freq : int64 ndarray of shape (W,)
        Training documents containing the word.
    """

    words: list[str]
    valence: np.ndarray
    coef: np.ndarray
    doc_freq: np.ndarray

    def of(self, valence: int) -> list[str]:
        """Words of one set (1, -1 or 0)."""
        return [w for w, v in zip(self.words, self.valence) if v == valence]


def select_words(vocabulary: Sequence[str], coef: np.ndarray, doc_freq: np.ndarray, *, n: int = 100,
                 n_frequent: int = 2000, min_doc_freq: int = 5,
                 allowed: Sequence[str] | set[str] | None = None) -> WordSets:
    """Pick the positive, negative and neutral sets from bag-of-words coefficients.

    Parameters
    ----------
    vocabulary : sequence of str, length V
        Feature tokens.
    coef : float ndarray of shape (V,)
        Coefficient per token (positive = positive sentiment).
    doc_freq : int ndarray of shape (V,)
        Training document frequency per token.
    n : int
        Words per set (fewer when not enough candidates qualify).
    n_frequent : int
        Neutral words are drawn from the ``n_frequent`` most frequent candidates.
    min_doc_freq : int
        Ignore tokens seen in fewer training documents (their coefficients are noise).
    allowed : collection of str, optional
        Only these tokens qualify (the model's vocabulary); ``<pad>``/``<unk>`` never do.

    Returns
    -------
    WordSets
        Positive sorted by decreasing coefficient, negative by increasing coefficient,
        neutral by increasing |coefficient|. The sets are disjoint.
    """
    vocabulary = list(vocabulary)
    coef = np.asarray(coef, np.float64)
    doc_freq = np.asarray(doc_freq, np.int64)
    if not (len(vocabulary) == len(coef) == len(doc_freq)):
        raise ValueError("vocabulary, coef and doc_freq must have the same length")
    allowed = None if allowed is None else set(allowed)
    ok = np.array([t not in (PAD, UNK) and (allowed is None or t in allowed) for t in vocabulary], bool)
    ok &= doc_freq >= min_doc_freq
    cand = np.flatnonzero(ok)
    by_coef = cand[np.argsort(-coef[cand], kind="stable")]
    positive = [i for i in by_coef[:n] if coef[i] > 0]
    negative = [i for i in by_coef[::-1][:n] if coef[i] < 0]
    taken = set(positive) | set(negative)
    frequent = cand[np.argsort(-doc_freq[cand], kind="stable")][:n_frequent]
    frequent = np.array([i for i in frequent if i not in taken], dtype=np.int64)
    neutral = list(frequent[np.argsort(np.abs(coef[frequent]), kind="stable")][:n])
    idx = np.array(positive + negative + neutral, dtype=np.int64)
    valence = np.array([1] * len(positive) + [-1] * len(negative) + [0] * len(neutral), dtype=np.int8)
    return WordSets(words=[vocabulary[i] for i in idx], valence=valence, coef=coef[idx], doc_freq=doc_freq[idx])


def vader_agreement(sets: WordSets, lexicon: Mapping[str, float]) -> dict:
    """Cross-check the signed sets against a human valence lexicon (e.g. VADER).

    Returns
    -------
    dict
        ``vader_positive_agreement``: fraction of listed positive words (among those the
        lexicon rates) with valence > 0; ``vader_negative_agreement``: same with < 0;
        ``vader_neutral_mean_abs``: mean |valence| of rated neutral words (0 when the
        lexicon rates none of them); ``vader_coverage``: fraction of the signed words rated.
        Fractions are nan when no word of a set is rated.
    """
    def rated(valence: int) -> np.ndarray:
        return np.array([lexicon[w] for w in sets.of(valence) if w in lexicon], dtype=np.float64)

    pos, neg, neu = rated(1), rated(-1), rated(0)
    n_signed = len(sets.of(1)) + len(sets.of(-1))
    return {
        "vader_positive_agreement": float((pos > 0).mean()) if pos.size else float("nan"),
        "vader_negative_agreement": float((neg < 0).mean()) if neg.size else float("nan"),
        "vader_neutral_mean_abs": float(np.abs(neu).mean()) if neu.size else 0.0,
        "vader_coverage": (pos.size + neg.size) / n_signed if n_signed else float("nan"),
    }
