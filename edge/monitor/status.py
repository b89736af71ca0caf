"""The status document: one builder for `GET /api/v1/status`, `edge status` and sd_notify STATUS=.

A stable contract with central monitoring (documented in the README, "Status API"): the pydantic
models below are the schema; fields are only ever added. Two sources feed it:
- the running daemon (`from_daemon`): worker states, active alarms, health, retention, exports;
- the store alone (`from_store`, for `edge status` when the daemon is not reachable): states are
  inferred from how fresh the newest segment is, alarms are the last recorded raise/clear events.
"""

from __future__ import annotations

import contextlib
import importlib.metadata
import logging
import os
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from capture.redact import redact_text
from capture.state import CameraState
from edge.config import EdgeConfig
from edge.monitor.alarms import Alarm
from edge.monitor.status_queries import (  # noqa: F401 - re-exported for metrics and tests
    camera_totals,
    gaps_overlapping,
    gaps_since,
    live_totals,
    recorded_alarms,
    stored_totals,
    totals_warming_up,
)
from edge.monitor.status_schema import (  # noqa: F401 - re-exported: the schema is part of this API
    AlarmOut,
    BoxOut,
    CameraOut,
    ComplianceOut,
    GapsOut,
    RiskOut,
    State,
    StatusDoc,
    StorageOut,
)
from storage.clock import DAY_US, Clock, hhmm, iso
from storage.index import Index
from storage.layout import Layout

if TYPE_CHECKING:
    from edge.monitor.live import LiveBox
    from storage.store import SegmentStore
    from storage.totals import CameraTotals

log = logging.getLogger(__name__)


#: Which rule each alarm puts at risk, in the words an inspector uses.
RULES: dict[str, tuple[str, str]] = {
    "offline": ("Art. 19(7)", "continuous operation"),
    "stalled": ("Art. 19(7)", "continuous operation"),
    "paused": ("Art. 19(7)", "continuous operation"),
    "dark": ("Art. 19(6)", "clear picture"),
    "overexposed": ("Art. 19(6)", "clear picture"),
    "covered": ("Art. 19(6)", "clear picture"),
    "blurred": ("Art. 19(6)", "clear picture"),
    "frozen": ("Art. 19(6)", "clear picture"),
    "moved": ("Art. 20(2)", "camera position, angle and scope unchanged"),
    "capacity": ("Art. 19(8)", "footage kept at least 30 days"),
    "disk_full": ("Art. 19(8)", "footage kept at least 30 days"),
    "floor_at_risk": ("Art. 19(8)", "footage kept at least 30 days"),
    "floor_breach": ("Art. 19(8)", "footage kept at least 30 days"),
    "disk_error": ("Art. 20(3)", "original records preserved"),
    "recovery": ("Art. 20(3)", "original records preserved"),
    "offload_behind": ("Art. 19(8)", "held footage kept at least 2 years"),
    "recorder_stopped": ("Art. 19(7)", "continuous operation"),
    "clock_step": ("Art. 20(3)", "original records preserved (evidence times)"),
    "clock_unsynced": ("Art. 20(3)", "original records preserved (evidence times)"),
    "clock_drift": ("Art. 20(3)", "original records preserved (evidence times)"),
}
#: How a camera alarm reads in a sentence ("camera gate-2 offline since 10:02 UTC").
PHRASE = {
    "offline": "offline", "stalled": "stream stalled", "paused": "recording paused",
    "dark": "picture too dark", "overexposed": "picture overexposed", "covered": "lens covered",
    "blurred": "picture blurred", "frozen": "picture frozen",
    "moved": "view differs from its commissioned reference (moved or re-aimed; report it, Art. 19(5))",
    "clock_drift": "camera clock off the recorder's",
}



# -- sources --------------------------------------------------------------------------------------
@dataclass
class Sources:
    cfg: EdgeConfig
    index: Index
    layout: Layout
    now_us: int
    source: Literal["daemon", "index"]
    states: dict[str, tuple[State, str | None]]
    workers: dict[str, dict[str, Any]] = field(default_factory=dict)
    alarms: list[Alarm] = field(default_factory=list)
    uptime: float | None = None
    retention: dict[str, Any] | None = None
    exports: dict[str, Any] | None = None
    health: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: The daemon's running per-camera totals (storage/totals.py); None: aggregate from the index.
    totals: dict[str, CameraTotals] | None = None
    #: Evidence offload (edge/offload/): what is in the bucket, what waits; None when off.
    offload: dict[str, Any] | None = None
    #: Whether a recorder holds the store (storage/lock.py), and its pid.
    recorder_running: bool | None = None
    recorder_pid: int | None = None
    #: The daemon's totals are still loading (a big store just after start): figures are partial.
    warming_up: bool = False
    clock: dict[str, Any] | None = None


def version() -> str:
    try:
        return importlib.metadata.version("edge")
    except importlib.metadata.PackageNotFoundError:
        return "0.0.0"


def live_state(state: CameraState) -> State:
    if state is CameraState.RECORDING:
        return "recording"
    if state is CameraState.PAUSED:
        return "paused"
    if state is CameraState.DISABLED:
        return "disabled"
    if state in (CameraState.OFFLINE, CameraState.STOPPED):
        return "offline"
    return "reconnecting"  # starting, connecting, reconnecting: trying to get the stream


def call_dict(obj: Any, *names: str) -> dict[str, Any] | None:
    """The first of `obj.<name>()` that exists, as a dict; None (logged) when it fails: a part
    built by another service must never break the status page."""
    if obj is None:
        return None
    for name in names:
        fn = getattr(obj, name, None)
        if callable(fn):
            try:
                out = fn()
            except Exception:
                log.exception("status: %s.%s() failed", type(obj).__name__, name)
                return None
            return out if isinstance(out, dict) else None
    return None


def export_counts(exports: Any) -> dict[str, Any] | None:
    counts = call_dict(exports, "counts")
    if counts is not None or exports is None:
        return counts
    lister: Callable[..., list[Any]] | None = getattr(exports, "list", None)
    if not callable(lister):
        return None
    try:
        by_state: dict[str, int] = {}
        for e in lister(limit=100_000):
            s = str(getattr(getattr(e, "state", None), "value", getattr(e, "state", "unknown")))
            by_state[s] = by_state.get(s, 0) + 1
    except Exception:
        log.exception("status: export counts failed")
        return None
    return {"total": sum(by_state.values()), "by_state": by_state}


def from_daemon(d: LiveBox) -> Sources:
    states: dict[str, tuple[State, str | None]] = {}
    workers: dict[str, dict[str, Any]] = {}
    for cam in d.cfg.cameras:
        w = d.workers.get(cam.id)
        if not cam.enabled:
            states[cam.id] = ("disabled", None)
        elif w is None:
            states[cam.id] = ("reconnecting", CameraState.STARTING.value)
        else:
            states[cam.id] = (live_state(w.status.state), w.status.state.value)
            workers[cam.id] = w.status.snapshot()
    health = getattr(d, "health", None)
    return Sources(
        cfg=d.cfg, index=d.store.index, layout=d.store.layout, now_us=d.clock.now_us(), source="daemon",
        states=states, workers=workers, alarms=d.alarms.active(),
        uptime=time.monotonic() - d.started_monotonic,
        retention=call_dict(getattr(d, "retention", None), "status"),
        exports=export_counts(getattr(d, "exports", None)),
        health={c.id: health.report(c.id) for c in d.cfg.cameras} if health is not None else {},
        totals=live_totals(d), warming_up=totals_warming_up(d), recorder_running=True, recorder_pid=os.getpid(),
        clock=call_dict(getattr(d, "clock_watch", None), "status"),
        offload=call_dict(d.offload, "status"),
    )


def from_store(cfg: EdgeConfig, store: SegmentStore, clock: Clock,
               retention: dict[str, Any] | None = None) -> Sources:
    """Without asking the daemon. When no recorder holds the store's lock, nothing is being
    recorded: every enabled camera is `unknown` ("not recording") and the compliance summary says
    the recorder is not running. When one does, a camera counts as recording when its newest
    segment ended within two segment lengths (plus slack), offline otherwise."""
    from edge.monitor.alarms import AlarmCenter
    from edge.monitor.clock_watch import clock_summary
    from storage.lock import holder

    AlarmCenter(store.index, clock)  # makes sure the alarm table exists in an older store
    pid = holder(store.layout.root)
    now = clock.now_us()
    fresh_us = int((2 * cfg.storage.segment_seconds + 15) * 1_000_000)
    states: dict[str, tuple[State, str | None]] = {}
    for cam in cfg.cameras:
        if not cam.enabled:
            states[cam.id] = ("disabled", None)
            continue
        if pid is None:
            states[cam.id] = ("unknown", "not recording")
            continue
        last = store.index.last_segment(cam.id)
        if last is not None and now - last.end_us <= fresh_us:
            states[cam.id] = ("recording", None)
        else:
            states[cam.id] = ("offline", None)
    return Sources(cfg=cfg, index=store.index, layout=store.layout, now_us=now, source="index",
                   states=states, alarms=recorded_alarms(store.index), retention=retention,
                   recorder_running=pid is not None, recorder_pid=pid if pid and pid > 0 else None,
                   clock=clock_summary(store.index, now))


# -- the builder ----------------------------------------------------------------------------------
def _alarm_out(a: Alarm) -> AlarmOut:
    return AlarmOut(code=a.code, severity=a.severity, since=iso(a.since_us) or "", message=a.message,
                    camera=a.camera)


def pick(d: dict[str, Any] | None, *keys: str) -> Any:
    """A value from the retention status under any of `keys`, at the top or one level down (the
    retention service owns that document; this reads it without depending on its layout)."""
    if not d:
        return None
    for k in keys:
        if k in d and not isinstance(d[k], dict):
            return d[k]
    for v in d.values():
        if isinstance(v, dict):
            for k in keys:
                if k in v and not isinstance(v[k], dict):
                    return v[k]
    return None


def _risk(code: str, severity: Any, camera: str | None, since_us: int | None, what: str) -> RiskOut:
    article, rule = RULES.get(code, ("Art. 19(1)", "maintenance and safety"))
    since = f" since {hhmm(since_us)} UTC" if since_us else ""
    subject = f"camera {camera} {what}{since}" if camera else f"{what}{since}"
    return RiskOut(article=article, rule=rule, code=code, severity=severity, camera=camera,
                   since=iso(since_us), message=redact_text(f"{article} {rule}: {subject}"))


def _since_of(a: Alarm) -> int:
    since = a.details.get("since") if a.details else None
    if isinstance(since, str):
        from datetime import datetime

        try:
            return int(datetime.fromisoformat(since.replace("Z", "+00:00")).timestamp() * 1_000_000)
        except ValueError:
            pass
    return a.since_us


def compliance(src: Sources, cameras: list[CameraOut]) -> ComplianceOut:
    risks: list[RiskOut] = []
    for a in src.alarms:
        if a.camera is not None:
            risks.append(_risk(a.code, a.severity, a.camera, _since_of(a), PHRASE.get(a.code, a.message)))
        else:
            risks.append(_risk(a.code, a.severity, None, a.since_us, a.message))
    if src.recorder_running is False:
        risks.insert(0, _risk("recorder_stopped", "critical", None, None,
                              "the recorder is not running: no camera is being recorded"))
    alarm_keys = {(a.code, a.camera) for a in src.alarms}
    for cam in cameras:
        if cam.state == "paused" and ("paused", cam.id) not in alarm_keys:
            risks.append(_risk("paused", "critical", cam.id, None, "recording paused"))
    ret = src.retention
    floor = pick(ret, "floor_respected")
    forecast = pick(ret, "forecast_days")
    min_days = src.cfg.retention.min_days
    capacity_ok = None if forecast is None else float(forecast) >= min_days
    codes = {r.code for r in risks}
    if floor is False and not codes & {"floor_at_risk", "floor_breach"}:
        risks.append(_risk("floor_breach", "critical", None, None, "footage younger than the floor was deleted"))
    if capacity_ok is False and not codes & {"capacity", "disk_full", "floor_at_risk"}:
        risks.append(_risk("capacity", "warning", None, None,
                           f"the store holds only {float(forecast):.1f} days of footage (floor {min_days:g})"))
    by_severity = {"critical": 0, "warning": 0, "info": 0}
    for a in src.alarms:
        by_severity[a.severity] = by_severity.get(a.severity, 0) + 1
    at_risk = sorted({r.article for r in risks if r.severity != "info"})
    summary = "all monitored rules met"
    if at_risk:
        shown = [r for r in risks if r.severity == "critical"] or [r for r in risks if r.severity != "info"]
        summary = f"{len(at_risk)} rule(s) at risk: " + "; ".join(r.message for r in shown)
    holds = pick(ret, "holds_active", "active_holds")
    return ComplianceOut(ok=not at_risk, summary=summary, at_risk=at_risk, risks=risks,
                         floor_respected=floor if isinstance(floor, bool) else None, capacity_ok=capacity_ok,
                         forecast_days=float(forecast) if isinstance(forecast, int | float) else None,
                         min_days=min_days, holds_active=int(holds) if isinstance(holds, int) else None,
                         alarms=by_severity)


def build(src: Sources) -> StatusDoc:
    now = src.now_us
    cameras: list[CameraOut] = []
    store_bytes = store_segments = 0
    for cam in src.cfg.cameras:
        n, nbytes, oldest, newest = camera_totals(src.index, src.totals, cam.id)
        store_bytes += nbytes
        store_segments += n
        w = src.workers.get(cam.id, {})
        last_end = w.get("last_segment_end_us") or newest
        state, worker_state = src.states.get(cam.id, ("offline", None))
        cameras.append(CameraOut(
            id=cam.id, name=cam.name, enabled=cam.enabled, state=state, worker_state=worker_state,
            fps=round(float(w["fps"]), 2) if w.get("fps") else None,
            bitrate=round(float(w["bitrate"])) if w.get("bitrate") else None,
            last_segment_end=iso(last_end),
            last_segment_age_seconds=round((now - last_end) / 1e6, 3) if last_end else None,
            segments=n, bytes=nbytes, oldest=iso(oldest),
            reconnects=w.get("reconnects"),
            last_error=redact_text(str(w["last_error"])) if w.get("last_error") else None,
            gaps_24h=gaps_since(src.index, cam.id, now - DAY_US, now),
            alarms=[_alarm_out(a) for a in src.alarms if a.camera == cam.id],
            health=src.health.get(cam.id) or None,
        ))
    total: int | None = None
    used: int | None = None
    free: int | None = None
    with contextlib.suppress(OSError):
        total, used, free = shutil.disk_usage(src.layout.root)
    ret = src.retention
    forecast = pick(ret, "forecast_days")
    box = BoxOut(
        id=src.cfg.box.id, name=src.cfg.box.name, site=src.cfg.box.site, version=version(), time=iso(now) or "",
        uptime_seconds=round(src.uptime, 1) if src.uptime is not None else None, source=src.source,
        recorder_running=src.recorder_running, recorder_pid=src.recorder_pid, warming_up=src.warming_up,
        clock=src.clock,
        storage=StorageOut(root=str(src.layout.root), volume_total_bytes=total, volume_used_bytes=used,
                           volume_free_bytes=free, store_bytes=store_bytes, store_segments=store_segments,
                           forecast_days=float(forecast) if isinstance(forecast, int | float) else None),
    )
    return StatusDoc(box=box, compliance=compliance(src, cameras), cameras=cameras, retention=ret,
                     exports=src.exports, offload=src.offload)


def status_of(d: LiveBox) -> StatusDoc:
    return build(from_daemon(d))


def one_line(d: LiveBox, problems: list[str] | None = None) -> str:
    """For sd_notify STATUS= (shown by `systemctl status edge`): cheap, no index scans."""
    enabled = [c.id for c in d.cfg.cameras if c.enabled]
    recording = [c for c in enabled if c in d.workers and d.workers[c].status.state is CameraState.RECORDING]
    parts = [f"recording {len(recording)}/{len(enabled)} camera(s)"]
    alarms = d.alarms.active()
    if alarms:
        shown = ", ".join(f"{a.code}{' ' + a.camera if a.camera else ''}" for a in alarms[:4])
        parts.append(f"{len(alarms)} alarm(s): {shown}{' ...' if len(alarms) > 4 else ''}")
    if problems:
        parts.append("NOT HEALTHY: " + "; ".join(problems))
    return "; ".join(parts)
