"""Anonymous refusals, aggregated: one register entry per source per window, with a count.

A request without a valid token (none, wrong, revoked, or from a throttled address) is refused
before anyone is known. Registering each one would let anybody on the site network grow the
append-only register without bound and bury the entries an auditor needs; so each source gets
one `auth_failure` entry per window (a minute by default), written when the window ends, naming
how many requests were refused, for which reasons and on which paths. The first request's method,
path and reason stay at the top level of the entry's detail, as for a single refusal.
"""

from __future__ import annotations

import logging
import threading
from collections import Counter
from dataclasses import dataclass, field

from edge.periodic import PeriodicService
from storage.clock import Clock, iso
from storage.register import AccessRegister, Actor

log = logging.getLogger(__name__)

#: Distinct "METHOD path" keys kept per entry; the rest are counted under "other".
MAX_PATHS = 64
#: Sources tracked per window; beyond this, the rest share one entry under source "*".
MAX_SOURCES = 10_000


@dataclass
class _Bucket:
    window_start_us: int
    first: dict[str, str]
    count: int = 0
    reasons: Counter[str] = field(default_factory=Counter)
    paths: Counter[str] = field(default_factory=Counter)


class AnonymousRefusals:
    def __init__(self, register: AccessRegister, clock: Clock, window_seconds: float = 60.0) -> None:
        self.register = register
        self.clock = clock
        self.window_us = int(window_seconds * 1_000_000)
        self._buckets: dict[tuple[str, int], _Bucket] = {}
        self._lock = threading.Lock()

    def record(self, source: str, method: str, path: str, reason: str) -> None:
        now = self.clock.now_us()
        start = now - now % self.window_us
        with self._lock:
            if (source, start) not in self._buckets and len(self._buckets) >= MAX_SOURCES:
                source = "*"
            b = self._buckets.get((source, start))
            if b is None:
                b = self._buckets[(source, start)] = _Bucket(start, {"method": method, "path": path,
                                                                       "reason": reason})
            b.count += 1
            b.reasons[reason] += 1
            key = f"{method} {path}"
            if key in b.paths or len(b.paths) < MAX_PATHS:
                b.paths[key] += 1
            else:
                b.paths["other"] += 1

    def flush(self, everything: bool = False) -> int:
        """Register the windows that have ended (all of them with `everything`, at shutdown)."""
        now = self.clock.now_us()
        with self._lock:
            due = [k for k, b in self._buckets.items() if everything or b.window_start_us + self.window_us <= now]
            buckets = [(k[0], self._buckets.pop(k)) for k in due]
        for source, b in sorted(buckets, key=lambda x: (x[1].window_start_us, x[0])):
            self.register.append(
                Actor("anonymous", "none", "", source), "auth_failure", result="refused",
                detail={**b.first, "count": b.count, "window_start": iso(b.window_start_us),
                        "window_seconds": self.window_us / 1e6, "reasons": dict(b.reasons),
                        "requests": dict(b.paths)})
        return len(buckets)

    def pending(self) -> int:
        with self._lock:
            return sum(b.count for b in self._buckets.values())


class RefusalFlusher(PeriodicService):
    """Writes each ended window's entries; what is still open is written at stop."""

    name = "refusals"

    def __init__(self, refusals: AnonymousRefusals) -> None:
        super().__init__(min(5.0, max(0.2, refusals.window_us / 4e6)))
        self.refusals = refusals

    def tick(self) -> None:
        self.refusals.flush()

    def stop(self) -> None:
        super().stop()
        try:
            self.refusals.flush(everything=True)
        except Exception:
            log.exception("refusals: could not register the last window")
