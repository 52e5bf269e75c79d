"""What the fixed-point search returns, and the words it uses for a seed's fate.

See :mod:`rnnscope.analysis.fixed_points` for the search itself.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

#: ``progress(fraction in [0, 1], message)``.
Progress = Callable[[float, str], None]

METHODS = ("newton-krylov", "newton", "adam")
#: A seed's status: still moving, or why it stopped (see :class:`FixedPointResult`).
RUNNING, CONVERGED, STALLED, MAX_ITER, NONFINITE = "running", "converged", "stalled", "max_iter", "nonfinite"


@dataclass
class FixedPointResult:
    """What :func:`find_fixed_points` found.

    Attributes
    ----------
    points : ndarray of shape (K, D)
        The unique, converged, non-outlier fixed points (float64), in increasing ``q``.
    q : ndarray of shape (K,)
        ``q`` of each point (float64).
    seed_points : ndarray of shape (S, D)
        Where every seed ended up (converged or not).
    seed_q : ndarray of shape (S,)
        Final ``q`` of every seed.
    seed_iters : ndarray of shape (S,)
        Iterations of the method per seed (Newton iterations; Adam iterations until the
        seed first met ``tol``, or ``max_iter``).
    seed_relax_steps : ndarray of shape (S,)
        Accepted relaxation steps ``s <- F(s, x)`` per seed (0 for Adam).
    seed_converged : ndarray of shape (S,), bool
        ``seed_q < tol``.
    seed_outlier : ndarray of shape (S,), bool
        Converged, but too far from the seed cloud (see module docstring); not kept.
    seed_unique_index : ndarray of shape (S,), int64
        Row of ``points`` each seed converged to, -1 if it did not converge or is an outlier.
    seed_status : ndarray of shape (S,), str
        ``converged``; ``stalled`` (Newton's line search kept failing and Levenberg-Marquardt
        found no progress over its window or maxed out its damping: a local minimum or
        plateau of q above tol); ``max_iter`` (a budget ran out while q still fell); or
        ``nonfinite``.
    n_seeds, n_converged, n_unique, n_outliers : int
    tol : float
    seconds : float
        Wall-clock time of the search (without deduplication).
    method : str
    x : ndarray of shape (E,)
        The constant input the dynamics were held at.
    stats : dict
        Work counters: ``forward_evals`` (seed-evaluations of F), ``jvps`` (seed-Jacobian-vector
        products), ``dense_solves`` (seed LU solves), ``newton_iters`` (batched iterations).
    seed_grad_ratio : ndarray of shape (S,)
        ``‖(I − J_rec)ᵀ G‖ / ‖G‖`` at each seed's end state, ``G = s − F(s, x)`` (float64, one
        vector-Jacobian product; 0 where ``G = 0``). ~0 at a local minimum of q (a slow
        point); at least the smallest singular value of ``I − J_rec`` elsewhere. See
        :func:`grad_ratios`.
    """

    points: np.ndarray
    q: np.ndarray
    seed_points: np.ndarray
    seed_q: np.ndarray
    seed_iters: np.ndarray
    seed_relax_steps: np.ndarray
    seed_converged: np.ndarray
    seed_outlier: np.ndarray
    seed_unique_index: np.ndarray
    seed_status: np.ndarray
    n_seeds: int
    n_converged: int
    n_unique: int
    n_outliers: int
    tol: float
    seconds: float
    method: str
    x: np.ndarray
    stats: dict = field(default_factory=dict)
    seed_grad_ratio: np.ndarray | None = None

