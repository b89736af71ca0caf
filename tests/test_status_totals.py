"""Status and metrics from the running store totals; the bounded queries of status and recovery."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace

import pytest

from edge.monitor.status import camera_totals, gaps_overlapping, live_totals, stored_totals
from storage.clock import datetime_to_us
from storage.index import NewSegment, Segment
from storage.recovery import recover
from storage.store import SegmentStore
from storage.totals import StoreTotals

T0 = datetime_to_us(datetime(2026, 11, 28, 10, 0, tzinfo=UTC))
S = 1_000_000
CAMS = ("gate-1", "gate-2")


class FixedClock:
    def __init__(self, now_us: int) -> None:
        self.now = now_us

    def now_us(self) -> int:
        return self.now


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SegmentStore]:
    s = SegmentStore(tmp_path / "store", FixedClock(T0 + 3_600 * S), sync_interval=0)
    yield s
    s.close()


def add(store: SegmentStore, camera: str, start_us: int, nbytes: int = 1000, touch: bool = False) -> Segment:
    path = store.layout.segment_path(camera, start_us)
    if touch:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"")
    return store.index.add_segment(
        NewSegment(camera, start_us, start_us + 10 * S, store.layout.relative(path), nbytes, 250, "h264", 160, 120,
                   "0" * 64), store.clock.now_us())


def test_live_totals_match_the_index_aggregate(store: SegmentStore) -> None:
    for i in range(5):
        add(store, "gate-1", T0 + i * 10 * S, nbytes=1000 + i)
    add(store, "gate-2", T0, nbytes=7)
    totals = StoreTotals(store.index)
    totals.load()
    later = add(store, "gate-1", T0 + 50 * S, nbytes=11)
    totals.added(later)  # the segment-close callback
    d = SimpleNamespace(retention=SimpleNamespace(totals=totals))
    live = live_totals(d)
    assert live is not None
    for cam in (*CAMS, "gate-3"):
        assert camera_totals(store.index, live, cam) == stored_totals(store.index, cam)
        assert camera_totals(store.index, None, cam) == stored_totals(store.index, cam)
    assert camera_totals(store.index, live, "gate-3") == (0, 0, None, None)


def test_live_totals_absent_or_failing_fall_back_to_the_index() -> None:
    class Broken:
        def snapshot(self) -> dict[str, object]:
            raise RuntimeError("boom")

    assert live_totals(SimpleNamespace()) is None
    assert live_totals(SimpleNamespace(retention=None)) is None
    assert live_totals(SimpleNamespace(retention=SimpleNamespace(totals=Broken()))) is None


def test_gaps_overlapping_matches_index_gaps(store: SegmentStore) -> None:
    idx = store.index
    g1 = idx.open_gap("gate-1", T0 - 100 * S, "timeout")
    idx.close_gap(g1, T0 - 50 * S)  # ended before the window
    g2 = idx.open_gap("gate-1", T0 - 10 * S, "refused")
    idx.close_gap(g2, T0 + 5 * S)  # straddles the window's start
    g3 = idx.open_gap("gate-1", T0 + 20 * S, "stalled")
    idx.close_gap(g3, T0 + 30 * S)  # inside
    idx.open_gap("gate-1", T0 + 40 * S, "timeout")  # still open
    idx.open_gap("gate-1", T0 + 500 * S, "timeout")  # open, starts after the window
    g6 = idx.open_gap("gate-2", T0 + 1 * S, "timeout")
    idx.close_gap(g6, T0 + 2 * S)  # another camera
    for since, until in ((T0, T0 + 100 * S), (T0 - 200 * S, T0 + 1000 * S), (T0 + 25 * S, T0 + 45 * S)):
        for cam in CAMS:
            assert gaps_overlapping(idx, cam, since, until) == idx.gaps(cam, since, until)


def test_recovery_creates_indexes_for_its_startup_queries(store: SegmentStore) -> None:
    recover(store, list(CAMS))
    names = {r[0] for r in store.index.reader().execute("SELECT name FROM sqlite_master WHERE type='index'")}
    assert {"segments_deleting", "gaps_open", "gaps_camera_end"} <= names
    plan = " ".join(str(r) for r in store.index.reader().execute(
        "EXPLAIN QUERY PLAN SELECT id FROM gaps WHERE end_us IS NULL ORDER BY id"))
    assert "gaps_open" in plan


def test_indexed_segments_are_skipped_but_a_symlink_in_their_place_is_not(store: SegmentStore) -> None:
    segs = [add(store, "gate-1", T0 + i * 10 * S, touch=True) for i in range(3)]
    report = recover(store, ["gate-1"])
    assert (report.quarantined, report.adopted, report.recovered) == (0, 0, 0)
    # An indexed name that is not a regular file is still looked at, and set aside.
    path = store.path_of(segs[1])
    target = path.with_name("elsewhere")
    path.rename(target)
    os.symlink(target, path)
    report = recover(store, ["gate-1"])
    assert report.quarantined == 2  # the symlink ("not a regular file") and "elsewhere" ("not a segment name")
    assert not path.is_symlink()
