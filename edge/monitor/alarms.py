"""All alarms in one place: a stable code, a severity, raise and clear times.

Producers (capture workers' watchdog, image health, retention, capacity) raise and clear; the
status API, metrics, sd_notify STATUS and the maintenance page read. Every raise and clear is
recorded in the index (`alarm_events`) with its time, so an inspection can see what happened.
"""

from __future__ import annotations

import json
import logging
import threading
from dataclasses import dataclass, field
from typing import Any, Literal

from storage.clock import Clock
from storage.index import Index

log = logging.getLogger(__name__)

Severity = Literal["info", "warning", "critical"]

#: Stable alarm codes (a contract with central monitoring).
CODES = frozenset({
    "offline", "stalled", "dark", "overexposed", "covered", "blurred", "frozen", "moved",
    "capacity", "disk_full", "floor_at_risk", "floor_breach", "disk_error", "recovery", "offload_behind",
    "clock_step", "clock_unsynced", "segment_altered",
    "checkpoint_failed", "timestamp_failed", "clock_drift",
})



@dataclass(frozen=True)
class Alarm:
    code: str
    severity: Severity
    camera: str | None
    message: str
    since_us: int
    details: dict[str, Any] = field(default_factory=dict)


class AlarmCenter:
    def __init__(self, index: Index, clock: Clock) -> None:
        self.index = index
        self.clock = clock
        self._lock = threading.Lock()
        self._active: dict[tuple[str, str | None], Alarm] = {}

    def _record(self, alarm: Alarm, event: str, time_us: int) -> None:
        with self.index.write() as c:
            c.execute(
                "INSERT INTO alarm_events (time_us, code, camera, severity, event, message, details)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                (time_us, alarm.code, alarm.camera, alarm.severity, event, alarm.message,
                 json.dumps(alarm.details, sort_keys=True)),
            )

    def raise_(self, code: str, severity: Severity, message: str, camera: str | None = None,
               details: dict[str, Any] | None = None) -> bool:
        """Raise (or update the message/details of) an alarm. True when it was not active before."""
        if code not in CODES:
            raise ValueError(f"unknown alarm code {code!r}")
        key = (code, camera)
        with self._lock:
            current = self._active.get(key)
            if current is not None:
                # Keep the original raise time; refresh what the alarm says.
                self._active[key] = Alarm(code, severity, camera, message, current.since_us, details or {})
                return False
            now = self.clock.now_us()
            alarm = Alarm(code, severity, camera, message, now, details or {})
            self._active[key] = alarm
        self._record(alarm, "raise", now)
        logger = log.error if severity == "critical" else log.warning
        logger("ALARM %s%s: %s", code, f" camera={camera}" if camera else "", message)
        return True

    def clear(self, code: str, camera: str | None = None) -> bool:
        with self._lock:
            alarm = self._active.pop((code, camera), None)
        if alarm is None:
            return False
        self._record(alarm, "clear", self.clock.now_us())
        log.info("alarm cleared %s%s", code, f" camera={camera}" if camera else "")
        return True

    def is_active(self, code: str, camera: str | None = None) -> bool:
        with self._lock:
            return (code, camera) in self._active

    def active(self, camera: str | None = None, box_only: bool = False) -> list[Alarm]:
        """Active alarms: of one camera, or box-wide only, or (both None/False) all of them."""
        with self._lock:
            alarms = list(self._active.values())
        if box_only:
            alarms = [a for a in alarms if a.camera is None]
        elif camera is not None:
            alarms = [a for a in alarms if a.camera == camera]
        return sorted(alarms, key=lambda a: (a.since_us, a.code))

    def events(self, since_us: int = 0, camera: str | None = None, limit: int = 1000) -> list[dict[str, Any]]:
        sql = "SELECT time_us, code, camera, severity, event, message, details FROM alarm_events WHERE time_us >= ?"
        args: list[Any] = [since_us]
        if camera is not None:
            sql += " AND camera = ?"
            args.append(camera)
        sql += " ORDER BY id DESC LIMIT ?"
        args.append(limit)
        keys = ("time_us", "code", "camera", "severity", "event", "message", "details")
        out = []
        for row in self.index.reader().execute(sql, args):
            d = dict(zip(keys, row, strict=True))
            d["details"] = json.loads(d["details"])
            out.append(d)
        return out
