r"""Which eigenmode integrates, and the sign of a word's push along it.

The paper's integration mode (λ1, r1, ℓ1) is the mode with ``|λ| ≈ 1`` whose right
eigenvector lies along the line attractor. In the paper's networks it happened to be the
largest ``|λ|``; in real ones an unstable or off-manifold mode can sit above it, so the
largest ``|λ|`` is not the rule here. At each point ``k``:

1. **Along the point set, near 1** (when the set has a direction: at least 2 distinct
   points): among the ``M`` leading modes with ``||λ| − 1| <= near_one``, the one whose
   real plane (``span{Re r, Im r}``; the line ``r`` for a real mode) holds the largest part
   of the set's local tangent ``t_k`` (the first principal axis of the point's
   ``n_neighbors`` nearest points): ``alignment = ‖P t_k‖ ∈ [0, 1]``, at least
   ``min_alignment``. Rule ``"along the point set"``.
2. **Along the point set, far from 1**: otherwise the slowest (largest ``τ = 1/|ln|λ||``)
   of the leading modes that reach ``min_alignment``, stable or not: at a saddle between
   two attractors that is the unstable mode that carries the state to one or the other.
3. **Otherwise** the slowest of the M leading modes: rule ``"no aligned mode"`` when the
   set has a direction (no mode lies along it, and that is said), ``"slowest"`` when it
   has none (one point).

A complex pair ``λ, λ̄`` is one 2-D mode. An input ``x`` moves the state inside the
pair's real plane by ``Δs = 2 Re(r z)``, ``z = ℓᵀ J_inp x`` (``r z`` for a real mode);
this is unchanged by the eigensolver's arbitrary phase ``r -> r e^{iφ}, ℓ -> ℓ e^{-iφ}``.

**Signed projection.** ``p(x) = u · Δs(x)``, with ``u`` a unit direction in the mode's
real plane:

- ``u = P w / ‖P w‖`` with ``w`` the readout, when the readout sees the mode
  (``‖P w‖ / ‖w‖ > min_visibility``): ``p > 0`` means the word pushes the state along the
  mode towards a more positive logit (for a real mode, ``p = ±ℓ1ᵀ J_inp x``, the
  paper's input projection with its sign fixed by ``w · r1 > 0``);
- else ``u = P m / ‖P m‖`` with ``m`` the manifold axis signed by increasing logit, when the
  set is a continuum (``rnnscope.analysis.attractors``: line or slow manifold) along which the
  logit rises (``m_logit_spearman >= 0.5``) and the mode's plane holds ``m``
  (``‖P m‖ >= min_alignment``);
- else no sign is defined: ``u`` is the normalized ``Re r`` (or the plane's first axis),
  ``sign_source = "none"``, and only ``|p|`` may be read.

Since ``u · 2 Re(r z) = Re(c z)`` with ``c = κ (u · r)`` (κ = 2 for a pair, 1 for a real
mode), ``p(x) = coef · x`` with the real vector ``coef = Re(c ℓᵀ J_inp)`` (E,): one matrix
product for a whole vocabulary, phase-independent.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.neighbors import NearestNeighbors

#: Rules the chosen mode can come from.
RULES = ("along the point set", "along the point set, far from 1", "no aligned mode", "slowest", "none")
#: Where the sign of the projection comes from.
SIGN_SOURCES = ("readout", "manifold", "none")


@dataclass
class IntegrationModes:
    """The integration mode at each of K points.

    Attributes
    ----------
    index : int ndarray of shape (K,)
        Position of the chosen mode among the eigenvalues sorted by ``|λ|`` descending
        (for a pair, the member with positive imaginary part); -1 when none.
    eigval : complex ndarray of shape (K,)
    is_pair : bool ndarray of shape (K,)
        The mode is a complex pair (a 2-D mode).
    rule : str ndarray of shape (K,)
        ``RULES``: how it was chosen.
    alignment : float ndarray of shape (K,)
        ``‖P t‖``: part of the point set's local tangent inside the mode's plane (nan
        without a tangent).
    visibility : float ndarray of shape (K,)
        ``‖P w‖ / ‖w‖``: part of the readout inside the mode's plane (0: the readout
        cannot see the mode).
    sign_source : str ndarray of shape (K,)
        ``SIGN_SOURCES``.
    direction : float ndarray of shape (K, D)
        The unit vector ``u`` the projection is measured along (the signed r1).
    left : float ndarray of shape (K, D)
        ``Re(c ℓ)``: the signed projection of a state change ``δs`` is ``left · δs``.
    coef : float ndarray of shape (K, E)
        ``Re(c ℓᵀ J_inp)``: the signed projection of a word embedding x is ``coef · x``.
    largest_is_chosen : bool ndarray of shape (K,)
        The chosen mode is the largest ``|λ|`` (what the paper's rule would pick).
    plane : float ndarray of shape (K, D, 2)
        Orthonormal basis of the mode's real plane (second column 0 for a real mode).
    """

    index: np.ndarray
    eigval: np.ndarray
    is_pair: np.ndarray
    rule: np.ndarray
    alignment: np.ndarray
    visibility: np.ndarray
    sign_source: np.ndarray
    direction: np.ndarray
    left: np.ndarray
    coef: np.ndarray
    largest_is_chosen: np.ndarray
    plane: np.ndarray

    def overlap(self, v: np.ndarray) -> np.ndarray:
        """``‖P v‖ / ‖v‖``: the part of a direction v (D,) inside each point's mode plane (K,);
        ``|cos(r1, v)|`` for a real mode, and phase-independent for a pair."""
        v = np.asarray(v, np.float64)
        n = np.linalg.norm(v)
        return np.linalg.norm(np.einsum("kdp,d->kp", self.plane, v), axis=1) / (n if n > 0 else 1.0)

    def summary(self) -> dict:
        """Counts and medians for the report."""
        K = len(self.index)
        count = lambda a, v: int(np.sum(a == v))  # noqa: E731
        return {
            "n_points": K,
            "rule_counts": {r: count(self.rule, r) for r in RULES},
            "sign_counts": {s: count(self.sign_source, s) for s in SIGN_SOURCES},
            "n_pairs": int(self.is_pair.sum()),
            "n_largest_is_chosen": int(self.largest_is_chosen.sum()),
            "abs_lambda_median": _median(np.abs(self.eigval[self.index >= 0])),
            "alignment_median": _median(self.alignment[np.isfinite(self.alignment)]),
            "visibility_median": _median(self.visibility),
        }

    def projection(self, embeddings: np.ndarray) -> np.ndarray:
        """Signed projection ``coef_k · x_w`` of every word at every point: (K, W) from (W, E)."""
        return self.coef @ np.asarray(embeddings, np.float64).T


def _median(a) -> float | None:
    a = np.asarray(a, np.float64)
    return float(np.median(a)) if a.size else None


def local_tangents(points: np.ndarray, n_neighbors: int = 10) -> np.ndarray:
    """Unit tangent of a point set at each point: first principal axis of the point and
    its nearest neighbours. (K, D) -> (K, D); nan rows when K < 2."""
    pts = np.asarray(points, np.float64)
    K, D = pts.shape
    if K < 2:
        return np.full((K, D), np.nan)
    k = min(n_neighbors + 1, K)
    _, nbr = NearestNeighbors(n_neighbors=k).fit(pts).kneighbors(pts)
    local = pts[nbr] - pts[nbr].mean(1, keepdims=True)  # (K, k, D)
    _, _, vt = np.linalg.svd(local, full_matrices=False)
    return vt[:, 0, :]


def _plane(r: np.ndarray, pair: bool) -> np.ndarray:
    """Orthonormal basis (D, 1 or 2) of the real plane of a mode with right vector r (D,)."""
    if not pair:
        v = np.real(r) if np.linalg.norm(np.real(r)) >= np.linalg.norm(np.imag(r)) else np.imag(r)
        return (v / np.linalg.norm(v))[:, None]
    q, rr = np.linalg.qr(np.column_stack([np.real(r), np.imag(r)]))
    keep = np.abs(np.diag(rr)) > 1e-12 * np.abs(rr).max()
    return q[:, keep]


def _is_pair(lam: complex) -> bool:
    return abs(lam.imag) > 1e-9 * max(abs(lam), 1e-300)


def select_integration_modes(eigvals: np.ndarray, right: np.ndarray, left: np.ndarray, left_inp: np.ndarray,
                             points: np.ndarray, readout: np.ndarray, *, along_set: bool,
                             manifold_axis: np.ndarray | None = None, logit_monotone: bool = False,
                             near_one: float = 0.05, min_alignment: float = 0.5,
                             min_visibility: float = 1e-3, n_neighbors: int = 10) -> IntegrationModes:
    """Choose the integration mode at each point and fix the sign of its projection.

    Parameters
    ----------
    eigvals : complex ndarray of shape (K, D)
        All eigenvalues, sorted by ``|λ|`` descending (``rnnscope.analysis.linearize``).
    right : complex ndarray of shape (K, D, M)
        The M leading right eigenvectors (unit norm).
    left : complex ndarray of shape (K, M, D)
        Rows of ``R⁻¹`` for those modes.
    left_inp : complex ndarray of shape (K, M, E)
        ``ℓ_aᵀ J_inp``.
    points : ndarray of shape (K, D)
        The point set (for local tangents).
    readout : ndarray of shape (D,)
        Readout direction ``w`` (logit = w · s + b).
    along_set : bool
        Choose along the point set (it has a direction: at least 2 distinct points).
    manifold_axis : ndarray of shape (D,), optional
        Main axis m, signed by increasing logit.
    logit_monotone : bool
        The set is a continuum (line attractor or slow manifold) along which the logit
        rises along ``m`` (then ``m`` may sign a mode the readout cannot see).
    near_one, min_alignment, min_visibility, n_neighbors
        See the module docstring.
    """
    eigvals = np.asarray(eigvals)
    K, D = eigvals.shape[0], np.asarray(points).shape[1]
    M = right.shape[2]
    E = left_inp.shape[2]
    w = np.asarray(readout, np.float64)
    wn = np.linalg.norm(w)
    tangents = local_tangents(points, n_neighbors) if along_set else np.full((K, D), np.nan)
    m = None if manifold_axis is None else np.asarray(manifold_axis, np.float64)
    out = _empty(K, D, E)
    for k in range(K):
        lam = eigvals[k, :M]
        chosen, rule, align = _choose(lam, right[k], tangents[k], near_one, min_alignment)
        if chosen < 0:
            continue
        pair = _is_pair(lam[chosen])
        if pair and lam[chosen].imag < 0 and chosen > 0 and np.isclose(lam[chosen - 1], np.conj(lam[chosen])):
            chosen -= 1  # the member with positive imaginary part
        r, ell, li = right[k][:, chosen], left[k][chosen], left_inp[k][chosen]
        basis = _plane(r, pair)
        vis = float(np.linalg.norm(basis.T @ w) / wn) if wn > 0 else 0.0
        u, source = _sign_direction(basis, w, vis, m, logit_monotone, min_visibility, min_alignment)
        c = (2.0 if pair else 1.0) * complex(u @ r)
        out.index[k], out.eigval[k], out.is_pair[k], out.rule[k] = chosen, eigvals[k, chosen], pair, rule
        out.alignment[k], out.visibility[k], out.sign_source[k] = align, vis, source
        out.direction[k], out.left[k], out.coef[k] = u, np.real(c * ell), np.real(c * li)
        out.plane[k, :, : basis.shape[1]] = basis
        out.largest_is_chosen[k] = chosen == 0 or np.isclose(abs(lam[chosen]), abs(lam[0]), rtol=1e-12)
    out.rule, out.sign_source = out.rule.astype(str), out.sign_source.astype(str)
    return out


def _empty(K: int, D: int, E: int) -> IntegrationModes:
    return IntegrationModes(
        index=np.full(K, -1, np.int64), eigval=np.full(K, np.nan, np.complex128), is_pair=np.zeros(K, bool),
        rule=np.full(K, "none", dtype=object), alignment=np.full(K, np.nan), visibility=np.zeros(K),
        sign_source=np.full(K, "none", dtype=object), direction=np.zeros((K, D)), left=np.zeros((K, D)),
        coef=np.zeros((K, E)), largest_is_chosen=np.zeros(K, bool), plane=np.zeros((K, D, 2)))


def _choose(lam: np.ndarray, right: np.ndarray, tangent: np.ndarray, near_one: float,
            min_alignment: float) -> tuple[int, str, float]:
    """(mode index, rule, alignment) at one point; (-1, "none", nan) when there are no modes."""
    if lam.size == 0:
        return -1, "none", float("nan")
    mod = np.abs(lam)
    with np.errstate(divide="ignore"):
        speed = np.abs(np.log(mod))  # 1/τ: smaller is slower
    if not np.all(np.isfinite(tangent)):
        return int(np.argmin(speed)), "slowest", float("nan")
    align = np.array([float(np.linalg.norm(_plane(right[:, a], _is_pair(lam[a])).T @ tangent))
                      for a in range(len(lam))])
    near = np.abs(mod - 1) <= near_one
    aligned = align >= min_alignment
    if np.any(near & aligned):
        cands = np.flatnonzero(near & aligned)
        best = int(cands[np.argmax(align[cands])])
        return best, "along the point set", float(align[best])
    if np.any(aligned):  # e.g. the unstable mode of a saddle between two attractors
        cands = np.flatnonzero(aligned)
        best = int(cands[np.argmin(speed[cands])])
        return best, "along the point set, far from 1", float(align[best])
    best = int(np.argmin(speed))
    return best, "no aligned mode", float(align[best])


def _sign_direction(basis: np.ndarray, w: np.ndarray, visibility: float, m: np.ndarray | None,
                    use_manifold: bool, min_visibility: float, min_alignment: float) -> tuple[np.ndarray, str]:
    """Unit direction u in the mode's plane that fixes the sign, and where it comes from."""
    if visibility > min_visibility:
        u = basis @ (basis.T @ w)
        return u / np.linalg.norm(u), "readout"
    if use_manifold and m is not None:
        pm = basis @ (basis.T @ m)
        if np.linalg.norm(pm) >= min_alignment:
            return pm / np.linalg.norm(pm), "manifold"
    return basis[:, 0].copy(), "none"
