"""The retention sweep on a real filesystem and a real index, with a clock that can be moved."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers import run_edge, write_config
from retention_helpers import Box, add_aged, named

from storage import checkpoints
from storage.clock import DAY_US
from storage.index import Segment
from storage.register import Query, verify_register
from storage.retention_check import unrecorded_deletes
from storage.signing import load_or_create
from storage.verify import verify_store


@pytest.fixture
def box(tmp_path: Path) -> Iterator[Box]:
    b = Box(tmp_path / "store")
    yield b
    b.close()


def aged_store(box: Box) -> dict[str, list[Segment]]:
    """Two cameras; footage 45..31 days old (evictable) and 29.9..0 days old (under the floor)."""
    segs: dict[str, list[Segment]] = {"a": [], "b": []}
    for cam, ages in (("a", [45, 40, 33, 29.9, 10, 0.01]), ("b", [44, 38, 31, 29.5, 5])):
        for age in ages:
            segs[cam].append(add_aged(box.store, cam, age))
    return segs


def deleted_order(box: Box) -> list[tuple[str, int]]:
    entries = box.register.query(Query(actions=["retention_delete", "floor_breach"]))
    return [cs for e in entries for cs in named(e.detail)]


def verify_ok(box: Box) -> list[str]:
    report = verify_store(box.store, checks=[lambda: verify_register(box.store.index),
                                             lambda: unrecorded_deletes(box.store.index)])
    return report.problems


def test_sweep_deletes_only_footage_past_the_floor_oldest_first(box: Box, monkeypatch: pytest.MonkeyPatch) -> None:
    import storage.retention

    monkeypatch.setattr(storage.retention, "BATCH", 1)  # one entry per segment: the entries give the order
    segs = aged_store(box)
    res = box.engine.sweep(need_bytes=10**12)
    old = [segs["a"][0], segs["b"][0], segs["a"][1], segs["b"][1], segs["a"][2], segs["b"][2]]  # by end time
    assert res.deleted == 6 and res.stopped == "floor"
    assert deleted_order(box) == [(s.camera, s.seq) for s in old]
    for s in old:
        assert box.state(s) == "deleted" and not box.exists(s)
    young = segs["a"][3:] + segs["b"][3:]
    for s in young:
        assert box.state(s) == "stored" and box.exists(s), "nothing younger than min_days is deleted"
    assert verify_ok(box) == []
    # The rows stay in the chain with their reason and time.
    row = box.store.index.segment_by_id(old[0].id)
    assert row is not None and row.delete_reason == "high_watermark" and row.deleted_us is not None


def test_sweep_stops_when_enough_is_freed(box: Box) -> None:
    segs = aged_store(box)
    res = box.engine.sweep(need_bytes=2000)  # two 1000-byte segments
    assert res.stopped == "need_met" and res.deleted == 2 and res.freed_bytes == 2000
    assert deleted_order(box) == [("a", segs["a"][0].seq), ("b", segs["b"][0].seq)]
    assert box.engine.sweep(need_bytes=0).deleted == 0, "no pressure and no max_days: nothing goes"


def test_floor_follows_the_clock(box: Box) -> None:
    segs = aged_store(box)
    box.engine.sweep(need_bytes=10**12)
    box.clock.advance(DAY_US // 2)  # 29.9 and 29.5 days old become 30.4 and 30.0
    res = box.engine.sweep(need_bytes=10**12)
    assert res.deleted == 2
    assert box.state(segs["a"][3]) == box.state(segs["b"][3]) == "deleted"
    assert box.state(segs["b"][4]) == "stored"


def test_held_and_pinned_segments_are_skipped(box: Box) -> None:
    segs = aged_store(box)
    a_held, b_pinned = segs["a"][1], segs["b"][0]
    box.holds.create("a", a_held.start_us + 1, a_held.start_us + 2, "assault at the gate", "CQ-2025-17", "officer1")
    # A hold on every camera covering nothing evictable must not stop the sweep either.
    box.holds.create(None, box.clock.now_us() - DAY_US, box.clock.now_us(), "riot", "CQ-2025-18", "officer1")
    with box.store.pinned([b_pinned.id]):
        res = box.engine.sweep(need_bytes=10**12)
    assert res.skipped_held == 1 and res.skipped_pinned == 1 and res.deleted == 4
    assert box.state(a_held) == "stored" and box.exists(a_held)
    assert box.state(b_pinned) == "stored" and box.exists(b_pinned)
    # Unpinned: the next sweep takes it; the held one stays.
    assert box.engine.sweep(need_bytes=10**12).deleted == 1
    assert box.state(b_pinned) == "deleted" and box.state(a_held) == "stored"


def test_max_days_deletes_without_pressure(tmp_path: Path) -> None:
    box = Box(tmp_path / "store", max_days=39)
    try:
        segs = aged_store(box)
        res = box.engine.sweep(need_bytes=0)
        assert res.deleted == 3 and res.reasons == {"max_days": 3}
        assert [box.state(s) for s in segs["a"][:3]] == ["deleted", "deleted", "stored"]
        assert [box.state(s) for s in segs["b"][:3]] == ["deleted", "stored", "stored"]
    finally:
        box.close()


def test_overwrite_oldest_records_every_breach(tmp_path: Path) -> None:
    box = Box(tmp_path / "store", on_full="overwrite_oldest")
    try:
        segs = aged_store(box)
        held = segs["b"][4]
        box.holds.create("b", held.start_us, held.end_us, "evidence", "CQ-1", "officer1")
        res = box.engine.sweep(need_bytes=9000, reason="disk_full", allow_breach=True)
        assert res.deleted == 9 and res.breaches == 3, "floor-respecting segments first, then the fewest breaches"
        assert box.state(segs["a"][5]) == "stored", "stops once enough is freed"
        res = box.engine.sweep(need_bytes=10**12, reason="disk_full", allow_breach=True)
        assert res.deleted == 1 and res.skipped_held == 1
        assert box.state(held) == "stored", "held footage is never evicted, even when overwriting"
        breaches = box.register.query(Query(actions=["floor_breach"]))
        recorded = [cs for e in breaches for cs in named(e.detail)]
        expected = [(s.camera, s.seq) for s in (segs["b"][3], segs["a"][3], segs["a"][4], segs["a"][5])]
        assert sorted(recorded) == sorted(expected) and len(recorded) == len(set(recorded))
        assert sum(e.detail["count"] for e in breaches) == 4
        deleted_young = [s for s in segs["a"][3:] + segs["b"][3:] if box.state(s) == "deleted"]
        assert sorted((s.camera, s.seq) for s in deleted_young) == sorted(expected)
        assert all("overwrite_oldest" in e.detail["reason"] for e in breaches)
        assert box.engine.breaches_total == 4
        assert verify_ok(box) == []
    finally:
        box.close()


def test_a_deleted_row_without_a_register_record_is_caught(box: Box, tmp_path: Path) -> None:
    segs = aged_store(box)
    box.engine.sweep(need_bytes=10**12)
    assert verify_ok(box) == []
    # Someone removes a young file and edits its row to look like a retention deletion.
    victim = segs["a"][4]
    box.store.path_of(victim).unlink()
    con = sqlite3.connect(box.store.layout.index_path)
    con.execute("UPDATE segments SET state='deleted', delete_reason='high_watermark' WHERE id=?", (victim.id,))
    con.commit()
    con.close()
    problems = verify_ok(box)
    assert problems == [f"UNRECORDED DELETE a #{victim.seq}: state 'deleted' but no retention record in the"
                        " access register"]


def test_edge_verify_after_retention_and_behind_the_stores_back(box: Box, tmp_path: Path) -> None:
    segs = aged_store(box)
    box.engine.sweep(need_bytes=10**12)
    cfg = write_config(tmp_path / "edge.toml", {"storage": {"root": str(box.root)}},
                       [{"id": "a", "url": "rtsp://127.0.0.1:1/a", "site_category": "street"}])
    # What the daemon does at start: its device key and a signed checkpoint of the heads.
    checkpoints.make_checkpoint(box.store.index, load_or_create(box.store.layout.keys_dir), "edge-box",
                                box.store.clock.now_us())
    box.close()
    ok = run_edge("verify", "-c", str(cfg))
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "6 deleted by retention" in ok.stdout
    # A file deleted behind the store's back is MISSING, not "deleted by retention".
    gone = segs["b"][3]
    (box.root / gone.path).unlink()
    bad = run_edge("verify", "-c", str(cfg))
    assert bad.returncode == 1 and f"MISSING b #{gone.seq}" in bad.stdout
    # ... and editing its row to 'deleted' is caught by the register check.
    con = sqlite3.connect(box.root / "index.sqlite3")
    con.execute("UPDATE segments SET state='deleted' WHERE camera='b' AND seq=?", (gone.seq,))
    con.commit()
    con.close()
    bad = run_edge("verify", "-c", str(cfg))
    assert bad.returncode == 1 and f"UNRECORDED DELETE b #{gone.seq}" in bad.stdout, bad.stdout
    assert "MISSING" not in bad.stdout


def test_register_entries_are_batched(box: Box, monkeypatch: pytest.MonkeyPatch) -> None:
    import storage.retention

    monkeypatch.setattr(storage.retention, "BATCH", 5)  # 2000 in production; the logic is the same
    monkeypatch.setattr(storage.retention, "PAGE", 4)  # pages smaller than batches: paging is exercised too
    for i in range(12):
        add_aged(box.store, "a", 40 + (12 - i) / 1440, size=10)
    box.engine.sweep(need_bytes=10**12)
    entries = box.register.query(Query(actions=["retention_delete"]))
    assert [e.detail["count"] for e in entries] == [5, 5, 2]
    assert [seq for e in entries for _c, seq in named(e.detail)] == list(range(12))
    assert entries[-1].detail["runs"] == [["a", 10, 11, list(box.store.index.chain_of("a"))[11].chain]]
    assert json.loads(json.dumps(entries[0].detail))["reason"] == "high_watermark"
    assert verify_ok(box) == []


def test_service_overwrite_oldest_on_a_full_quota_breaches_the_fewest_and_alarms(tmp_path: Path) -> None:
    from edge.monitor.alarms import AlarmCenter
    from edge.recording.retention import RetentionService

    mb = 1 << 20
    box = Box(tmp_path / "store", on_full="overwrite_oldest", max_bytes=10 * mb)
    try:
        young = [add_aged(box.store, cam, 1 - i / 100, size=mb) for i in range(6) for cam in ("a", "b")]
        held = young[0]
        box.holds.create("a", held.start_us, held.end_us, "evidence", "CQ-3", "officer1")
        alarms = AlarmCenter(box.store.index, box.clock)
        svc = RetentionService(box.cfg, box.store, box.holds, box.register, alarms, {}, box.clock)
        svc.tick()  # 12 MB stored, quota 10 MB, nothing past the floor: only breaches can make room
        gone = [s for s in young if box.state(s) == "deleted"]
        assert held not in gone and box.state(held) == "stored"
        # Two guards of headroom (2 x 2 MB at the expected 4 Mbit/s per camera), not down to the low watermark.
        assert len(gone) == 6 and svc.store_bytes() == 6 * mb
        recorded = [cs for e in box.register.query(Query(actions=["floor_breach"])) for cs in named(e.detail)]
        assert sorted(recorded) == sorted((s.camera, s.seq) for s in gone)
        assert alarms.is_active("floor_breach") and not alarms.is_active("disk_full")
        assert svc.status()["box"]["floor_respected"] is False
        assert svc.status()["box"]["floor_breaches_total"] == 6
    finally:
        box.close()
