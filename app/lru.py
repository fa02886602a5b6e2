"""A thread-safe least-recently-used cache bounded by the bytes it holds."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Hashable


class ByteLRU:
    """Maps keys to ``bytes``; evicts the least recently used entries beyond ``max_bytes``.

    Args:
        max_bytes: the bound on the sum of the values' lengths. A value larger than the
            bound is not stored.
    """

    def __init__(self, max_bytes: int):
        if max_bytes < 0:
            raise ValueError(f"max_bytes must be >= 0, got {max_bytes}")
        self.max_bytes = max_bytes
        self.nbytes = 0
        self.hits = 0
        self.misses = 0
        self._items: OrderedDict[Hashable, bytes] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Hashable) -> bytes | None:
        """The value of ``key`` (now the most recent), or ``None``."""
        with self._lock:
            value = self._items.get(key)
            if value is None:
                self.misses += 1
                return None
            self._items.move_to_end(key)
            self.hits += 1
            return value

    def __contains__(self, key: Hashable) -> bool:
        with self._lock:
            return key in self._items

    def put(self, key: Hashable, value: bytes) -> None:
        """Store ``value`` as the most recent entry, evicting old ones to stay within the bound."""
        size = len(value)
        with self._lock:
            old = self._items.pop(key, None)
            if old is not None:
                self.nbytes -= len(old)
            if size > self.max_bytes:
                return
            self._items[key] = value
            self.nbytes += size
            while self.nbytes > self.max_bytes:
                _, dropped = self._items.popitem(last=False)
                self.nbytes -= len(dropped)

    def __len__(self) -> int:
        with self._lock:
            return len(self._items)

    def keys(self) -> list[Hashable]:
        """Keys from least to most recently used."""
        with self._lock:
            return list(self._items)
