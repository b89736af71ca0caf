"""Rate-limited logging: a cause that repeats (a flood, a failing loop) cannot drown the journal.

A cause is the logger, the level, the message template (before its arguments are filled in) and
the exception type. Each cause may log `burst` lines per `window` seconds; the rest are counted,
and the next line of that cause that gets through says how many were suppressed. Only warnings
and errors are limited: the info lines of normal operation (a segment closed) are bounded by
design, and floods (refused connections, a failing loop's tracebacks) are warnings or errors.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

#: Distinct causes remembered; beyond this the quietest are forgotten (f-string messages would
#: otherwise make every line its own cause and grow this without bound).
MAX_CAUSES = 2048


@dataclass
class _Cause:
    window_start: float
    emitted: int = 0
    suppressed: int = 0


class RateLimitFilter(logging.Filter):
    def __init__(self, burst: int = 10, window: float = 60.0, level: int = logging.WARNING,
                 clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__()
        self.level = level
        self.burst = burst
        self.window = window
        self.clock = clock
        self._causes: dict[tuple[str, int, str, str], _Cause] = {}
        self._lock = threading.Lock()

    @staticmethod
    def cause_of(record: logging.LogRecord) -> tuple[str, int, str, str]:
        exc = record.exc_info[0].__name__ if record.exc_info and record.exc_info[0] else ""
        return record.name, record.levelno, str(record.msg)[:200], exc

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < self.level:
            return True
        key = self.cause_of(record)
        now = self.clock()
        with self._lock:
            cause = self._causes.get(key)
            if cause is None:
                if len(self._causes) >= MAX_CAUSES:
                    self._forget(now)
                cause = self._causes[key] = _Cause(now)
            if now - cause.window_start >= self.window:
                suppressed = cause.suppressed
                cause.window_start, cause.emitted, cause.suppressed = now, 0, 0
            else:
                suppressed = 0
            if cause.emitted >= self.burst:
                cause.suppressed += 1
                return False
            cause.emitted += 1
        if suppressed:
            record.msg = f"{record.getMessage()} [{suppressed} similar line(s) suppressed in the last " \
                         f"{self.window:g} s]"
            record.args = None
        return True

    def _forget(self, now: float) -> None:
        stale = [k for k, c in self._causes.items() if now - c.window_start >= self.window]
        for k in stale or list(self._causes)[: MAX_CAUSES // 2]:
            del self._causes[k]
