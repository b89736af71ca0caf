"""Time for every layer: an injectable wall clock, the µs constants, and one way to write a time.

The clock is injectable so retention and hold tests can move time instead of waiting for it.
Times are kept as integer microseconds since the epoch (UTC) everywhere below the presentation.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime
from typing import Protocol

SECOND_US = 1_000_000
HOUR_US = 3_600 * SECOND_US
DAY_US = 24 * HOUR_US


class Clock(Protocol):
    def now_us(self) -> int:
        """Wall-clock UTC in microseconds since the epoch."""
        ...


class SystemClock:
    def now_us(self) -> int:
        return time.time_ns() // 1000

    def monotonic_us(self) -> int:
        """What the wall clock is checked against for steps (edge/monitor/clock_watch.py)."""
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


def us_to_datetime(us: int) -> datetime:
    return datetime.fromtimestamp(us / SECOND_US, tz=UTC)


def datetime_to_us(dt: datetime) -> int:
    """Exact (no float rounding); a naive datetime is refused rather than guessed."""
    if dt.tzinfo is None:
        raise ValueError("naive datetime: times must carry a timezone")
    delta = dt - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * SECOND_US + delta.microseconds


def iso(us: int | None) -> str | None:
    """UTC, ISO 8601 to the second with a `Z`: the status document, alarms and reports."""
    if us is None:
        return None
    return us_to_datetime(us).isoformat(timespec="seconds").replace("+00:00", "Z")


def iso_precise(us: int) -> str:
    """UTC, ISO 8601 to the microsecond: manifests and API records, where a range must round-trip."""
    return us_to_datetime(us).isoformat().replace("+00:00", "Z")


def hhmm(us: int) -> str:
    """`10:02` for today's events, `2026-11-27 10:02` for older ones (the reader is on site)."""
    dt = us_to_datetime(us)
    if dt.date() == datetime.now(tz=UTC).date():
        return f"{dt:%H:%M}"
    return f"{dt:%Y-%m-%d %H:%M}"
