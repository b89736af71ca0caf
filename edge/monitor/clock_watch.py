"""Watches the daemon's wall clock: steps (NTP or an operator moving it) and time synchronisation.

Every tick compares how far the wall clock moved with how far the monotonic clock moved; a
difference above STEP_THRESHOLD_US is a step. Each step is recorded in `clock_events` with its
size (storage/clock_events.py), raises the `clock_step` alarm (info: the footage is fine, its
times moved) and tells the capture workers, which start a new segment with a fresh time anchor
(never overlapping the previous one, see capture/session.py). Retention allows for forward steps.

A box whose clock is not synchronised (chrony or systemd-timesyncd not in sync) raises
`clock_unsynced`: evidence times depend on it. The probe is injectable (tests drive both states).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import os
import shutil
import subprocess
import time
from collections.abc import Callable
from typing import Any

from edge.monitor.alarms import AlarmCenter
from edge.periodic import PeriodicService
from storage import clock_events
from storage.clock import Clock, iso
from storage.index import Index

log = logging.getLogger(__name__)

#: A wall-clock move this much off the monotonic clock in one tick counts as a step (a slewing
#: NTP daemon moves the clock by at most 0.5 ms per second).
STEP_THRESHOLD_US = 1_000_000
#: The `clock_step` alarm clears after the clock has been steady this long.
STEP_ALARM_SECONDS = 3600.0
SYNC_CHECK_SECONDS = 60.0
#: adjtimex(2) returns TIME_ERROR while the kernel clock is not synchronised.
TIME_ERROR = 5

SyncProbe = Callable[[], bool | None]


def timedatectl_probe() -> bool | None:
    """`timedatectl show -p NTPSynchronized --value` (systemd-timesyncd or chrony via timedated)."""
    exe = shutil.which("timedatectl")
    if exe is None:
        return None
    # Without NOTIFY_SOCKET: systemd's tools report their own failure there ("ERRNO=112"), which
    # the service manager would take for the recorder's.
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NOTIFY_SOCKET", "WATCHDOG_"))}
    try:
        out = subprocess.run([exe, "show", "-p", "NTPSynchronized", "--value"], capture_output=True,
                             text=True, timeout=5.0, env=env)
    except (OSError, subprocess.SubprocessError):
        return None
    value = out.stdout.strip()
    if out.returncode != 0 or value not in ("yes", "no"):
        return None
    return value == "yes"


class _Timex(ctypes.Structure):
    # struct timex is 208 bytes on 64-bit Linux; only the return value of adjtimex matters here.
    _fields_ = [("modes", ctypes.c_uint), ("_rest", ctypes.c_byte * 204)]


def adjtimex_probe() -> bool | None:
    """The kernel's own view (what chrony and timesyncd both maintain): read-only adjtimex(2)."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True)
        tx = _Timex()
        tx.modes = 0  # read only
        state = int(libc.adjtimex(ctypes.byref(tx)))
    except (OSError, AttributeError):
        return None
    if state < 0:
        return None
    return state != TIME_ERROR


def system_sync_probe() -> bool | None:
    """True when synchronised, False when not, None when nothing can tell."""
    found = timedatectl_probe()
    return found if found is not None else adjtimex_probe()


class ClockWatch(PeriodicService):
    name = "clock-watch"

    def __init__(self, clock: Clock, index: Index, alarms: AlarmCenter,
                 on_step: Callable[[int], None] | None = None, sync_probe: SyncProbe | None = system_sync_probe,
                 interval: float = 1.0, monotonic_us: Callable[[], int] | None = None) -> None:
        super().__init__(interval)
        self.clock = clock
        self.index = index
        self.alarms = alarms
        self.on_step = on_step
        self.sync_probe = sync_probe
        # The clock's own monotonic reading when it has one (OffsetClock: time travel in tests moves
        # both; only `step` moves the wall clock alone).
        clock_mono: Callable[[], int] | None = getattr(clock, "monotonic_us", None)
        self._mono = monotonic_us or clock_mono or (lambda: time.monotonic_ns() // 1000)
        self._last: tuple[int, int] | None = None  # (wall µs, monotonic µs) at the previous check
        self._last_step_mono: float | None = None
        self._next_sync_check = 0.0
        self.synchronized: bool | None = None
        self.steps = 0

    def tick(self) -> None:
        self.check_step()
        if self.sync_probe is not None and time.monotonic() >= self._next_sync_check:
            self._next_sync_check = time.monotonic() + SYNC_CHECK_SECONDS
            self.check_sync()

    def check_step(self) -> int:
        """The step since the previous check (0 when none), recorded and announced."""
        wall, mono = self.clock.now_us(), self._mono()
        last, self._last = self._last, (wall, mono)
        if last is None:
            return 0
        step = (wall - last[0]) - (mono - last[1])
        if abs(step) < STEP_THRESHOLD_US:
            if self._last_step_mono is not None and time.monotonic() - self._last_step_mono > STEP_ALARM_SECONDS:
                self._last_step_mono = None
                self.alarms.clear("clock_step")
            return 0
        self.steps += 1
        self._last_step_mono = time.monotonic()
        direction = "forward" if step > 0 else "back"
        detail = f"the wall clock stepped {direction} by {abs(step) / 1e6:.3f} s"
        clock_events.record(self.index, wall, "step", step, detail)
        log.warning("clock: %s; new segments start with a fresh time anchor", detail)
        self.alarms.raise_("clock_step", "info", detail, details={"step_seconds": round(step / 1e6, 3),
                                                                   "at": iso(wall)})
        if self.on_step is not None:
            try:
                self.on_step(step)
            except Exception:
                log.exception("clock: passing the step on failed")
        return step

    def check_sync(self) -> bool | None:
        assert self.sync_probe is not None
        try:
            synced = self.sync_probe()
        except Exception:
            log.exception("clock: the time sync probe failed")
            synced = None
        changed = synced != self.synchronized
        self.synchronized = synced
        if synced is False:
            if self.alarms.raise_("clock_unsynced", "warning",
                                  "the system clock is not synchronised (chrony/systemd-timesyncd): evidence"
                                  " times depend on it"):
                clock_events.record(self.index, self.clock.now_us(), "unsynced")
        elif synced is True and self.alarms.clear("clock_unsynced") and changed:
            clock_events.record(self.index, self.clock.now_us(), "synced")
        return synced

    def status(self) -> dict[str, Any]:
        return {"synchronized": self.synchronized, **clock_summary(self.index, self.clock.now_us())}


def clock_summary(index: Index, now_us: int) -> dict[str, Any]:
    """The recent steps, newest first, for the status document (`edge status` with or without a daemon)."""
    steps = [e for e in clock_events.recent(index, 20) if e.kind == "step"][:5]
    return {"steps": [{"time": iso(e.time_us), "step_seconds": round(e.step_us / 1e6, 3), "detail": e.detail}
                      for e in steps]}
