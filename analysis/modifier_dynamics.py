r"""What a modifier does to the state: the deflection, its modes, its decay, and an ablation.

Notation as in ``rnnscope.analysis.modifiers`` (contexts s, fillers, probes, the point set
with covectors ℓ1). For a modifier w at a context with state s:

- **Deflection** ``d_0 = F(s, x_w) − b_0``: where w moved the state, against a filler in its
  slot (``b_0 = F(s, x_{u_0})``, the detection's baseline; state units). After t more filler
  tokens, ``d_t = a_t − b_t`` with ``a``, ``b`` the runs with w and with that filler through
  the same fillers.
- **Modes** at the point h* nearest to s: ``J_rec(h*) = R Λ R⁻¹`` (``eigenmodes_at``,
  eigenvalues by |λ| descending; ``r_a`` the columns of R, ``ℓ_a`` the rows of R⁻¹). The
  deflection splits exactly as ``d = Σ_a r_a (ℓ_aᵀ d)``; a set of modes closed under complex
  conjugation gives the real part ``P_S d = Σ_{a∈S} r_a (ℓ_aᵀ d)``. Three sets:

  * the *integration mode*: the mode a with the largest ``|ℓ1ᵀ r_a|`` (ℓ1 the point's
    signed covector; its conjugate too for a pair);
  * the *slow modes*: the ``n_modes`` leading modes by |λ| other than it ("top modes");
  * the *fast modes*: all the others.

  Reported: ``‖P_S d_0‖ / ‖d_0‖`` for each set (the parts need not add up: the modes are
  not orthogonal), and for every mode a the |cosine| of the angle between ``d_0`` and the
  mode's real plane ``span{Re r_a, Im r_a}`` (its line for a real mode).
- **Decay**: the transient ``e_t = d_t − P_int d_t`` (the deflection less what sits on the
  integration mode, which w's own valence leaves there for good), relative to ``e_0``, its
  median over contexts at t = 0 … T (T: the detection's ``K − 1 + H`` fillers), and the
  first t at which it is at most ``decay_fraction``: how many tokens the modifier's trace
  lasts.
- **Ablation**: the state after w with its deflection's component along a mode set S
  removed, ``b_0 + d_0 − P_S d_0``, then the same probes at distances 1 … K as in the
  detection, giving modulation ratios ``r̃_k``. The part of the modification that remains
  is ``Σ_k |r̃_k − 1| / Σ_k |r_k − 1|``: 0 when S carries all of it. S is, in turn
  (``ABLATIONS``), the slow (top) modes and, as a control, the ``n_modes`` *fastest* modes
  other than the integration mode. ``P_S`` is the spectral projector ``R_S R⁻¹_S``: when
  J_rec is far from normal its parts can be much longer than d_0 and cancel, and removing
  one set is then a large change of the state (``parts`` shows it).
- **Modifier subspace** (the paper's "modifier components"): the span Q (D, k) of the top k
  right singular vectors of the deflections d_0 of several modifiers at every context,
  stacked (uncentred: the subspace the words push the state into, not their spread), k the
  fewest components that hold ``SUBSPACE_ENERGY`` of the stack's squared norm
  (:func:`modifier_subspace`). The third ablation removes d_0's orthogonal projection on
  it, ``b_0 + d_0 − Q Qᵀ d_0``: keeping the state out of the modifier subspace. Unlike the
  mode sets it is a projection of norm at most ‖d_0‖, so it never moves the state further
  than the word did.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from rnnscope.analysis.linearization_error import nearest_fixed_point
from rnnscope.analysis.linearize import eigenmodes_at
from rnnscope.analysis.model import RNNClassifier
from rnnscope.analysis.modifiers import ProbeSetup, gain, run_tokens

#: Mode sets a deflection is split into and measured along.
MODE_SETS = ("integration", "slow", "fast")
#: What is removed from the deflection, in the order of ``ModifierDynamics`` rows 1, 2, 3: two
#: mode sets (spectral projectors) and the modifier subspace (an orthogonal projection).
ABLATIONS = ("slow", "fastest", "subspace")
#: The modifier subspace keeps the fewest components that hold this share of the deflections' energy.
SUBSPACE_ENERGY = 0.9
#: The transient has decayed once it is at most this fraction of its start (1/e: a time constant).
DECAY_FRACTION = float(np.exp(-1.0))


@dataclass
class ModeSets:
    """Eigenmodes of J_rec at one point, split into the sets of ``MODE_SETS``.

    Attributes
    ----------
    eigvals : complex128 ndarray of shape (D,)
        Sorted by |λ| descending.
    right : complex128 ndarray of shape (D, D)
        Unit-norm right eigenvectors (columns).
    left : complex128 ndarray of shape (D, D)
        R⁻¹ (rows ℓ_a).
    masks : dict of str -> bool ndarray of shape (D,)
        ``integration``, ``slow``, ``fast`` (the rest) and ``fastest`` (the control), each
        closed under complex conjugation.
    """

    eigvals: np.ndarray
    right: np.ndarray
    left: np.ndarray
    masks: dict

    def part(self, d: np.ndarray, which: str) -> np.ndarray:
        """Real component (D,) of one state change d (D,) along a mode set."""
        mask = self.masks[which]
        z = self.left[mask] @ np.asarray(d, np.float64)
        return np.real(self.right[:, mask] @ z)


def _conjugate_closed(eigvals: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Add to ``mask`` the conjugate partner of every complex eigenvalue in it."""
    out = mask.copy()
    for a in np.flatnonzero(mask):
        if abs(eigvals[a].imag) > 1e-9 * max(abs(eigvals[a]), 1e-300):
            out[int(np.argmin(np.abs(eigvals - np.conj(eigvals[a]))))] = True
    return out


def mode_masks(eigvals: np.ndarray, integration: int, n_modes: int) -> dict:
    """Masks (D,) of the integration mode, the ``n_modes`` leading others (slow), the rest
    (fast) and the ``n_modes`` trailing others (fastest), each closed under conjugation."""
    D = len(eigvals)
    integ = _conjugate_closed(eigvals, np.arange(D) == integration)
    others = np.flatnonzero(~integ)
    slow = np.zeros(D, bool)
    slow[others[:n_modes]] = True
    slow = _conjugate_closed(eigvals, slow) & ~integ
    fastest = np.zeros(D, bool)
    fastest[others[len(others) - n_modes:] if n_modes else []] = True
    fastest = _conjugate_closed(eigvals, fastest) & ~integ
    return {"integration": integ, "slow": slow, "fast": ~(integ | slow), "fastest": fastest}


def mode_sets_at(net: RNNClassifier, point: np.ndarray, l1: np.ndarray, n_modes: int) -> ModeSets:
    """``ModeSets`` at one point (D,) whose signed integration covector is ``l1`` (D,)."""
    em = eigenmodes_at(net, point)
    integration = int(np.argmax(np.abs(np.asarray(l1, np.float64) @ em.right)))
    return ModeSets(eigvals=em.eigvals, right=em.right, left=em.left,
                    masks=mode_masks(em.eigvals, integration, n_modes))


def plane_cosines(right: np.ndarray, d: np.ndarray) -> np.ndarray:
    """|cos| of the angle between each vector d (N, D) and each mode's real plane (columns
    of ``right`` (D, D)): (N, D) in [0, 1]; the plane of a real mode is its line."""
    re, im = np.real(right), np.imag(right)
    n_re, n_im = np.linalg.norm(re, axis=0), np.linalg.norm(im, axis=0)
    u1 = np.where(n_re >= n_im, re, im) / np.maximum(np.maximum(n_re, n_im), 1e-300)
    v = np.where(n_re >= n_im, im, re)
    v = v - u1 * np.sum(u1 * v, axis=0)
    n_v = np.linalg.norm(v, axis=0)
    u2 = np.where(n_v > 1e-9, v / np.maximum(n_v, 1e-300), 0.0)
    d = np.asarray(d, np.float64)
    norm = np.maximum(np.linalg.norm(d, axis=1, keepdims=True), 1e-300)
    return np.sqrt((d @ u1) ** 2 + (d @ u2) ** 2) / norm


@dataclass
class ModifierDynamics:
    """The deflection of one modifier over N contexts (module docstring).

    Attributes
    ----------
    word_id, n_modes : int
    deflection_norm : float64 ndarray of shape (N,)
        ‖d_0‖, state units.
    abs_eigvals : float64 ndarray of shape (N, D)
        |λ| at each context's nearest point, descending.
    cosines : float64 ndarray of shape (N, D)
        |cos| between d_0 and each mode's real plane, in the same order.
    parts : dict of str -> float64 ndarray of shape (N,)
        ‖P_S d_0‖ / ‖d_0‖ for S in ``MODE_SETS``.
    decay_curve : float64 ndarray of shape (T + 1,)
        Median over contexts of ‖e_t‖ / ‖e_0‖, t = 0 … T tokens after w.
    decay_tokens : int
        First t with decay_curve <= decay_fraction (−1: not within T tokens).
    decay_fraction : float
    ratio_readout, ratio_linear : float64 ndarray of shape (1 + len(ABLATIONS), K)
        Modulation ratios at distances 1 … K: with the whole deflection (row 0), and with
        its part along each of ``ABLATIONS`` removed (rows 1, 2, 3).
    subspace_dim : int
        k, the dimension of the modifier subspace removed in the third ablation.
    remaining_readout, remaining_linear : dict of str -> float
        Σ_k |r̃_k − 1| / Σ_k |r_k − 1| for each of ``ABLATIONS``.
    """

    word_id: int
    n_modes: int
    deflection_norm: np.ndarray
    abs_eigvals: np.ndarray
    cosines: np.ndarray
    parts: dict
    decay_curve: np.ndarray
    decay_tokens: int
    decay_fraction: float
    ratio_readout: np.ndarray
    ratio_linear: np.ndarray
    remaining_readout: dict
    remaining_linear: dict
    subspace_dim: int

    def summary(self) -> dict:
        """Medians and the ablation as plain numbers (JSON-ready)."""
        med = lambda a: float(np.median(a)) if np.size(a) else None  # noqa: E731
        return {"word_id": self.word_id, "n_modes": self.n_modes,
                "deflection_norm": med(self.deflection_norm),
                "parts": {k: med(v) for k, v in self.parts.items()},
                "decay_tokens": self.decay_tokens,
                "ratio_readout": self.ratio_readout.tolist(), "subspace_dim": self.subspace_dim,
                "remaining_readout": self.remaining_readout, "remaining_linear": self.remaining_linear}


def contexts_modes(net: RNNClassifier, setup: ProbeSetup, n_modes: int) -> list[ModeSets]:
    """``ModeSets`` at each context's nearest point (one decomposition per distinct point): a
    list of N, the same for every word of ``setup`` (pass it to :func:`modifier_dynamics` as
    ``context_modes`` to decompose once for several modifiers)."""
    nearest = nearest_fixed_point(setup.start, setup.points).cpu().numpy()
    points = setup.points.double().cpu().numpy()
    l1 = setup.l1.double().cpu().numpy()
    cache = {int(k): mode_sets_at(net, points[k], l1[k], n_modes) for k in np.unique(nearest)}
    return [cache[int(k)] for k in nearest]


def _parts(modes: list[ModeSets], d: np.ndarray, which: str) -> np.ndarray:
    """(N, D) component of each context's d (N, D) along its point's mode set: one product
    per distinct point for all its contexts (``ModeSets.part`` row by row copied the masked
    eigenvector matrices once per context: 1.4 s of a 3-word MR GRU-128 run)."""
    d = np.asarray(d, np.float64)
    out = np.zeros_like(d)
    groups: dict[int, list[int]] = {}
    for i, m in enumerate(modes):
        groups.setdefault(id(m), []).append(i)
    for rows in groups.values():
        m = modes[rows[0]]
        mask = m.masks[which]
        out[rows] = np.real(m.right[:, mask] @ (m.left[mask] @ d[rows].T)).T
    return out


@torch.no_grad()
def _decay(net: RNNClassifier, setup: ProbeSetup, after: Tensor, modes: list[ModeSets]) -> np.ndarray:
    """‖e_t‖ / ‖e_0‖ (N, T + 1) over the fillers that follow the candidate in the detection."""
    fillers = torch.cat([setup.between, setup.settle], 1)
    a, b = after, setup.baseline
    out = []
    for t in range(fillers.shape[1] + 1):
        d = (a - b).double().cpu().numpy()
        out.append(np.linalg.norm(d - _parts(modes, d, "integration"), axis=1))
        if t < fillers.shape[1]:
            a, b = run_tokens(net, a, fillers[:, t: t + 1]), run_tokens(net, b, fillers[:, t: t + 1])
    curve = np.stack(out, 1)
    return curve / np.maximum(curve[:, :1], 1e-300)


def _ratios(net: RNNClassifier, setup: ProbeSetup, states: list[Tensor]) -> tuple[np.ndarray, np.ndarray]:
    """Readout and linear ratios (len(states), K) of slots that left each of ``states``."""
    base_r, base_l = setup.effects(net, setup.baseline)
    rows_r, rows_l = [], []
    for s in states:
        r, lin = setup.effects(net, s)
        rows_r.append([gain(r[k], base_r[k]) for k in range(r.shape[0])])
        rows_l.append([gain(lin[k], base_l[k]) for k in range(lin.shape[0])])
    return np.asarray(rows_r, np.float64), np.asarray(rows_l, np.float64)


def _remaining(ratios: np.ndarray) -> dict:
    """Σ_k |r̃_k − 1| / Σ_k |r_k − 1| of each ablation (rows 1 …) against row 0 of ratios."""
    change = np.abs(ratios - 1.0).sum(1)
    return {k: float(change[i + 1] / change[0]) if change[0] > 0 else float("nan") for i, k in enumerate(ABLATIONS)}


@dataclass
class ModifierSubspace:
    """The modifier subspace (module docstring).

    Attributes
    ----------
    basis : float64 ndarray of shape (D, k)
        Orthonormal columns Q.
    shares : float64 ndarray of shape (min(M·N, D),)
        Share of the stacked deflections' squared norm on each singular direction, descending.
    word_ids : int64 ndarray of shape (M,)
        The words whose deflections span it.
    """

    basis: np.ndarray
    shares: np.ndarray
    word_ids: np.ndarray

    @property
    def dim(self) -> int:
        return int(self.basis.shape[1])

    def summary(self) -> dict:
        return {"dim": self.dim, "energy": float(self.shares[: self.dim].sum()) if self.dim else None,
                "shares": [float(x) for x in self.shares[:8]]}


@torch.no_grad()
def deflection(net: RNNClassifier, setup: ProbeSetup, word_id: int) -> tuple[Tensor, np.ndarray]:
    """-> (F(s, x_w) (N, D) on the net's device, d_0 = F(s, x_w) − b (N, D) float64) at the
    contexts, ``b`` the baseline (a filler in the word's slot: ``ProbeSetup.baseline``)."""
    word = net.embedding.weight[int(word_id)].detach().expand(setup.start.shape[0], -1)
    after = net.step(setup.start, word)
    return after, (after - setup.baseline).double().cpu().numpy()


def modifier_subspace(net: RNNClassifier, setup: ProbeSetup, word_ids, energy: float = SUBSPACE_ENERGY
                      ) -> ModifierSubspace:
    """The span of the top singular directions of the deflections of ``word_ids`` (M,) at
    the N contexts of ``setup``, stacked (M·N, D): the fewest that hold ``energy`` of it."""
    ids = np.asarray(word_ids, np.int64).reshape(-1)
    D = setup.start.shape[1]
    stack = np.concatenate([deflection(net, setup, int(w))[1] for w in ids]) if ids.size else np.zeros((0, D))
    if not np.any(stack):
        return ModifierSubspace(np.zeros((D, 0)), np.zeros(0), ids)
    _, sing, vt = np.linalg.svd(stack, full_matrices=False)
    shares = sing ** 2 / np.sum(sing ** 2)
    k = int(np.searchsorted(np.cumsum(shares), energy - 1e-12) + 1)
    return ModifierSubspace(vt[:k].T.copy(), shares, ids)


@torch.no_grad()
def modifier_dynamics(net: RNNClassifier, setup: ProbeSetup, word_id: int, *, n_modes: int = 3,
                      decay_fraction: float = DECAY_FRACTION, context_modes: list[ModeSets] | None = None,
                      subspace: ModifierSubspace | None = None) -> ModifierDynamics:
    """Deflection, modes, decay and ablation of one modifier (module docstring).

    Parameters
    ----------
    net : RNNClassifier
    setup : ProbeSetup
        The contexts, fillers, probes and point set of the detection
        (``rnnscope.analysis.modifiers.probe_setup``).
    word_id : int
        The modifier.
    n_modes : int
        How many leading modes besides the integration mode are "slow" (and removed).
    decay_fraction : float
        The transient has decayed once it is at most this fraction of its start.
    context_modes : list of ModeSets, optional
        :func:`contexts_modes` of ``setup`` with the same ``n_modes``, computed once for
        several words (one eigendecomposition per distinct point: 47 ms each for the MR demo
        GRU-128 on one busy core); computed here if omitted.
    subspace : ModifierSubspace, optional
        The modifier subspace removed in the third ablation (:func:`modifier_subspace` of
        several modifiers); that of this word alone if omitted.

    Returns
    -------
    ModifierDynamics
    """
    modes = contexts_modes(net, setup, n_modes) if context_modes is None else context_modes
    subspace = modifier_subspace(net, setup, [word_id]) if subspace is None else subspace
    after, d0 = deflection(net, setup, word_id)
    norm = np.maximum(np.linalg.norm(d0, axis=1), 1e-300)
    parts = {k: np.linalg.norm(_parts(modes, d0, k), axis=1) / norm for k in MODE_SETS}
    curve = np.median(_decay(net, setup, after, modes), 0)
    below = np.flatnonzero(curve <= decay_fraction)
    to_net = lambda a: torch.as_tensor(a, dtype=after.dtype, device=after.device)  # noqa: E731
    ablated = [after - to_net(_parts(modes, d0, which)) for which in ABLATIONS[:2]]
    ablated.append(after - to_net(d0 @ subspace.basis @ subspace.basis.T))
    ratio_r, ratio_l = _ratios(net, setup, [after, *ablated])
    return ModifierDynamics(
        word_id=int(word_id), n_modes=int(n_modes), deflection_norm=np.linalg.norm(d0, axis=1),
        abs_eigvals=np.stack([np.abs(m.eigvals) for m in modes]),
        cosines=np.stack([plane_cosines(m.right, d0[i:i + 1])[0] for i, m in enumerate(modes)]),
        parts=parts, decay_curve=curve, decay_tokens=int(below[0]) if below.size else -1,
        decay_fraction=float(decay_fraction), ratio_readout=ratio_r, ratio_linear=ratio_l,
        remaining_readout=_remaining(ratio_r), remaining_linear=_remaining(ratio_l), subspace_dim=subspace.dim)
