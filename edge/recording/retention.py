"""The retention service of the daemon: space guard, ring-buffer sweep, capacity alarms, status.

Every second (and right after each segment close that finds the disk under pressure) it reads the
volume's figures (one statvfs) and the in-memory store totals; it sweeps when usage passes the high
watermark, the quota, or the headroom recording needs, and at least every `sweep_interval` (for
`max_days` and the forecast). When nothing more may be deleted, recording pauses before the free
space reaches `[storage] reserve_bytes` (the index and logs must always be writable) and resumes
by itself when space returns.

Headroom is the smaller of (free - reserve) on the volume and (quota - store bytes). The guard is
what all cameras write in GUARD_SECONDS at their current rates: the sweep keeps two guards of
headroom, recording pauses under one and resumes at two, so a fast writer cannot eat the reserve
between two checks.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from edge.config import EdgeConfig
from edge.monitor.alarms import AlarmCenter
from edge.periodic import PeriodicService
from edge.recording.capacity import Forecast, days_between, forecast, held_bytes, measured_rates
from storage.clock import Clock, iso
from storage.delete_record import deletion_counters
from storage.diskspace import Volume, volume_of
from storage.holds import HoldStore
from storage.index import Segment
from storage.register import AccessRegister
from storage.retention import RetentionEngine, SweepResult
from storage.store import SegmentStore
from storage.totals import StoreTotals

if TYPE_CHECKING:
    from capture.worker import CaptureWorker

log = logging.getLogger(__name__)

GUARD_SECONDS = 2.0
MIN_GUARD = 1 << 20
CHECK_INTERVAL = 1.0
FRUITLESS_BACKOFF = 5.0
PAUSE_REASON = "disk_full"
LAST_SWEEP_META = "retention.last_sweep_us"


@dataclass(frozen=True)
class Pressure:
    headroom: int  # bytes recording may still use before the reserve (or the quota)
    need: int  # bytes the sweep should free (watermarks, quota, headroom)
    reason: str


def pressure(cfg: EdgeConfig, vol: Volume, store_bytes: int, guard: int) -> Pressure:
    r = cfg.retention
    reserve = cfg.storage.reserve_bytes
    headroom = vol.free - reserve
    need, reason = 0, "high_watermark"
    if vol.used_fraction > r.high_watermark:
        need = int(vol.used - r.low_watermark * vol.total)
    if r.max_bytes is not None:
        headroom = min(headroom, r.max_bytes - store_bytes)
        if store_bytes > r.high_watermark * r.max_bytes:
            quota_need = int(store_bytes - r.low_watermark * r.max_bytes)
            if quota_need > need:
                need, reason = quota_need, "quota"
    if headroom < 2 * guard and 2 * guard - headroom > need:
        need, reason = 2 * guard - headroom, "disk_full"
    return Pressure(headroom, max(0, need), reason)


class RetentionService(PeriodicService):
    name = "retention"

    def __init__(self, cfg: EdgeConfig, store: SegmentStore, holds: HoldStore, register: AccessRegister,
                 alarms: AlarmCenter, workers: Mapping[str, CaptureWorker], clock: Clock) -> None:
        super().__init__(min(CHECK_INTERVAL, cfg.retention.sweep_interval))
        self.cfg = cfg
        self.store = store
        self.holds = holds
        self.alarms = alarms
        self.workers = workers
        self.clock = clock
        self.totals = StoreTotals(store.index)
        self.engine = RetentionEngine(store, holds, register, cfg.retention, self.totals, clock)
        self.last_sweep_us: int | None = None
        self.last_result: SweepResult | None = None
        self.last_forecast: Forecast | None = None
        self.paused: set[str] = set()
        self._next_due = 0.0
        #: After a pressure sweep that could delete nothing, wait this long (monotonic) before the next:
        #: re-reading the same held or floor-protected rows every second would only burn CPU.
        self._fruitless_until = 0.0
        self._loaded = False

    # -- lifecycle --------------------------------------------------------------------------------
    def _load(self) -> None:
        # In the service's thread: on millions of rows the aggregates take seconds, and neither the
        # daemon's start nor a capture thread may wait for them.
        if not self._loaded:
            self.totals.load()
            self.engine.load_counters()
            self._loaded = True

    def on_segment(self, seg: Segment) -> None:
        """Capture workers call this after each close (their thread): totals, and a cheap space check."""
        self.totals.added(seg)
        p = self._pressure(volume_of(self.store.layout.root))
        if p.need > 0 or p.headroom < self.guard():
            self.wake()

    # -- figures ----------------------------------------------------------------------------------
    def byte_rate(self) -> float:
        total = 0.0
        for cam in self.cfg.cameras:
            if not cam.enabled:
                continue
            w = self.workers.get(cam.id)
            measured = w.status.bitrate if w is not None else 0.0
            total += (measured or cam.expected_bitrate) / 8
        return total

    def guard(self) -> int:
        return max(MIN_GUARD, int(self.byte_rate() * GUARD_SECONDS))

    def store_bytes(self) -> int:
        return self.totals.bytes + self.store.active_bytes()

    def _pressure(self, vol: Volume) -> Pressure:
        return pressure(self.cfg, vol, self.store_bytes(), self.guard())

    # -- the tick ---------------------------------------------------------------------------------
    def tick(self) -> None:
        self._load()
        due = time.monotonic() >= self._next_due
        vol = volume_of(self.store.layout.root)
        if self.last_forecast is None:
            self._forecast(vol)  # first, so the status stops warming up before a long first sweep
        p = self._pressure(vol)
        if due or (p.need > 0 and time.monotonic() >= self._fruitless_until):
            res = self._sweep(p)
            if p.need > 0 and res.deleted == 0:
                self._fruitless_until = time.monotonic() + min(FRUITLESS_BACKOFF, self.cfg.retention.sweep_interval)
            vol = volume_of(self.store.layout.root)
            p = self._pressure(vol)
        self._guard_space(p)
        if due:
            self._next_due = time.monotonic() + self.cfg.retention.sweep_interval
            self.store.index.set_meta(LAST_SWEEP_META, str(self.last_sweep_us))
            self._forecast(vol)

    def sweep_now(self) -> SweepResult:
        """One pass now, as a tick would do it under the current pressure."""
        self._load()
        return self._sweep(self._pressure(volume_of(self.store.layout.root)))

    def _sweep(self, p: Pressure) -> SweepResult:
        res = self.engine.sweep(p.need, p.reason)
        if self.cfg.retention.on_full == "overwrite_oldest":
            after = self._pressure(volume_of(self.store.layout.root))
            if after.headroom < 2 * self.guard():
                more = self.engine.sweep(2 * self.guard() - after.headroom, "disk_full", allow_breach=True)
                res.deleted += more.deleted
                res.freed_bytes += more.freed_bytes
                res.breaches += more.breaches
                res.stopped = more.stopped
        self.last_result = res
        self.last_sweep_us = self.clock.now_us()
        if res.breaches:
            self.alarms.raise_(
                "floor_breach", "critical",
                f"{res.breaches} segment(s) younger than {self.cfg.retention.min_days:g} days deleted to keep"
                " recording (on_full=overwrite_oldest); each is recorded in the access register",
                details={"segments": res.breaches, "total": self.engine.breaches_total},
            )
        if res.deleted or p.need:
            log.debug("retention sweep: %s", res)
        return res

    def _guard_space(self, p: Pressure) -> None:
        guard = self.guard()
        if p.headroom < guard:
            newly = [cid for cid, w in self.workers.items() if w.paused_reason is None]
            for cid in newly:
                self.workers[cid].pause(PAUSE_REASON)
            self.paused |= set(newly)
            cams = sorted(cid for cid, w in self.workers.items() if w.paused_reason == PAUSE_REASON)
            if cams:
                self.alarms.raise_(
                    "disk_full", "critical",
                    f"disk full, nothing more may be deleted: recording paused on {', '.join(cams)}"
                    f" ({max(p.headroom, 0)} bytes left before the reserve)",
                    details={"cameras": cams, "headroom_bytes": p.headroom,
                             "reserve_bytes": self.cfg.storage.reserve_bytes},
                )
        elif p.headroom >= 2 * guard:
            resumed = [cid for cid, w in self.workers.items() if w.paused_reason == PAUSE_REASON]
            for cid in resumed:
                self.workers[cid].resume()
            self.paused.clear()
            if resumed:
                log.warning("retention: space is back (%d bytes of headroom); recording resumed on %s",
                            p.headroom, ", ".join(resumed))
            self.alarms.clear("disk_full")
            if self.last_result is not None and not self.last_result.breaches:
                self.alarms.clear("floor_breach")

    def _forecast(self, vol: Volume) -> None:
        now = self.clock.now_us()
        held = held_bytes(self.store.index, self.holds.in_force())
        rates = measured_rates(self.store.index, now, self.cfg.retention.rate_window_hours)
        fc = forecast(self.cfg, vol, self.store_bytes(), rates, held)
        self.last_forecast = fc
        details = {"needed_bytes": fc.needed_bytes, "available_bytes": fc.capacity_bytes,
                   "forecast_days": None if fc.forecast_days == float("inf") else round(fc.forecast_days, 2)}
        if fc.ok:
            self.alarms.clear("capacity")
        else:
            self.alarms.raise_("capacity", "warning",
                               f"the store holds {fc.forecast_days:.1f} days of footage at current rates;"
                               f" {fc.wanted_days:g} wanted (min_days + forecast_margin_days)", details=details)
        if fc.floor_ok:
            self.alarms.clear("floor_at_risk")
        else:
            self.alarms.raise_("floor_at_risk", "critical",
                               f"free plus evictable space cannot hold {self.cfg.retention.min_days:g} days at"
                               " current rates (Art. 19(8))",
                               details={"needed_bytes": fc.floor_needed_bytes,
                                        "available_bytes": fc.floor_available_bytes, "held_bytes": fc.held_bytes})

    # -- status -----------------------------------------------------------------------------------
    def status(self) -> dict[str, Any]:
        running = self._thread is not None and self._thread.is_alive()
        if not self.totals.loaded or (running and self.last_forecast is None):
            # The service thread is still loading the totals or measuring the rates (seconds on a
            # 30-day store): answer at once with what is known, flagged, rather than wait for it.
            return self._warming_status()
        self._load()
        vol = volume_of(self.store.layout.root)
        fc = self.last_forecast
        if fc is None:
            rates = measured_rates(self.store.index, self.clock.now_us(), self.cfg.retention.rate_window_hours)
            fc = forecast(self.cfg, vol, self.store_bytes(), rates, held_bytes(self.store.index,
                                                                               self.holds.in_force()))
        paused = sorted(cid for cid, w in self.workers.items() if w.paused_reason is not None)
        return build_status(self.cfg, self.totals, vol, self.store_bytes(), fc, paused,
                            len(self.holds.in_force()), self.engine.deleted_total, self.engine.breaches_total,
                            self.last_sweep_us, self.clock.now_us())


    def _warming_status(self) -> dict[str, Any]:
        vol = volume_of(self.store.layout.root)
        paused = sorted(cid for cid, w in self.workers.items() if w.paused_reason is not None)
        r = self.cfg.retention
        return {
            "time": iso(self.clock.now_us()), "warming_up": True, "cameras": {},
            "box": {
                "volume": {"total_bytes": vol.total, "used_bytes": vol.used, "free_bytes": vol.free},
                "store_bytes": None, "quota_bytes": r.max_bytes, "reserve_bytes": self.cfg.storage.reserve_bytes,
                "min_days": r.min_days, "max_days": r.max_days, "hold_days": r.hold_days, "on_full": r.on_full,
                "forecast_days": None, "forecast_ok": None, "floor_at_risk": None, "floor_respected": None,
                "paused_cameras": paused, "last_sweep": iso(self.last_sweep_us),
            },
        }


def build_status(cfg: EdgeConfig, totals: StoreTotals, vol: Volume, store_bytes: int, fc: Forecast,
                 paused: list[str], holds_active: int, deleted: int, breaches: int, last_sweep_us: int | None,
                 now_us: int) -> dict[str, Any]:
    snap = totals.snapshot()
    cams: dict[str, Any] = {}
    for cam_id in sorted({c.id for c in cfg.cameras} | set(snap)):
        t = snap.get(cam_id)
        first = t.oldest_start_us if t else None
        last = t.newest_end_us if t else None
        cams[cam_id] = {"oldest": iso(first), "newest": iso(last), "days_covered": round(days_between(first, last), 3),
                        "bytes": t.bytes if t else 0, "segments": t.segments if t else 0,
                        "paused": cam_id in paused}
    r = cfg.retention
    days = None if fc.forecast_days == float("inf") else round(fc.forecast_days, 2)
    return {
        "time": iso(now_us),
        "warming_up": False,
        "cameras": cams,
        "box": {
            "volume": {"total_bytes": vol.total, "used_bytes": vol.used, "free_bytes": vol.free},
            "store_bytes": store_bytes, "quota_bytes": r.max_bytes, "reserve_bytes": cfg.storage.reserve_bytes,
            "min_days": r.min_days, "max_days": r.max_days, "hold_days": r.hold_days, "on_full": r.on_full,
            "forecast_days": days, "forecast_ok": fc.ok, "floor_at_risk": not fc.floor_ok,
            "floor_respected": breaches == 0, "paused_cameras": paused, "holds_active": holds_active,
            "deletions_total": deleted, "floor_breaches_total": breaches, "last_sweep": iso(last_sweep_us),
            "rates_bytes_per_second": {k: round(v, 1) for k, v in fc.rates.items()},
            "rates_measured": fc.measured,
        },
    }


def retention_status(store: SegmentStore, cfg: EdgeConfig, clock: Clock) -> dict[str, Any]:
    """The same status without a running daemon (`edge status -c FILE` at the box)."""
    totals = StoreTotals(store.index)
    holds = HoldStore(store.index, clock, cfg.retention.hold_days)
    deleted, breaches = deletion_counters(store.index)
    vol = volume_of(store.layout.root)
    now = clock.now_us()
    fc = forecast(cfg, vol, totals.bytes, measured_rates(store.index, now, cfg.retention.rate_window_hours),
                  held_bytes(store.index, holds.in_force()))
    paused = sorted({r[0] for r in store.index.reader().execute(
        "SELECT camera FROM gaps WHERE end_us IS NULL AND reason='paused'")})
    last = store.index.get_meta(LAST_SWEEP_META)
    return build_status(cfg, totals, vol, totals.bytes, fc, paused, len(holds.in_force()), deleted, breaches,
                        int(last) if last else None, now)
