"""Capacity forecast, its alarms, `edge check`'s forecast lines and the retention status."""

from __future__ import annotations

import math
from pathlib import Path

from helpers import run_edge, write_config
from retention_helpers import MIN, add_aged, add_segment, config

from edge.monitor.alarms import AlarmCenter
from edge.recording.capacity import forecast
from edge.recording.retention import RetentionService, retention_status
from storage.clock import DAY_US, OffsetClock
from storage.diskspace import Volume
from storage.holds import HoldStore
from storage.index import NewSegment
from storage.register import AccessRegister
from storage.store import SegmentStore

GB = 10**9


def test_forecast_arithmetic() -> None:
    cfg = config(Path("/nonexistent"), ["a", "b"], max_bytes=100 * GB)
    vol = Volume(total=1000 * GB, used=200 * GB, free=800 * GB)
    # a measured at 10 kB/s, b unmeasured: expected_bitrate 4 Mbit/s = 500 kB/s.
    fc = forecast(cfg, vol, store_bytes=150 * GB, measured={"a": 10_000.0})
    assert fc.measured == {"a": True, "b": False}
    assert fc.bytes_per_day == (10_000 + 500_000) * 86_400
    assert fc.capacity_bytes == 90 * GB  # the quota's high watermark
    assert math.isclose(fc.forecast_days, 90 * GB / fc.bytes_per_day)
    assert fc.needed_bytes == int(fc.bytes_per_day * 37) and not fc.ok and not fc.floor_ok
    # Without a quota: 90 % of the volume less what is not footage (200 - 150 GB), less nothing reserved.
    big = config(Path("/nonexistent"), ["a"])
    fc = forecast(big, vol, store_bytes=150 * GB, measured={"a": 10_000.0})
    assert fc.capacity_bytes == 900 * GB - 50 * GB and fc.ok and fc.floor_ok
    assert forecast(config(Path("/x"), []), vol, 0, {}).forecast_days == math.inf


def rows_at(store: SegmentStore, camera: str, count: int, bytes_each: int) -> None:
    """`count` one-minute segments ending now, claiming `bytes_each` (the files are tiny)."""
    now = store.clock.now_us()
    for i in range(count):
        start = now - (count - i) * MIN
        add_segment(store, camera, start, 60.0, 10)
        store.index.add_segment(NewSegment(camera, start + 1, start + MIN, "unused", bytes_each, 1, "h264", 1, 1,
                                           "0" * 64), now)


def test_capacity_and_floor_alarms_raise_and_clear(tmp_path: Path) -> None:
    clock = OffsetClock()
    cfg = config(tmp_path / "s", ["a", "b"], max_bytes=10 * GB, rate_window_hours=24.0)
    cfg = cfg.model_copy(update={"cameras": [c.model_copy(update={"expected_bitrate": 8000}) for c in cfg.cameras]})
    store = SegmentStore(tmp_path / "s", clock)
    try:
        rows_at(store, "a", 60, 600_000)  # a measured at ~10 kB/s; b at its expected 1 kB/s
        alarms = AlarmCenter(store.index, clock)
        svc = RetentionService(cfg, store, HoldStore(store.index, clock, cfg.retention.hold_days),
                               AccessRegister(store.index, clock), alarms, {}, clock)
        svc.totals.load()
        svc.tick()
        fc = svc.last_forecast
        assert fc is not None and fc.measured == {"a": True, "b": False}
        assert 9_000 < fc.rates["a"] < 11_000 and fc.rates["b"] == 1000
        cap = next(a for a in alarms.active() if a.code == "capacity")
        assert cap.severity == "warning"
        assert set(cap.details) == {"needed_bytes", "available_bytes", "forecast_days"}
        assert cap.details["forecast_days"] < 30 and cap.details["needed_bytes"] > cap.details["available_bytes"]
        assert alarms.is_active("floor_at_risk")
        # A day and a half later nothing was measured in the window: expected rates (2 kB/s) fit.
        clock.advance(int(1.5 * DAY_US))
        svc._next_due = 0.0
        svc.tick()
        assert not alarms.is_active("capacity") and not alarms.is_active("floor_at_risk")
        assert [e["event"] for e in alarms.events() if e["code"] == "capacity"] == ["clear", "raise"]
    finally:
        store.close()


def test_edge_check_prints_the_forecast(tmp_path: Path) -> None:
    cams = [{"id": "a", "url": "rtsp://127.0.0.1:1/a", "site_category": "street", "expected_bitrate": 8000}]
    cfg = write_config(tmp_path / "edge.toml", {"storage": {"root": str(tmp_path / "s")},
                                                "retention": {"max_bytes": 10**9}}, cams)
    out = run_edge("check", "-c", str(cfg))
    assert out.returncode == 0, out.stderr
    assert "from expected_bitrate" in out.stdout and "86.4 MB/day" in out.stdout
    assert "forecast: 10.4 days of footage: RISK" in out.stdout
    assert not (tmp_path / "s").exists(), "check creates nothing"
    store = SegmentStore(tmp_path / "s", OffsetClock())
    for i in range(5):
        add_segment(store, "a", store.clock.now_us() - (6 - i) * MIN, 60.0, 60_000)  # 1 kB/s measured
    store.close()
    out = run_edge("check", "-c", str(cfg))
    assert "measured over 24 h for 1 of 1 camera(s)" in out.stdout, out.stdout


def test_status_totals_follow_closes_and_deletions(tmp_path: Path) -> None:
    clock = OffsetClock()
    cfg = config(tmp_path / "s", ["a", "b"])
    store = SegmentStore(tmp_path / "s", clock)
    try:
        old = [add_aged(store, "a", 40 - i, size=100) for i in range(3)]
        alarms = AlarmCenter(store.index, clock)
        holds = HoldStore(store.index, clock, cfg.retention.hold_days)
        holds.create(None, 0, 1, "r", "c", "o")
        svc = RetentionService(cfg, store, holds, AccessRegister(store.index, clock), alarms, {}, clock)
        svc.totals.load()
        # A close after the load counts once; a close the load already saw is not counted twice.
        svc.on_segment(add_aged(store, "b", 1, size=50))
        svc.on_segment(old[0])
        st = svc.status()
        assert st["cameras"]["a"]["bytes"] == 300 and st["cameras"]["a"]["segments"] == 3
        assert st["cameras"]["b"]["bytes"] == 50 and st["box"]["holds_active"] == 1
        svc.engine.sweep(need_bytes=150)
        st = svc.status()
        assert st["cameras"]["a"]["segments"] == 1 and st["box"]["deletions_total"] == 2
        assert st["cameras"]["a"]["oldest"] is not None and st["box"]["floor_respected"] is True
        offline = retention_status(store, cfg, clock)
        assert offline["cameras"] == st["cameras"]
        assert offline["box"]["deletions_total"] == 2 and offline["box"]["holds_active"] == 1
        for key in ("volume", "store_bytes", "quota_bytes", "forecast_days", "floor_respected", "paused_cameras",
                    "holds_active", "deletions_total", "floor_breaches_total", "last_sweep"):
            assert key in st["box"], key
    finally:
        store.close()
