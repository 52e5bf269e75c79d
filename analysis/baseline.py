"""The paper's bag-of-words baseline: logistic regression on word-presence features.

Features are built with scikit-learn's ``CountVectorizer`` using the model's own tokenizer
(so a "word" here is exactly a model token), binary presence by default. The inverse
regularization ``C`` is chosen on the validation split; the reported accuracy is on the
test split. The coefficients rank words by valence: the paper's positive / negative /
neutral word sets come from them (``analysis.words``).
"""
from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import numpy as np
from sklearn.feature_extraction.text import CountVectorizer
from sklearn.linear_model import LogisticRegression

from analysis.tokenizer import PAD, UNK, Tokenizer

DEFAULT_CS = (0.03, 0.1, 0.3, 1.0)


@dataclass
class BowBaseline:
    """A fitted bag-of-words logistic regression.

    Attributes
    ----------
    vocabulary_ : list of str, length V
        Feature tokens, in column order.
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
        Test accuracy with ``C_``.
    n_train_ : int
    """

    vocabulary_: list[str]
    coef_: np.ndarray
    intercept_: float
    doc_freq_: np.ndarray
    C_: float
    validation_accuracy_: dict
    accuracy_: float
    n_train_: int
    vectorizer: CountVectorizer
    classifier: LogisticRegression

    def coef_of(self, tokens: Iterable[str]) -> np.ndarray:
        """Coefficient of each token (0.0 for tokens without a feature), float64 (n,)."""
        index = self.vectorizer.vocabulary_
        return np.array([self.coef_[index[t]] if t in index else 0.0 for t in tokens], dtype=np.float64)

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        """P(positive) for each text, float64 (n,)."""
        return self.classifier.predict_proba(self.vectorizer.transform(list(texts)))[:, 1]


def _vectorizer(tokenizer: Callable[[str], list[str]], vocab: Sequence[str] | None, binary: bool) -> CountVectorizer:
    words = None
    if vocab is not None:
        words = list(dict.fromkeys(t for t in vocab if t not in (PAD, UNK)))
    return CountVectorizer(analyzer=tokenizer, vocabulary=words, binary=binary, dtype=np.float64)


def fit_bow(dataset, tokenizer: Callable[[str], list[str]] | None = None, vocab: Sequence[str] | None = None, *,
            binary: bool = True, Cs: Sequence[float] = DEFAULT_CS, max_iter: int = 1000,
            seed: int = 0) -> BowBaseline:
    """Fit the bag-of-words baseline on ``dataset`` (an ``analysis.data.Dataset``).

    Parameters
    ----------
    dataset : Dataset
        ``train`` to fit, ``validation`` to choose C, ``test`` for ``accuracy_``. With an
        empty validation split, C is chosen on a seeded 10% of the training set.
    tokenizer : callable text -> list of str
        The model's tokenizer (``Model.tokenizer``); defaults to ``Tokenizer()``.
    vocab : sequence of str, optional
        Restrict features to these tokens (e.g. ``model.vocab.tokens``); by default every
        token seen in training.
    binary : bool
        Word presence (True) or counts (False).
    Cs : sequence of float
        Inverse regularization strengths to try.

    Returns
    -------
    BowBaseline
    """
    tokenizer = tokenizer or Tokenizer()
    train, val, test = dataset.train, dataset.validation, dataset.test
    if len(train) == 0 or len(np.unique(train.labels)) < 2:
        raise ValueError("the bag-of-words baseline needs a training split with both labels")
    vec = _vectorizer(tokenizer, vocab, binary)
    X_train = vec.fit_transform(train.texts)
    y_train = train.labels
    if len(val):
        X_val, y_val, X_fit, y_fit = vec.transform(val.texts), val.labels, X_train, y_train
    else:
        idx = np.random.default_rng(seed).permutation(len(train))
        cut = max(1, len(idx) // 10)
        X_val, y_val, X_fit, y_fit = X_train[idx[:cut]], y_train[idx[:cut]], X_train[idx[cut:]], y_train[idx[cut:]]
    scores, models = {}, {}
    for C in Cs:
        clf = LogisticRegression(C=C, solver="liblinear", max_iter=max_iter, random_state=seed)
        clf.fit(X_fit, y_fit)
        scores[float(C)] = float((clf.predict(X_val) == y_val).mean())
        models[float(C)] = clf
    best = max(scores, key=lambda c: (scores[c], -c))  # ties: stronger regularization
    clf = models[best]
    test_acc = float((clf.predict(vec.transform(test.texts)) == test.labels).mean()) if len(test) else float("nan")
    doc_freq = np.asarray((X_train > 0).sum(0)).ravel().astype(np.int64)
    vocabulary = [None] * len(vec.vocabulary_)
    for token, col in vec.vocabulary_.items():
        vocabulary[col] = token
    return BowBaseline(vocabulary_=vocabulary, coef_=clf.coef_[0].astype(np.float64),
                       intercept_=float(clf.intercept_[0]), doc_freq_=doc_freq, C_=best,
                       validation_accuracy_=scores, accuracy_=test_acc, n_train_=len(train),
                       vectorizer=vec, classifier=clf)
