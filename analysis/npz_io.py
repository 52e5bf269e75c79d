"""Reading ``.npz`` archives from several threads at once.

numpy parses each array's header with ``ast.literal_eval``, and CPython 3.11 keeps the AST
constructor's recursion depth in state shared by the interpreter's threads: two threads
building an AST at once can leave it inconsistent, and ``ast.literal_eval`` then raises
``SystemError: AST constructor recursion depth mismatch`` (cpython issue gh-106905). The
threaded dashboard loading two reports at once hit it (an HTTP 500 in a CI run). Every read
of the store's archives goes through :func:`read_npz`, which holds :data:`READ_LOCK`.
"""
from __future__ import annotations

import os
import threading

import numpy as np

#: Held while an archive is read: one parse of numpy headers at a time in this process.
READ_LOCK = threading.Lock()


def read_npz(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """Every array of the archive at ``path`` (read with ``allow_pickle=False``), by name."""
    with READ_LOCK, np.load(path, allow_pickle=False) as npz:
        return {name: npz[name] for name in npz.files}
