"""Input checks shared by the figure functions: clear ``ValueError`` messages, no crashes."""
from __future__ import annotations

import numpy as np


def vector(name: str, values, *, length: int | None = None, dtype=np.float64) -> np.ndarray:
    """``values`` as a 1-D array (optionally of a given length); ValueError otherwise."""
    arr = np.asarray(values, dtype=dtype)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be 1-D, got shape {arr.shape}")
    if length is not None and arr.shape[0] != length:
        raise ValueError(f"{name} must have {length} entries, got {arr.shape[0]}")
    return arr


def matrix(name: str, values, *, cols: int | None = None, min_cols: int | None = None,
           rows: int | None = None, dtype=np.float64) -> np.ndarray:
    """``values`` as a 2-D array with the given column/row counts; ValueError otherwise."""
    arr = np.asarray(values, dtype=dtype)
    if arr.ndim == 1 and arr.size == 0:
        arr = arr.reshape(0, cols or min_cols or 0)
    if arr.ndim != 2:
        raise ValueError(f"{name} must be 2-D, got shape {arr.shape}")
    if cols is not None and arr.shape[1] != cols:
        raise ValueError(f"{name} must have {cols} columns, got shape {arr.shape}")
    if min_cols is not None and arr.shape[1] < min_cols:
        raise ValueError(f"{name} must have at least {min_cols} columns, got shape {arr.shape}")
    if rows is not None and arr.shape[0] != rows:
        raise ValueError(f"{name} must have {rows} rows, got shape {arr.shape}")
    return arr


def indices(name: str, selected, n: int) -> np.ndarray:
    """``selected`` (None, an int or a sequence of ints) as int64 indices into ``range(n)``."""
    if selected is None:
        return np.zeros(0, dtype=np.int64)
    arr = np.atleast_1d(np.asarray(selected))
    if arr.size == 0:
        return np.zeros(0, dtype=np.int64)
    if arr.ndim != 1 or not np.issubdtype(arr.dtype, np.integer):
        raise ValueError(f"{name} must be an int or a sequence of ints, got {selected!r}")
    if arr.min() < 0 or arr.max() >= n:
        raise ValueError(f"{name} {arr.tolist()} out of range for {n} fixed points")
    return arr.astype(np.int64)
