"""The retention sweep: a ring buffer that never deletes under the legal floor or under a hold.

Whole closed segments go, oldest END first across cameras, read from the partial index on stored
rows page by page, so a sweep costs O(segments it deletes) (plus the held ones it steps over),
never O(all rows). It stops at the first segment younger than the floor; segments under a hold or
pinned by a reader are skipped. Only `overwrite_oldest`, and only when the caller says the disk is
otherwise full, may go under the floor, and each such deletion is a recorded `floor_breach`.

Deletion is two-phase (as Kafka deletes log segments):
  1. per batch (BATCH segments), in ONE transaction, while readers cannot pin (storage/pins.py):
     one `retention_delete` (or `floor_breach`) entry in the hash-chained access register with the
     reason, the count, and per camera the seq runs deleted with the chain value of each run's last
     segment (detail `{"reason", "count", "runs": [[camera, first_seq, last_seq, last_chain], ...]}`,
     storage/delete_record.py; older entries name every segment in `segments`); the rows go to
     'deleted' with the time; and the entry's id joins the list of batches whose files may still exist
     (meta `UNLINKING_META`). Then the batch's files are unlinked, by a thread while the next
     batch is marked, outside the index lock;
  2. per set of batches (up to FINISH segments, and at the end of the sweep): each directory the
     set unlinked from is fsynced once (not once per batch: a day's sweep touches the same day
     directory of every camera in every batch), then the set's ids leave the list in one small
     transaction. Emptied day directories of past days are removed after that.
One row update per run, not two per segment (a 'deleting' mark and then a 'deleted' one): at 30 days x
64 cameras the second pass through the indexes was a fifth of a one-day sweep. The rows stay in
the chain, so `edge verify` still checks every link and can tell "deleted by retention" (a
register record exists) from "missing". The register entry commits with the rows: a crash before
leaves rows 'stored' (swept again), never a deletion without a record; a crash after leaves files
of 'deleted' rows, which startup recovery removes through the list (`finish_unlinks`). Rows in the
older 'deleting' state (stores written before this) are finished by recovery as before.
"""

from __future__ import annotations

import gc
import logging
import os
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from storage import clock_events
from storage.clock import DAY_US, Clock
from storage.delete_record import deletion_counters, detail_for, runs_of
from storage.fsutil import fsync_dir
from storage.holds import Hold, HoldStore
from storage.index import SWEEP_COLUMNS, SweepRow
from storage.layout import day_name
from storage.register import SYSTEM, AccessRegister
from storage.store import SegmentStore
from storage.totals import StoreTotals
from storage.unlinks import listed, set_listed, unlink_all

log = logging.getLogger(__name__)

#: Rows read by the first page of the oldest-first scan, and at most per page after it.
FIRST_PAGE = 256
PAGE = 10_000
#: Segments per register entry, and per transaction: a one-day sweep of 64 cameras is 46 commits.
BATCH = 2000
#: At most this many deleted segments wait for their directory fsyncs and for their batches to
#: leave the unlink list (their rows are 'deleted' already; ~200 bytes each in memory).
FINISH = 50_000


@dataclass
class SweepResult:
    deleted: int = 0
    freed_bytes: int = 0
    breaches: int = 0
    skipped_held: int = 0
    skipped_pinned: int = 0
    failed: int = 0
    stopped: str = "nothing_to_do"  # floor | need_met | no_more_segments | nothing_to_do
    seconds: float = 0.0
    reasons: dict[str, int] = field(default_factory=dict)
    #: Rows the oldest-first scan read (held rows at its head are skipped without reading them
    #: again while the holds in force stay the same).
    rows_read: int = 0


@dataclass
class _Unfinished:
    """Batches whose files are unlinked but whose directories are not yet fsynced (their register
    entries still in the `UNLINKING_META` list)."""
    batches: list[list[SweepRow]] = field(default_factory=list)
    #: Batches marked whose unlinks run in `unlinker`: (future, segments, [entry id], kind).
    unlinking: list[tuple[Future[list[tuple[SweepRow, OSError]]], list[SweepRow], list[int], tuple[str, str]]] = \
        field(default_factory=list)
    unlinker: ThreadPoolExecutor | None = None
    #: Register entry ids of those batches whose files all went (a failed unlink keeps its batch's
    #: id in the list, for recovery to retry).
    entries: list[int] = field(default_factory=list)
    count: int = 0
    dirs: set[str] = field(default_factory=set)
    #: Per camera, the day directory of its latest deleted segment (and that segment's start): the
    #: sweep may still delete there.
    current: dict[str, tuple[str, int]] = field(default_factory=dict)
    #: Day directories the sweep moved past (for a camera): candidates for removal when empty.
    passed: set[str] = field(default_factory=set)


@contextmanager
def _no_cyclic_gc() -> Iterator[None]:
    """The cyclic collector off for one sweep: a big sweep allocates a few hundred thousand objects
    (rows, segments, parameters), none in a cycle, and each full collection they trigger walks the
    daemon's whole heap. Reference counting frees them as before; the collector runs again after."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def _held(seg: SweepRow, holds: list[Hold]) -> bool:
    return any(h.covers(seg.camera, seg.start_us, seg.end_us) for h in holds)


class RetentionPolicy(Protocol):
    """The retention rules the engine applies (`edge.config.RetentionConfig` satisfies it)."""

    @property
    def min_days(self) -> float: ...

    @property
    def max_days(self) -> float | None: ...


class RetentionEngine:
    def __init__(self, store: SegmentStore, holds: HoldStore, register: AccessRegister, cfg: RetentionPolicy,
                 totals: StoreTotals | None = None, clock: Clock | None = None) -> None:
        self.store = store
        self.index = store.index
        self.holds = holds
        self.register = register
        self.cfg = cfg
        self.clock = clock or store.clock
        self.totals = totals if totals is not None else StoreTotals(store.index)
        self.deleted_total = 0
        self.breaches_total = 0
        #: Called with each deleted batch (once its unlinks are durable), e.g. to update metrics.
        self.on_deleted: Callable[[list[SweepRow]], None] | None = None
        #: (holds in force, (end_us, id) of the last row of the leading run of held rows): the
        #: next sweep starts after it instead of re-reading rows a hold keeps (possibly for years).
        self._held_head: tuple[tuple[object, ...], tuple[int, int]] | None = None

    def floor_cutoff(self, now_us: int) -> int:
        """A segment may go (without a breach) only when its END is at or before this. Forward steps
        of the wall clock in the floor's window move it back by their size: footage stamped before
        such a step is younger than its times say (storage/clock_events.py)."""
        window = int(self.cfg.min_days * DAY_US)
        return now_us - window - clock_events.forward_slack_us(self.index, now_us, window)

    def max_cutoff(self, now_us: int) -> int | None:
        return None if self.cfg.max_days is None else now_us - int(self.cfg.max_days * DAY_US)

    def _pages(self, after: tuple[int, int] = (-(2**62), -1)) -> Iterator[SweepRow]:
        end, sid = after
        # Pages grow: most sweeps stop within their first rows (the floor), and a big one reads
        # few, big pages (each query after a commit re-reads its pages from the OS: with 2,000-row
        # pages a one-day sweep spent a third of its time here).
        size = FIRST_PAGE
        while True:
            rows = self.index.reader().execute(
                f"SELECT {SWEEP_COLUMNS} FROM segments WHERE state='stored' AND (end_us, id) > (?, ?)"
                " ORDER BY end_us, id LIMIT ?", (end, sid, size),
            ).fetchall()
            if not rows:
                return
            yield from map(SweepRow._make, rows)
            if len(rows) < size:
                return
            end, sid = rows[-1][4], rows[-1][0]
            size = min(size * 4, PAGE)

    def sweep(self, need_bytes: int = 0, reason: str = "high_watermark", allow_breach: bool = False) -> SweepResult:
        """Free at least `need_bytes` within the rules (and delete what passed max_days); with
        `allow_breach`, under the floor too (on_full=overwrite_oldest on a full disk)."""
        with _no_cyclic_gc():
            return self._sweep(need_bytes, reason, allow_breach)

    def _sweep(self, need_bytes: int, reason: str, allow_breach: bool) -> SweepResult:
        t0 = time.monotonic()
        res = SweepResult()
        now = self.clock.now_us()
        floor, oldest_allowed = self.floor_cutoff(now), self.max_cutoff(now)
        holds = self.holds.in_force()  # once per sweep; checked in memory per candidate
        fingerprint = tuple(sorted((h.id, h.camera, h.start_us, h.end_us) for h in holds))
        head = self._held_head
        start = head[1] if head is not None and head[0] == fingerprint else (-(2**62), -1)
        leading = True  # every row read so far was held: the head may move on
        pins = self.store.pins
        batch: list[SweepRow] = []
        batch_kind: tuple[str, str] | None = None
        pending = 0  # bytes in `batch`
        marked = 0  # bytes of the batches marked (their files being unlinked, or gone)
        todo = _Unfinished()
        try:
            for seg in self._pages(start):
                res.rows_read += 1
                if oldest_allowed is not None and seg.end_us <= oldest_allowed:
                    kind = ("retention_delete", "max_days")
                elif marked + pending >= need_bytes:
                    res.stopped = "need_met"
                    break
                elif seg.end_us <= floor:
                    kind = ("retention_delete", reason)
                elif allow_breach:
                    kind = ("floor_breach", f"floor_breach ({reason}, on_full=overwrite_oldest)")
                else:
                    res.stopped = "floor"
                    break
                if holds and _held(seg, holds):
                    res.skipped_held += 1
                    if leading:
                        start = (seg.end_us, seg.id)
                    continue
                leading = False
                if pins.maybe_any() and pins.is_pinned(seg.id):  # `claim` decides under the lock
                    res.skipped_pinned += 1
                    continue
                if batch and (kind != batch_kind or len(batch) >= BATCH):
                    marked += self._delete(batch, batch_kind, res, todo)  # type: ignore[arg-type]
                    batch, pending = [], 0
                    if todo.count >= FINISH:
                        self._finish(todo, res, final=False)
                batch.append(seg)
                pending += seg.bytes
                batch_kind = kind
            else:
                res.stopped = "no_more_segments"
            if batch:
                assert batch_kind is not None
                self._delete(batch, batch_kind, res, todo)
        finally:
            # Also when a batch failed: what was already unlinked is made durable and marked.
            self._finish(todo, res, final=True)
        self._held_head = (fingerprint, start)
        if res.deleted == 0 and res.stopped == "need_met" and need_bytes == 0:
            res.stopped = "nothing_to_do"
        res.seconds = time.monotonic() - t0
        return res

    def _delete(self, batch: list[SweepRow], kind: tuple[str, str], res: SweepResult, todo: _Unfinished) -> int:
        """Phase 1 of one batch, and its unlinks started; `_finish` collects them, fsyncs and takes
        the batch off the unlink list. Returns the bytes of the segments it marked."""
        action, reason = kind

        entry: list[int] = []

        def mark(free: list[SweepRow]) -> None:
            # The record, the rows and the unlink list in ONE transaction (one commit per batch),
            # while no reader can pin one of them. Committed together, a crash leaves all or none.
            now = self.clock.now_us()
            runs = runs_of(free)
            with self.register.transaction() as c:
                e = self.register.append_in(
                    c, SYSTEM, action, cameras=sorted({s.camera for s in free}), subject="retention",
                    purpose=reason, range_start_us=min(s.start_us for s in free),
                    range_end_us=max(s.end_us for s in free),
                    detail=detail_for(reason, free, runs=runs),
                )
                # One statement per run (~64 per batch), not per row (92 160 in a one-day sweep):
                # each run is consecutive seqs of one camera, every one of them in `free`, and
                # (camera, seq) is unique. OR FAIL: a multi-row UPDATE otherwise keeps a statement
                # journal (in a temporary file: 6x the bytes written); a failure still rolls back
                # the whole transaction, the register entry with it.
                cur = c.executemany(
                    "UPDATE OR FAIL segments SET state='deleted', deleted_us=?, delete_reason=?"
                    " WHERE camera=? AND seq BETWEEN ? AND ? AND state='stored'",
                    [(now, reason, r[0], r[1], r[2]) for r in runs])
                if cur.rowcount != len(free):
                    # A row changed state since the scan (quarantined, say): record nothing, delete
                    # nothing; the next sweep reads the rows again.
                    raise RuntimeError(f"retention: {len(free) - cur.rowcount} of {len(free)} segments"
                                       " are no longer stored; batch not deleted")
                set_listed(c, listed(c) + [e.id])
                entry.append(e.id)

        claimed = self.store.pins.claim(batch, lambda s: s.id, mark)
        res.skipped_pinned += len(batch) - len(claimed)
        if not claimed:
            return 0
        # Phase 2: the files, by a thread while this one marks the next batch (unlink is a system
        # call: it does not hold the GIL); their directories are fsynced once per set, in `_finish`.
        if todo.unlinker is None:
            todo.unlinker = ThreadPoolExecutor(1, thread_name_prefix="retention-unlink")
        root = str(self.store.layout.root) + "/"
        todo.unlinking.append((todo.unlinker.submit(unlink_all, root, claimed), claimed, entry, kind))
        todo.count += len(claimed)
        return sum(s.bytes for s in claimed)

    def _collect(self, todo: _Unfinished, res: SweepResult) -> None:
        """The unlinks' outcomes, batch by batch in sweep order: what went, counted; what failed stays
        in the unlink list (its batch's entry) for startup recovery to retry."""
        root = str(self.store.layout.root) + "/"
        unlinking, todo.unlinking = todo.unlinking, []
        for fut, claimed, entry, (action, reason) in unlinking:
            failures = fut.result()
            for seg, exc in failures:
                log.error("retention: cannot remove %s (%s); left for recovery", seg.path, exc)
            res.failed += len(failures)
            if not failures:
                todo.entries.extend(entry)
            failed_ids = {seg.id for seg, _ in failures}
            gone = [seg for seg in claimed if seg.id not in failed_ids] if failed_ids else claimed
            for seg in gone:
                d = (root + seg.path).rpartition("/")[0]
                todo.dirs.add(d)
                prev = todo.current.get(seg.camera)
                if prev is not None and prev[0] != d:
                    todo.passed.add(prev[0])
                todo.current[seg.camera] = (d, seg.start_us)
            if not gone:
                continue
            todo.batches.append(gone)
            self.totals.removed(gone, refresh_oldest=False)  # the oldest: once per set, in `_finish`
            freed = sum(s.bytes for s in gone)
            res.deleted += len(gone)
            res.freed_bytes += freed
            res.reasons[reason] = res.reasons.get(reason, 0) + len(gone)
            self.deleted_total += len(gone)
            if action == "floor_breach":
                res.breaches += len(gone)
                self.breaches_total += len(gone)
                log.error("retention: FLOOR BREACH: deleted %d segment(s) younger than %g days (%d bytes) to"
                          " keep recording (on_full=overwrite_oldest)", len(gone), self.cfg.min_days, freed)
            else:
                log.info("retention: deleted %d segment(s), %d bytes (%s)", len(gone), freed, reason)

    def _finish(self, todo: _Unfinished, res: SweepResult, final: bool) -> None:
        """Make the unlinks of the waiting batches durable (each directory fsynced once), then take
        their entries off the unlink list; then remove the emptied day directories."""
        self._collect(todo, res)
        if final and todo.unlinker is not None:
            todo.unlinker.shutdown()
            todo.unlinker = None
        batches, dirs, entries = todo.batches, todo.dirs, todo.entries
        todo.batches, todo.count, todo.dirs, todo.entries = [], 0, set(), []
        prune, todo.passed = todo.passed, set()
        if final:
            current, todo.current = todo.current, {}
        else:
            current = {}
        for d in dirs:
            if os.path.isdir(d):  # a day directory removed by hand has nothing left to make durable
                fsync_dir(Path(d))
        if entries:
            done = set(entries)
            with self.index.write() as c:
                set_listed(c, [i for i in listed(c) if i not in done])
        self._prune_dirs(prune | self._emptied(current), self.clock.now_us())
        if not batches:
            return
        self.totals.refresh_oldest({s.camera for gone in batches for s in gone})
        if self.on_deleted is not None:
            for gone in batches:
                self.on_deleted(gone)

    def _emptied(self, current: dict[str, tuple[str, int]]) -> set[str]:
        """Of each camera's last day directory, those where the index has no stored segment of that
        camera and day left: a failed rmdir of a big, half-emptied directory costs milliseconds."""
        out: set[str] = set()
        if not current:
            return out
        r = self.index.reader()
        for cam, (d, start_us) in current.items():
            day0 = start_us - start_us % DAY_US  # day directories are UTC days (storage/layout.py)
            left = r.execute(
                "SELECT 1 FROM segments INDEXED BY segments_stored_camera WHERE camera=? AND state='stored'"
                " AND start_us >= ? AND start_us < ? LIMIT 1", (cam, day0, day0 + DAY_US),
            ).fetchone()
            if left is None:
                out.add(d)
        return out

    def _prune_dirs(self, dirs: set[str], now_us: int) -> None:
        # Empty day directories of past days go too; today's and yesterday's may get a new segment.
        # Only directories the sweep moved past, and at its end the last ones it emptied: not every
        # touched directory after every batch (most still hold files then, and a failed rmdir of a
        # big directory is not free).
        recent = {day_name(now_us), day_name(now_us - DAY_US)}
        for d in dirs:
            if os.path.basename(d) in recent:
                continue
            try:
                os.rmdir(d)
            except OSError:
                continue  # not empty
            fsync_dir(Path(d).parent)

    def load_counters(self) -> None:
        self.deleted_total, self.breaches_total = deletion_counters(self.index)

