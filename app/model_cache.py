"""The dashboard's in-memory caches: a thread-safe LRU bounded by count and, for loaded
models, by bytes (``model_nbytes``: parameters, buffers and vocabulary).

``rnnscope.app.services.Services`` holds one ``LRU`` per kind of thing it caches (models,
reports, a clicked point's modes, vocabulary projections, sentence traces, built views);
every one is bounded, so a long-running server does not grow without limit.
"""
from __future__ import annotations

import math
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable

from rnnscope.analysis.model import Model

#: Bytes one vocabulary token holds in memory besides its characters: the string object, its
#: list slot, its entry and id in ``Vocab.index`` (measured: 124 for 200,000 short tokens).
TOKEN_OVERHEAD_BYTES = 128


class LRU:
    """A thread-safe least-recently-used cache of at most ``maxsize`` entries and, when
    ``max_bytes`` is given, at most that many bytes as ``sizeof(value)`` counts them.

    ``get(key, make)`` returns the cached value or computes ``make()`` and stores it.
    Two threads asking for the same missing key may both compute it (the computation is
    pure); only one result is kept. A value larger than ``max_bytes`` on its own is
    returned to its caller but not kept (nothing else is evicted for it).
    """

    def __init__(self, maxsize: int, max_bytes: int | None = None,
                 sizeof: Callable[[object], int] | None = None):
        if maxsize < 1:
            raise ValueError(f"maxsize must be >= 1, got {maxsize}")
        if max_bytes is not None and (max_bytes < 1 or sizeof is None):
            raise ValueError("max_bytes must be >= 1 and comes with sizeof")
        self.maxsize, self.max_bytes, self.sizeof = maxsize, max_bytes, sizeof
        self._data: OrderedDict = OrderedDict()
        self._sizes: dict = {}
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0
        self.refused = 0

    def get(self, key: Hashable, make: Callable[[], object]):
        with self._lock:
            if key in self._data:
                self._data.move_to_end(key)
                self.hits += 1
                return self._data[key]
            self.misses += 1
        value = make()
        size = self.sizeof(value) if self.max_bytes is not None else 0
        with self._lock:
            if self.max_bytes is not None and size > self.max_bytes:
                self.refused += 1
                return value
            self._data[key], self._sizes[key] = value, size
            self._data.move_to_end(key)
            while len(self._data) > self.maxsize or sum(self._sizes.values()) > (self.max_bytes or math.inf):
                old, _ = self._data.popitem(last=False)
                del self._sizes[old]
        return value

    def __len__(self) -> int:
        return len(self._data)

    @property
    def nbytes(self) -> int:
        """Bytes held, as ``sizeof`` counts them (0 without a byte bound)."""
        with self._lock:
            return sum(self._sizes.values())

    def keys(self) -> list:
        """The cached keys, oldest first."""
        with self._lock:
            return list(self._data)

    def clear(self) -> None:
        with self._lock:
            self._data.clear()
            self._sizes.clear()


def model_nbytes(model: Model) -> int:
    """Memory a loaded model holds, in bytes: its parameters and buffers (numel x element
    size) plus its vocabulary (characters + ``TOKEN_OVERHEAD_BYTES`` per token)."""
    tensors = [*model.net.parameters(), *model.net.buffers()]
    tokens = model.vocab.tokens
    return (sum(t.numel() * t.element_size() for t in tensors) + sum(map(len, tokens))
            + TOKEN_OVERHEAD_BYTES * len(tokens))


def model_cache(max_bytes: int, maxsize: int = 6) -> LRU:
    """The loaded-model cache: at most ``maxsize`` models and ``max_bytes`` bytes of them."""
    return LRU(maxsize, max_bytes=int(max_bytes), sizeof=model_nbytes)
