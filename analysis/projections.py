"""Input projections and the alignment of the integration mode with the manifold (paper §4.5).

Around a fixed point h* the linearized response to one word x is, on the slowest mode,
r1 ℓ1ᵀ J_inp x. The scalar ℓ1ᵀ J_inp x is the *input projection*: how far the word
pushes the state along the integration mode. With ``left_inp[k, a] = ℓ_aᵀ J_inp`` at
point k (shape (K, M, E)), the projection of every word at every point is one matmul
with the embedding matrix.

If the network is an approximate line attractor, the direction the input is integrated
along, r1 (unit norm), lies along the manifold's main axis m: |cos(r1, m)| is far above
the chance level of random unit vectors in R^D.
"""
from __future__ import annotations

import numpy as np


def input_projection(left_inp: np.ndarray, embeddings: np.ndarray, mode: int = 0) -> np.ndarray:
    """ℓ_modeᵀ J_inp x for every word x at every fixed point.

    Parameters
    ----------
    left_inp : ndarray of shape (K, M, E)
        ℓ_aᵀ J_inp per point and mode (the real part is used).
    embeddings : float ndarray of shape (W, E)
        Word embeddings x.
    mode : int
        Which mode (0 = slowest, ℓ1).

    Returns
    -------
    float64 ndarray of shape (K, W)
    """
    li = np.real(np.asarray(left_inp))[:, mode, :].astype(np.float64)
    return li @ np.asarray(embeddings, np.float64).T


def mean_projection_by_set(projection: np.ndarray, valence: np.ndarray) -> dict[str, float]:
    """Mean input projection (over points and words) of each set.

    ``projection`` (K, W); ``valence`` (W,) with 1 / -1 / 0. Returns ``mean_positive``,
    ``mean_negative``, ``mean_neutral`` (nan for an empty set).
    """
    out = {}
    for name, v in (("mean_positive", 1), ("mean_negative", -1), ("mean_neutral", 0)):
        sel = projection[:, np.asarray(valence) == v]
        out[name] = float(sel.mean()) if sel.size else float("nan")
    return out


def readout_share(projection: np.ndarray, directions: np.ndarray, readout: np.ndarray,
                  points: np.ndarray) -> np.ndarray:
    """Each word's push along the integration mode, as the readout change it makes over the
    logit range of the point set: comparable between networks whose states differ in scale.

    The input projection ``p = u · Δs`` is in state units along the unit direction ``u``
    (``l1`` is scaled so that ``l1 · u = 1``), and state scales differ by orders of
    magnitude between architectures (an LSTM's cell state is unbounded, a GRU's lies in
    (-1, 1)). The push changes the logit by ``p (u · w)`` (exact for a real mode; for a
    complex pair when ``u`` comes from the readout); over the logit range of the points,
    ``max_k w · s_k − min_k w · s_k``, that is the share of the way from the most negative
    to the most positive point that one word moves the readout. Flipping ``u`` flips ``p``
    and ``u · w`` together, so the share does not depend on the mode's sign.

    Parameters
    ----------
    projection : ndarray of shape (K, W)
        Signed input projection of each word at each point (``input_projection``).
    directions : ndarray of shape (K, D)
        The unit direction ``u`` the projection is measured along (the report's ``r1``).
    readout : ndarray of shape (D,)
        Readout weights ``w`` (logit = w · s + b).
    points : ndarray of shape (K, D)
        The fixed and slow points.

    Returns
    -------
    float64 ndarray of shape (K, W); all NaN when the points' logits do not differ
    (fewer than 2 points, or a readout that cannot tell them apart).
    """
    proj = np.asarray(projection, np.float64)
    u = np.asarray(directions, np.float64)
    w = np.asarray(readout, np.float64).reshape(-1)
    logits = np.asarray(points, np.float64) @ w
    span = float(np.ptp(logits)) if logits.size >= 2 else 0.0
    if not np.isfinite(span) or span <= 0.0:
        return np.full(proj.shape, np.nan)
    return proj * (u @ w)[:, None] / span


def abs_cosine(vectors: np.ndarray, direction: np.ndarray) -> np.ndarray:
    """|cos| between each row of ``vectors`` (n, D) (real part) and ``direction`` (D,); (n,).

    Rows of zero norm give nan.
    """
    v = np.real(np.asarray(vectors)).astype(np.float64)
    d = np.asarray(direction, np.float64)
    norms = np.linalg.norm(v, axis=1) * np.linalg.norm(d)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.abs(v @ d) / norms


def r1_m_overlap(r1: np.ndarray, m: np.ndarray) -> np.ndarray:
    """|cos(Re r1_k, m)| for each fixed point: r1 (K, D), m (D,) -> (K,)."""
    return abs_cosine(r1, m)


def null_overlap(dim: int, n: int = 10000, seed: int = 0) -> np.ndarray:
    """|cos(v, m)| for ``n`` random unit vectors v uniform on the sphere in R^dim.

    The distribution does not depend on m (rotation invariance), so m is taken as the
    first axis: |v_1| / ‖v‖ for Gaussian v. Returns float64 (n,).
    """
    if dim < 1:
        raise ValueError("dimension must be >= 1")
    v = np.random.default_rng(seed).standard_normal((n, dim))
    return np.abs(v[:, 0]) / np.linalg.norm(v, axis=1)


def overlap_percentile(overlap: np.ndarray, null: np.ndarray) -> float:
    """Percentile (0..100) of the median observed overlap within the null distribution."""
    med = np.nanmedian(overlap) if np.isfinite(overlap).any() else np.nan
    if not np.isfinite(med):
        return float("nan")
    return float(100.0 * np.mean(null < med))
