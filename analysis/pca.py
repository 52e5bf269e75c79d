"""PCA of visited states (scikit-learn), and the small projections the report needs.

The paper's Fig. 2 compares the explained variance of the states visited by a trained
network with those of the same architecture untrained: trained networks are
low-dimensional (a few PCs explain most of the variance).
"""
from __future__ import annotations

import numpy as np
from sklearn.decomposition import PCA


def fit_pca(states: np.ndarray, n_components: int = 50, seed: int = 0) -> PCA:
    """Fit PCA on states (N, D) with up to ``n_components`` components (<= min(N, D)).

    float32 input stays float32 (half the memory and time of the covariance on many
    states); scikit-learn picks the solver (the covariance eigendecomposition when
    N >> D); deterministic under ``seed``.
    """
    states = np.asarray(states)
    if states.dtype not in (np.float32, np.float64):
        states = states.astype(np.float64)
    if states.ndim != 2 or len(states) < 2:
        raise ValueError(f"PCA needs at least 2 states of shape (N, D); got {states.shape}")
    k = int(min(n_components, *states.shape))
    return PCA(n_components=k, random_state=seed).fit(states)


def n_components_for(explained_variance_ratio: np.ndarray, fraction: float = 0.9) -> int:
    """Smallest number of leading components whose explained variance reaches ``fraction``.

    Returns ``len(ratio) + 1`` when even all listed components fall short (the true count
    is larger than what was fitted).
    """
    cum = np.cumsum(np.asarray(explained_variance_ratio, dtype=np.float64))
    hit = np.flatnonzero(cum >= fraction - 1e-12)
    return int(hit[0] + 1) if hit.size else len(cum) + 1


def project(points: np.ndarray, components: np.ndarray, mean: np.ndarray, k: int | None = None) -> np.ndarray:
    """Coordinates of points (..., D) on the first ``k`` rows of ``components`` (n, D).

    Returns float64 (..., k), zero-padded on the right when fewer than ``k`` components exist.
    """
    comps = np.asarray(components, np.float64)
    k = len(comps) if k is None else k
    out = (np.asarray(points, np.float64) - np.asarray(mean, np.float64)) @ comps[:k].T
    if out.shape[-1] < k:
        out = np.concatenate([out, np.zeros(out.shape[:-1] + (k - out.shape[-1],))], -1)
    return out


def project_direction(direction: np.ndarray, components: np.ndarray, k: int = 2) -> np.ndarray:
    """A direction (D,) expressed in the first ``k`` components (no mean subtracted): (k,)."""
    return project(direction, components, np.zeros(np.shape(components)[-1]), k)


def variance_in_subspace(points: np.ndarray, basis: np.ndarray) -> float:
    """Fraction of the (centred) variance of points (K, D) inside the span of ``basis`` (k, D).

    ``basis`` rows must be orthonormal (e.g. PCA components). Returns nan for fewer than
    two points or zero variance.
    """
    pts = np.asarray(points, np.float64)
    if len(pts) < 2:
        return float("nan")
    centred = pts - pts.mean(0)
    total = float((centred ** 2).sum())
    if total <= 0:
        return float("nan")
    inside = centred @ np.asarray(basis, np.float64).T
    return float((inside ** 2).sum() / total)


def density_2d(coords: np.ndarray, groups: np.ndarray, edges: tuple[np.ndarray, np.ndarray],
               values=(1, 0)) -> list[np.ndarray]:
    """Normalized 2-D histograms of ``coords`` (N, 2), one per group value.

    Returns a list of float32 (B, B) arrays (index [i, j] = bin i on axis 0, bin j on axis 1),
    each summing to 1 (all zero for an empty group).
    """
    out = []
    for v in values:
        sel = coords[groups == v]
        h, _, _ = np.histogram2d(sel[:, 0], sel[:, 1], bins=[edges[0], edges[1]])
        total = h.sum()
        out.append((h / total if total > 0 else h).astype(np.float32))
    return out


def density_edges(coords: np.ndarray, bins: int, pad: float = 0.05) -> np.ndarray:
    """Bin edges (2, bins+1) covering the 0.5-99.5 percentile range of ``coords`` (N, 2), padded."""
    lo = np.percentile(coords, 0.5, axis=0)
    hi = np.percentile(coords, 99.5, axis=0)
    span = np.maximum(hi - lo, 1e-6)
    lo, hi = lo - pad * span, hi + pad * span
    return np.stack([np.linspace(lo[i], hi[i], bins + 1) for i in range(2)])
