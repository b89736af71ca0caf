"""Finding 5: the wall clock steps back and forward by an hour mid-recording (injected through the
daemon's clock); and a box whose clock is not synchronised raises `clock_unsynced`."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from helpers import base_sections, camera, wait_for, write_config
from retention_helpers import add_segment

from capture.sim.simulator import Simulator
from edge.cli.status import render
from edge.cli.wiring import build_daemon
from edge.config import load_config
from edge.monitor.alarms import AlarmCenter
from edge.monitor.clock_watch import ClockWatch, adjtimex_probe, system_sync_probe
from edge.monitor.status import status_of
from storage import clock_events
from storage.clock import DAY_US, OffsetClock
from storage.store import SegmentStore

HOUR_US = 3_600_000_000


def test_clock_steps_keep_segment_times_ordered_are_recorded_and_never_age_footage(
        tmp_path: Path, clip: Callable[..., Path], simulator: Callable[..., Simulator]) -> None:
    sim = simulator({"cam1": clip(seed=8)})
    sections = base_sections(tmp_path / "store", segment_seconds=1.0, clock={"sync_check": False})
    sections["api"] = {"enabled": False}
    sections["health"] = {"enabled": False}
    cfg = load_config(write_config(tmp_path / "edge.toml", sections, [camera("gate-1", sim.url("cam1"))]))
    clock = OffsetClock()
    d = build_daemon(cfg, clock)
    # Footage from before the steps, near the floor: 30 days minus 30 min old, and 30 days plus 3 h.
    young = add_segment(d.box.store, "old-cam", clock.now_us() - 30 * DAY_US + HOUR_US // 2 - 60_000_000)
    old = add_segment(d.box.store, "old-cam", clock.now_us() - 30 * DAY_US - 3 * HOUR_US - 60_000_000)
    d.start()

    def count() -> int:
        return len(list(d.box.store.index.chain_of("gate-1")))

    def steps() -> list[clock_events.ClockEvent]:
        return [e for e in clock_events.recent(d.box.store.index) if e.kind == "step"]

    try:
        wait_for(lambda: count() >= 2, 30, 0.1, "two segments before the steps")
        clock.step(-HOUR_US)  # NTP steps the clock back an hour
        wait_for(lambda: len(steps()) == 1, 10, 0.1, "the backward step recorded")
        n = count()
        wait_for(lambda: count() >= n + 3, 30, 0.1, "three segments after the backward step")
        clock.step(2 * HOUR_US)  # and then forward two hours
        wait_for(lambda: len(steps()) == 2, 10, 0.1, "the forward step recorded")
        n = count()
        wait_for(lambda: count() >= n + 3, 30, 0.1, "three segments after the forward step")
        after_forward_us = clock.now_us()
        doc = status_of(d.runtime).model_dump(mode="json")
        # Retention allows for the forward step: footage stamped before it is younger than it looks.
        res = d.retention.engine.sweep(need_bytes=10**12)
        states = {s.id: s.state for s in d.box.store.index.chain_of("old-cam")}
        back, forward = sorted(steps(), key=lambda e: e.id)
    finally:
        d.shutdown()

    assert abs(back.step_us + HOUR_US) < 1_500_000 and abs(forward.step_us - 2 * HOUR_US) < 1_500_000
    assert "back" in back.detail and "forward" in forward.detail
    store = SegmentStore(tmp_path / "store", clock)
    segs = list(store.index.chain_of("gate-1"))
    store.close()
    for prev, seg in zip(segs, segs[1:], strict=False):
        assert seg.start_us >= prev.end_us, f"#{seg.seq} overlaps or precedes #{prev.seq}"
        assert seg.end_us > seg.start_us
    # After the forward step, new segments carry the corrected clock (a fresh anchor).
    assert after_forward_us - segs[-1].end_us < 10_000_000
    shown = doc["box"]["clock"]["steps"]
    assert [round(s["step_seconds"]) for s in shown[:2]] == [7200, -3600]
    assert "clock stepped +7200" in render(doc)
    assert states[young.id] == "stored", "30 days minus 30 min of footage survived the 2 h forward step"
    assert states[old.id] == "deleted", "footage older than the floor even allowing for the step goes"
    assert res.stopped == "floor"


def test_clock_unsynced_alarm_follows_the_probe(tmp_path: Path) -> None:
    store = SegmentStore(tmp_path / "store", OffsetClock())
    try:
        alarms = AlarmCenter(store.index, store.clock)
        synced: list[bool | None] = [False]
        watch = ClockWatch(store.clock, store.index, alarms, sync_probe=lambda: synced[0])
        assert watch.check_sync() is False
        alarm = next(a for a in alarms.active() if a.code == "clock_unsynced")
        assert alarm.severity == "warning" and "not synchronised" in alarm.message
        synced[0] = True
        assert watch.check_sync() is True and not alarms.is_active("clock_unsynced")
        synced[0] = None  # nothing can tell: no alarm either way
        watch.check_sync()
        assert not alarms.is_active("clock_unsynced")
        kinds = [e.kind for e in clock_events.recent(store.index)]
        assert kinds == ["synced", "unsynced"]
        assert watch.status()["synchronized"] is None
        # Time travel in tests (advance: wall and monotonic move together) is not a step; `step` is.
        clock = store.clock
        assert isinstance(clock, OffsetClock)
        watch.check_step()
        clock.advance(31 * DAY_US)
        assert watch.check_step() == 0
        clock.step(-5_000_000)
        assert -5_100_000 < watch.check_step() < -4_900_000
        # The real probes answer without raising (whatever this machine's state is).
        assert system_sync_probe() in (True, False, None) and adjtimex_probe() in (True, False, None)
    finally:
        store.close()
