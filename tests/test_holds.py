"""Holds: flagged footage kept at least hold_days, across restarts and disk pressure."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest
from helpers import base_sections, camera, run_edge, wait_for, write_config
from retention_helpers import Box, add_aged

from capture.sim.simulator import Simulator
from edge.cli.wiring import build_daemon
from edge.config import load_config
from storage.clock import DAY_US, OffsetClock
from storage.holds import HoldError
from storage.register import Query
from storage.store import SegmentStore


def test_create_validates_and_survives_reopen(tmp_path: Path) -> None:
    box = Box(tmp_path / "s")
    now = box.clock.now_us()
    for start, end, reason, case, why in ((now, now, "riot", "C1", "end must be after"),
                                          (now, now + 1, " ", "C1", "reason"), (now, now + 1, "r", "", "case")):
        with pytest.raises(HoldError, match=why):
            box.holds.create("a", start, end, reason, case, "officer1")
    assert box.holds.list(include_inactive=True) == [], "a refused hold leaves nothing behind"
    h = box.holds.create("a", now - 10, now + 10, "fight", "CQ-9", "officer1", source="manual")
    assert h.expires_us == h.created_us + 730 * DAY_US and h.active
    box.close()
    box2 = Box(tmp_path / "s", clock=box.clock)
    try:
        assert box2.holds.get(h.id) == h
        assert box2.holds.list() == [h]
        assert box2.holds.holds_covering("a", now, now + 1) == [h]
        assert box2.holds.holds_covering("b", now, now + 1) == []
        assert box2.holds.holds_covering("a", now + 10, now + 20) == [], "ranges are half-open"
    finally:
        box2.close()


def test_a_hold_cannot_be_shortened_or_deleted_by_hand(tmp_path: Path) -> None:
    box = Box(tmp_path / "s")
    now = box.clock.now_us()
    h = box.holds.create(None, now - 10, now + 10, "fight", "CQ-9", "officer1")
    box.close()
    con = sqlite3.connect(tmp_path / "s" / "index.sqlite3")
    try:
        for sql in ("DELETE FROM holds", "UPDATE holds SET expires_us = expires_us - 1",
                    "UPDATE holds SET end_us = end_us - 5", "UPDATE holds SET camera = 'b'"):
            with pytest.raises(sqlite3.IntegrityError):
                con.execute(sql)
        con.execute("UPDATE holds SET expires_us = expires_us + 1")  # lengthening is allowed
        con.commit()
    finally:
        con.close()
    box = Box(tmp_path / "s", clock=box.clock)
    try:
        released = box.holds.release(h.id, "approver2")
        assert not released.active and released.released_by == "approver2"
        with pytest.raises(HoldError, match="already released"):
            box.holds.release(h.id, "approver2")
        assert box.holds.list() == [] and box.holds.list(include_inactive=True) == [released]
    finally:
        box.close()


def test_holds_expire_after_hold_days_and_then_footage_is_evictable(tmp_path: Path) -> None:
    box = Box(tmp_path / "s")
    try:
        seg = add_aged(box.store, "a", 40)
        free = add_aged(box.store, "a", 39)
        box.holds.create("a", seg.start_us, seg.end_us, "evidence", "CQ-1", "officer1")
        assert box.engine.sweep(need_bytes=10**9).deleted == 1
        assert box.state(seg) == "stored" and box.state(free) == "deleted"
        box.clock.advance(729 * DAY_US)
        assert box.engine.sweep(need_bytes=10**9).deleted == 0, "still under the hold after 729 days"
        box.clock.advance(2 * DAY_US)
        assert box.holds.list() == []
        assert box.engine.sweep(need_bytes=10**9).deleted == 1
        assert box.state(seg) == "deleted"
    finally:
        box.close()


def test_cli_hold_add_and_list_register_the_creation(tmp_path: Path) -> None:
    cfg = write_config(tmp_path / "edge.toml", {"storage": {"root": str(tmp_path / "s")}},
                       [{"id": "gate-1", "url": "rtsp://127.0.0.1:1/x", "site_category": "street"}])
    out = run_edge("hold", "add", "-c", str(cfg), "--camera", "gate-1", "--start", "2025-03-01T08:00:00+08:00",
                   "--end", "2025-03-01T09:00:00+08:00", "--reason", "theft at the gate", "--case", "CQ-2025-0042")
    assert out.returncode == 0, out.stdout + out.stderr
    assert "hold #1 created on gate-1 from 2025-03-01T00:00:00Z" in out.stdout
    out = run_edge("hold", "add", "-c", str(cfg), "--all", "--start", "2025-03-01T08:00:00",
                   "--end", "2025-03-01T09:00:00Z", "--reason", "x", "--case", "C")
    assert out.returncode == 2 and "no timezone" in out.stdout
    out = run_edge("hold", "add", "-c", str(cfg), "--camera", "nope", "--start", "2025-03-01T08:00:00Z",
                   "--end", "2025-03-01T09:00:00Z", "--reason", "x", "--case", "C")
    assert out.returncode == 2 and "unknown camera 'nope'" in out.stdout
    out = run_edge("hold", "add", "-c", str(cfg), "--all", "--start", "2025-03-01T09:00:00Z",
                   "--end", "2025-03-01T08:00:00Z", "--reason", "x", "--case", "C")
    assert out.returncode == 2 and "end must be after" in out.stdout
    listed = run_edge("hold", "list", "-c", str(cfg))
    assert listed.returncode == 0 and "CQ-2025-0042" in listed.stdout and "1 hold(s)" in listed.stdout
    assert run_edge("hold", "release", "-c", str(cfg), "1").returncode == 2, "no single-person release"
    from storage.clock import SystemClock
    from storage.register import AccessRegister
    from storage.store import SegmentStore

    store = SegmentStore(tmp_path / "s", SystemClock())
    try:
        entries = AccessRegister(store.index, store.clock).query(Query(actions=["hold_create"]))
        assert len(entries) == 1
        e = entries[0]
        assert (e.cameras, e.case_number, e.purpose, e.subject, e.source) == (
            ["gate-1"], "CQ-2025-0042", "theft at the gate", "hold:1", "cli")
    finally:
        store.close()


def test_hold_pins_the_active_segment_survives_restart_and_expires(
        tmp_path: Path, clip: Callable[..., Path], simulator: Callable[..., Simulator]) -> None:
    sim = simulator({"cam1": clip(seed=11)})
    root = tmp_path / "store"
    sections = base_sections(root, segment_seconds=2.0)
    sections["api"] = {"enabled": False}
    cfg_path = write_config(tmp_path / "edge.toml", sections, [camera("gate-1", sim.url("cam1"))])
    cfg = load_config(cfg_path)
    clock = OffsetClock()
    d = build_daemon(cfg, clock)
    d.start()
    try:
        def stored() -> list[int]:
            return [s.seq for s in d.box.store.index.chain_of("gate-1") if s.state == "stored"]

        wait_for(lambda: len(stored()) >= 2, 30, 0.1, "two segments before the hold")
        before = stored()
        # From now into the future: covers the segment being written right now, and later ones.
        hold = d.box.holds.create("gate-1", clock.now_us(), clock.now_us() + DAY_US, "incident", "CQ-7", "officer1")
        wait_for(lambda: len(stored()) >= len(before) + 2, 30, 0.1, "two segments after the hold")
    finally:
        d.shutdown()
    store = SegmentStore(root, clock)
    segs = list(store.index.chain_of("gate-1"))
    store.close()
    active_then = next(s for s in segs if s.start_us < hold.start_us < s.end_us)
    assert active_then.seq == len(before), "the segment open when the hold was set is held once it closed"

    clock.advance(40 * DAY_US)
    d2 = build_daemon(cfg, clock)  # restarted on the same root: the hold is still there
    try:
        assert [h.id for h in d2.box.holds.list()] == [hold.id]
        res = d2.retention.engine.sweep(need_bytes=10**12)
        after = {s.seq: s.state for s in d2.box.store.index.chain_of("gate-1")}
        held = [s.seq for s in segs if hold.covers("gate-1", s.start_us, s.end_us)]
        assert active_then.seq in held and len(held) >= 2
        assert all(after[seq] == "stored" for seq in held)
        assert all(after[seq] == "deleted" for seq in before), "unheld footage past the floor goes"
        assert res.skipped_held == len(held)
        clock.advance(731 * DAY_US)
        d2.retention.engine.sweep(need_bytes=10**12)
        assert all(s.state == "deleted" for s in d2.box.store.index.chain_of("gate-1"))
    finally:
        d2.box.store.close()

