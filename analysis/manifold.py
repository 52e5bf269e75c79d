"""Geometry of the fixed-point manifold (paper §4.2, Fig. 2k and 4d).

Given the fixed points h*_k (K, D):

- their own PCA: the fraction of variance on PC1 (near 1 for a line attractor);
- the main axis m: PC1 of the fixed points, unit norm, signed so that the readout logit
  w · h* + b of the fixed points grows along +m (positive Spearman correlation between
  their coordinate on m and their logit; m · w > 0 when that correlation is undefined).
  For a line attractor aligned with the readout this is m · w > 0; for an LSTM, whose
  fixed points spread mostly along the cell state c that the readout ignores, m · w is
  near 0 and its sign says nothing, while the correlation still does;
- the fraction of their variance inside the top-2 PCs of the *visited states*;
- a 1-D coordinate θ_k ∈ [-1, 1] along the manifold from locally linear embedding
  (``sklearn.manifold.LocallyLinearEmbedding(n_components=1)``), signed so that θ grows
  with the readout logit w · h*_k + b;
- cos(m, w).
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
from scipy.stats import spearmanr
from sklearn.decomposition import PCA
from scipy.sparse.csgraph import connected_components
from sklearn.manifold import LocallyLinearEmbedding
from sklearn.neighbors import kneighbors_graph

from rnnscope.analysis.pca import variance_in_subspace


@dataclass
class Manifold:
    """Fixed-point manifold summary.

    Attributes
    ----------
    m : float64 ndarray of shape (D,)
        Main axis (unit norm), signed so the fixed points' logit grows along +m.
    theta : float64 ndarray of shape (K,)
        1-D coordinate in [-1, 1], increasing with the readout logit.
    theta_method : str
        "lle", or "projection" (θ from the projection on m) when LLE was not possible:
        fewer than 4 points, a disconnected neighbour graph (``knn_components`` > 1), or
        a numerical failure.
    explained_variance_ratio : float64 ndarray of shape (min(K, D, 10),)
        PCA of the fixed points themselves.
    variance_in_top2_state_pcs : float
        Fraction of the fixed points' variance in the span of the top-2 state PCs (nan if
        no state PCs were given).
    m_readout_cosine : float
        cos(m, readout) (nan if the readout is zero); usually > 0, near 0 for LSTMs.
    m_logit_spearman : float
        Spearman correlation between the fixed points' coordinate on m and their logit
        (>= 0 by the sign choice; nan for fewer than 2 points or a constant logit).
    knn_components : int
        Connected components of the points' ``n_neighbors`` nearest-neighbour graph (1 for
        a connected manifold; more when the points form separate clusters).
    theta_readout_spearman : float
        Spearman correlation between θ and the readout logit at each point.
    """

    m: np.ndarray
    theta: np.ndarray
    theta_method: str
    explained_variance_ratio: np.ndarray
    variance_in_top2_state_pcs: float
    m_readout_cosine: float
    theta_readout_spearman: float
    m_logit_spearman: float = float("nan")
    knn_components: int = 1


def _rescale(t: np.ndarray) -> np.ndarray:
    """Affinely map t to [-1, 1] (all zeros when t is constant)."""
    lo, hi = float(t.min()), float(t.max())
    return np.zeros_like(t) if hi - lo <= 0 else 2 * (t - lo) / (hi - lo) - 1


def _spearman(a: np.ndarray, b: np.ndarray) -> float:
    if len(a) < 2 or np.ptp(a) == 0 or np.ptp(b) == 0:
        return float("nan")
    return float(spearmanr(a, b).statistic)


def knn_components(points: np.ndarray, n_neighbors: int) -> int:
    """Connected components of the symmetrized k-nearest-neighbour graph of points (K, D)."""
    k = min(n_neighbors, len(points) - 1)
    if k < 1:
        return len(points)
    graph = kneighbors_graph(np.asarray(points, np.float64), k)
    return int(connected_components(graph, directed=False)[0])


def lle_coordinate(points: np.ndarray, n_neighbors: int = 20, seed: int = 0,
                   max_fit: int = 1000) -> np.ndarray | None:
    """1-D LLE coordinate of points (K, D), unscaled; None when LLE cannot run or fails.

    LLE orders points through their neighbourhoods, so it needs a connected
    neighbour graph: when the points fall into separate clusters (common for fixed
    points: seeds crowd the two ends of the manifold and leave gaps) there is no global
    coordinate and None is returned. The embedding uses the dense eigensolver (ARPACK's
    shift-invert can return a wrong eigenvector on these nearly singular matrices). Beyond
    ``max_fit`` points, LLE is fitted on a seeded subsample and the other points are placed
    with ``transform`` (their barycentric weights on the fitted neighbours), keeping the
    cost O(max_fit³).
    """
    pts = np.asarray(points, np.float64)
    K = len(pts)
    k = min(n_neighbors, min(K, max_fit) - 2)
    if k < 2:
        return None
    fit_idx = np.sort(np.random.default_rng(seed).choice(K, max_fit, replace=False)) if K > max_fit else None
    if knn_components(pts if fit_idx is None else pts[fit_idx], k) > 1:
        return None
    lle = LocallyLinearEmbedding(n_neighbors=k, n_components=1, random_state=seed, eigen_solver="dense")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if fit_idx is None:
                t = lle.fit_transform(pts)[:, 0]
            else:
                lle.fit(pts[fit_idx])
                t = lle.transform(pts)[:, 0]
    except (ValueError, np.linalg.LinAlgError):
        return None
    return t if np.all(np.isfinite(t)) and np.ptp(t) > 0 else None


def main_axis(points: np.ndarray, readout: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """PC1 of points (K, D) signed so that m · readout >= 0, and the fixed points' EVR.

    Returns (m (D,), explained_variance_ratio (min(K, D, 10),)). With one point, m is the
    unit readout direction (nothing else is defined) and the ratio is [1.0].
    """
    pts = np.asarray(points, np.float64)
    w = np.asarray(readout, np.float64)
    if len(pts) < 2 or np.ptp(pts, axis=0).max() == 0:
        norm = np.linalg.norm(w)
        return (w / norm if norm > 0 else np.eye(pts.shape[1])[0]), np.array([1.0])
    pca = PCA(n_components=int(min(10, *pts.shape)), svd_solver="full").fit(pts)
    m = pca.components_[0].copy()
    m /= np.linalg.norm(m)
    if m @ w < 0:
        m = -m
    return m, pca.explained_variance_ratio_


def fit_manifold(points: np.ndarray, readout: np.ndarray, readout_bias: float = 0.0,
                 state_components: np.ndarray | None = None, n_neighbors: int = 20,
                 seed: int = 0) -> Manifold:
    """Summarize the manifold of fixed points (K, D).

    Parameters
    ----------
    points : float ndarray of shape (K, D)
    readout : float ndarray of shape (D,)
        Readout direction w (logit = w · h + b).
    readout_bias : float
    state_components : float ndarray of shape (n, D), optional
        Principal axes of the visited states (rows orthonormal); the first two are used.
    n_neighbors : int
        LLE neighbourhood size (capped at K - 2). With 1 component, LLE on ~10 neighbours
        often folds the curve when the points are noisy; 20 was reliable in our tests.
    seed : int
    """
    pts = np.asarray(points, np.float64)
    if pts.ndim != 2 or len(pts) == 0:
        raise ValueError(f"fit_manifold needs fixed points of shape (K, D) with K >= 1; got {pts.shape}")
    w = np.asarray(readout, np.float64)
    m, evr = main_axis(pts, w)
    logit = pts @ w + readout_bias
    m_rho = _spearman(pts @ m, logit)
    if m_rho < 0:  # the logit falls along +m: flip (main_axis signed by m · w alone)
        m, m_rho = -m, -m_rho
    n_comp = knn_components(pts, n_neighbors)
    raw = lle_coordinate(pts, n_neighbors, seed)
    method = "lle" if raw is not None else "projection"
    if raw is None:
        raw = (pts - pts.mean(0)) @ m
    theta = _rescale(raw)
    rho = _spearman(theta, logit)
    # sign: theta grows with the readout; if the readout is flat on the points, with m
    along_m = _spearman(theta, pts @ m)
    if rho < 0 or (np.isnan(rho) and along_m < 0):
        theta, rho = -theta, -rho
    top2 = float("nan") if state_components is None else variance_in_subspace(pts, np.asarray(state_components)[:2])
    wn = np.linalg.norm(w)
    cos = float(m @ w / wn) if wn > 0 else float("nan")
    return Manifold(m=m, theta=theta, theta_method=method, explained_variance_ratio=evr,
                    variance_in_top2_state_pcs=top2, m_readout_cosine=cos, theta_readout_spearman=rho,
                    m_logit_spearman=m_rho, knn_components=n_comp)
