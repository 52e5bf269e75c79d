r"""The geometry of integration with C > 2 classes (Aitken et al. 2020, "The geometry of
integration in text classification RNNs"), as pure functions of a model's point set.

For C classes that the network must tell apart by accumulating evidence, the paper predicts
an attractor of dimension C−1 for unordered classes (the C−1 independent logit differences
each need an integrated coordinate) and a lower-dimensional one for ordered classes (one
valence axis can serve all C−1 boundaries). What is measured here, at the K fixed/slow points
the analysis chose (``rnnscope.analysis.slow_points``):

- **dimension of the point set**: PCA of the points (scikit-learn): the variance fraction in
  the top C−1 components, the participation ratio (Σv)²/Σv² of the component variances v
  (1 for a line, 2 for two equal axes), and ``dimension``: the fewest components holding
  ``VARIANCE_THRESHOLD`` = 90% of the variance (0 for fewer than 2 distinct points);
- **slow modes**: at each point, the eigenvalues of J_rec with ||λ| − 1| <= ``SLOW_TOL`` =
  0.01 (within 1% of 1: time constants of about 100 tokens or more, or growing as slowly);
- **readout vs manifold**: the readout's C−1 difference directions d_c = w_c − w_0 (row c
  minus the first row of the readout's weight, in state space; zero on the LSTM's c half)
  against the span of the points' top C−1 PCs: principal angles (``scipy.linalg.subspace_angles``,
  degrees, smallest first); 0° means the readout reads exactly the plane the points span;
- **per-word input projections onto each slow left eigenvector**: Re(ℓ_a J_inp x_w) for the
  first C−1 slow modes a (by |λ|) among the M linearized (largest-|λ|) modes, the mode's phase
  fixed so that d·r_a is real and positive for the difference direction d it moves most;
  and, independent of the eigenbasis inside the slow subspace, the change of each logit
  difference that the slow modes keep from one word: Σ_a (d_c · r_a)(ℓ_a J_inp x_w) (real).

The claim "a (C−1)-dimensional attractor" holds when ``dimension`` = C−1 and the median count
of slow modes = C−1 (:attr:`ClassGeometry.kind` ``"full"``); a line (dimension 1, one slow mode)
or isolated points (no slow modes) never pass it, whatever the variance in the top C−1 PCs.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.linalg import subspace_angles
from sklearn.decomposition import PCA

#: Eigenvalues with ||λ| − 1| at most this are slow modes.
SLOW_TOL = 0.01
#: ``dimension`` is the fewest point-set PCs holding this fraction of the variance.
VARIANCE_THRESHOLD = 0.9
#: At most this many PCs of the points are kept.
MAX_COMPONENTS = 10


def slow_mask(eigvals: np.ndarray, tol: float = SLOW_TOL) -> np.ndarray:
    """Eigenvalues (any shape) complex -> bool, same shape: the slow modes, ||λ| − 1| <= ``tol``."""
    return np.abs(np.abs(np.asarray(eigvals)) - 1.0) <= tol


def slow_mode_counts(eigvals: np.ndarray, tol: float = SLOW_TOL) -> np.ndarray:
    """Eigenvalues (K, D) complex -> int64 (K,): how many are slow (:func:`slow_mask`) at each point."""
    return slow_mask(eigvals, tol).sum(-1).astype(np.int64)


def point_pca(points: np.ndarray, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """PCA of the points (K, D): -> explained variance (n,), ratio (n,) and components (n, D),
    n = min(K − 1, D, ``MAX_COMPONENTS``) (state units², fraction, unit rows); n = 0 for K < 2
    or points that all coincide."""
    P = np.asarray(points, np.float64)
    n = min(len(P) - 1, P.shape[1] if P.ndim == 2 else 0, MAX_COMPONENTS)
    if n < 1 or not np.ptp(P, axis=0).any():
        D = P.shape[1] if P.ndim == 2 else 0
        return np.zeros(0), np.zeros(0), np.zeros((0, D))
    pca = PCA(n_components=n, random_state=seed).fit(P)
    return pca.explained_variance_, pca.explained_variance_ratio_, pca.components_


def participation_ratio(variances: np.ndarray) -> float:
    """(Σv)² / Σv² of component variances v (n,); nan without variance."""
    v = np.asarray(variances, np.float64)
    total = float((v ** 2).sum())
    return float(v.sum() ** 2 / total) if total > 0 else float("nan")


def n_dimensions(ratio: np.ndarray, threshold: float = VARIANCE_THRESHOLD) -> int:
    """The fewest leading components whose variance ratios (n,) sum to >= ``threshold`` (0 if none).

    The ratios come from at most ``MAX_COMPONENTS`` components, so ``threshold`` is taken of
    what they hold together (all of it whenever K − 1 or D <= ``MAX_COMPONENTS``)."""
    r = np.asarray(ratio, np.float64)
    if r.size == 0 or r.sum() <= 0:
        return 0
    return int(np.searchsorted(np.cumsum(r) / r.sum(), threshold - 1e-12) + 1)


def readout_differences(weight: np.ndarray, state_size: int) -> np.ndarray:
    """Readout weight (C, H) -> the C−1 difference directions (C−1, D): row c minus row 0 for
    c = 1..C−1, zero-padded from H to the state size D (the LSTM's c half)."""
    w = np.asarray(weight, np.float64)
    out = np.zeros((w.shape[0] - 1, state_size))
    out[:, : w.shape[1]] = w[1:] - w[0]
    return out


def principal_angles(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Principal angles between span of rows of ``a`` (p, D) and of ``b`` (q, D): degrees,
    ascending, min(p, q) of them (empty when either has no rows)."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    if not len(a) or not len(b):
        return np.zeros(0)
    return np.sort(np.degrees(subspace_angles(a.T, b.T)))


def slow_word_effects(slow: np.ndarray, right: np.ndarray, left_inp: np.ndarray, diffs: np.ndarray,
                      emb: np.ndarray) -> np.ndarray:
    """What the slow modes keep of each word's input, read on each logit difference.

    slow (K, M) bool: which of the M linearized modes are slow at each point; right (K, D, M),
    left_inp (K, M, E) (``rnnscope.analysis.linearize``); diffs (C−1, D); emb (W, E).
    -> (K, W, C−1) float64: Σ_{a slow} (d_c · r_a)(ℓ_a J_inp x_w), logit units (real: a complex
    pair's two terms are conjugates); independent of the basis chosen inside the slow subspace.
    """
    readout = np.einsum("cd,kdm->kmc", diffs.astype(np.complex128), right)  # (K, M, C-1)
    inputs = np.einsum("kme,we->kmw", left_inp, emb.astype(np.complex128))  # (K, M, W)
    return np.real(np.einsum("km,kmc,kmw->kwc", slow.astype(np.float64), readout, inputs))


def slow_left_projections(slow: np.ndarray, right: np.ndarray, left_inp: np.ndarray, diffs: np.ndarray,
                          emb: np.ndarray, max_slow: int) -> np.ndarray:
    """Re(ℓ_a J_inp x_w) for the first ``max_slow`` slow modes at each point: (K, max_slow, W)
    float64, nan where a point has fewer slow modes. Each mode (r_a, ℓ_a) is rescaled by the
    phase c with c (d · r_a) real and positive, d the difference direction it moves most, so the
    sign says which way the word pushes that logit difference (shapes as in :func:`slow_word_effects`)."""
    K, W = slow.shape[0], len(emb)
    out = np.full((K, max_slow, W), np.nan)
    readout = np.einsum("cd,kdm->kmc", diffs.astype(np.complex128), right)  # (K, M, C-1)
    for k in range(K):
        for s, a in enumerate(np.flatnonzero(slow[k])[:max_slow]):
            top = readout[k, a, np.argmax(np.abs(readout[k, a]))]
            phase = np.conj(top) / abs(top) if abs(top) > 0 else 1.0
            out[k, s] = np.real(phase * (left_inp[k, a] @ emb.T))  # ℓ/c with 1/c = conj(top)/|top|
    return out


@dataclass
class ClassGeometry:
    """The class geometry of one C-class model's point set (module docstring; shapes below).

    Attributes
    ----------
    num_classes : int            C
    class_names : list of str    label order
    ordered : bool or None       the classes lie on one scale (None: not known)
    n_points : int               K
    explained_variance : (n,)    point-set PCA variances (state units²)
    explained_variance_ratio : (n,)
    components : (n, D)          point-set principal axes
    variance_top : float         fraction of the variance in the top C−1 PCs (nan for K < 2)
    participation_ratio : float
    dimension : int              fewest PCs holding 90% of the variance
    slow_tol : float
    slow_counts : (K,) int64     slow modes at each point
    slow_median : float          their median (nan for K = 0)
    readout_diffs : (C−1, D)     d_c = w_c − w_0
    angles : (m,) degrees        principal angles, readout differences vs top C−1 PCs
    point_class : (K,) int64     predicted class at each point (argmax of its logits)
    words : list of str          W words (the most class-typical of each class)
    word_class : (W,) int64      the class each word was listed for
    word_effects : (K, W, C−1)   slow-mode readout effect of each word (logit units)
    slow_projection : (K, S, W)  Re(ℓ_a J_inp x_w) per slow mode (nan-padded)
    zero_input : dict            what iterating F(·, 0) from the points found
                                 (``rnnscope.analysis.attractors``: ``kind``, ``n_attractors``,
                                 ``tau_slow`` in tokens); empty when not measured
    """

    num_classes: int
    class_names: list
    ordered: bool | None
    n_points: int
    explained_variance: np.ndarray
    explained_variance_ratio: np.ndarray
    components: np.ndarray
    variance_top: float
    participation_ratio: float
    dimension: int
    slow_tol: float
    slow_counts: np.ndarray
    slow_median: float
    readout_diffs: np.ndarray
    angles: np.ndarray
    point_class: np.ndarray
    words: list = field(default_factory=list)
    word_class: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    word_effects: np.ndarray = field(default_factory=lambda: np.zeros((0, 0, 0)))
    slow_projection: np.ndarray = field(default_factory=lambda: np.zeros((0, 0, 0)))
    zero_input: dict = field(default_factory=dict)

    @property
    def kind(self) -> str:
        """``full``: dimension = median slow modes = C−1; ``lower``: dimension = median slow
        modes, 1 <= that < C−1; ``none``: fewer than 2 points or no slow modes (isolated
        points); ``mixed``: anything else (spread and slow modes disagree)."""
        slow = self.slow_median
        if self.n_points < 2 or not np.isfinite(slow) or slow < 1:
            return "none"
        if self.dimension == slow == self.num_classes - 1:
            return "full"
        if self.dimension == slow < self.num_classes - 1:
            return "lower"
        return "mixed"

    def text(self) -> str:
        """The measurement and the verdict, in words."""
        C, K = self.num_classes, self.n_points
        if K < 2:
            return (f"{K} point{'s' if K != 1 else ''}: no point set to measure a dimension of; "
                    f"the C−1 = {C - 1}-dimensional attractor of the paper is not there.")
        slow = f"{self.slow_median:g}" if np.isfinite(self.slow_median) else "n/a"
        head = (f"The {K} points span {self.dimension} dimension{'s' if self.dimension != 1 else ''} "
                f"({VARIANCE_THRESHOLD:.0%} of their variance; top C−1 = {C - 1} PCs hold "
                f"{self.variance_top:.1%}, participation ratio {self.participation_ratio:.2f}); median "
                f"{slow} slow modes (|λ| within {self.slow_tol:.0%} of 1). ")
        noun = self._noun()
        verdict = {"full": f"A {C - 1}-dimensional {noun}: what the paper predicts for {C} unordered classes.",
                   "lower": f"A {self.dimension}-dimensional {noun}, lower than C−1 = {C - 1}"
                            + (": what the paper predicts for ordered classes." if self.ordered else "."),
                   "none": "No slow modes: isolated points, not an attractor that integrates evidence.",
                   "mixed": f"Not a {C - 1}-dimensional attractor: the points' spread ({self.dimension} "
                            f"dimensions) and the slow modes ({slow}) disagree."}[self.kind]
        drifts = noun != "attractor" and self.kind in ("full", "lower")
        return head + verdict + (self._drift() if drifts else "")

    def _noun(self) -> str:
        """"attractor" unless iterating F(·, 0) found the points drifting into isolated ones
        (then "slow manifold": it holds evidence for a while, not for ever)."""
        kind = self.zero_input.get("kind", "")
        return "slow manifold" if kind and kind not in ("line", "slow") else "attractor"

    def _drift(self) -> str:
        n, tau = self.zero_input.get("n_attractors", 0), self.zero_input.get("tau_slow", float("nan"))
        memory = f" (τ1 = {tau:.0f} tokens)" if tau is not None and np.isfinite(tau) else ""
        where = f"{n} isolated point{'s' if n != 1 else ''}" if n else "isolated points"
        return (f" Not an exact attractor: at zero input its points drift into {where}{memory}, so it holds "
                f"evidence for about that long, not indefinitely.")

    def to_dict(self) -> dict:
        """The report's ``class_geometry`` summary block (plain JSON values; nan -> None by the writer)."""
        mean_effects = self.mean_word_effects()
        return {"applies": True, "num_classes": self.num_classes, "class_names": list(self.class_names),
                "ordered": self.ordered, "n_points": self.n_points, "kind": self.kind, "text": self.text(),
                "explained_variance_ratio": self.explained_variance_ratio.tolist(),
                "variance_top": _num(self.variance_top), "participation_ratio": _num(self.participation_ratio),
                "dimension": self.dimension, "slow_tol": self.slow_tol, "slow_median": _num(self.slow_median),
                "slow_count_histogram": np.bincount(self.slow_counts).tolist() if len(self.slow_counts) else [],
                "principal_angles_deg": self.angles.tolist(),
                "point_class_counts": np.bincount(self.point_class, minlength=self.num_classes).tolist(),
                "top_words": _top_words(self.words, self.word_class, mean_effects, self.num_classes)}

    def mean_word_effects(self) -> np.ndarray:
        """(W, C−1): each word's slow-mode readout effect, median over points (logit units)."""
        if not self.word_effects.size:
            return np.zeros((len(self.words), self.num_classes - 1))
        return np.median(self.word_effects, axis=0)

    def arrays(self) -> dict[str, np.ndarray]:
        """The report arrays ``geometry_*`` (``rnnscope.analysis.report`` lists them)."""
        return {"geometry_explained_variance_ratio": np.asarray(self.explained_variance_ratio, np.float64),
                "geometry_components": np.asarray(self.components, np.float32),
                "geometry_slow_counts": np.asarray(self.slow_counts, np.int64),
                "geometry_readout_diffs": np.asarray(self.readout_diffs, np.float32),
                "geometry_angles": np.asarray(self.angles, np.float64),
                "geometry_point_class": np.asarray(self.point_class, np.int64),
                "geometry_words": np.asarray(self.words, np.str_) if self.words else np.zeros(0, "<U1"),
                "geometry_word_class": np.asarray(self.word_class, np.int64),
                "geometry_word_effects": np.asarray(self.mean_word_effects(), np.float32),
                "geometry_slow_projection": np.asarray(self.slow_projection, np.float32)}


def _num(x: float) -> float | None:
    return float(x) if np.isfinite(x) else None


def _top_words(words: list, word_class: np.ndarray, effects: np.ndarray, C: int, n: int = 5) -> dict:
    """For each class c, up to ``n`` listed words whose slow-mode effect favours c most: logit c
    minus the largest other logit (class 0's logit difference is 0), only words where that is > 0."""
    if not len(words):
        return {}
    full = np.concatenate([np.zeros((len(words), 1)), effects], axis=1)  # (W, C): effect on logit c − logit 0
    out = {}
    for c in range(C):
        margin = full[:, c] - np.delete(full, c, axis=1).max(1)
        order = [i for i in np.argsort(-margin, kind="stable")[:n] if margin[i] > 0]
        out[str(c)] = [[words[i], round(float(margin[i]), 4)] for i in order]
    return out


def class_geometry(points: np.ndarray, eigvals: np.ndarray, right: np.ndarray, left_inp: np.ndarray,
                   weight: np.ndarray, point_logits: np.ndarray, *, emb: np.ndarray | None = None,
                   words: list | None = None, word_class: np.ndarray | None = None,
                   class_names: list | None = None, ordered: bool | None = None,
                   slow_tol: float = SLOW_TOL, seed: int = 0) -> ClassGeometry:
    """The class geometry of a C-class model at its K points (module docstring).

    Parameters
    ----------
    points : (K, D)                 the fixed/slow points
    eigvals : (K, D) complex        eigenvalues of J_rec at each point (``Linearization.eigvals``)
    right : (K, D, M), left_inp : (K, M, E)   the M leading modes (``Linearization``)
    weight : (C, H)                 the readout's weight
    point_logits : (K, C)           logits at each point (for its predicted class)
    emb : (W, E), words : W str, word_class : (W,)   the words to project (optional)
    class_names, ordered            what the dataset says of its classes
    slow_tol : float                ||λ| − 1| bound of a slow mode
    """
    points = np.asarray(points, np.float64).reshape(len(points), -1)
    K, D = points.shape
    C = int(np.asarray(weight).shape[0])
    var, ratio, comps = point_pca(points, seed)
    counts = slow_mode_counts(eigvals, slow_tol) if K else np.zeros(0, np.int64)
    diffs = readout_differences(weight, D)
    slow = slow_mask(np.asarray(eigvals)[:, : right.shape[2]], slow_tol)  # (K, M)
    emb = np.zeros((0, left_inp.shape[2] if left_inp.ndim == 3 else 0)) if emb is None else np.asarray(emb)
    max_slow = int(min(slow.sum(1).max(), C - 1)) if K else 0  # the C−1 slowest: what the claim is about
    return ClassGeometry(
        num_classes=C, class_names=list(class_names or [str(c) for c in range(C)]), ordered=ordered, n_points=K,
        explained_variance=var, explained_variance_ratio=ratio, components=comps,
        variance_top=float(ratio[: C - 1].sum()) if ratio.size else float("nan"),
        participation_ratio=participation_ratio(var), dimension=n_dimensions(ratio), slow_tol=slow_tol,
        slow_counts=counts, slow_median=float(np.median(counts)) if K else float("nan"), readout_diffs=diffs,
        angles=principal_angles(diffs, comps[: C - 1]),
        point_class=np.asarray(point_logits).argmax(-1).astype(np.int64) if K else np.zeros(0, np.int64),
        words=list(words or []), word_class=np.asarray(word_class if word_class is not None else [], np.int64),
        word_effects=slow_word_effects(slow, right, left_inp, diffs, emb) if K else np.zeros((0, len(emb), C - 1)),
        slow_projection=slow_left_projections(slow, right, left_inp, diffs, emb, max_slow))


def class_words(coef: np.ndarray, vocabulary: list, doc_freq: np.ndarray, n: int, *, min_doc_freq: int = 5,
                allowed=None) -> tuple[list, np.ndarray]:
    """The ``n`` most typical words of each class from a multinomial bag-of-words fit.

    coef (C, V): logistic-regression coefficients; vocabulary: V tokens; doc_freq (V,):
    training documents holding each token. A word is typical of class c by coef[c] minus the
    mean of the other rows. -> words (at most n·C, class by class, no word twice) and their
    classes (int64). Tokens seen in fewer than ``min_doc_freq`` documents, ``<pad>``/``<unk>``
    and tokens outside ``allowed`` (when given) are skipped.
    """
    coef = np.asarray(coef, np.float64)
    C = coef.shape[0]
    ok = np.asarray(doc_freq) >= min_doc_freq
    ok &= np.array([not t.startswith("<") and (allowed is None or t in allowed) for t in vocabulary])
    margin = coef - (coef.sum(0, keepdims=True) - coef) / max(C - 1, 1)
    words, classes, seen = [], [], set()
    for c in range(C):
        picked = [i for i in np.argsort(-margin[c], kind="stable") if ok[i] and margin[c, i] > 0
                  and vocabulary[i] not in seen][:n]
        words += [vocabulary[i] for i in picked]
        classes += [c] * len(picked)
        seen.update(words)
    return words, np.asarray(classes, np.int64)


def not_applicable(num_classes: int) -> dict:
    """The ``class_geometry`` summary block of a binary network (same keys as ``to_dict``)."""
    return {"applies": False, "num_classes": num_classes, "class_names": [], "ordered": None, "n_points": 0,
            "kind": "not applicable",
            "text": f"A binary network ({num_classes} classes): the class geometry measures networks with C > 2 "
                    "classes; for C = 2 its C−1 = 1-dimensional case is the line-attractor analysis above.",
            "explained_variance_ratio": [], "variance_top": None, "participation_ratio": None, "dimension": 0,
            "slow_tol": SLOW_TOL, "slow_median": None, "slow_count_histogram": [], "principal_angles_deg": [],
            "point_class_counts": [], "top_words": {}}


def empty_arrays(state_size: int) -> dict[str, np.ndarray]:
    """The ``geometry_*`` report arrays of a binary network: every key, no rows."""
    rows = np.zeros((0, state_size), np.float32)
    return {"geometry_explained_variance_ratio": np.zeros(0), "geometry_components": rows,
            "geometry_slow_counts": np.zeros(0, np.int64), "geometry_readout_diffs": rows.copy(),
            "geometry_angles": np.zeros(0), "geometry_point_class": np.zeros(0, np.int64),
            "geometry_words": np.zeros(0, "<U1"), "geometry_word_class": np.zeros(0, np.int64),
            "geometry_word_effects": np.zeros((0, 0), np.float32),
            "geometry_slow_projection": np.zeros((0, 0, 0), np.float32)}
