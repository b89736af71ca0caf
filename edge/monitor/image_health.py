"""The health service: camera alarms from worker status and from sampled pictures.

Every `[health] interval_seconds` it
- raises/clears `offline` and `stalled` from each capture worker's state and open gap;
- takes each camera's newest sampled keyframe (see capture/sampler.py), decodes it here, on its
  own thread, and judges it (capture/health.py); image alarms go through a hysteresis (raise
  after `raise_after` consecutive bad samples, clear after `clear_after` good ones) so one odd
  picture neither raises nor clears anything;
- keeps `latest.jpg`, and commissions the reference view on the first healthy sample of a camera
  that has none (registered as `baseline_set` by the system).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from capture import image_checks as health
from capture.sampler import DecodeError, KeyframeSampler, Sample, decode
from capture.state import CameraState
from capture.worker import CaptureWorker
from edge.config_sections import HealthConfig
from edge.monitor import clock_drift
from edge.monitor import references as baseline
from edge.monitor.alarms import AlarmCenter, Severity
from edge.periodic import PeriodicService
from storage.clock import Clock, hhmm, iso
from storage.layout import Layout
from storage.register import SYSTEM, AccessRegister, Actor
from storage.store import SegmentStore

log = logging.getLogger(__name__)

SEVERITY: dict[str, Severity] = {
    "dark": "warning", "overexposed": "warning", "blurred": "warning", "frozen": "critical",
    "covered": "critical", "moved": "critical", "offline": "critical", "stalled": "warning",
}
WHAT = {
    "dark": "picture too dark", "overexposed": "picture overexposed", "covered": "lens covered (uniform picture)",
    "blurred": "picture blurred", "frozen": "picture frozen (unchanged while time advances)",
    "moved": "view no longer matches the commissioned reference (camera moved or re-aimed)",
}
STALL_REASONS = frozenset({"stalled", "timeout"})
#: Worker states are checked this often (image checks keep their own, longer interval).
WORKER_CHECK_SECONDS = 2.0
#: A camera must stay down this long before `offline`/`stalled` is raised: a camera restarting
#: (or a simulator being switched) is a recorded gap, not an alarm for central monitoring.
DOWN_GRACE_SECONDS = 5.0


def sampler_period(interval: float) -> float:
    """How often the capture hook keeps a keyframe: often enough that the sample judged at a tick
    is recent, rarely enough that copying costs nothing."""
    return max(0.2, min(interval / 4.0, 5.0))


@dataclass
class CameraHealth:
    previous: NDArray[np.uint8] | None = None
    reference: health.Reference | None = None
    reference_set_us: int | None = None
    bad: dict[str, int] = field(default_factory=dict)
    good: dict[str, int] = field(default_factory=dict)
    last: dict[str, Any] = field(default_factory=dict)
    samples: int = 0
    decode_errors: int = 0
    cpu_ms_total: float = 0.0
    last_ms: float = 0.0


class HealthService(PeriodicService):
    name = "health"

    def __init__(self, cfg: HealthConfig, cameras: Sequence[str], store: SegmentStore, alarms: AlarmCenter,
                 register: AccessRegister, clock: Clock, workers: Mapping[str, CaptureWorker],
                 sampler: KeyframeSampler, stopping: Callable[[], bool]) -> None:
        super().__init__(min(cfg.interval_seconds, WORKER_CHECK_SECONDS))
        self.cfg = cfg
        self.store = store
        self.alarms = alarms
        self.register = register
        self.clock = clock
        self.workers = workers
        self.stopping = stopping
        self.sampler = sampler
        self.cameras: dict[str, CameraHealth] = {c: CameraHealth() for c in cameras}
        self.thresholds = {c: self._thresholds(c) for c in cameras}
        self._down_since: dict[str, float] = {}
        self._last_image_pass = -1e9

    def _thresholds(self, camera: str) -> health.Thresholds:
        t = self.cfg.thresholds_for(camera)
        return health.Thresholds(**t.model_dump())

    def tick(self) -> None:
        self.worker_alarms()
        if not self.cfg.enabled:
            return
        now = time.monotonic()
        # 0.9: a tick that wakes a little early still counts, or every other pass would be skipped.
        due = now - self._last_image_pass >= 0.9 * self.cfg.interval_seconds
        if due:
            self._last_image_pass = now
        for cam_id in list(self.workers):
            st = self.cameras.get(cam_id)
            # A camera not yet judged (just started or just added) is judged at the first tick
            # that has its picture, not a whole interval after start: its reference view is
            # commissioned and its first verdict given within seconds of it recording.
            if not due and st is not None and (st.samples or st.decode_errors):
                continue
            sample = self.sampler.take(cam_id)
            if sample is None:
                continue
            try:
                self.judge(cam_id, sample)
            except Exception:
                # One camera's odd picture must not stop the checks of the others.
                log.exception("camera %s: image health check failed", cam_id)

    # -- worker state -----------------------------------------------------------------------------
    def worker_alarms(self) -> None:
        alarms = self.alarms
        open_gaps = {g.camera: g for g in self.store.index.open_gaps()}
        stopping = self.stopping()
        for cam_id, w in list(self.workers.items()):
            clock_drift.check(alarms, cam_id, w.status)
            state = w.status.state
            gap = open_gaps.get(cam_id)
            dead = not w.alive and not stopping
            if state is CameraState.RECORDING and not dead:
                self._down_since.pop(cam_id, None)
                alarms.clear("offline", cam_id)
                alarms.clear("stalled", cam_id)
                continue
            down_since = self._down_since.setdefault(cam_id, time.monotonic())
            if time.monotonic() - down_since < DOWN_GRACE_SECONDS:
                continue
            since_us = gap.start_us if gap is not None else None
            since = f" since {hhmm(since_us)} UTC" if since_us else ""
            reason = f" ({gap.reason}: {gap.detail})" if gap is not None and gap.detail else ""
            details: dict[str, Any] = {"state": state.value, "since": iso(since_us) if since_us else None,
                                       "reason": gap.reason if gap is not None else None}
            if state is CameraState.OFFLINE or dead:
                what = "capture worker not running" if dead else "offline"
                alarms.raise_("offline", "critical", f"camera {cam_id} {what}{since}{reason}", cam_id, details)
            if gap is not None and gap.reason in STALL_REASONS and state in (
                    CameraState.RECONNECTING, CameraState.OFFLINE, CameraState.CONNECTING):
                alarms.raise_("stalled", "warning", f"camera {cam_id} stream stalled{since}{reason}", cam_id,
                              details)

    # -- pictures ---------------------------------------------------------------------------------
    def judge(self, cam_id: str, sample: Sample) -> health.Verdict | None:
        t0 = time.thread_time()
        st = self.cameras.setdefault(cam_id, CameraHealth())
        layout = self.store.layout
        w, h = (sample.width, sample.height) if sample.width and sample.height else (0, 0)
        size = health.analysis_size(w, h, baseline.PICTURE_WIDTH) if w else (None, None)
        try:
            picture = decode(sample, size[0], size[1], "bgr24")
        except DecodeError as exc:
            # A damaged keyframe says nothing about the picture: skip it, the next sample decides.
            st.decode_errors += 1
            log.warning("camera %s: %s", cam_id, exc)
            return None
        grey = health.to_grey(picture)
        self._load_reference(cam_id, st)
        t = self.thresholds.get(cam_id) or self._thresholds(cam_id)
        verdict = health.evaluate(grey, t, st.reference, st.previous)
        st.previous = grey
        st.samples += 1
        if st.reference is None and not verdict.faults and "blurred" in verdict.checked:
            self.commission(cam_id, picture, automatic=True, set_by="system")
            self._load_reference(cam_id, st)
        self._apply(cam_id, st, verdict)
        if self.cfg.snapshots:
            baseline.save_latest(layout, cam_id, picture)
        st.cpu_ms_total += (time.thread_time() - t0) * 1000
        st.last = {"time": iso(sample.taken_wall_us), "faults": sorted(verdict.faults), **verdict.details()}
        st.last_ms = (time.thread_time() - t0) * 1000
        return verdict

    def _apply(self, cam_id: str, st: CameraHealth, verdict: health.Verdict) -> None:
        alarms = self.alarms
        for code in health.IMAGE_CODES:
            if code not in verdict.checked:
                continue
            if code in verdict.faults:
                st.bad[code] = st.bad.get(code, 0) + 1
                st.good[code] = 0
                if st.bad[code] >= self.cfg.raise_after:
                    alarms.raise_(code, SEVERITY[code], f"camera {cam_id}: {WHAT[code]}", cam_id,
                                  verdict.details())
            else:
                st.good[code] = st.good.get(code, 0) + 1
                st.bad[code] = 0
                if st.good[code] >= self.cfg.clear_after:
                    alarms.clear(code, cam_id)

    def _load_reference(self, cam_id: str, st: CameraHealth) -> None:
        """(Re)load the reference when it changed on disk (`edge camera baseline` runs in another
        process), checked by its metadata at every sample: one small file read."""
        info = baseline.reference_info(self.store.layout, cam_id)
        if info is None:
            st.reference, st.reference_set_us = None, None
            return
        if st.reference is not None and st.reference_set_us == info.set_us:
            return
        loaded = baseline.load_reference(self.store.layout, cam_id)
        if loaded is None:
            return
        st.reference = health.Reference(health.to_grey(loaded[0]))
        if st.reference_set_us is not None:
            log.info("camera %s: new reference view loaded (set by %s)", cam_id, info.set_by)
            # A new commissioning: the moved alarm is judged afresh against the new view.
            st.bad.pop("moved", None)
        st.reference_set_us = info.set_us

    def commission(self, cam_id: str, picture: NDArray[np.uint8], automatic: bool, set_by: str) -> None:
        commission(self.store.layout, self.register, self.clock, cam_id, picture, automatic, set_by)

    # -- reports ----------------------------------------------------------------------------------
    def report(self, cam_id: str) -> dict[str, Any]:
        st = self.cameras.get(cam_id)
        if st is None:
            return {}
        info = baseline.reference_info(self.store.layout, cam_id)
        return {
            "last_sample": st.last or None,
            "samples": st.samples,
            "decode_errors": st.decode_errors,
            "cpu_ms_per_sample": round(st.cpu_ms_total / st.samples, 2) if st.samples else None,
            "reference": None if info is None else {"set": iso(info.set_us), "set_by": info.set_by,
                                                    "automatic": info.automatic},
        }


def commission(layout: Layout, register: AccessRegister, clock: Clock, cam_id: str, picture: NDArray[np.uint8],
               automatic: bool, set_by: str, actor: Actor | None = None) -> baseline.ReferenceInfo:
    """Store a reference view and register it (Art. 20(2): the commissioned view is the yardstick)."""
    grey = health.to_grey(picture)
    metrics = health.measure(grey).as_dict()
    info = baseline.save_reference(layout, cam_id, picture, clock.now_us(), set_by, automatic,
                                   {"metrics": metrics})
    register.append(actor or SYSTEM, "baseline_set", cameras=[cam_id], subject=cam_id,
                    detail={"automatic": automatic, "width": info.width, "height": info.height,
                            "metrics": metrics})
    log.info("camera %s: reference view %s", cam_id, "commissioned automatically" if automatic else "set")
    return info
