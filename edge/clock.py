"""Injectable wall clock, so retention and hold tests can move time instead of waiting for it."""

from __future__ import annotations

import threading
import time
from typing import Protocol


class Clock(Protocol):
    def now_us(self) -> int:
        """Wall-clock UTC in microseconds since the epoch."""
        ...


class SystemClock:
    def now_us(self) -> int:
        return time.time_ns() // 1000

    def monotonic_us(self) -> int:
        """What the wall clock is checked against for steps (edge/clock_watch.py)."""
        return time.monotonic_ns() // 1000


class OffsetClock:
    """The system clock shifted by an adjustable offset (for time-travel tests and `--clock-offset`).

    `advance` is time travel (time passed: the wall clock and the monotonic clock move together, so
    nothing sees a step); `step` is a step of the wall clock alone, as NTP or an operator makes it."""

    def __init__(self, offset_us: int = 0) -> None:
        self._offset = offset_us
        self._mono_offset = 0
        self._lock = threading.Lock()

    def now_us(self) -> int:
        with self._lock:
            return time.time_ns() // 1000 + self._offset

    def monotonic_us(self) -> int:
        with self._lock:
            return time.monotonic_ns() // 1000 + self._mono_offset

    def advance(self, us: int) -> None:
        with self._lock:
            self._offset += us
            self._mono_offset += us

    def step(self, us: int) -> None:
        with self._lock:
            self._offset += us


DAY_US = 86_400 * 1_000_000
