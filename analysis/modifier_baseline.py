r"""How much of the RNN's gain over bag-of-words do modifier-word bigrams recover? (ICML 2020)

Maheswaranathan & Sussillo (ICML 2020) ask whether what a recurrent network gains over a
bag-of-words model is its handling of modifier words. The test: add to the bag-of-words
logistic regression (``rnnscope.analysis.baseline``: word presence, L2, C chosen on the
validation split) one feature per *modifier–word pair*, and see how much of the network's
gain the pairs recover.

**Features.** For modifiers ``m_1 … m_M`` (the detected ones, ``rnnscope.analysis.modifiers``,
or any given list) and a window ``k``: feature ``m_w`` ("not_good") is present in a document
when word ``w`` comes 1 … k tokens after ``m`` (k = 1: the next token only, a bigram). ``w``
is any vocabulary word other than ``<pad>``/``<unk>``, modifiers included ("not_very").
Presence (0/1) like the bag-of-words features, or counts with ``binary=False``. Columns:
the V bag-of-words columns, then ``M × V`` pair columns, pair ``(m_i, w)`` at
``V + i V + w``. Both models see the same tokens: the model's tokenizer and vocabulary.

**Comparison.** On the same test documents, each model's per-document correctness
``c_bow, c_pair, c_rnn`` (0/1, (n,) each); accuracies ``A`` are their means, and

    gain     = A_rnn − A_bow            (what the network gains over bag-of-words)
    recovery = (A_pair − A_bow) / gain  (the fraction of it the pairs recover)

``recovery`` is 1 when the pairs close the whole gap, 0 when they add nothing, and has no
meaning when ``gain`` is about 0: when the gain's interval reaches 0, the recovery's
interval is (−inf, inf). The gains are
small (about a point on IMDB), so every number comes with a bootstrap confidence interval
over test documents: ``n_resamples`` resamples of the n documents with replacement, the
*same* resampled documents for all three models (the statistics are paired), percentile
interval (``scipy.stats.bootstrap``, ``method="percentile"``, a seeded numpy ``Generator``).
"""
from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import scipy.stats
import torch
from scipy import sparse

from rnnscope.analysis.baseline import DEFAULT_CS, BowBaseline, bow_matrix, fit_bow, fit_logistic
from rnnscope.analysis.data_splits import Dataset, Split
from rnnscope.analysis.model import Model, RNNClassifier, binary_logit_from_logits, pad_batch
from rnnscope.analysis.tokenizer import N_SPECIAL, encode_texts

#: Statistics of :class:`GainRecovery`, in the order of its arrays.
STATISTICS = ("bow", "pairs", "rnn", "gain", "pair_gain", "recovery")


def pair_matrix(seqs: Sequence[np.ndarray], modifier_ids, n_words: int, *, window: int = 1,
                binary: bool = True) -> sparse.csr_matrix:
    """Modifier–word pair features (n_docs, M · n_words) float64 (module docstring).

    Entry (d, i · n_words + w) counts the positions t of document d with token ``m_i`` at t
    and word ``w`` (id >= 2) at one of t + 1 … t + ``window``; 1/0 when ``binary``. Token
    ids must be below ``n_words``.
    """
    modifier_ids = np.asarray(modifier_ids, np.int64)
    if window < 1:
        raise ValueError(f"window must be >= 1, got {window}")
    slot = np.full(n_words, -1, np.int64)
    slot[modifier_ids] = np.arange(len(modifier_ids))
    lengths = np.array([len(q) for q in seqs], np.int64)
    ids = np.concatenate([np.asarray(q, np.int64) for q in seqs]) if len(seqs) else np.zeros(0, np.int64)
    docs = np.repeat(np.arange(len(seqs)), lengths)
    rows, cols = [], []
    for j in range(1, window + 1):
        first, then = ids[:-j], ids[j:]
        hit = (docs[:-j] == docs[j:]) & (slot[first] >= 0) & (then >= N_SPECIAL)
        rows.append(docs[:-j][hit])
        cols.append(slot[first[hit]] * n_words + then[hit])
    rows, cols = (np.concatenate(rows), np.concatenate(cols)) if rows else (np.zeros(0, np.int64),) * 2
    X = sparse.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(len(seqs), len(modifier_ids) * n_words))
    X.sum_duplicates()
    if binary:
        X.data[:] = 1.0
    return X


def pair_names(modifier_ids, vocab_tokens: Sequence[str]) -> list[str]:
    """Names ("not_good") of the M · V pair columns, in column order."""
    return [f"{vocab_tokens[int(m)]}_{w}" for m in modifier_ids for w in vocab_tokens]


@torch.no_grad()
def network_correct(net: RNNClassifier, seqs: Sequence[np.ndarray], labels, batch_size: int = 256) -> np.ndarray:
    """Per-document correctness (n,) bool of the network's final-state readout (binary
    logit > 0 means positive) on token-id sequences with 0/1 labels; whole documents."""
    y = np.asarray(labels) == 1
    out = np.zeros(len(seqs), bool)
    order = np.argsort([len(s) for s in seqs], kind="stable")   # similar lengths share a batch
    dev = net.readout.weight.device
    for i in range(0, len(seqs), batch_size):
        idx = order[i: i + batch_size]
        tokens, lengths = pad_batch([seqs[j] for j in idx])
        score = binary_logit_from_logits(net(tokens.to(dev), lengths))
        out[idx] = (score > 0).cpu().numpy() == y[idx]
    return out


@dataclass
class GainRecovery:
    """Paired accuracies of the three models and the recovered fraction, with intervals.

    Attributes
    ----------
    estimate : float64 ndarray of shape (6,)
        ``STATISTICS``: accuracy of bag-of-words, of bag-of-words + pairs, of the RNN (0-1),
        gain = A_rnn − A_bow, pair_gain = A_pair − A_bow, recovery = pair_gain / gain.
    low, high : float64 ndarray of shape (6,)
        Percentile bootstrap interval of each; the recovery's is (−inf, inf) when the gain's
        interval reaches 0.
    n_docs, n_resamples : int
    confidence : float
    seed : int
    """

    estimate: np.ndarray
    low: np.ndarray
    high: np.ndarray
    n_docs: int
    n_resamples: int
    confidence: float
    seed: int

    def __getitem__(self, name: str) -> tuple[float, float, float]:
        """(estimate, low, high) of one statistic of ``STATISTICS``."""
        i = STATISTICS.index(name)
        return float(self.estimate[i]), float(self.low[i]), float(self.high[i])


def _statistics(correct: np.ndarray, axis: int = -1) -> np.ndarray:
    """``STATISTICS`` (6, ...) from correctness (3, ..., n) (rows bow, pairs, rnn)."""
    acc = correct.mean(axis=axis)
    gain, pair_gain = acc[2] - acc[0], acc[1] - acc[0]
    with np.errstate(divide="ignore", invalid="ignore"):
        recovery = pair_gain / gain
    return np.stack([acc[0], acc[1], acc[2], gain, pair_gain, recovery])


def gain_recovery(correct_bow, correct_pairs, correct_rnn, *, n_resamples: int = 2000, confidence: float = 0.95,
                  seed: int = 0) -> GainRecovery:
    """Accuracies, gains and the recovered fraction of three models on the same n test
    documents ((n,) 0/1 each), with paired percentile bootstrap intervals (module docstring)."""
    correct = np.stack([np.asarray(c, np.float64) for c in (correct_bow, correct_pairs, correct_rnn)])
    if correct.shape[1] < 2:
        raise ValueError("need at least 2 test documents")
    # One sample of shape (3, n) resampled along the documents: the three models always see
    # the same resampled documents. Batches of 250 resamples bound memory at 250 * 3 * n floats.
    # A resample where the RNN gains nothing gives recovery 0/0 = nan (scipy warns): handled below.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        result = scipy.stats.bootstrap((correct,), _statistics, axis=-1, vectorized=True, method="percentile",
                                       n_resamples=n_resamples, confidence_level=confidence, batch=250,
                                       rng=np.random.default_rng(seed))
    low = np.asarray(result.confidence_interval.low, np.float64)
    high = np.asarray(result.confidence_interval.high, np.float64)
    g, r = STATISTICS.index("gain"), STATISTICS.index("recovery")
    if not low[g] > 0 and not high[g] < 0:
        low[r], high[r] = -np.inf, np.inf       # the gain may be 0: the ratio is unbounded
    return GainRecovery(estimate=_statistics(correct), low=low, high=high, n_docs=correct.shape[1],
                        n_resamples=n_resamples, confidence=confidence, seed=seed)


@dataclass
class ModifierBaseline:
    """Bag-of-words against bag-of-words + modifier–word pairs against the RNN.

    Attributes
    ----------
    modifiers : list of str
        The modifier tokens (M).
    window : int
        Pairs span 1 … window tokens after the modifier.
    bow : BowBaseline
        The plain bag-of-words model (``accuracy_`` on the same test documents).
    pair_C : float
        Inverse regularization of the pair model, chosen on validation.
    pair_coef : float64 ndarray of shape (M, V)
        Its pair coefficients (row i: modifier i; column w: the word after it).
    n_pair_features : int
        Pair columns seen in at least one training document.
    recovery : GainRecovery
        Accuracies, gains and the recovered fraction on the test documents, with intervals.
    """

    modifiers: list[str]
    window: int
    bow: BowBaseline
    pair_C: float
    pair_coef: np.ndarray
    n_pair_features: int
    recovery: GainRecovery

    def top_pairs(self, n: int = 10) -> list[tuple[str, float]]:
        """The ``n`` pair features with the largest |coefficient|: (name, coefficient)."""
        tokens = self.bow.vocabulary_
        flat = self.pair_coef.ravel()
        order = np.argsort(-np.abs(flat), kind="stable")[:n]
        V = len(tokens)
        return [(f"{self.modifiers[i // V]}_{tokens[i % V]}", float(flat[i])) for i in order if flat[i] != 0]


def test_subset(dataset: Dataset, n_test: int | None, seed: int = 0) -> Dataset:
    """The dataset with its test split cut to a seeded sample of ``n_test`` documents (all
    when None or larger)."""
    test = dataset.test
    if n_test is None or n_test >= len(test):
        return dataset
    idx = np.sort(np.random.default_rng(seed).permutation(len(test))[:n_test])
    return Dataset(dataset.name, dataset.train, dataset.validation,
                   Split([test.texts[i] for i in idx], np.asarray(test.labels)[idx]))


@dataclass
class Prepared:
    """What every pair model of one comparison shares: the documents encoded with the model's
    tokenizer and vocabulary, the plain bag-of-words model, and the per-document correctness
    (n,) of it and of the RNN on the test documents."""

    dataset: Dataset
    encoded: dict
    vocab_tokens: list
    bow: BowBaseline
    correct_bow: np.ndarray
    correct_rnn: np.ndarray
    binary: bool
    Cs: tuple
    seed: int


def prepare(model: Model, dataset: Dataset, *, n_test: int | None = None, binary: bool = True,
            Cs: Sequence[float] = DEFAULT_CS, seed: int = 0, batch_size: int = 256) -> Prepared:
    """Encode ``dataset`` (its test split cut to a seeded ``n_test``), fit the bag-of-words
    model and run the RNN on the test documents (:func:`modifier_baseline`)."""
    dataset = test_subset(dataset, n_test, seed)
    encoded = {name: encode_texts(split.texts, model.tokenizer, model.vocab)
               for name, split in dataset.splits().items()}
    bow = fit_bow(dataset, model.tokenizer, model.vocab, binary=binary, Cs=Cs, seed=seed, encoded=encoded)
    test_y = dataset.test.labels
    correct_bow = bow.classifier.predict(bow_matrix(encoded["test"], len(model.vocab), binary=binary)) == test_y
    correct_rnn = network_correct(model.net.eval(), encoded["test"], test_y, batch_size)
    return Prepared(dataset=dataset, encoded=encoded, vocab_tokens=list(model.vocab.tokens), bow=bow,
                    correct_bow=correct_bow, correct_rnn=correct_rnn, binary=binary, Cs=tuple(Cs), seed=seed)


def pair_baseline(prep: Prepared, modifiers: Sequence[str], *, window: int = 1,
                  n_resamples: int = 2000) -> ModifierBaseline:
    """Fit bag-of-words + the pairs of ``modifiers`` (tokens of the vocabulary: ValueError
    otherwise) on the prepared documents and compare with the prepared BoW and RNN."""
    index = {t: i for i, t in enumerate(prep.vocab_tokens)}
    missing = [m for m in modifiers if m not in index]
    if missing or not modifiers:
        raise ValueError(f"modifiers not in the model's vocabulary: {missing or 'none given'}")
    mod_ids, V, data = np.asarray([index[m] for m in modifiers], np.int64), len(prep.vocab_tokens), prep.dataset

    def features(name: str) -> sparse.csr_matrix:
        seqs = prep.encoded[name]
        return sparse.hstack([bow_matrix(seqs, V, binary=prep.binary),
                              pair_matrix(seqs, mod_ids, V, window=window, binary=prep.binary)], format="csr")

    X_train = features("train")
    X_val = features("validation") if len(data.validation) else None
    clf, C, _ = fit_logistic(X_train, data.train.labels, X_val, data.validation.labels, Cs=prep.Cs, seed=prep.seed)
    correct_pairs = clf.predict(features("test")) == data.test.labels
    recovery = gain_recovery(prep.correct_bow, correct_pairs, prep.correct_rnn, n_resamples=n_resamples,
                             seed=prep.seed)
    seen = int((np.asarray((X_train[:, V:] > 0).sum(0)).ravel() > 0).sum())
    return ModifierBaseline(modifiers=list(modifiers), window=window, bow=prep.bow, pair_C=C,
                            pair_coef=clf.coef_[0, V:].reshape(len(mod_ids), V).astype(np.float64),
                            n_pair_features=seen, recovery=recovery)


def modifier_baseline(model: Model, dataset: Dataset, modifiers: Sequence[str], *, window: int = 1,
                      n_test: int | None = None, binary: bool = True, Cs: Sequence[float] = DEFAULT_CS,
                      n_resamples: int = 2000, seed: int = 0, batch_size: int = 256) -> ModifierBaseline:
    """Fit both baselines on ``dataset`` with the model's tokenizer and vocabulary, run the
    RNN on the same test documents (a seeded ``n_test`` of them, or all), and compare
    (:func:`prepare`, then :func:`pair_baseline`; several modifier sets can share one
    ``prepare``).

    Parameters
    ----------
    model : Model
        A binary model; its tokenizer and vocabulary give both baselines their features.
    dataset : Dataset
        ``train`` fits, ``validation`` chooses C (a seeded 10% of train without one), ``test``
        compares.
    modifiers : sequence of str
        Modifier tokens (in the model's vocabulary: ValueError otherwise).
    window : int
        Pair feature ``m_w`` when w comes 1 … window tokens after m.

    Returns
    -------
    ModifierBaseline
    """
    missing = [m for m in modifiers if m not in model.vocab.index]
    if missing or not modifiers:
        raise ValueError(f"modifiers not in the model's vocabulary: {missing or 'none given'}")
    prep = prepare(model, dataset, n_test=n_test, binary=binary, Cs=Cs, seed=seed, batch_size=batch_size)
    return pair_baseline(prep, modifiers, window=window, n_resamples=n_resamples)
