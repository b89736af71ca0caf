"""`verify_store`: chain links, re-hashed files, missing/unindexed files, retention deletes."""

from __future__ import annotations

import contextlib
import dataclasses
import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fmp4 import encode_fmp4 as shared_encode_fmp4

import storage.verify
from storage.chain import GENESIS
from storage.chain_walk import segment_link_any
from storage.clock import datetime_to_us
from storage.index import Segment
from storage.salvage import sha256_file
from storage.store import SegmentStore, StreamInfo
from storage.verify import verify_store

T0 = datetime_to_us(datetime(2026, 11, 28, 10, 0, tzinfo=UTC))
S = 1_000_000


class FixedClock:
    def now_us(self) -> int:
        return T0 + 3_600 * S


def encode_fmp4(sink: object, frames: int = 25) -> None:
    shared_encode_fmp4(sink, frames, shade=7)


def record(store: SegmentStore, camera: str, start_us: int) -> Segment:
    f = store.open_segment(camera, start_us)
    encode_fmp4(f)
    return store.commit(camera, f, start_us + S, 25, StreamInfo("h264", 160, 120))


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SegmentStore]:
    s = SegmentStore(tmp_path / "store", FixedClock(), sync_interval=0)
    yield s
    s.close()


@pytest.fixture
def segs(store: SegmentStore) -> list[Segment]:
    """gate-1 #0..#2 and gate-2 #0."""
    return [record(store, "gate-1", T0 + i * S) for i in range(3)] + [record(store, "gate-2", T0)]


def sql(store: SegmentStore, statement: str, *args: object) -> None:
    """An edit made behind the daemon's back, with the sqlite3 command line or similar."""
    with contextlib.closing(sqlite3.connect(store.layout.index_path)) as conn, conn:
        conn.execute(statement, args)


def test_clean_store(store: SegmentStore, segs: list[Segment]) -> None:
    active = store.open_segment("gate-1", T0 + 10 * S)  # the daemon is recording right now
    active.write(b"\x00\x00\x00\x08ftyp")

    report = verify_store(store)

    assert report.problems == [] and report.ok
    assert (report.cameras, report.rows, report.segments_checked) == (2, 4, 4)
    assert report.bytes_checked == sum(s.bytes for s in segs)
    assert report.deleted_by_retention == 0 and report.partials == 1
    assert report.notes == [f"PARTIAL gate-1 {store.layout.relative(active.partial)}: active or unrecovered"]
    active.discard()


def test_flipped_byte_is_altered(store: SegmentStore, segs: list[Segment]) -> None:
    path = store.path_of(segs[1])
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))

    assert verify_store(store).problems == [f"ALTERED gate-1 #1 {segs[1].path}: sha256 mismatch"]


def test_truncated_file_is_altered_with_sizes(store: SegmentStore, segs: list[Segment]) -> None:
    path = store.path_of(segs[0])
    path.write_bytes(path.read_bytes()[:100])

    assert verify_store(store).problems == [
        f"ALTERED gate-1 #0 {segs[0].path}: sha256 mismatch (size 100, indexed {segs[0].bytes})"]


def test_removed_file_is_missing(store: SegmentStore, segs: list[Segment]) -> None:
    store.path_of(segs[2]).unlink()

    report = verify_store(store)

    assert report.problems == [f"MISSING gate-1 #2 {segs[2].path}: file not found"]
    assert report.segments_checked == 3


def test_row_marked_missing_is_reported(store: SegmentStore, segs: list[Segment]) -> None:
    store.index.set_state(segs[0].id, "missing")
    store.path_of(segs[0]).unlink()

    assert verify_store(store).problems == [f"MISSING gate-1 #0 {segs[0].path}: marked missing in the index"]


def test_extra_file_is_unindexed(store: SegmentStore, segs: list[Segment]) -> None:
    extra = store.path_of(segs[0]).with_name("20261128T110000.000000Z.mp4")
    extra.write_bytes(store.path_of(segs[0]).read_bytes())
    odd = store.layout.camera_dir("gate-2") / "readme.txt"
    odd.write_text("?")

    assert verify_store(store).problems == [
        f"UNINDEXED gate-1 {store.layout.relative(extra)}: no index row",
        f"UNINDEXED gate-2 {store.layout.relative(odd)}: no index row",
    ]


def test_row_edited_in_the_database_breaks_its_link(store: SegmentStore, segs: list[Segment]) -> None:
    sql(store, "UPDATE segments SET end_us = end_us + 60000000 WHERE camera='gate-1' AND seq=1")

    assert verify_store(store).problems == ["CHAIN gate-1 #1: link does not match"]


def test_hash_and_chain_rewritten_together_still_break_the_next_link(store: SegmentStore,
                                                                       segs: list[Segment]) -> None:
    path = store.path_of(segs[0])
    path.write_bytes(path.read_bytes() + b"tampered")
    sha, size = sha256_file(path)
    link = segment_link_any(GENESIS, dataclasses.replace(segs[0], sha256=sha, bytes=size), v2_from=0)
    sql(store, "UPDATE segments SET sha256=?, bytes=?, chain=? WHERE id=?", sha, size, link, segs[0].id)

    assert verify_store(store).problems == ["CHAIN gate-1 #1: link does not match"]


def test_deleted_row_is_a_seq_gap(store: SegmentStore, segs: list[Segment]) -> None:
    sql(store, "DELETE FROM segments WHERE id=?", segs[1].id)

    assert verify_store(store).problems == [
        "CHAIN gate-1 #2: seq gap, #1..#1 not in the index",
        f"UNINDEXED gate-1 {segs[1].path}: no index row",
    ]


def test_deleted_first_row_is_a_seq_gap(store: SegmentStore, segs: list[Segment]) -> None:
    sql(store, "DELETE FROM segments WHERE id=?", segs[0].id)
    store.path_of(segs[0]).unlink()

    assert verify_store(store).problems == ["CHAIN gate-1 #1: seq gap, #0..#0 not in the index"]


def test_edited_path_is_reported(store: SegmentStore, segs: list[Segment]) -> None:
    other = segs[0].path.replace("100000", "100030")
    store.path_of(segs[0]).rename(store.layout.root / other)
    sql(store, "UPDATE segments SET path=? WHERE id=?", other, segs[0].id)

    # Chain v2 covers the path; the layout rule still names where the file should be.
    assert verify_store(store).problems == ["CHAIN gate-1 #0: link does not match",
                                            f"PATH gate-1 #0 {other}: expected {segs[0].path}"]


def test_retention_delete_is_not_a_problem(store: SegmentStore, segs: list[Segment]) -> None:
    store.index.set_state(segs[0].id, "deleting")
    store.path_of(segs[0]).unlink()
    store.index.finish_deletion(segs[0].id, T0 + 100 * S, "age")
    store.index.set_state(segs[1].id, "deleting")  # retention is between its two phases

    report = verify_store(store)

    assert report.problems == []
    assert (report.deleted_by_retention, report.segments_checked) == (2, 2)


def test_retention_racing_the_walk_is_not_missing(store: SegmentStore, segs: list[Segment],
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    real = storage.verify.sha256_file
    target = store.path_of(segs[1])

    def hash_while_retention_deletes(path: Path) -> tuple[str, int]:
        if path == target:  # the sweeper deletes this segment after verify read the chain
            store.index.set_state(segs[1].id, "deleting")
            path.unlink()
            store.index.finish_deletion(segs[1].id, T0 + 100 * S, "age")
        return real(path)

    monkeypatch.setattr(storage.verify, "sha256_file", hash_while_retention_deletes)
    report = verify_store(store)

    assert report.problems == []
    assert (report.deleted_by_retention, report.segments_checked) == (1, 3)


def test_one_camera_only(store: SegmentStore, segs: list[Segment]) -> None:
    store.path_of(segs[0]).unlink()  # gate-1 is broken

    report = verify_store(store, camera="gate-2")

    assert report.problems == [] and (report.cameras, report.segments_checked) == (1, 1)


def test_extra_checks_add_their_lines(store: SegmentStore, segs: list[Segment]) -> None:
    def register_chain() -> list[str]:
        return ["REGISTER #4: link does not match"]

    def broken() -> list[str]:
        raise RuntimeError("register unreadable")

    report = verify_store(store, checks=[register_chain, broken, list])

    assert report.problems == ["REGISTER #4: link does not match",
                               "CHECK broken: raised RuntimeError: register unreadable"]


def test_verify_does_not_touch_files(store: SegmentStore, segs: list[Segment]) -> None:
    before = {p: (p.stat().st_mtime_ns, p.read_bytes()) for p in store.layout.segments_dir.rglob("*.mp4")}

    verify_store(store)

    after = {p: (p.stat().st_mtime_ns, p.read_bytes()) for p in store.layout.segments_dir.rglob("*.mp4")}
    assert after == before
