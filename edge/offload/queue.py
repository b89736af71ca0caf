"""The offload queue: one row per object to copy to the bucket, in the index database.

A row is written when something becomes worth keeping off the box (a segment under a hold, a file
of an approved export, a checkpoint record) and changes state only forward: pending → done, or
pending → gone (its source vanished before it could be copied). Because the queue is in the
index, an upload interrupted by a crash or a restart is simply pending again at the next start.
A `done` row whose retain-until grew (a longer hold on the same footage) becomes `extend`: its
locked version's retention is extended, never shortened.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

from storage.index import Index

# The table, `offload_queue`, is migration 2 of storage/schema.py.

COLUMNS = ("id, kind, source, key, path, body, bytes, expected_sha256, retain_until_us, queued_us, state, attempts,"
           " next_attempt_us, last_error, done_us, sha256, version_id, locked_until_us, in_flight")


@dataclass(frozen=True)
class Item:
    id: int
    kind: str
    source: str
    key: str
    path: str | None
    body: bytes | None
    size: int
    expected_sha256: str | None
    retain_until_us: int
    queued_us: int
    state: str
    attempts: int
    next_attempt_us: int
    last_error: str
    done_us: int | None
    sha256: str | None
    version_id: str | None
    locked_until_us: int | None
    in_flight: int


@dataclass(frozen=True)
class NewItem:
    kind: str
    source: str
    key: str
    size: int
    retain_until_us: int
    path: str | None = None
    body: bytes | None = None
    expected_sha256: str | None = None


def backoff_us(attempts: int, max_seconds: float, base_seconds: float = 2.0) -> int:
    """Exponential backoff with jitter: 2 s, 4 s, 8 s, ... up to `max_seconds`."""
    delay = min(max_seconds, base_seconds * 2 ** max(0, attempts - 1))
    return int(delay * random.uniform(0.8, 1.0) * 1_000_000)


class OffloadQueue:
    def __init__(self, index: Index) -> None:
        self.index = index

    def add(self, items: list[NewItem], now_us: int) -> None:
        """Queue new objects; an object already queued keeps its row, its retain-until only grows."""
        with self.index.write() as c:
            for it in items:
                c.execute(
                    "INSERT INTO offload_queue (kind, source, key, path, body, bytes, expected_sha256,"
                    " retain_until_us, queued_us, next_attempt_us) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
                    " ON CONFLICT (source) DO UPDATE SET"
                    "  state = CASE WHEN state = 'done' AND excluded.retain_until_us > retain_until_us"
                    "          THEN 'extend' ELSE state END,"
                    "  next_attempt_us = CASE WHEN state = 'done' AND excluded.retain_until_us > retain_until_us"
                    "          THEN excluded.next_attempt_us ELSE next_attempt_us END,"
                    "  retain_until_us = max(retain_until_us, excluded.retain_until_us)",
                    (it.kind, it.source, it.key, it.path, it.body, it.size, it.expected_sha256, it.retain_until_us,
                     now_us, now_us))

    def add_segments_of_hold(self, camera: str | None, start_us: int, end_us: int, retain_until_us: int,
                             key_prefix: str, now_us: int) -> None:
        """Every stored segment a hold covers, in one statement (a two-year hold covers many)."""
        # Looked up on a reader first (WAL: it never blocks the capture threads' commits); the write
        # lock is taken only when there is something new to queue.
        todo = self.index.reader().execute(
            "SELECT 1 FROM segments WHERE state = 'stored' AND (? IS NULL OR camera = ?) AND start_us < ?"
            " AND end_us > ? AND NOT EXISTS (SELECT 1 FROM offload_queue q WHERE q.source = 'segment:' || segments.id"
            " AND q.retain_until_us >= ?) LIMIT 1", (camera, camera, end_us, start_us, retain_until_us)).fetchone()
        if todo is None:
            return
        with self.index.write() as c:
            c.execute(
                "INSERT INTO offload_queue (kind, source, key, path, bytes, expected_sha256, retain_until_us,"
                " queued_us, next_attempt_us)"
                " SELECT 'segment', 'segment:' || id, ? || path, path, bytes, sha256, ?, ?, ? FROM segments"
                " WHERE state = 'stored' AND (? IS NULL OR camera = ?) AND start_us < ? AND end_us > ?"
                # Rows already queued with this lock or longer are skipped, so a steady state writes nothing
                # (the write lock is the capture threads' too).
                "  AND NOT EXISTS (SELECT 1 FROM offload_queue q WHERE q.source = 'segment:' || segments.id"
                "                  AND q.retain_until_us >= ?)"
                " ON CONFLICT (source) DO UPDATE SET"
                "  state = CASE WHEN state = 'done' AND excluded.retain_until_us > retain_until_us"
                "          THEN 'extend' ELSE state END,"
                "  next_attempt_us = CASE WHEN state = 'done' AND excluded.retain_until_us > retain_until_us"
                "          THEN excluded.next_attempt_us ELSE next_attempt_us END,"
                "  retain_until_us = max(retain_until_us, excluded.retain_until_us)",
                (key_prefix, retain_until_us, now_us, now_us, camera, camera, end_us, start_us, retain_until_us))

    def due(self, now_us: int, limit: int = 50) -> list[Item]:
        rows = self.index.reader().execute(
            f"SELECT {COLUMNS} FROM offload_queue WHERE state IN ('pending', 'extend') AND next_attempt_us <= ?"
            " ORDER BY next_attempt_us, id LIMIT ?", (now_us, limit))
        return [Item(*r) for r in rows]

    def get(self, item_id: int) -> Item | None:
        r = self.index.reader().execute(f"SELECT {COLUMNS} FROM offload_queue WHERE id=?", (item_id,)).fetchone()
        return Item(*r) if r else None

    def by_source(self, source: str) -> Item | None:
        r = self.index.reader().execute(f"SELECT {COLUMNS} FROM offload_queue WHERE source=?", (source,)).fetchone()
        return Item(*r) if r else None

    def sending(self, item: Item) -> None:
        """Just before the PUT: a crash from here on may leave a stored version the queue did not see."""
        with self.index.write() as c:
            c.execute("UPDATE offload_queue SET in_flight=1 WHERE id=?", (item.id,))

    def done(self, item: Item, now_us: int, sha256: str, version_id: str, locked_until_us: int) -> None:
        with self.index.write() as c:
            c.execute("UPDATE offload_queue SET state='done', done_us=?, sha256=?, version_id=?, locked_until_us=?,"
                      " last_error='', attempts=attempts+1, in_flight=0 WHERE id=?",
                      (now_us, sha256, version_id, locked_until_us, item.id))

    def failed(self, item: Item, now_us: int, error: str, max_backoff_seconds: float) -> None:
        attempts = item.attempts + 1
        with self.index.write() as c:
            c.execute("UPDATE offload_queue SET attempts=?, last_error=?, next_attempt_us=?, in_flight=0 WHERE id=?",
                      (attempts, error[:500], now_us + backoff_us(attempts, max_backoff_seconds), item.id))

    def gone(self, item: Item, error: str) -> None:
        with self.index.write() as c:
            c.execute("UPDATE offload_queue SET state='gone', last_error=? WHERE id=?", (error[:500], item.id))

    def max_checkpoint_id(self) -> int:
        r = self.index.reader().execute(
            "SELECT coalesce(max(CAST(substr(source, 12) AS INTEGER)), 0) FROM offload_queue"
            " WHERE kind='checkpoint'").fetchone()
        return int(r[0])

    def summary(self, now_us: int) -> dict[str, Any]:
        """Counts by kind and state, what waits and since when, the newest errors."""
        conn = self.index.reader()
        by: dict[str, dict[str, int]] = {}
        for kind, state, n in conn.execute("SELECT kind, state, count(*) FROM offload_queue GROUP BY kind, state"):
            by.setdefault(str(kind), {})[str(state)] = int(n)
        waiting = conn.execute(
            "SELECT count(*), coalesce(sum(bytes), 0), min(queued_us) FROM offload_queue"
            " WHERE state IN ('pending', 'extend')").fetchone()
        pending_by_kind = {str(k): int(n) for k, n in conn.execute(
            "SELECT kind, count(*) FROM offload_queue WHERE state IN ('pending', 'extend') GROUP BY kind")}
        done = conn.execute("SELECT count(*), coalesce(sum(bytes), 0), max(done_us) FROM offload_queue"
                            " WHERE done_us IS NOT NULL").fetchone()
        errors = [{"source": s, "attempts": int(a), "error": e} for s, a, e in conn.execute(
            "SELECT source, attempts, last_error FROM offload_queue WHERE state IN ('pending', 'extend', 'gone')"
            " AND last_error != '' ORDER BY next_attempt_us DESC LIMIT 5")]
        oldest = waiting[2]
        return {
            "by_kind": by,
            "pending_objects": int(waiting[0]),
            "pending_by_kind": pending_by_kind,
            "pending_bytes": int(waiting[1]),
            "oldest_pending_us": int(oldest) if oldest is not None else None,
            "lag_seconds": max(0.0, (now_us - int(oldest)) / 1e6) if oldest is not None else 0.0,
            "uploaded_objects": int(done[0]),
            "uploaded_bytes": int(done[1]),
            "last_success_us": int(done[2]) if done[2] is not None else None,
            "recent_errors": errors,
        }
