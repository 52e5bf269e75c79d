r"""The memory budget of the fixed-point search, the Jacobians and the eigendecompositions,
stated up front: how many bytes each seed or point costs, and how many fit in a budget.

The budget is the number of bytes one call may hold at once on its device (the GPU for a
network there, else host memory) beyond its inputs and the outputs it returns. Each call
below splits its seeds or points into chunks of at most ``budget // bytes_per_row`` rows;
one row that alone exceeds the budget is refused (:class:`MemoryBudgetError`) rather than
run over it. Jobs read the budget from ``RNNSCOPE_MEMORY_BUDGET_MB``
(:class:`rnnscope.settings.Settings`, default 2,048 MiB on the CPU and 8,192 MiB with
``RNNSCOPE_DEVICE=cuda``); the pure functions take it as ``memory_budget`` (bytes), default
:data:`DEFAULT_MEMORY_BUDGET`.

Bytes per row (float64, 8 bytes a number; ``D`` state size, ``E`` input size, ``k`` the
Krylov dimension, ``m`` Anderson's memory):

=========================== ================================== ====================================
computation                 bytes per row                      what is held
=========================== ================================== ====================================
Jacobians (a point)         ``32 D (D + E)``                   ``J_rec`` (D×D) and ``J_inp`` (D×E)
                                                               and up to three temporaries of each
                                                               while the cell builds them (measured
                                                               peaks: vanilla 8 D², GRU and UGRNN
                                                               24 D², LSTM 26 D², with E = 16)
linearization (a point)     ``8 D (7 D + 2 E)``                ``J_rec`` and ``J_inp``; the
                                                               eigensolver's copy of ``J_rec`` and
                                                               its real eigenvectors, then complex
                                                               eigenvectors (16 bytes a number)
                                                               and their sorted copy: 7 float64
                                                               D×D (measured: 5.3 with E = 64)
search state (a seed)       ``32 D``                           the working copy and the untouched
                                                               copy of every seed, for the whole
                                                               search, and two temporaries of that
                                                               size while outliers are measured
gradient ratio (a seed)     ``8 D (2·12 + 4)``                 one vector-Jacobian product (at the
                                                               end of a search, after the blocks)
Newton block (a seed)       ``8 D (8 + max(2 (k + 1) + 12,     per-seed iterates and residuals;
                            168, m² + 5 m, 20))``              the largest of the Krylov basis with
                                                               one Gram-Schmidt product and one F
                                                               evaluation, the line search's 12
                                                               trial points through F (12 numbers a
                                                               row: measured 4-11 for the four
                                                               cells), Anderson's normal equations,
                                                               Levenberg-Marquardt's graph and CGLS
dense Newton block (a seed) ``8 D (8 + max(4 (D + E), 168,     the same with the seed's Jacobians,
                            m² + 5 m, 20))``                   ``I - J_rec`` and its LU factors in
                                                               place of the Krylov basis
=========================== ================================== ====================================

So a search over 4,096 seeds with D = 1,024 (``k = 40``, ``m = 5``) holds a 128 MiB search
state and 1.4 MiB per seed of a block: the default CPU budget takes the seeds in 3 blocks of
1,366, the GPU one in a single block; a linearization takes 36 points at a time at D = 1,024
on the CPU (56 MiB each).
"""
from __future__ import annotations

from rnnscope.settings import DEFAULT_MEMORY_BUDGET_MB

#: Default budget of the pure functions, bytes (``RNNSCOPE_MEMORY_BUDGET_MB``'s CPU default).
DEFAULT_MEMORY_BUDGET = DEFAULT_MEMORY_BUDGET_MB["cpu"] * 2**20
#: Numbers (of D) one evaluation of F holds per row, its output included (measured on the
#: four cells in float64: vanilla 3.8, LSTM 6.3, UGRNN 6.8, GRU 10.8).
F_TEMPS = 12
#: Trial points per seed of the backtracking line search (step halvings).
LINE_SEARCH_TRIALS = 12


class MemoryBudgetError(ValueError):
    """One seed or point needs more than the memory budget; the message says how much."""


def mib(n_bytes: float) -> str:
    """``n_bytes`` in MiB, for messages."""
    return f"{n_bytes / 2**20:,.1f} MiB"


def jacobian_bytes(D: int, E: int) -> int:
    """Bytes of building ``J_rec`` and ``J_inp`` at one point in float64: ``32 D (D + E)``."""
    return 32 * D * (D + E)


def linearize_bytes(D: int, E: int) -> int:
    """Bytes of one point of :func:`rnnscope.analysis.linearize.linearize`: ``8 D (7 D + 2 E)``."""
    return 8 * D * (7 * D + 2 * E)


def search_state_bytes(D: int) -> int:
    """Bytes per seed that :func:`~rnnscope.analysis.fixed_points.find_fixed_points` holds for the
    whole search (the working and the untouched copy of the seeds, and at the end two
    temporaries of that size while outliers are measured): ``32 D``."""
    return 32 * D


def grad_ratio_bytes(D: int) -> int:
    """Bytes per state of :func:`~rnnscope.analysis.fixed_point_residual.grad_ratios` (one
    vector-Jacobian product: F's saved temporaries and their gradients, the state, G and
    ``(I - J)ᵀ G``): ``8 D (2 F_TEMPS + 4)``."""
    return 8 * D * (2 * F_TEMPS + 4)


def block_bytes(D: int, E: int, *, krylov_dim: int, anderson: int, dense: bool = False) -> int:
    """Bytes per seed of a block of the Newton solver (see the module docstring's table); with
    ``dense`` the Krylov basis gives way to the seed's Jacobians and LU factors (``4 (D + E)``
    numbers of D), so blocks are also the dense method's chunks."""
    direction = 4 * (D + E) if dense else 2 * (krylov_dim + 1) + F_TEMPS
    line_search = LINE_SEARCH_TRIALS * (2 + F_TEMPS)
    accel = anderson * anderson + 5 * anderson
    lm = F_TEMPS + 8
    return 8 * D * (8 + max(direction, line_search, accel, lm))


def rows_within(budget: int, bytes_per_row: int, what: str) -> int:
    """How many rows of ``bytes_per_row`` fit in ``budget`` bytes (at least 1).

    Raises
    ------
    MemoryBudgetError
        One row needs more than ``budget``; the message names ``what`` and both sizes.
    """
    if bytes_per_row > budget:
        raise MemoryBudgetError(f"{what} needs {mib(bytes_per_row)}, more than the memory budget of {mib(budget)}; "
                                f"raise RNNSCOPE_MEMORY_BUDGET_MB (or pass a larger memory_budget)")
    return max(1, budget // bytes_per_row)


def search_block(S: int, D: int, E: int, *, krylov_dim: int, anderson: int, dense: bool,
                 budget: int = DEFAULT_MEMORY_BUDGET) -> tuple[int, int]:
    """Seeds per block of the Newton solver, and states per chunk of the gradient ratios at
    the end, for a search over ``S`` seeds of size ``D`` (input size ``E``) within ``budget``
    bytes.

    The search state (:func:`search_state_bytes` for all ``S`` seeds) comes first; blocks get
    the rest at :func:`block_bytes` a seed, as few blocks as fit and of equal size (so that
    4,096 seeds in a budget for 1,400 run as 3 blocks of 1,366, not 1,400 + 1,400 + 1,296);
    the gradient ratios, computed after the blocks, get the same rest at
    :func:`grad_ratio_bytes` a state.

    Raises
    ------
    MemoryBudgetError
        The search state, one seed's block work or one gradient ratio alone exceeds the budget.
    """
    state = S * search_state_bytes(D)
    rest = budget - state
    if rest <= 0:
        raise MemoryBudgetError(f"the fixed-point search state of {S:,} seeds at D = {D:,} needs {mib(state)}, "
                                f"more than the memory budget of {mib(budget)}; "
                                f"raise RNNSCOPE_MEMORY_BUDGET_MB or use fewer seeds")
    per_seed = block_bytes(D, E, krylov_dim=krylov_dim, anderson=anderson, dense=dense)
    most = rows_within(rest, per_seed, f"one fixed-point seed at D = {D:,}")
    n_blocks = max(1, -(-S // most))
    grad = rows_within(rest, grad_ratio_bytes(D), f"the gradient ratio of one seed at D = {D:,}")
    return max(1, -(-S // n_blocks)), grad
