"""One fixed point, clicked: its spectrum, integration mode and input Jacobian (``PointModes``).

Read from the report (the analysis job already decomposed J_rec at every point) plus J_inp
at that point, computed only up to a state size the caller allows.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from rnnscope.analysis.linearize import jacobians_at, time_constants
from rnnscope.analysis.model import RNNClassifier

@dataclass
class PointModes:
    """Linearization at one fixed point k, computed on demand.

    Attributes
    ----------
    index : int
    point : float64 ndarray of shape (D,)
    eigvals : complex128 ndarray of shape (D,)
        Eigenvalues of J_rec, sorted by |λ| descending.
    tau : float64 ndarray of shape (D,)
        |1/ln|λ||, in tokens.
    r1, l1 : float64 ndarray of shape (D,)
        The integration mode's signed direction (unit norm) and covector (report ``r1``, ``l1``).
    j_inp : float64 ndarray of shape (D, E), or None
        Input Jacobian at the point (zero input); None above the size a click may compute.
    mode : int
        Which eigenvalue is the integration mode (index into ``eigvals``).
    sign_source : str
        Where its sign comes from: readout, manifold or none.
    """

    index: int
    point: np.ndarray
    eigvals: np.ndarray
    tau: np.ndarray
    r1: np.ndarray
    l1: np.ndarray
    j_inp: np.ndarray | None
    mode: int = 0
    sign_source: str = "readout"


def _as_numpy(value) -> np.ndarray:
    if isinstance(value, torch.Tensor):
        value = value.detach().cpu().numpy()
    return np.asarray(value)


def point_modes_at(net: RNNClassifier, arrays: dict[str, np.ndarray], index: int, *,
                        max_state: int) -> PointModes:
    """``PointModes`` at point ``index`` of a report, without an eigendecomposition.

    The spectrum is the report's (``eigvals``: the analysis job decomposed J_rec at this very
    point, ~25·D³ flops, minutes for D = 8,192 and 13 s of one core for D = 2,048 even without
    eigenvectors); so is the integration mode (which eigenvalue, its signed direction r1 and
    covector ℓ1, ``rnnscope.analysis.modes``), so the dashboard and the report agree. Only J_inp is
    computed here, from the cell's closed-form Jacobians at the point (``jacobians_at``: a
    D x D matrix on the way, 0.2 s and ~200 MB at D = 2,048, 20 s and 2.1 GB at D = 8,192),
    and only when the state size D <= ``max_state``; else ``j_inp`` is None.
    """
    point = np.asarray(arrays["fixed_points"][index], np.float64)
    eigvals = np.asarray(arrays["eigvals"][index], np.complex128)
    j_inp = jacobians_at(net, point[None])[1][0] if net.state_size <= max_state else None
    return PointModes(
        index=int(index), point=point, eigvals=eigvals, tau=time_constants(eigvals).astype(np.float64),
        r1=np.asarray(arrays["r1"][index], np.float64), l1=np.asarray(arrays["l1"][index], np.float64),
        j_inp=j_inp, mode=int(arrays["mode_index"][index]), sign_source=str(arrays["mode_sign_source"][index]))


def word_input_effects(net: RNNClassifier, word_ids: np.ndarray, j_inp: np.ndarray) -> np.ndarray:
    """J_inp x_w (W, D), float64, for the words ``word_ids`` (W,) with the input Jacobian ``j_inp`` (D, E)."""
    rows = torch.as_tensor(np.asarray(word_ids, dtype=np.int64))  # only these rows: V x E is large
    emb = net.embedding.weight.detach()[rows].cpu().numpy().astype(np.float64)
    return emb @ np.asarray(j_inp, np.float64).T
