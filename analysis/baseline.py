"""The paper's bag-of-words baseline: logistic regression on word-presence features.

Features are the model's own tokens (its tokenizer and, when given, its vocabulary), as
binary presence by default: a sparse (documents × vocabulary) matrix built straight from
token ids (``bow_matrix``), so documents the pipeline has already encoded are not
tokenized twice. The inverse regularization ``C`` is chosen on the validation split
(scikit-learn ``LogisticRegression``, L2, Newton-CG); the reported accuracy is on the test
split. The coefficients rank words by valence: the paper's positive / negative / neutral
word sets come from them (``rnnscope.analysis.words``).
"""
from __future__ import annotations

import copy
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import numpy as np
from scipy import sparse
from sklearn.linear_model import LogisticRegression

from rnnscope.analysis.tokenizer import PAD, UNK, Tokenizer, Vocab, build_vocab, encode_texts

DEFAULT_CS = (0.03, 0.1, 0.3, 1.0)


@dataclass
class BowBaseline:
    """A fitted bag-of-words logistic regression.

    Attributes
    ----------
    vocabulary_ : list of str, length V
        Feature tokens, in column order (column i is token id i of ``vocab``; ``<pad>`` and
        ``<unk>`` columns are always empty, so their coefficients are 0).
    coef_ : float64 ndarray of shape (V,)
        Logistic-regression coefficient per token (positive = positive sentiment).
    intercept_ : float
    doc_freq_ : int64 ndarray of shape (V,)
        Number of training documents containing each token.
    C_ : float
        Inverse regularization chosen on the validation split.
    validation_accuracy_ : dict
        Validation accuracy for every C tried.
    accuracy_ : float
        Test accuracy with ``C_`` (nan for an empty test split).
    n_train_ : int
    vocab : Vocab
    tokenizer : callable text -> list of str
    binary : bool
    classifier : LogisticRegression
    """

    vocabulary_: list[str]
    coef_: np.ndarray
    intercept_: float
    doc_freq_: np.ndarray
    C_: float
    validation_accuracy_: dict
    accuracy_: float
    n_train_: int
    vocab: Vocab
    tokenizer: Callable[[str], list[str]]
    binary: bool
    classifier: LogisticRegression

    def coef_of(self, tokens: Iterable[str]) -> np.ndarray:
        """Coefficient of each token (0.0 for tokens without a feature), float64 (n,)."""
        index = self.vocab.index
        return np.array([self.coef_[index[t]] if t in index else 0.0 for t in tokens], dtype=np.float64)

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        """P(positive) for each text, float64 (n,)."""
        X = bow_matrix(encode_texts(texts, self.tokenizer, self.vocab), len(self.vocab), binary=self.binary)
        return self.classifier.predict_proba(X)[:, 1]


def bow_matrix(seqs: Sequence[np.ndarray], n_features: int, *, binary: bool = True) -> sparse.csr_matrix:
    """Sparse document-term matrix (n_docs, n_features) float64 from token-id sequences.

    Entry (i, j) counts token id j in document i (1/0 when ``binary``); ids 0 (``<pad>``)
    and 1 (``<unk>``) are not counted.
    """
    lengths = np.array([len(q) for q in seqs], dtype=np.int64)
    ids = np.concatenate([np.asarray(q, np.int64) for q in seqs]) if len(seqs) else np.zeros(0, np.int64)
    docs = np.repeat(np.arange(len(seqs)), lengths)
    keep = ids > 1
    if keep.any() and ids[keep].max() >= n_features:
        raise ValueError(f"token id {int(ids.max())} is outside the {n_features} features")
    X = sparse.csr_matrix((np.ones(int(keep.sum())), (docs[keep], ids[keep])), shape=(len(seqs), n_features))
    X.sum_duplicates()
    if binary:
        X.data[:] = 1.0
    return X


def fit_logistic(X_train, y_train, X_val=None, y_val=None, *, Cs: Sequence[float] = DEFAULT_CS,
                 max_iter: int = 1000, seed: int = 0) -> tuple[LogisticRegression, float, dict]:
    """L2 logistic regression with ``C`` chosen on validation: (classifier, C, {C: accuracy}).

    ``X_train`` (n, F) sparse or dense, ``y_train`` (n,) 0/1. Without ``X_val`` (None or no
    rows) C is chosen on a seeded 10% of the training rows and the model is fitted on the
    rest. Ties go to the stronger regularization (smaller C).
    """
    if X_val is None or X_val.shape[0] == 0:
        idx = np.random.default_rng(seed).permutation(X_train.shape[0])
        cut = max(1, len(idx) // 10)
        X_val, y_val, X_fit, y_fit = X_train[idx[:cut]], y_train[idx[:cut]], X_train[idx[cut:]], y_train[idx[cut:]]
    else:
        X_fit, y_fit = X_train, y_train
    scores, models = {}, {}
    # Newton-CG, warm-started along increasing C: 2-3x faster than liblinear on IMDB-sized
    # sparse problems, same validation accuracies.
    clf = LogisticRegression(solver="newton-cg", max_iter=max_iter, warm_start=True)
    for C in sorted(float(c) for c in Cs):
        clf.set_params(C=C).fit(X_fit, y_fit)
        scores[C] = float((clf.predict(X_val) == y_val).mean())
        models[C] = copy.deepcopy(clf)
    best = max(scores, key=lambda c: (scores[c], -c))  # ties: stronger regularization
    return models[best], best, scores


def _fit_vocab(texts: Sequence[str], tokenizer) -> Vocab:
    """Every training token (sorted by frequency), after ``<pad>``/``<unk>``."""
    return build_vocab((tokenizer(t) for t in texts), max_size=2**62)


def fit_bow(dataset, tokenizer: Callable[[str], list[str]] | None = None, vocab: Vocab | Sequence[str] | None = None,
            *, binary: bool = True, Cs: Sequence[float] = DEFAULT_CS, max_iter: int = 1000, seed: int = 0,
            encoded: dict[str, Sequence[np.ndarray]] | None = None) -> BowBaseline:
    """Fit the bag-of-words baseline on ``dataset`` (an ``rnnscope.analysis.data.Dataset``).

    Parameters
    ----------
    dataset : Dataset
        ``train`` to fit, ``validation`` to choose C, ``test`` for ``accuracy_``. With an
        empty validation split, C is chosen on a seeded 10% of the training set.
    tokenizer : callable text -> list of str
        The model's tokenizer (``Model.tokenizer``); defaults to ``Tokenizer()``.
    vocab : Vocab or sequence of str, optional
        Features are these tokens (e.g. ``model.vocab``; a list is taken as ``Vocab(list)``,
        so it must start with ``<pad>``, ``<unk>``); by default every training token.
    binary : bool
        Word presence (True) or counts (False).
    Cs : sequence of float
        Inverse regularization strengths to try.
    encoded : dict split name -> list of id arrays, optional
        Splits already encoded with ``tokenizer`` and ``vocab`` (e.g. the test split the
        pipeline encoded); the others are encoded here.

    Returns
    -------
    BowBaseline
    """
    tokenizer = tokenizer or Tokenizer()
    if not len(Cs) or any(not float(c) > 0 for c in Cs):
        raise ValueError(f"Cs must be a non-empty list of positive numbers, got {list(Cs)!r}")
    train, val, test = dataset.train, dataset.validation, dataset.test
    if len(train) == 0 or len(np.unique(train.labels)) < 2:
        raise ValueError("the bag-of-words baseline needs a training split with both labels")
    if vocab is None:
        vocab, encoded = _fit_vocab(train.texts, tokenizer), None
    elif not isinstance(vocab, Vocab):
        vocab = Vocab(list(vocab))
    if list(vocab.tokens[:2]) != [PAD, UNK]:
        raise ValueError(f"the vocabulary must start with {PAD!r}, {UNK!r}")
    encoded = dict(encoded or {})

    def matrix(name: str, split) -> sparse.csr_matrix:
        seqs = encoded.get(name)
        if seqs is None or len(seqs) != len(split):
            seqs = encode_texts(split.texts, tokenizer, vocab)
        return bow_matrix(seqs, len(vocab), binary=binary)

    X_train, y_train = matrix("train", train), train.labels
    X_val = matrix("validation", val) if len(val) else None
    clf, best, scores = fit_logistic(X_train, y_train, X_val, val.labels, Cs=Cs, max_iter=max_iter, seed=seed)
    test_acc = float((clf.predict(matrix("test", test)) == test.labels).mean()) if len(test) else float("nan")
    doc_freq = np.asarray((X_train > 0).sum(0)).ravel().astype(np.int64)
    return BowBaseline(vocabulary_=list(vocab.tokens), coef_=clf.coef_[0].astype(np.float64),
                       intercept_=float(clf.intercept_[0]), doc_freq_=doc_freq, C_=best,
                       validation_accuracy_=scores, accuracy_=test_acc, n_train_=len(train), vocab=vocab,
                       tokenizer=tokenizer, binary=binary, classifier=clf)
