"""Retention register entries in the runs form (storage/delete_record.py) beside the old form that
named every segment: verify, recovery and the breach counter read both."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest
from retention_helpers import Box, add_aged, named

import storage.retention
import storage.unlinks
from storage.delete_record import deletion_counters
from storage.register import SYSTEM, Query, verify_register
from storage.retention_check import deletes_under_floor, unrecorded_deletes
from storage.verify import verify_store


def old_form(box: Box) -> Any:
    """`detail_for` as the sweep wrote it before the runs form (every segment with its SHA-256,
    which the sweep no longer reads: looked up in the index)."""
    def detail(reason: str, segs: list[Any], runs: Any = None) -> dict[str, Any]:
        sha = {s.id: box.store.index.segment_by_id(s.id).sha256 for s in segs}  # type: ignore[union-attr]
        return {"reason": reason, "segments": [[s.camera, s.seq, sha[s.id], s.chain] for s in segs]}
    return detail


def problems(box: Box) -> list[str]:
    return verify_store(box.store, checks=[lambda: verify_register(box.store.index),
                                           lambda: unrecorded_deletes(box.store.index),
                                           lambda: deletes_under_floor(box.store.index, 30)]).problems


def entries(box: Box) -> list[Any]:
    return box.register.query(Query(actions=["retention_delete", "floor_breach"]))


def hand_delete(box: Box, seg: Any) -> None:
    box.store.path_of(seg).unlink()
    con = sqlite3.connect(box.store.layout.index_path)
    con.execute("UPDATE segments SET state='deleted', delete_reason='high_watermark' WHERE id=?", (seg.id,))
    con.commit()
    con.close()


def test_runs_per_camera_split_where_a_held_segment_is_skipped(tmp_path: Path) -> None:
    box = Box(tmp_path / "store")
    try:
        a = [add_aged(box.store, "a", 40 - i / 100) for i in range(6)]
        b = [add_aged(box.store, "b", 40 - i / 100) for i in range(2)]
        box.holds.create("a", a[2].start_us, a[2].end_us, "evidence", "CQ-1", "officer1")
        res = box.engine.sweep(need_bytes=10**12)
        assert res.deleted == 7 and res.skipped_held == 1
        (entry,) = entries(box)
        assert entry.detail == {"reason": "high_watermark", "count": 7, "runs": [
            ["a", 0, 1, a[1].chain], ["a", 3, 5, a[5].chain], ["b", 0, 1, b[1].chain]]}
        assert problems(box) == []
        # The held segment lies between two runs: deleted by hand, it is named, not covered by them.
        box.holds.release(box.holds.list()[0].id, "officer2")
        hand_delete(box, a[2])
        assert problems(box) == ["UNRECORDED DELETE a #2: state 'deleted' but no retention record in the"
                                 " access register"]
    finally:
        box.close()


def test_runs_mark_exactly_their_rows_and_a_row_changed_since_the_scan_fails_the_batch_whole(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Rows are marked deleted per run (one UPDATE over a seq range): the held row between two runs
    stays stored, and a row that left 'stored' between the scan and the mark makes the batch record
    and delete nothing (no register entry for rows it did not delete); the next sweep does it."""
    box = Box(tmp_path / "store")
    try:
        a = [add_aged(box.store, "a", 40 - i / 100) for i in range(5)]
        box.holds.create("a", a[2].start_us, a[2].end_us, "evidence", "CQ-1", "officer1")
        claim = box.store.pins.claim

        def quarantine_first(items: list[Any], key: Any, action: Any) -> list[Any]:
            with box.store.index.write() as c:
                c.execute("UPDATE segments SET state='quarantined' WHERE id=?", (a[3].id,))
            return claim(items, key, action)

        monkeypatch.setattr(box.store.pins, "claim", quarantine_first)
        with pytest.raises(RuntimeError, match="1 of 4 segments are no longer stored"):
            box.engine.sweep(need_bytes=10**12)
        states = [r[0] for r in box.store.index.reader().execute("SELECT state FROM segments ORDER BY seq")]
        assert states == ["stored", "stored", "stored", "quarantined", "stored"]
        assert entries(box) == [] and all(box.store.path_of(s).exists() for s in a)
        monkeypatch.undo()
        res = box.engine.sweep(need_bytes=10**12)
        assert res.deleted == 3 and res.skipped_held == 1
        states = [r[0] for r in box.store.index.reader().execute("SELECT state FROM segments ORDER BY seq")]
        assert states == ["deleted", "deleted", "stored", "quarantined", "deleted"]
        (entry,) = entries(box)
        assert entry.detail["runs"] == [["a", 0, 1, a[1].chain], ["a", 4, 4, a[4].chain]]
    finally:
        box.close()


def test_a_store_with_old_and_new_entries_verifies_and_a_hand_deletion_is_still_named(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    box = Box(tmp_path / "store")
    try:
        a = [add_aged(box.store, "a", 45 - i) for i in range(8)]  # 45..38 days old
        b = [add_aged(box.store, "b", 45.5 - i) for i in range(8)]
        monkeypatch.setattr(storage.retention, "detail_for", old_form(box))
        back = int(9.75 * 86_400_000_000)
        box.clock.advance(-back)  # first only what is over 39.75 days old goes, in the old form
        assert box.engine.sweep(need_bytes=10**12).deleted == 12
        monkeypatch.undo()
        box.clock.advance(back)
        assert box.engine.sweep(need_bytes=10**12).deleted == 4
        forms = [("segments" in e.detail, "runs" in e.detail) for e in entries(box)]
        assert forms == [(True, False), (False, True)]
        assert sorted(cs for e in entries(box) for cs in named(e.detail)) == sorted(
            (s.camera, s.seq) for s in a + b)
        assert problems(box) == []
        # A young row deleted behind the register's back is named, whatever form the entries have.
        victim = add_aged(box.store, "a", 1)
        hand_delete(box, victim)
        assert problems(box) == [f"UNRECORDED DELETE a #{victim.seq}: state 'deleted' but no retention record"
                                 " in the access register"]
    finally:
        box.close()


def test_a_deleted_row_whose_chain_differs_from_its_run_is_caught(tmp_path: Path) -> None:
    """The recorded chain value of a run's last segment is what ties the run to the rows: a forged
    last row is not accounted for (and a forged earlier row breaks the chain up to it)."""
    box = Box(tmp_path / "store")
    try:
        segs = [add_aged(box.store, "a", 40 - i / 100) for i in range(4)]
        add_aged(box.store, "a", 1)
        box.engine.sweep(need_bytes=10**12)
        assert unrecorded_deletes(box.store.index) == []
        con = sqlite3.connect(box.store.layout.index_path)
        con.execute("UPDATE segments SET chain=? WHERE id=?", ("0" * 64, segs[3].id))
        con.commit()
        con.close()
        assert unrecorded_deletes(box.store.index) == [
            "UNRECORDED DELETE a #3: state 'deleted' but no retention record in the access register"]
        assert "CHAIN a #3: link does not match" in problems(box)
    finally:
        box.close()


def test_a_hand_written_run_under_the_floor_is_unlawful(tmp_path: Path) -> None:
    box = Box(tmp_path / "store")
    try:
        segs = [add_aged(box.store, "a", 10 - i / 100) for i in range(3)]
        box.register.append(SYSTEM, "retention_delete", cameras=["a"], subject="retention", detail={
            "reason": "high_watermark", "count": 2, "runs": [["a", 0, 1, segs[1].chain]]})
        for s in segs[:2]:
            hand_delete(box, s)
        assert deletes_under_floor(box.store.index, 30) == [
            f"UNLAWFUL DELETE a #{i}: register entry #1 says retention deleted it younger than 30 days"
            for i in (0, 1)]
        assert unrecorded_deletes(box.store.index) == []  # recorded: it is the floor that was broken
    finally:
        box.close()


@pytest.mark.parametrize("form", ["runs", "old"])
def test_recovery_finishes_the_unlinks_of_either_form(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                      form: str) -> None:
    from storage.recovery import recover

    box = Box(tmp_path / "store")
    try:
        old = [add_aged(box.store, "a", 40 - i / 100) for i in range(5)] + [add_aged(box.store, "b", 39)]
        held = old.pop(2)
        box.holds.create("a", held.start_us, held.end_us, "evidence", "CQ-2", "officer1")
        if form == "old":
            monkeypatch.setattr(storage.retention, "detail_for", old_form(box))
        monkeypatch.setattr(storage.retention, "unlink_all", lambda root, segs: [])  # "crashed" before the unlinks
        assert box.engine.sweep(need_bytes=10**12).deleted == 5
        monkeypatch.undo()
        (entry,) = entries(box)
        assert ("runs" in entry.detail) == (form == "runs")
        with box.store.index.write() as c:  # the list still names the batch (the crash)
            storage.unlinks.set_listed(c, [entry.id])
        assert all(box.exists(s) for s in old)
        assert recover(box.store, ["a", "b"]).deletions_finished == 5
        assert not any(box.exists(s) for s in old)
        assert box.exists(held) and box.state(held) == "stored", "a stored segment between two runs stays"
        assert box.store.index.get_meta(storage.unlinks.UNLINKING_META) is None
    finally:
        box.close()


def test_the_breach_counter_counts_both_forms(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    box = Box(tmp_path / "store", on_full="overwrite_oldest")
    try:
        young = [add_aged(box.store, cam, 5 - i / 100) for i in range(3) for cam in ("a", "b")]
        monkeypatch.setattr(storage.retention, "detail_for", old_form(box))
        assert box.engine.sweep(need_bytes=2000, reason="disk_full", allow_breach=True).breaches == 2
        monkeypatch.undo()
        assert box.engine.sweep(need_bytes=3000, reason="disk_full", allow_breach=True).breaches == 3
        assert [e.detail.get("count") for e in entries(box)] == [None, 3]
        assert deletion_counters(box.store.index) == (5, 5)
        box.engine.load_counters()
        assert (box.engine.deleted_total, box.engine.breaches_total) == (5, 5)
        assert sum(box.state(s) == "deleted" for s in young) == 5
        assert problems(box) == []
    finally:
        box.close()


def test_runs_of_joins_consecutive_seqs_per_camera_in_any_interleaving() -> None:
    from types import SimpleNamespace

    from storage.delete_record import detail_for

    segs = [SimpleNamespace(camera=c, seq=q, chain=f"{c}{q}") for q, c in
            [(0, "b"), (4, "a"), (1, "b"), (5, "a"), (3, "b"), (9, "a"), (2, "b")]]
    assert detail_for("max_days", segs) == {"reason": "max_days", "count": 7, "runs": [
        ["a", 4, 5, "a5"], ["a", 9, 9, "a9"], ["b", 0, 1, "b1"], ["b", 2, 2, "b2"], ["b", 3, 3, "b3"]]}
