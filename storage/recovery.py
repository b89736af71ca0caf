"""Startup recovery: bring index and files back into agreement before any capture worker writes.

Run once, at startup, single-threaded. Only the day directories from each camera's last indexed
segment on are listed (a crash can only leave work there), so startup stays fast with millions of
segments; older strays are `edge verify`'s business. Nothing unexplained is ever deleted: it is
moved to `<root>/quarantine/<camera>/` and recorded in the anomalies table.
"""

from __future__ import annotations

import logging
import os
import shutil
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from storage.clock import DAY_US
from storage.fsutil import fsync_dir, make_dirs_durable, rename_durable
from storage.index import NewSegment
from storage.layout import PARTIAL_SUFFIX, SEGMENT_SUFFIX, TMP_SUFFIX, day_name, parse_stem
from storage.salvage import SalvageError, probe, salvage, sha256_file
from storage.store import SegmentStore
from storage.unlinks import finish_unlinks

log = logging.getLogger(__name__)

#: Indexes recovery's startup queries rely on, so they never scan every row of a big store:
#: 'deleting' rows (few by design) and open gaps are found by seeks, not by a full table scan.


@dataclass
class RecoveryReport:
    swept: int = 0  # leftover temporary names removed
    recovered: int = 0  # partials salvaged into 'recovered' segments
    empty: int = 0  # partials without a complete fragment, removed
    adopted: int = 0  # complete files the index did not know yet
    quarantined: int = 0  # unexplained files set aside
    deletions_finished: int = 0  # 'deleting' rows completed
    gaps_closed: int = 0
    failed: int = 0  # candidates left in place after an I/O error (retried at the next start)
    lines: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class _Candidate:
    start_us: int
    path: Path
    partial: bool


class _Recovery:
    def __init__(self, store: SegmentStore) -> None:
        self.store = store
        self.layout = store.layout
        self.index = store.index
        self.report = RecoveryReport()

    def event(self, level: int, line: str) -> None:
        self.report.lines.append(line)
        log.log(level, "recovery: %s", line)

    def anomaly(self, kind: str, camera: str | None, path: Path, detail: str) -> None:
        self.index.add_anomaly(self.store.clock.now_us(), kind, camera, self.layout.relative(path), detail)

    # -- (a) temporary names ----------------------------------------------------------------------
    def sweep(self, dirs: Iterable[Path], recursive: bool) -> None:
        for d in dirs:
            if not d.is_dir():
                continue
            for tmp in sorted(d.rglob("*" + TMP_SUFFIX) if recursive else _tmp_names(d)):
                if not tmp.exists() and not tmp.is_symlink():
                    continue  # inside a temporary directory already removed
                if tmp.is_dir() and not tmp.is_symlink():
                    shutil.rmtree(tmp)
                else:
                    tmp.unlink(missing_ok=True)
                fsync_dir(tmp.parent)
                self.report.swept += 1
                self.event(logging.INFO, f"swept temporary {self.layout.relative(tmp)}")

    # -- (b) files of one camera ------------------------------------------------------------------
    def quarantine(self, camera: str, path: Path, why: str) -> None:
        rel = path.relative_to(self.layout.camera_dir(camera))
        dest = self.layout.quarantine_dir / camera / rel
        n = 0
        while dest.exists() or dest.is_symlink():
            n += 1
            dest = self.layout.quarantine_dir / camera / rel.parent / f"{rel.name}.{n}"
        make_dirs_durable(dest.parent, self.layout.root)
        rename_durable(path, dest)
        self.anomaly("quarantined", camera, path, f"{why}; moved to {self.layout.relative(dest)}")
        self.report.quarantined += 1
        self.event(logging.WARNING, f"{camera}: quarantined {self.layout.relative(path)} ({why})"
                   f" -> {self.layout.relative(dest)}")

    def camera(self, camera: str, day_dirs: list[Path]) -> None:
        last = self.index.last_segment(camera)
        cam_dir = self.layout.camera_dir(camera)
        for entry in sorted(cam_dir.iterdir()) if cam_dir.is_dir() else []:
            if not entry.is_dir() or entry.is_symlink():
                self.quarantine(camera, entry, "not inside a day directory")
        known: set[str] = set()
        if last is not None:
            # Every row whose file can live in the listed day dirs starts on or after the first one.
            since = last.start_us - last.start_us % DAY_US
            # Paths only (whole rows carry hashes and chain values: most of this loop's time otherwise),
            # by a range seek on (camera, start_us).
            known = {r[0] for r in self.index.reader().execute(
                "SELECT path FROM segments WHERE camera=? AND start_us >= ?", (camera, since))}
        by_start: dict[int, _Candidate] = {}
        for day in day_dirs:
            prefix, day_str = self.layout.relative(day) + "/", day.name
            with os.scandir(day) as it:
                entries = sorted(it, key=lambda e: e.name)
            for listed in entries:
                name = listed.name
                # The common case (millions of files over a store's life, a day's worth listed here):
                # an indexed segment in its own day directory. A string compare against the index's
                # paths and the type the directory listing already gave; no stat, no date parsing.
                if (name.endswith(SEGMENT_SUFFIX) and name.startswith(day_str) and prefix + name in known
                        and _plain_file(listed)):
                    continue
                cand = self.classify(camera, day / name, known, last.start_us if last else None)
                if cand is None:
                    continue
                # A salvage interrupted after its rename leaves X.mp4 beside X.mp4.partial (same start);
                # salvaging the partial again reproduces (and replaces) that .mp4.
                if cand.start_us not in by_start or cand.partial:
                    by_start[cand.start_us] = cand
        for cand in sorted(by_start.values(), key=lambda c: c.start_us):
            try:
                self.recover_one(camera, cand)
            except SalvageError as exc:
                self.quarantine(camera, cand.path, str(exc))
            except OSError as exc:
                # Disk full or an I/O error: leave the file for the next start and append nothing
                # after it, so the chain stays in time order.
                self.report.failed += 1
                self.event(logging.ERROR, f"{camera}: could not recover {self.layout.relative(cand.path)}"
                           f" ({exc}); left in place")
                break

    def classify(self, camera: str, path: Path, known: set[str], last_start: int | None) -> _Candidate | None:
        name = path.name
        if path.is_dir() or path.is_symlink():
            self.quarantine(camera, path, "not a regular file")
            return None
        partial = name.endswith(PARTIAL_SUFFIX)
        if not partial and not name.endswith(SEGMENT_SUFFIX):
            self.quarantine(camera, path, "not a segment name")
            return None
        stem = name[: -len(PARTIAL_SUFFIX if partial else SEGMENT_SUFFIX)]
        start = parse_stem(stem)
        final_rel = self.layout.relative(path.with_name(stem + SEGMENT_SUFFIX))
        if start is None:
            self.quarantine(camera, path, "not a segment name")
        elif day_name(start) != path.parent.name:
            self.quarantine(camera, path, "in the wrong day directory")
        elif final_rel in known:
            if partial:  # publish renames the partial away; both cannot exist for an indexed segment
                self.quarantine(camera, path, "partial beside an indexed segment")
        elif last_start is not None and start <= last_start:
            # Appending it would put the chain out of time order, and nothing explains it.
            self.quarantine(camera, path, "not indexed, older than the last indexed segment")
        else:
            return _Candidate(start, path, partial)
        return None

    def recover_one(self, camera: str, cand: _Candidate) -> None:
        rel = self.layout.relative(cand.path)
        if cand.partial:
            res = salvage(cand.path)
            if res.path is None or res.media is None:
                self.report.empty += 1
                self.anomaly("empty_partial", camera, cand.path, "no complete fragment; removed")
                self.event(logging.WARNING, f"{camera}: {rel} held no complete fragment; removed")
                return
            path, sha, size, media, end_us = res.path, res.sha256, res.size, res.media, res.end_us
            origin = "recovered"
            detail = f"{res.fragments} fragment(s) kept, {res.dropped_bytes} bytes dropped"
        else:
            # Crash between rename and index commit: the file is complete, only its row is missing.
            path = cand.path
            media = probe(path)
            sha, size = sha256_file(path)
            end_us = cand.start_us + max(media.duration_us, 1)
            origin, detail = "adopted", "complete file without an index row"
        seg = self.index.add_segment(
            NewSegment(camera, cand.start_us, end_us, self.layout.relative(path), size, media.packets,
                       media.codec, media.width, media.height, sha, origin),
            self.store.clock.now_us(),
        )
        self.anomaly("salvaged" if cand.partial else "adopted", camera, path, detail)
        if cand.partial:
            self.report.recovered += 1
        else:
            self.report.adopted += 1
        self.event(logging.WARNING, f"{camera}: {origin} {seg.path} as #{seg.seq} ({detail};"
                   f" {media.packets} packets, {(end_us - cand.start_us) / 1e6:.3f} s)")

    # -- (c) interrupted deletions, (d) open gaps -------------------------------------------------
    def finish_deletions(self) -> None:
        for seg in self.index.segments_in_state("deleting"):
            path = self.store.path_of(seg)
            present = path.exists()
            if present:
                path.unlink()
                fsync_dir(path.parent)
            self.index.finish_deletion(seg.id, self.store.clock.now_us(), "retention (finished at startup)")
            self.report.deletions_finished += 1
            self.event(logging.INFO, f"{seg.camera}: finished deleting #{seg.seq} {seg.path}"
                       f" ({'file removed' if present else 'file already gone'})")

    def finish_unlinks(self) -> None:
        """Files of rows a sweep marked 'deleted' in the same transaction as its register entry,
        left by a crash before the unlinks were done (storage/unlinks.py)."""
        removed, absent = finish_unlinks(self.store)
        self.report.deletions_finished += removed
        if removed or absent:
            self.event(logging.INFO, f"finished an interrupted retention sweep: {removed} file(s) removed,"
                       f" {absent} already gone")

    def close_gaps(self) -> None:
        now = self.store.clock.now_us()
        for gap in self.index.open_gaps():
            self.index.close_gap(gap.id, max(now, gap.start_us))
            self.report.gaps_closed += 1
            self.event(logging.INFO, f"{gap.camera}: closed open gap #{gap.id} ({gap.reason}) at startup")


def _tmp_names(d: Path) -> list[Path]:
    """Entries of `d` with a temporary name (as `d.glob("*.tmp")`, without a pattern match per entry:
    a day directory holds a day of segments)."""
    with os.scandir(d) as it:
        return [d / e.name for e in it if e.name.endswith(TMP_SUFFIX)]


def _plain_file(entry: os.DirEntry[str]) -> bool:
    """A regular file, not a symlink (the type comes from the listing; no stat on most filesystems)."""
    try:
        return entry.is_file(follow_symlinks=False)
    except OSError:
        return False


def recover(store: SegmentStore, cameras: Iterable[str]) -> RecoveryReport:
    """Reconcile the store after an unclean stop. Call before any capture worker starts."""
    rec = _Recovery(store)
    layout = store.layout
    names = sorted(set(cameras) | set(layout.cameras_on_disk()))
    days: dict[str, list[Path]] = {}
    for cam in names:
        last = store.index.last_segment(cam)
        days[cam] = layout.day_dirs(cam, last.start_us if last is not None else None)
    rec.sweep([layout.exports_dir, layout.keys_dir], recursive=True)
    rec.sweep([layout.camera_dir(cam) for cam in names] + [d for ds in days.values() for d in ds],
              recursive=False)
    for cam in names:
        rec.camera(cam, days[cam])
    rec.finish_deletions()
    rec.finish_unlinks()
    rec.close_gaps()
    r = rec.report
    log.info("recovery done: %d recovered, %d adopted, %d empty partial(s), %d quarantined, %d swept,"
             " %d deletion(s) finished, %d gap(s) closed, %d failed", r.recovered, r.adopted, r.empty,
             r.quarantined, r.swept, r.deletions_finished, r.gaps_closed, r.failed)
    return r
