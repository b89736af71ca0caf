"""Chain v2 on a store made by the code before it: migration keeps the v1 links verifiable and
starts v2 at a marked position; gaps are links; verify tells v1 and v2 edits apart."""

from __future__ import annotations

import contextlib
import sqlite3
from pathlib import Path

from fmp4 import encode_fmp4

from storage.chain import GENESIS, segment_link
from storage.chain_store import has_chain_v2, v2_starts
from storage.index import Segment
from storage.store import SegmentStore, StreamInfo
from storage.verify import verify_store

T0 = 1_795_000_000_000_000
S = 1_000_000


class FixedClock:
    def now_us(self) -> int:
        return T0 + 3_600 * S


def record(store: SegmentStore, camera: str, start_us: int) -> Segment:
    f = store.open_segment(camera, start_us)
    encode_fmp4(f, frames=25, shade=start_us // S % 7 + 1)
    return store.commit(camera, f, start_us + S, 25, StreamInfo("h264", 160, 120))


def downgrade_to_v1(path: Path) -> None:
    """Turn the index into what the code before chain v2 wrote: v1 links, no gap links, no mark."""
    with contextlib.closing(sqlite3.connect(path, isolation_level=None)) as c:
        prev: dict[str, str] = {}
        for row_id, cam, sha, start, end, size in c.execute(
                "SELECT id, camera, sha256, start_us, end_us, bytes FROM segments ORDER BY camera, seq").fetchall():
            link = segment_link(prev.get(cam, GENESIS), sha, cam, start, end, size)
            c.execute("UPDATE segments SET chain=? WHERE id=?", (link, row_id))
            prev[cam] = link
        for stmt in ("DROP INDEX gaps_open_link", "DROP INDEX gaps_close_link", "DROP TABLE chain_v2_start",
                     "ALTER TABLE gaps DROP COLUMN open_seq", "ALTER TABLE gaps DROP COLUMN open_chain",
                     "ALTER TABLE gaps DROP COLUMN close_seq", "ALTER TABLE gaps DROP COLUMN close_chain",
                     "DROP TABLE checkpoints", "PRAGMA user_version = 1"):  # schema migration 1: release 0.1
            c.execute(stmt)


def test_old_store_migrates_and_both_versions_verify(tmp_path: Path) -> None:
    root = tmp_path / "store"
    store = SegmentStore(root, FixedClock(), sync_interval=0)
    old = [record(store, "gate-1", T0 + i * S) for i in range(3)]
    store.index.open_gap("gate-1", T0 + 3 * S, "timeout")  # an outage under way at the upgrade
    store.close()
    downgrade_to_v1(root / "index.sqlite3")

    ro = SegmentStore(root, FixedClock(), read_only=True)  # verify of an old store: no migration
    assert not has_chain_v2(ro.index.reader()) and verify_store(ro).problems == []
    ro.close()

    store = SegmentStore(root, FixedClock(), sync_interval=0)  # the new code opens it: migrates
    conn = store.index.reader()
    assert v2_starts(conn) == {"gate-1": 3}
    store.index.close_open_gaps("gate-1", T0 + 5 * S)  # an old gap gets no link: it had no opening one
    new = [record(store, "gate-1", T0 + (5 + i) * S) for i in range(2)]
    gap = store.index.open_gap("gate-1", T0 + 7 * S, "refused")
    store.index.close_gap(gap, T0 + 8 * S)
    assert [s.seq for s in new] == [3, 4]
    assert new[0].chain != segment_link(old[2].chain, new[0].sha256, "gate-1", new[0].start_us, new[0].end_us,
                                        new[0].bytes)  # a v2 link, chained onto the last v1 one

    report = verify_store(store)
    assert report.problems == [] and report.rows == 7  # 5 segments + the new gap's two links

    with contextlib.closing(sqlite3.connect(root / "index.sqlite3")) as c, c:
        c.execute("UPDATE segments SET end_us = end_us + 1 WHERE id=?", (old[1].id,))  # v1 field
        c.execute("UPDATE segments SET packets = 1 WHERE id=?", (new[1].id,))  # a field only v2 covers
        c.execute("UPDATE gaps SET reason = 'maintenance' WHERE id=?", (gap,))
    assert verify_store(store).problems == ["CHAIN gate-1 #1: link does not match",
                                            "CHAIN gate-1 #4: link does not match",
                                            f"CHAIN gate-1 #6: gap_close link does not match (gap #{gap})"]
    store.close()


def test_gap_added_or_removed_by_hand_is_found(tmp_path: Path) -> None:
    store = SegmentStore(tmp_path / "store", FixedClock(), sync_interval=0)
    record(store, "gate-1", T0)
    gap = store.index.open_gap("gate-1", T0 + S, "timeout")
    store.index.close_gap(gap, T0 + 4 * S)
    record(store, "gate-1", T0 + 4 * S)
    with contextlib.closing(sqlite3.connect(store.layout.index_path)) as c, c:
        c.execute("DELETE FROM gaps WHERE id=?", (gap,))
        added = c.execute("INSERT INTO gaps (camera, start_us, end_us, reason, detail) VALUES ('gate-1', ?, ?, 'x',"
                          " '')", (T0 + 9 * S, T0 + 10 * S)).lastrowid

    assert verify_store(store).problems == ["CHAIN gate-1 #3: seq gap, #1..#2 not in the index",
                                            f"GAP gate-1 gap #{added}: not in the chain (added by hand?)"]
    store.close()
