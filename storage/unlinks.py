"""The files of segments retention deleted: unlinked off the index lock, their batches listed until
the unlinks are durable, and what a crash left finished by startup recovery.

A sweep batch's register entry, its rows' 'deleted' marks and its id in the list (meta
`UNLINKING_META`) commit in one transaction (storage/retention.py). The files go after; the id
leaves the list once they are gone and their directories fsynced. So after a crash every row marked
'deleted' whose file may remain is named by a listed entry, and `finish_unlinks` removes exactly
those files: never one of a stored segment.
"""

from __future__ import annotations

import json
import os
import sqlite3
from pathlib import Path
from typing import Protocol, TypeVar

from storage.delete_record import runs_in
from storage.fsutil import fsync_dir
from storage.store import SegmentStore


class _HasPath(Protocol):
    @property
    def path(self) -> str: ...


_Row = TypeVar("_Row", bound=_HasPath)

#: Meta key: JSON list of the register entries (ids) whose segments' files may not all be unlinked.
UNLINKING_META = "retention.unlinking"


def unlink_all(root: str, segs: list[_Row]) -> list[tuple[_Row, OSError]]:
    """Unlink the segments' files (already gone is fine); the ones that failed, with why."""
    failed: list[tuple[_Row, OSError]] = []
    for seg in segs:
        try:
            os.unlink(root + seg.path)  # plain strings: pathlib per segment was a third of the cost
        except FileNotFoundError:
            pass
        except OSError as exc:
            failed.append((seg, exc))
    return failed


def listed(c: sqlite3.Connection) -> list[int]:
    row = c.execute("SELECT value FROM meta WHERE key=?", (UNLINKING_META,)).fetchone()
    return [int(i) for i in json.loads(row[0])] if row is not None else []


def set_listed(c: sqlite3.Connection, ids: list[int]) -> None:
    if ids:
        c.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (UNLINKING_META, json.dumps(ids)))
    else:
        c.execute("DELETE FROM meta WHERE key=?", (UNLINKING_META,))


def finish_unlinks(store: SegmentStore) -> tuple[int, int]:
    """Startup recovery: remove what is left of the files of the batches a sweep recorded and
    marked but did not finish unlinking (a crash, or an unlink that failed). Returns (files
    removed, files already gone)."""
    index = store.index
    ids = listed(index.reader())
    if not ids:
        return 0, 0
    removed = absent = 0
    dirs: set[Path] = set()
    r = index.reader()
    for entry_id in ids:
        row = r.execute("SELECT detail FROM register WHERE id=?", (entry_id,)).fetchone()
        for run in runs_in(json.loads(row[0])) if row is not None else ():
            # Only marked rows (the batch skipped the others): never remove a stored segment's file.
            for (rel,) in r.execute("SELECT path FROM segments WHERE camera=? AND seq BETWEEN ? AND ?"
                                    " AND state='deleted'", (run.camera, run.first, run.last)).fetchall():
                path = store.layout.root / rel
                try:
                    path.unlink()
                except FileNotFoundError:
                    absent += 1
                    continue
                removed += 1
                dirs.add(path.parent)
    for d in dirs:
        fsync_dir(d)
    with index.write() as c:
        set_listed(c, [i for i in listed(c) if i not in set(ids)])
    return removed, absent
