"""Startup recovery on a real store: salvage, adoption, quarantine, interrupted deletes, open gaps."""

from __future__ import annotations

import hashlib
import shutil
import struct
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fmp4 import encode_fmp4 as shared_encode_fmp4

from storage.chain_walk import segment_link_any
from storage.clock import datetime_to_us
from storage.index import Segment
from storage.recovery import recover
from storage.salvage import salvage
from storage.store import SegmentStore, StreamInfo
from storage.verify import verify_store

T0 = datetime_to_us(datetime(2026, 11, 28, 10, 0, tzinfo=UTC))
NOW = T0 + 3_600_000_000
S = 1_000_000
CAM = "gate-1"


class FixedClock:
    def __init__(self, now_us: int) -> None:
        self.now = now_us

    def now_us(self) -> int:
        return self.now


def encode_fmp4(sink: object, frames: int) -> None:
    shared_encode_fmp4(sink, frames, shade=5)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SegmentStore]:
    s = SegmentStore(tmp_path / "store", FixedClock(NOW), sync_interval=0)
    yield s
    s.close()


def record(store: SegmentStore, start_us: int, frames: int = 50, camera: str = CAM) -> Segment:
    f = store.open_segment(camera, start_us)
    encode_fmp4(f, frames)
    return store.commit(camera, f, start_us + frames * 40_000, frames, StreamInfo("h264", 160, 120))


def published_unindexed(store: SegmentStore, start_us: int, frames: int = 50) -> Path:
    """A crash between rename and index commit: the file is final, the row never came."""
    f = store.open_segment(CAM, start_us)
    encode_fmp4(f, frames)
    return f.publish().path


def crashed_partial(store: SegmentStore, start_us: int, fragments: int, frames: int = 75) -> Path:
    """The active segment of a killed recorder: `fragments` complete fragments plus a torn tail."""
    f = store.open_segment(CAM, start_us)
    encode_fmp4(f, frames)
    path = f.publish().path
    data = path.read_bytes()
    off = 0
    for _ in range(2 + 2 * fragments):  # ftyp, moov, then moof+mdat pairs
        off += struct.unpack(">I", data[off:off + 4])[0]
    path.unlink()
    f.partial.write_bytes(data[:off + 50])
    return f.partial


def rows(store: SegmentStore, camera: str = CAM) -> list[Segment]:
    return list(store.index.chain_of(camera))


def test_partial_becomes_recovered_row_continuing_the_chain(store: SegmentStore) -> None:
    first, second = record(store, T0), record(store, T0 + 2 * S)
    partial = crashed_partial(store, T0 + 4 * S, fragments=2)

    report = recover(store, [CAM])

    assert (report.recovered, report.adopted, report.quarantined) == (1, 0, 0)
    assert not partial.exists()
    segs = rows(store)
    assert [s.seq for s in segs] == [0, 1, 2] and segs[:2] == [first, second]
    seg = segs[2]
    assert (seg.origin, seg.state) == ("recovered", "stored")
    assert (seg.start_us, seg.end_us) == (T0 + 4 * S, T0 + 6 * S)
    assert (seg.packets, seg.codec, seg.width, seg.height) == (50, "h264", 160, 120)
    data = store.path_of(seg).read_bytes()
    assert seg.sha256 == hashlib.sha256(data).hexdigest() and seg.bytes == len(data)
    assert seg.chain == segment_link_any(second.chain, seg, v2_from=0)
    assert any("recovered" in line and seg.path in line for line in report.lines)
    assert [a[2] for a in store.index.anomalies()] == ["salvaged"]
    assert verify_store(store).problems == []


def test_complete_unindexed_file_is_adopted(store: SegmentStore) -> None:
    first = record(store, T0)
    path = published_unindexed(store, T0 + 2 * S, frames=50)

    report = recover(store, [CAM])

    assert (report.adopted, report.recovered, report.quarantined) == (1, 0, 0)
    seg = rows(store)[1]
    assert (seg.origin, seg.path, seg.end_us, seg.packets) == ("adopted", store.layout.relative(path),
                                                               T0 + 4 * S, 50)
    assert seg.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    assert seg.chain == segment_link_any(first.chain, seg, v2_from=0)
    assert verify_store(store).problems == []


def test_candidates_are_appended_in_start_order(store: SegmentStore) -> None:
    # A camera without any row yet: every day dir is listed.
    adopted_late = published_unindexed(store, T0 + 8 * S)
    partial_early = crashed_partial(store, T0 + 2 * S, fragments=1)
    adopted_mid = published_unindexed(store, T0 + 5 * S)

    report = recover(store, [CAM])

    assert (report.recovered, report.adopted) == (1, 2)
    segs = rows(store)
    assert [(s.start_us, s.origin) for s in segs] == [
        (T0 + 2 * S, "recovered"), (T0 + 5 * S, "adopted"), (T0 + 8 * S, "adopted")]
    assert store.path_of(segs[0]).name == partial_early.name.removesuffix(".partial")
    assert {store.path_of(s) for s in segs[1:]} == {adopted_mid, adopted_late}
    assert verify_store(store).problems == []


def test_unexplained_files_are_quarantined_never_deleted(store: SegmentStore) -> None:
    record(store, T0)
    last = record(store, T0 + 10 * S)
    day = store.path_of(last).parent
    older = published_unindexed(store, T0 + 20 * S)  # made later, renamed below to an older start
    older_data = older.read_bytes()
    older = older.rename(day / "20261128T100005.000000Z.mp4")
    junk = day / "notes.txt"
    junk.write_text("hello")
    stray = store.layout.camera_dir(CAM) / "loose.mp4"
    stray.write_bytes(b"x")

    report = recover(store, [CAM])

    assert report.quarantined == 3 and (report.adopted, report.recovered) == (0, 0)
    q = store.layout.quarantine_dir / CAM
    assert (q / "20261128" / older.name).read_bytes() == older_data
    assert (q / "20261128" / "notes.txt").read_text() == "hello"
    assert (q / "loose.mp4").read_bytes() == b"x"
    assert not older.exists() and not junk.exists() and not stray.exists()
    assert len(rows(store)) == 2
    kinds = store.index.anomalies()
    assert [k[2] for k in kinds] == ["quarantined"] * 3
    assert {k[3] for k in kinds} == {store.layout.relative(p) for p in (older, junk, stray)}
    assert sum("quarantined" in line for line in report.lines) == 3
    assert verify_store(store).problems == []


def test_quarantine_never_overwrites(store: SegmentStore) -> None:
    record(store, T0)
    day = store.path_of(rows(store)[0]).parent
    for content in ("one", "two"):
        (day / "notes.txt").write_text(content)
        recover(store, [CAM])
    q = store.layout.quarantine_dir / CAM / "20261128"
    assert sorted(p.read_text() for p in q.iterdir()) == ["one", "two"]


def test_only_days_from_the_last_segment_on_are_listed(store: SegmentStore) -> None:
    record(store, T0)
    old_day = store.layout.camera_dir(CAM) / "20261127"
    old_day.mkdir()
    old = old_day / "20261127T230000.000000Z.mp4"
    old.write_bytes(b"left alone by startup")

    report = recover(store, [CAM])

    assert report.quarantined == 0 and old.exists()
    # The full check is `edge verify`'s job.
    assert verify_store(store).problems == [f"UNINDEXED {CAM} {store.layout.relative(old)}: no index row"]


def test_deleting_rows_are_finished(store: SegmentStore) -> None:
    a, b, c = record(store, T0), record(store, T0 + 2 * S), record(store, T0 + 4 * S)
    store.index.set_state(a.id, "deleting")  # crashed before the unlink
    store.index.set_state(b.id, "deleting")  # crashed after the unlink
    store.path_of(b).unlink()

    report = recover(store, [CAM])

    assert report.deletions_finished == 2
    for seg in (a, b):
        now = store.index.segment_by_id(seg.id)
        assert now is not None and (now.state, now.deleted_us) == ("deleted", NOW) and now.delete_reason
        assert not store.path_of(seg).exists()
    assert store.path_of(c).exists()
    assert [s.seq for s in rows(store)] == [0, 1, 2]  # the rows stay in the chain
    v = verify_store(store)
    assert v.problems == [] and v.deleted_by_retention == 2


def test_open_gaps_are_closed_at_recovery_time(store: SegmentStore) -> None:
    past = store.index.open_gap(CAM, T0, "timeout")
    future = store.index.open_gap("cam-x", NOW + S, "refused")  # a clock that stepped back
    done = store.index.open_gap(CAM, T0 - 10 * S, "refused")
    store.index.close_gap(done, T0 - 5 * S)

    report = recover(store, [CAM])

    assert report.gaps_closed == 2
    ends = {g.id: g.end_us for g in store.index.gaps(CAM) + store.index.gaps("cam-x")}
    assert ends == {past: NOW, future: NOW + S, done: T0 - 5 * S}


def test_temporary_names_are_swept(store: SegmentStore) -> None:
    seg = record(store, T0)
    tmps = [
        store.path_of(seg).with_name("20261128T100009.000000Z.mp4.tmp"),
        store.layout.exports_dir / "e1" / "manifest.json.tmp",
        store.layout.keys_dir / "device.key.tmp",
    ]
    for t in tmps:
        t.parent.mkdir(parents=True, exist_ok=True)
        t.write_bytes(b"half")
    bundle = store.layout.exports_dir / "e2.tmp"
    (bundle / "clip").mkdir(parents=True)

    report = recover(store, [CAM])

    assert report.swept == 4 and report.quarantined == 0
    assert not any(t.exists() for t in tmps) and not bundle.exists()
    assert (store.layout.exports_dir / "e1").is_dir()


def test_partial_without_footage_is_removed(store: SegmentStore) -> None:
    partial = crashed_partial(store, T0, fragments=0)

    report = recover(store, [CAM])

    assert (report.empty, report.recovered) == (1, 0) and not partial.exists()
    assert rows(store) == []
    assert [a[2] for a in store.index.anomalies()] == ["empty_partial"]


def test_foreign_partial_is_quarantined(store: SegmentStore) -> None:
    record(store, T0)
    partial = store.layout.partial_path(CAM, T0 + 2 * S)
    partial.write_bytes(b"this is not what our muxer writes")

    report = recover(store, [CAM])

    assert report.quarantined == 1 and not partial.exists()
    assert (store.layout.quarantine_dir / CAM / "20261128" / partial.name).exists()
    assert len(rows(store)) == 1


def test_interrupted_salvage_is_finished(store: SegmentStore) -> None:
    partial = crashed_partial(store, T0, fragments=2)
    copy = partial.with_name("copy")
    shutil.copyfile(partial, copy)
    done = salvage(partial)  # the earlier run: renamed its output, then crashed before the unlink
    copy.rename(partial)

    report = recover(store, [CAM])

    assert (report.recovered, report.adopted, report.quarantined) == (1, 0, 0)
    assert not partial.exists()
    assert [(s.origin, s.sha256) for s in rows(store)] == [("recovered", done.sha256)]


def test_recovery_twice_changes_nothing_more(store: SegmentStore) -> None:
    record(store, T0)
    crashed_partial(store, T0 + 2 * S, fragments=1)
    recover(store, [CAM, "cam-without-dir"])
    before = rows(store)

    again = recover(store, [CAM, "cam-without-dir"])

    assert again.lines == [] and rows(store) == before


def test_configured_and_on_disk_cameras_are_both_recovered(store: SegmentStore) -> None:
    # gate-2 is no longer configured but still has a crashed segment on disk.
    record(store, T0, camera="gate-2")
    f = store.open_segment("gate-2", T0 + 2 * S)
    encode_fmp4(f, 25)
    f.publish()

    report = recover(store, [CAM])

    assert report.adopted == 1 and [s.origin for s in rows(store, "gate-2")] == ["recorded", "adopted"]
