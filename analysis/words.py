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

from rnnscope.analysis.model import Model
from rnnscope.analysis.tokenizer import N_SPECIAL, PAD, UNK


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


# --------------------------------------------------------------------------- one word, looked up
@dataclass
class WordLookup:
    """A word's input projection at one fixed point and its rank in the vocabulary.

    ``projection`` is ℓ1ᵀ J_inp x_w at the point; ``rank`` is 1 for the most positive
    projection among the ``n_ranked`` vocabulary words (``<pad>``/``<unk>`` excluded).
    ``known`` is False for a word outside the vocabulary (then the numbers are None).
    """

    word: str
    known: bool
    projection: float | None = None
    rank: int | None = None
    n_ranked: int = 0
    set_name: str | None = None


def vocabulary_projection(model: Model, mode_coef: np.ndarray) -> np.ndarray:
    """Signed projection of every vocabulary word on the integration mode at one point:
    (V,) from that point's ``mode_coef`` (E,)."""
    emb = model.net.embedding.weight.detach().cpu().numpy().astype(np.float64)
    return emb @ np.asarray(mode_coef, np.float64)


def rank_of(projections: np.ndarray, word_id: int) -> tuple[int, int]:
    """Rank (1 = largest) of ``projections[word_id]`` among the real words (ids >= ``N_SPECIAL``:
    ``<pad>`` and ``<unk>`` are not ranked), and how many are ranked."""
    ranked = projections[N_SPECIAL:]
    return int((ranked > projections[word_id]).sum()) + 1, int(len(ranked))


#: Name of each word set by its valence.
SET_NAMES = {1: "positive", -1: "negative", 0: "neutral"}


def look_up_words(model: Model, projections: np.ndarray, word_ids: np.ndarray, word_valence: np.ndarray,
                  text: str | None, limit: int) -> list[WordLookup]:
    """Each word of ``text`` (the first 200 characters, tokenized as in training) on its own:
    its projection in ``projections`` (V,) (:func:`vocabulary_projection` at one point), its
    rank (:func:`rank_of`) and the word set it belongs to (``word_ids`` (W,) listed with
    ``word_valence`` (W,)); in the order typed, repeats once, at most ``limit`` words."""
    tokens = list(dict.fromkeys(model.tokenizer(str(text or "")[:200])))[:limit]
    found = []
    for token in tokens:
        wid = model.vocab.index.get(token)
        if wid is None or wid < N_SPECIAL:
            found.append(WordLookup(token, False))
            continue
        rank, n = rank_of(projections, wid)
        listed = np.flatnonzero(np.asarray(word_ids) == wid)
        set_name = SET_NAMES[int(word_valence[listed[0]])] if listed.size else None
        found.append(WordLookup(token, True, float(projections[wid]), rank, n, set_name))
    return found
