"""Read pins: segments a reader (an export being produced) holds open, which retention must not delete.

A reader pins first, then re-reads its rows and uses only those still 'stored'. The sweep filters
pinned segments and marks the rest 'deleting' while holding the same lock (`claim`), so either the
reader's pin comes first (the sweep skips the segment in that run) or the mark does (the reader's
re-read sees 'deleting'): a file never vanishes under a reader that checked its rows.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import TypeVar

T = TypeVar("T")


class Pins:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._count: Counter[int] = Counter()

    def pin(self, segment_ids: Iterable[int]) -> list[int]:
        ids = list(segment_ids)
        with self._lock:
            self._count.update(ids)
        return ids

    def unpin(self, segment_ids: Iterable[int]) -> None:
        with self._lock:
            for sid in segment_ids:
                self._count[sid] -= 1
                if self._count[sid] <= 0:
                    del self._count[sid]

    @contextmanager
    def pinned(self, segment_ids: Iterable[int]) -> Iterator[list[int]]:
        """`with store.pinned(ids):` the segments stay on disk until the block ends (refcounted)."""
        ids = self.pin(segment_ids)
        try:
            yield ids
        finally:
            self.unpin(ids)

    def is_pinned(self, segment_id: int) -> bool:
        with self._lock:
            return segment_id in self._count

    def maybe_any(self) -> bool:
        """Whether anything may be pinned, without the lock: a hint for a scan over many segments
        (False is exact at some instant; a pin racing it is caught by `claim`, under the lock)."""
        return bool(self._count)

    def __len__(self) -> int:
        with self._lock:
            return len(self._count)

    def claim(self, items: list[T], key: Callable[[T], int], action: Callable[[list[T]], None]) -> list[T]:
        """Drop the pinned items and run `action` on the rest while no one can pin: returns the rest."""
        with self._lock:
            free = [it for it in items if key(it) not in self._count]
            if free:
                action(free)
        return free
