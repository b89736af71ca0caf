"""Chain v2 in the index: the migration, the per-camera head, and the gap links.

`migrate_chain_v2(conn)` is migration 2 of storage/schema.py. It adds the gap link columns and
`chain_v2_start`, which records for every camera that already had (v1) segments the seq at
which its v2 links begin; a camera absent from it is v2 from seq 0. The table is append-only
(triggers), and every signed checkpoint repeats each camera's v2 start, so moving the mark to
pass v2 rows off as v1 is caught against an archive.
"""

from __future__ import annotations

import sqlite3
import time

from storage.chain import GENESIS, gap_close_record, gap_open_record, link_v2

#: One statement each: they run inside one transaction (executescript would commit in between).
CHAIN_V2_DDL = (
    "ALTER TABLE gaps ADD COLUMN open_seq INTEGER",
    "ALTER TABLE gaps ADD COLUMN open_chain TEXT",
    "ALTER TABLE gaps ADD COLUMN close_seq INTEGER",
    "ALTER TABLE gaps ADD COLUMN close_chain TEXT",
    "CREATE UNIQUE INDEX gaps_open_link ON gaps (camera, open_seq) WHERE open_seq IS NOT NULL",
    "CREATE UNIQUE INDEX gaps_close_link ON gaps (camera, close_seq) WHERE close_seq IS NOT NULL",
    "CREATE TABLE chain_v2_start (camera TEXT PRIMARY KEY, seq INTEGER NOT NULL, time_us INTEGER NOT NULL)",
    "CREATE TRIGGER chain_v2_start_no_update BEFORE UPDATE ON chain_v2_start"
    " BEGIN SELECT RAISE(ABORT, 'chain_v2_start is append-only'); END",
    "CREATE TRIGGER chain_v2_start_no_delete BEFORE DELETE ON chain_v2_start"
    " BEGIN SELECT RAISE(ABORT, 'chain_v2_start is append-only'); END",
)


def has_chain_v2(conn: sqlite3.Connection) -> bool:
    return "open_seq" in {str(r[1]) for r in conn.execute("PRAGMA table_info(gaps)")}


def migrate_chain_v2(conn: sqlite3.Connection) -> None:
    """Migration 2 (storage/schema.py runs it inside its transaction): the gap link columns and
    `chain_v2_start`, marking for each camera with (v1) segments where its v2 links begin.
    Idempotent: two processes opening an old store at once both run the migration (the second
    after the first committed), and the second must find it done."""
    if has_chain_v2(conn):
        return
    for stmt in CHAIN_V2_DDL:
        conn.execute(stmt)
    conn.execute("INSERT INTO chain_v2_start (camera, seq, time_us)"
                 " SELECT camera, max(seq) + 1, ? FROM segments GROUP BY camera", (time.time_ns() // 1000,))


def v2_starts(conn: sqlite3.Connection) -> dict[str, int]:
    """Camera → first v2 seq, for the cameras that had v1 links (others: 0). Empty on a v1 store."""
    if not has_chain_v2(conn):
        return {}
    return {str(c): int(s) for c, s in conn.execute("SELECT camera, seq FROM chain_v2_start")}


def chain_head(conn: sqlite3.Connection, camera: str) -> tuple[int, str] | None:
    """(seq, link) of the camera's newest link, segment or gap; None before its first."""
    heads = [conn.execute("SELECT seq, chain FROM segments WHERE camera=? ORDER BY seq DESC LIMIT 1",
                          (camera,)).fetchone()]
    if has_chain_v2(conn):
        heads.append(conn.execute("SELECT open_seq, open_chain FROM gaps WHERE camera=? AND open_seq IS NOT NULL"
                                  " ORDER BY open_seq DESC LIMIT 1", (camera,)).fetchone())
        heads.append(conn.execute("SELECT close_seq, close_chain FROM gaps WHERE camera=? AND close_seq IS NOT"
                                  " NULL ORDER BY close_seq DESC LIMIT 1", (camera,)).fetchone())
    found = [(int(h[0]), str(h[1])) for h in heads if h is not None]
    return max(found) if found else None


def next_link(conn: sqlite3.Connection, camera: str) -> tuple[int, str]:
    """(seq, previous link) for the camera's next link."""
    head = chain_head(conn, camera)
    return (0, GENESIS) if head is None else (head[0] + 1, head[1])


def link_at(conn: sqlite3.Connection, camera: str, seq: int) -> str | None:
    """The stored link at a position (a segment's or a gap's)."""
    if seq < 0:
        return GENESIS
    row = conn.execute("SELECT chain FROM segments WHERE camera=? AND seq=?", (camera, seq)).fetchone()
    if row is None and has_chain_v2(conn):
        row = conn.execute("SELECT open_chain FROM gaps WHERE camera=? AND open_seq=? UNION ALL"
                           " SELECT close_chain FROM gaps WHERE camera=? AND close_seq=?",
                           (camera, seq, camera, seq)).fetchone()
    return None if row is None else str(row[0])


def chain_gap_open(conn: sqlite3.Connection, gap_id: int, camera: str, start_us: int) -> None:
    """Inside the writer's transaction that inserted the gap row."""
    seq, prev = next_link(conn, camera)
    link = link_v2(prev, gap_open_record(camera, seq, gap_id, start_us))
    conn.execute("UPDATE gaps SET open_seq=?, open_chain=? WHERE id=?", (seq, link, gap_id))


def chain_gap_close(conn: sqlite3.Connection, gap_id: int) -> None:
    """Inside the writer's transaction that set the gap's end: its closing link (once)."""
    row = conn.execute("SELECT camera, start_us, end_us, reason, detail, open_seq, close_seq FROM gaps WHERE id=?",
                       (gap_id,)).fetchone()
    if row is None or row[2] is None or row[6] is not None or row[5] is None:
        return  # not closed, already linked, or a gap from before chain v2 (never linked)
    camera, start_us, end_us, reason, detail, open_seq = row[:6]
    seq, prev = next_link(conn, camera)
    link = link_v2(prev, gap_close_record(camera, seq, gap_id, open_seq, start_us, end_us, reason, detail))
    conn.execute("UPDATE gaps SET close_seq=?, close_chain=? WHERE id=?", (seq, link, gap_id))
