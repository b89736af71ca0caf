"""Running per-camera totals of stored footage, so status never aggregates millions of rows.

Loaded once by one aggregate query, then kept current by the segment-close callback and by each
retention deletion. Rows committed before the load are in the aggregate; the callback ignores
segment ids at or below the highest id the load saw, so a close racing the load counts once.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Protocol

from storage.index import Index, Segment

#: Indexes the retention code relies on (kept here, next to the queries that need them).


class _Removed(Protocol):
    """What `removed` reads of a deleted segment (a Segment, or a sweep's SweepRow)."""
    @property
    def id(self) -> int: ...

    @property
    def camera(self) -> str: ...

    @property
    def bytes(self) -> int: ...


@dataclass(frozen=True)
class CameraTotals:
    camera: str
    bytes: int = 0
    segments: int = 0
    oldest_start_us: int | None = None
    newest_end_us: int | None = None


class StoreTotals:
    def __init__(self, index: Index) -> None:
        self.index = index
        self._lock = threading.Lock()  # short sections only: capture threads take it on every close
        self._load_lock = threading.Lock()
        self._cams: dict[str, CameraTotals] = {}
        self._loaded_max_id: int | None = None
        self._pending: list[Segment] = []  # closes that arrived before the load finished

    def load(self) -> None:
        """The one aggregate query (seconds on millions of rows): run it off the capture threads."""
        with self._load_lock:
            if self._loaded_max_id is not None:
                return
            conn = self.index.reader()
            # One read transaction, so the aggregate and the max id describe the same snapshot.
            conn.execute("BEGIN")
            try:
                rows = conn.execute(
                    "SELECT camera, count(*), sum(bytes), min(start_us), max(end_us) FROM segments"
                    " WHERE state='stored' GROUP BY camera"
                ).fetchall()
                max_id = conn.execute("SELECT coalesce(max(id), 0) FROM segments").fetchone()[0]
            finally:
                conn.execute("COMMIT")
            with self._lock:
                self._cams = {r[0]: CameraTotals(r[0], int(r[2] or 0), int(r[1]), r[3], r[4]) for r in rows}
                self._loaded_max_id = int(max_id)
                pending, self._pending = self._pending, []
                for seg in pending:
                    self._add_locked(seg)

    def added(self, seg: Segment) -> None:
        with self._lock:
            if self._loaded_max_id is None:
                self._pending.append(seg)
            else:
                self._add_locked(seg)

    def _add_locked(self, seg: Segment) -> None:
        assert self._loaded_max_id is not None
        if seg.id <= self._loaded_max_id:
            return
        t = self._cams.get(seg.camera, CameraTotals(seg.camera))
        self._cams[seg.camera] = CameraTotals(
            seg.camera, t.bytes + seg.bytes, t.segments + 1,
            seg.start_us if t.oldest_start_us is None else min(t.oldest_start_us, seg.start_us),
            seg.end_us if t.newest_end_us is None else max(t.newest_end_us, seg.end_us),
        )

    def removed(self, segs: Iterable[_Removed], refresh_oldest: bool = True) -> None:
        """Take deleted segments out of the totals. With `refresh_oldest=False` only the counts and
        bytes change: the caller (a retention sweep) calls `refresh_oldest` once for the cameras it
        touched, instead of one query per camera per batch."""
        if self._loaded_max_id is None:
            # Not loaded yet: the aggregate, when it runs, leaves deleted rows out; only the closes
            # waiting for it must forget them. Never load here (seconds on a 30-day store).
            ids = {s.id for s in segs}
            with self._lock:
                self._pending = [s for s in self._pending if s.id not in ids]
            return
        gone: dict[str, tuple[int, int]] = {}
        for seg in segs:
            n, b = gone.get(seg.camera, (0, 0))
            gone[seg.camera] = (n + 1, b + seg.bytes)
        touched: set[str] = set()
        with self._lock:
            for cam, (n, b) in gone.items():
                t = self._cams.get(cam)
                if t is None:
                    continue
                self._cams[cam] = replace(t, bytes=max(0, t.bytes - b), segments=max(0, t.segments - n))
                touched.add(cam)
        if refresh_oldest:
            self.refresh_oldest(touched)

    def refresh_oldest(self, cameras: Iterable[str]) -> None:
        """Re-read the oldest stored start of each camera (after deletions): one index seek each."""
        if self._loaded_max_id is None:
            return  # the load reads the oldest itself
        conn = self.index.reader()
        for cam in cameras:
            # INDEXED BY: left to itself SQLite may pick segments_camera_start and walk every deleted
            # row of the camera (they stay forever) before the first stored one.
            row = conn.execute(
                "SELECT min(start_us) FROM segments INDEXED BY segments_stored_camera"
                " WHERE camera=? AND state='stored'", (cam,)
            ).fetchone()
            with self._lock:
                t = self._cams.get(cam)
                if t is None:
                    continue
                oldest = row[0] if row else None
                self._cams[cam] = replace(t, oldest_start_us=oldest,
                                          newest_end_us=t.newest_end_us if oldest is not None else None)

    @property
    def loaded(self) -> bool:
        return self._loaded_max_id is not None

    def peek(self) -> tuple[dict[str, CameraTotals], bool]:
        """(totals, loaded) without ever loading: before the load, only the closes seen so far."""
        with self._lock:
            if self._loaded_max_id is not None:
                return dict(self._cams), True
            out: dict[str, CameraTotals] = {}
            for seg in self._pending:
                t = out.get(seg.camera, CameraTotals(seg.camera))
                out[seg.camera] = CameraTotals(
                    seg.camera, t.bytes + seg.bytes, t.segments + 1,
                    seg.start_us if t.oldest_start_us is None else min(t.oldest_start_us, seg.start_us),
                    seg.end_us if t.newest_end_us is None else max(t.newest_end_us, seg.end_us))
            return out, False

    def snapshot(self) -> dict[str, CameraTotals]:
        if self._loaded_max_id is None:
            self.load()
        with self._lock:
            return dict(self._cams)

    @property
    def bytes(self) -> int:
        """Never loads (capture threads read it): before the load, what is known so far."""
        with self._lock:
            return sum(t.bytes for t in self._cams.values()) + sum(s.bytes for s in self._pending)
