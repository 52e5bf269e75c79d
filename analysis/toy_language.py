"""A synthetic sentiment language with modifier words, and its exact answers (no download).

The language (issue 14, after Maheswaranathan & Sussillo, ICML 2020):

- valence words: ``good`` +1, ``bad`` −1, ``awesome`` +2, ``awful`` −2;
- neutral filler words (``FILLER``), value 0;
- ``not`` flips the sign of the next ``NEGATION_SPAN`` = 4 tokens (two ``not`` within
  reach cancel);
- ``very`` doubles the next token (only the token right after it).

Token t contributes exactly

.. math::  c_t = v_t \\cdot (-1)^{n_t} \\cdot 2^{[w_{t-1} = very]},

with ``v_t`` its valence and ``n_t`` the number of ``not`` among tokens t−4 … t−1; the
modifiers themselves contribute 0. A document's label is the sign of ``Σ_t c_t``
(1 = positive); documents whose sum is 0 are drawn again, so every label is defined.

Documents are drawn token by token, independently: a filler word, a valence word, ``not``
or ``very`` with the probabilities of ``ToyConfig``; lengths uniform in
``[min_len, max_len]``. Everything is seeded (numpy ``Generator``), so a seed gives the
same corpus on every machine.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from rnnscope.analysis.data_splits import Dataset, Split

#: Valence of each valence word (contribution without modifiers).
VALENCE = {"good": 1.0, "bad": -1.0, "awesome": 2.0, "awful": -2.0}
NEGATOR = "not"
INTENSIFIER = "very"
#: Tokens after a ``not`` whose sign it flips.
NEGATION_SPAN = 4
#: Factor by which ``very`` scales the token right after it.
INTENSITY = 2.0
FILLER = ("the", "movie", "film", "was", "is", "a", "it", "this", "plot", "and", "story", "acting")
_VALENCE_WORDS = tuple(VALENCE)
#: Name of the built-in dataset.
NAME = "toy"
#: Version of the generator: part of the dataset's identity in cache keys (``workers.jobs.dataset_id``);
#: bump it when the same seed would draw other documents.
VERSION = 1


@dataclass(frozen=True)
class ToyConfig:
    """How documents are drawn.

    Attributes
    ----------
    min_len, max_len : int
        Document length in tokens, uniform in [min_len, max_len].
    p_valence, p_not, p_very : float
        Probability that a token is a valence word (uniform over ``VALENCE``), ``not`` or
        ``very``; the rest are filler words (uniform over ``FILLER``).
    """

    min_len: int = 6
    max_len: int = 16
    p_valence: float = 0.3
    p_not: float = 0.1
    p_very: float = 0.1

    def __post_init__(self) -> None:
        if not 1 <= self.min_len <= self.max_len:
            raise ValueError(f"need 1 <= min_len <= max_len, got {self.min_len}, {self.max_len}")
        probs = (self.p_valence, self.p_not, self.p_very)
        if min(probs) < 0 or sum(probs) > 1 or self.p_valence <= 0:
            raise ValueError(f"token probabilities {probs} must be >= 0, sum to <= 1, p_valence > 0")


def token_contributions(tokens: Sequence[str]) -> np.ndarray:
    """Exact contribution c_t of every token (module docstring), float64 (T,), valence units."""
    out = np.zeros(len(tokens))
    for t, token in enumerate(tokens):
        value = VALENCE.get(token, 0.0)
        if value == 0.0:
            continue
        flips = sum(1 for u in tokens[max(0, t - NEGATION_SPAN): t] if u == NEGATOR)
        scale = INTENSITY if t > 0 and tokens[t - 1] == INTENSIFIER else 1.0
        out[t] = value * (-1.0) ** flips * scale
    return out


def document_sum(text: str) -> float:
    """Σ_t c_t of a whitespace-separated document, valence units."""
    return float(token_contributions(text.split()).sum())


def label_of(text: str) -> int:
    """1 if the exact sum is positive, 0 if negative; ValueError for a tie (sum 0)."""
    total = document_sum(text)
    if total == 0:
        raise ValueError(f"tie: {text!r} sums to 0")
    return int(total > 0)


def _draw_documents(rng: np.random.Generator, n: int, config: ToyConfig) -> list[list[str]]:
    """``n`` documents, drawn token by token (vectorized over all their tokens)."""
    lengths = rng.integers(config.min_len, config.max_len + 1, size=n)
    total = int(lengths.sum())
    p_filler = 1.0 - config.p_valence - config.p_not - config.p_very
    kinds = rng.choice(4, size=total, p=[p_filler, config.p_valence, config.p_not, config.p_very])
    which = np.select([kinds == 0, kinds == 1], [rng.integers(len(FILLER), size=total),
                                                  rng.integers(len(_VALENCE_WORDS), size=total)], 0)
    choices = (FILLER, _VALENCE_WORDS, (NEGATOR,), (INTENSIFIER,))
    words = [choices[k][i] for k, i in zip(kinds.tolist(), which.tolist())]
    cuts = np.concatenate([[0], np.cumsum(lengths)])
    return [words[a:b] for a, b in zip(cuts[:-1], cuts[1:])]


def toy_split(n: int, seed: int, config: ToyConfig | None = None) -> Split:
    """``n`` documents of the toy language with their labels (ties drawn again)."""
    config = config or ToyConfig()
    rng = np.random.default_rng(seed)
    texts, labels = [], []
    while len(texts) < n:
        for tokens in _draw_documents(rng, n - len(texts), config):
            total = token_contributions(tokens).sum()
            if total != 0:
                texts.append(" ".join(tokens))
                labels.append(int(total > 0))
    return Split(texts, np.asarray(labels, np.int64))


def toy_dataset(n_train: int = 20000, n_validation: int = 2000, n_test: int = 2000, seed: int = 0,
                config: ToyConfig | None = None) -> Dataset:
    """The built-in toy dataset ``"toy"``: three independently drawn splits.

    The splits use the seeds ``3 seed``, ``3 seed + 1`` and ``3 seed + 2``, so they never
    share a random stream and a seed always gives the same documents.

    Returns
    -------
    Dataset
        Labels int64, 1 = positive (exact sum > 0), 0 = negative.
    """
    return Dataset(NAME, toy_split(n_train, 3 * seed, config), toy_split(n_validation, 3 * seed + 1, config),
                   toy_split(n_test, 3 * seed + 2, config))
