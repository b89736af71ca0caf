"""The embedded index (SQLite, WAL): segments, gaps and anomalies, the single source of truth
that the API, the sweeper and `edge verify` read instead of scanning directories.

Commits use synchronous=FULL: a segment row or an audit row, once committed, survives a power
cut. They are rare (one segment close per camera per segment length), so the cost is small.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, fields
from pathlib import Path
from typing import NamedTuple

from storage.chain import link_v2, segment_record_v2
from storage.chain_store import chain_gap_close, chain_gap_open, next_link
from storage.clock import HOUR_US
from storage.schema import migrate


@dataclass(frozen=True)
class Segment:
    id: int
    camera: str
    seq: int
    start_us: int
    end_us: int
    path: str
    bytes: int
    packets: int
    codec: str
    width: int
    height: int
    sha256: str
    chain: str
    origin: str
    state: str
    created_us: int
    deleted_us: int | None
    delete_reason: str | None


SEGMENT_COLUMNS = ", ".join(f.name for f in fields(Segment))
_FIELDS = tuple(f.name for f in fields(Segment))


class SweepRow(NamedTuple):
    """The columns of a stored row a retention sweep needs to decide, record, mark and unlink it (a
    one-day sweep reads ~90 000 rows: building full Segments of all 18 columns was a third of it)."""
    id: int
    camera: str
    seq: int
    start_us: int
    end_us: int
    path: str
    bytes: int
    chain: str


SWEEP_COLUMNS = ", ".join(SweepRow._fields)


def segment_from_row(row: tuple[object, ...] | sqlite3.Row) -> Segment:
    """A row of `SEGMENT_COLUMNS` as a Segment: `Segment(*row)` without the frozen dataclass's 18
    `object.__setattr__` calls (a review or an export reads thousands of rows)."""
    seg = object.__new__(Segment)
    seg.__dict__.update(zip(_FIELDS, row, strict=True))
    return seg


@dataclass(frozen=True)
class NewSegment:
    camera: str
    start_us: int
    end_us: int
    path: str
    bytes: int
    packets: int
    codec: str
    width: int
    height: int
    sha256: str
    origin: str = "recorded"


@dataclass(frozen=True)
class Gap:
    id: int
    camera: str
    start_us: int
    end_us: int | None
    reason: str
    detail: str


def _connect(path: Path, read_only: bool = False) -> sqlite3.Connection:
    if read_only:
        # Beside a running recorder (`edge status`, `verify`): never a write, never a schema change;
        # WAL readers see every committed transaction without blocking the writer. `edge verify`
        # must also leave no trace: mode=ro alone still creates the -wal and -shm files of a WAL
        # database when no writer has them open; with no -wal file there is no writer, so the file
        # is opened immutable (a recorder starting during the verify may make it report a spurious
        # problem: verify again). With a writer running, its -wal/-shm exist already.
        wal = path.with_name(path.name + "-wal")
        flags = "mode=ro" if wal.exists() else "mode=ro&immutable=1"
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?{flags}", uri=True, timeout=30.0,
                               isolation_level=None, check_same_thread=False)
        conn.execute("PRAGMA query_only=ON")
        return conn
    conn = sqlite3.connect(path, timeout=30.0, isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute("PRAGMA foreign_keys=ON")
    return conn


class Index:
    """One writer connection behind a lock; one reader connection per thread (WAL readers never
    block the writer, so the API stays responsive while segments close)."""

    def __init__(self, path: Path, read_only: bool = False) -> None:
        self.path = path
        #: Opened `mode=ro`: no migration, and any write fails.
        self.read_only = read_only
        if read_only and not path.exists():
            raise FileNotFoundError(f"{path}: no index")
        self._lock = threading.RLock()
        self._writer = _connect(path, read_only)
        self._local = threading.local()
        self._readers: list[sqlite3.Connection] = []
        #: Migrations this open applied (storage/schema.py); empty when the store was current. A
        #: read-only open (beside the recorder that owns the store) never migrates.
        self.migrated = [] if read_only else migrate(self._writer)

    def close(self) -> None:
        with self._lock:
            for conn in self._readers:
                conn.close()
            self._readers.clear()
            self._writer.close()

    @contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """A transaction on the writer connection (BEGIN IMMEDIATE ... COMMIT, or ROLLBACK)."""
        if self.read_only:
            raise PermissionError(f"{self.path}: opened read-only")
        with self._lock:
            self._writer.execute("BEGIN IMMEDIATE")
            try:
                yield self._writer
            except BaseException:
                self._writer.execute("ROLLBACK")
                raise
            self._writer.execute("COMMIT")

    def reader(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = _connect(self.path, self.read_only)
            conn.execute("PRAGMA query_only=ON")
            self._local.conn = conn
            with self._lock:
                self._readers.append(conn)
        return conn

    # -- meta -----------------------------------------------------------------------------------
    def get_meta(self, key: str) -> str | None:
        row = self.reader().execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def set_meta(self, key: str, value: str) -> None:
        with self.write() as c:
            c.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, value))

    # -- segments -------------------------------------------------------------------------------
    def add_segment(self, seg: NewSegment, now_us: int) -> Segment:
        """Append to the camera's chain (a v2 link over the whole row); the link is computed inside
        the transaction so two writers can never link to the same predecessor."""
        with self.write() as c:
            seq, prev = next_link(c, seg.camera)
            chain = link_v2(prev, segment_record_v2(seg.camera, seq, seg.start_us, seg.end_us, seg.path, seg.bytes,
                                                    seg.packets, seg.codec, seg.width, seg.height, seg.sha256,
                                                    seg.origin, now_us))
            cur = c.execute(
                "INSERT INTO segments (camera, seq, start_us, end_us, path, bytes, packets, codec, width,"
                " height, sha256, chain, origin, state, created_us) VALUES"
                " (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'stored', ?)",
                (seg.camera, seq, seg.start_us, seg.end_us, seg.path, seg.bytes, seg.packets, seg.codec,
                 seg.width, seg.height, seg.sha256, chain, seg.origin, now_us),
            )
            row_id = cur.lastrowid
            assert row_id is not None
        return Segment(row_id, seg.camera, seq, seg.start_us, seg.end_us, seg.path, seg.bytes, seg.packets,
                       seg.codec, seg.width, seg.height, seg.sha256, chain, seg.origin, "stored", now_us,
                       None, None)

    def _segments(self, sql: str, args: tuple[object, ...]) -> list[Segment]:
        return [segment_from_row(row) for row in self.reader().execute(sql, args)]

    def last_segment(self, camera: str, once: bool = False) -> Segment | None:
        """The camera's newest segment row. `once`: from a thread that asks once in a long while
        (a camera's worker, at its start): on the writer connection, under its lock, rather than
        on a reader connection of its own that the thread would keep (~180 KB each, for
        nothing, on a box with 64 camera threads)."""
        sql = f"SELECT {SEGMENT_COLUMNS} FROM segments WHERE camera=? ORDER BY seq DESC LIMIT 1"
        if once:
            with self._lock:
                row = self._writer.execute(sql, (camera,)).fetchone()
            return segment_from_row(row) if row is not None else None
        rows = self._segments(sql, (camera,))
        return rows[0] if rows else None

    def segment_by_id(self, seg_id: int) -> Segment | None:
        rows = self._segments(f"SELECT {SEGMENT_COLUMNS} FROM segments WHERE id=?", (seg_id,))
        return rows[0] if rows else None

    def segments_in_range(self, camera: str, start_us: int, end_us: int, stored_only: bool = True) -> list[Segment]:
        """Segments overlapping [start_us, end_us), in time order."""
        state = "AND state='stored'" if stored_only else ""
        # Segments are at most an hour long; bounding start from below keeps this an index range scan.
        return self._segments(
            f"SELECT {SEGMENT_COLUMNS} FROM segments WHERE camera=? AND start_us < ? AND start_us >= ?"
            f" AND end_us > ? {state} ORDER BY start_us",
            (camera, end_us, start_us - 2 * HOUR_US, start_us),
        )

    def chain_of(self, camera: str) -> Iterator[Segment]:
        """Every segment row of a camera in chain order, deleted ones included."""
        cur = self.reader().execute(
            f"SELECT {SEGMENT_COLUMNS} FROM segments WHERE camera=? ORDER BY seq", (camera,)
        )
        for row in cur:
            yield Segment(*row)

    def cameras(self) -> list[str]:
        return [r[0] for r in self.reader().execute("SELECT DISTINCT camera FROM segments ORDER BY camera")]

    def paths_of_camera(self, camera: str) -> set[str]:
        return {r[0] for r in self.reader().execute("SELECT path FROM segments WHERE camera=?", (camera,))}

    def set_state(self, seg_id: int, state: str) -> None:
        with self.write() as c:
            c.execute("UPDATE segments SET state=? WHERE id=?", (state, seg_id))

    # -- gaps -----------------------------------------------------------------------------------
    def open_gap(self, camera: str, start_us: int, reason: str, detail: str = "") -> int:
        with self.write() as c:
            cur = c.execute(
                "INSERT INTO gaps (camera, start_us, end_us, reason, detail) VALUES (?, ?, NULL, ?, ?)",
                (camera, start_us, reason, detail),
            )
            assert cur.lastrowid is not None
            chain_gap_open(c, cur.lastrowid, camera, start_us)
            return cur.lastrowid

    def update_gap(self, gap_id: int, reason: str, detail: str) -> None:
        with self.write() as c:
            # Only while open: the closing link covers the final reason and detail.
            c.execute("UPDATE gaps SET reason=?, detail=? WHERE id=? AND end_us IS NULL", (reason, detail, gap_id))

    def close_gap(self, gap_id: int, end_us: int) -> None:
        with self.write() as c:
            c.execute("UPDATE gaps SET end_us=? WHERE id=? AND end_us IS NULL", (end_us, gap_id))
            chain_gap_close(c, gap_id)

    def close_open_gaps(self, camera: str, end_us: int) -> None:
        with self.write() as c:
            ids = [r[0] for r in c.execute("SELECT id FROM gaps WHERE camera=? AND end_us IS NULL ORDER BY id",
                                           (camera,))]
            c.execute("UPDATE gaps SET end_us=max(start_us, ?) WHERE camera=? AND end_us IS NULL", (end_us, camera))
            for gap_id in ids:
                chain_gap_close(c, gap_id)

    def gaps(self, camera: str, since_us: int = 0, until_us: int | None = None) -> list[Gap]:
        until = until_us if until_us is not None else 2**62
        rows = self.reader().execute(
            "SELECT id, camera, start_us, end_us, reason, detail FROM gaps WHERE camera=?"
            " AND (end_us IS NULL OR end_us >= ?) AND start_us < ? ORDER BY start_us",
            (camera, since_us, until),
        )
        return [Gap(*r) for r in rows]

    # -- anomalies ------------------------------------------------------------------------------
    def add_anomaly(self, time_us: int, kind: str, camera: str | None, path: str | None, detail: str) -> None:
        with self.write() as c:
            c.execute(
                "INSERT INTO anomalies (time_us, camera, kind, path, detail) VALUES (?, ?, ?, ?, ?)",
                (time_us, camera, kind, path, detail),
            )

    def anomalies(self, limit: int = 100) -> list[tuple[int, str | None, str, str | None, str]]:
        return list(self.reader().execute(
            "SELECT time_us, camera, kind, path, detail FROM anomalies ORDER BY id DESC LIMIT ?", (limit,)
        ))

    # -- startup recovery -----------------------------------------------------------------------
    def segments_in_state(self, state: str) -> list[Segment]:
        """Rows of every camera in one state (recovery finishes the 'deleting' ones); few by design."""
        return self._segments(f"SELECT {SEGMENT_COLUMNS} FROM segments WHERE state=? ORDER BY id", (state,))

    def finish_deletion(self, seg_id: int, deleted_us: int, reason: str) -> None:
        """Last phase of a two-phase delete: the file is gone, the row stays in the chain."""
        with self.write() as c:
            c.execute(
                "UPDATE segments SET state='deleted', deleted_us=?, delete_reason=coalesce(delete_reason, ?)"
                " WHERE id=?",
                (deleted_us, reason, seg_id),
            )

    def open_gaps(self) -> list[Gap]:
        """Gaps of every camera still open (end_us NULL)."""
        rows = self.reader().execute(
            "SELECT id, camera, start_us, end_us, reason, detail FROM gaps WHERE end_us IS NULL ORDER BY id"
        )
        return [Gap(*r) for r in rows]
