"""`edge verify`: check the index chain and every stored segment file against it.

Read-only, and safe while the daemon records: a `.partial` is the active segment, and a file that
retention removes during the walk is told from a missing one by re-reading its row. The chain is
read per camera in one short pass and the (slow) re-hashing happens outside it, so verify never
holds an SQLite read transaction open long enough to stall the daemon's WAL checkpoints.
"""

from __future__ import annotations

import heapq
import logging
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from storage.chain import GENESIS
from storage.chain_store import has_chain_v2, v2_starts
from storage.chain_walk import ChainWalk, GapLink, gap_links, segment_link_any, unlinked_gaps
from storage.index import Segment
from storage.layout import PARTIAL_SUFFIX, TMP_SUFFIX
from storage.salvage import sha256_file
from storage.store import SegmentStore

log = logging.getLogger(__name__)

#: An extra check (the access register's chain, for one): returns one problem line per finding.
Checker = Callable[[], list[str]]

RETENTION_STATES = ("deleting", "deleted")


@dataclass
class VerifyReport:
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # worth knowing, not a failure (active partials)
    cameras: int = 0
    rows: int = 0  # chain links recomputed
    segments_checked: int = 0  # stored files re-hashed
    bytes_checked: int = 0
    deleted_by_retention: int = 0  # rows in state deleting/deleted: no file expected
    partials: int = 0
    #: Per camera: the walked chain (head, first broken position, the links checkpoints asked for).
    walks: dict[str, ChainWalk] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.problems


class _Verifier:
    def __init__(self, store: SegmentStore, report: VerifyReport) -> None:
        self.store = store
        self.layout = store.layout
        self.index = store.index
        self.report = report
        self.conn = store.index.reader()
        self.v2 = has_chain_v2(self.conn)
        self.v2_from = v2_starts(self.conn)
        #: Per camera: the positions whose links the checkpoints name.
        self.wanted: dict[str, set[int]] = {}

    def problem(self, line: str) -> None:
        self.report.problems.append(line)
        # Debug only: the caller (`edge verify`) prints the report; a warning would say it twice.
        log.debug("verify: %s", line)

    def chain(self, camera: str) -> list[Segment]:
        """Recompute every link (v1 segments, then v2 segments and gap links in one sequence);
        return the rows whose files must be re-hashed."""
        v2_from = self.v2_from.get(camera, 0) if self.v2 else 2**62
        walk = ChainWalk(camera, self.wanted.get(camera, set()))
        self.report.walks[camera] = walk
        stored: list[Segment] = []
        segs: Iterator[tuple[int, int, Segment | GapLink]] = ((s.seq, 0, s) for s in self.index.chain_of(camera))
        gaps: Iterator[tuple[int, int, Segment | GapLink]] = (
            ((seq, 1, g) for seq, g in gap_links(self.conn, camera)) if self.v2 else iter(()))
        links = heapq.merge(segs, gaps, key=lambda t: (t[0], t[1]))
        prev, expect = GENESIS, 0
        for seq, _, item in links:
            self.report.rows += 1
            stored_link = item.chain if isinstance(item, Segment) else item.link
            if seq < expect:
                self.problem(f"CHAIN {camera} #{seq}: two links at one position")
                walk.broken_at = min(walk.broken_at, seq)
            elif seq > expect:
                # The predecessor's link is gone with its row: this link cannot be checked.
                self.problem(f"CHAIN {camera} #{seq}: seq gap, #{expect}..#{seq - 1} not in the index")
                walk.broken_at = min(walk.broken_at, expect)
            else:
                if isinstance(item, Segment):
                    link = segment_link_any(prev, item, v2_from)
                    what = "link does not match"
                else:
                    link = item.expected(prev)
                    what = f"{item.kind} link does not match (gap #{item.gap.id})"
                if link != stored_link:
                    self.problem(f"CHAIN {camera} #{seq}: {what}")
                    walk.broken_at = min(walk.broken_at, seq)
            walk.saw(seq, stored_link)
            prev, expect = stored_link, seq + 1
            if not isinstance(item, Segment):
                continue
            seg = item
            # v1 links leave the path out; pinning it to camera and start closes that hole.
            expected_path = self.layout.relative(self.layout.segment_path(camera, seg.start_us))
            if seg.path != expected_path:
                self.problem(f"PATH {camera} #{seg.seq} {seg.path}: expected {expected_path}")
            if seg.state == "stored":
                stored.append(seg)
            elif seg.state in RETENTION_STATES:
                self.report.deleted_by_retention += 1
            elif seg.state == "missing":
                self.problem(f"MISSING {camera} #{seg.seq} {seg.path}: marked missing in the index")
            else:
                self.problem(f"STATE {camera} #{seg.seq} {seg.path}: unknown state {seg.state!r}")
        if self.v2:
            for line in unlinked_gaps(self.conn, camera):
                self.problem(line)
        return stored

    def files(self, camera: str, stored: list[Segment]) -> None:
        for seg in stored:
            try:
                sha, size = sha256_file(self.layout.root / seg.path)
            except FileNotFoundError:
                now = self.index.segment_by_id(seg.id)
                if now is not None and now.state in RETENTION_STATES:
                    self.report.deleted_by_retention += 1  # retention got there during the walk
                else:
                    self.problem(f"MISSING {camera} #{seg.seq} {seg.path}: file not found")
                continue
            except OSError as exc:
                self.problem(f"UNREADABLE {camera} #{seg.seq} {seg.path}: {exc.strerror or exc}")
                continue
            self.report.segments_checked += 1
            self.report.bytes_checked += size
            if sha != seg.sha256:
                extra = f" (size {size}, indexed {seg.bytes})" if size != seg.bytes else ""
                self.problem(f"ALTERED {camera} #{seg.seq} {seg.path}: sha256 mismatch{extra}")

    def unindexed(self, camera: str) -> None:
        cam_dir = self.layout.camera_dir(camera)
        found: list[str] = []
        for dirpath, _dirs, names in os.walk(cam_dir):
            for name in names:
                rel = self.layout.relative(Path(dirpath) / name)
                if name.endswith(PARTIAL_SUFFIX):
                    self.report.partials += 1
                    self.report.notes.append(f"PARTIAL {camera} {rel}: active or unrecovered")
                elif name.endswith(TMP_SUFFIX):
                    self.report.notes.append(f"TEMPORARY {camera} {rel}: being written or left by a crash")
                else:
                    found.append(rel)
        if not found:
            return
        # Read after listing: a segment published during the walk already has its row by now
        # (the daemon commits the row right after the rename).
        known = self.index.paths_of_camera(camera)
        missing = [rel for rel in found if rel not in known]
        if missing:
            known = self.index.paths_of_camera(camera)  # once more, for a close racing the first read
        for rel in sorted(missing):
            if rel not in known:
                self.problem(f"UNINDEXED {camera} {rel}: no index row")


def verify_store(
    store: SegmentStore, camera: str | None = None, checks: Sequence[Checker] = (),
    wanted: dict[str, set[int]] | None = None,
) -> VerifyReport:
    """Verify one camera (or all: indexed ones, those with a directory and those `wanted` names),
    then run `checks`. `wanted`: per camera, the positions whose stored links to keep in
    `report.walks` (the heads signed checkpoints name)."""
    report = VerifyReport()
    v = _Verifier(store, report)
    v.wanted = wanted or {}
    cameras = [camera] if camera is not None else sorted(
        set(store.index.cameras()) | set(store.layout.cameras_on_disk()) | set(v.wanted)
    )
    for cam in cameras:
        report.cameras += 1
        rows_before = report.rows
        stored = v.chain(cam)
        v.files(cam, stored)
        v.unindexed(cam)
        log.info("verify: camera %s done (%d rows)", cam, report.rows - rows_before)
    for check in checks:
        try:
            for line in check():
                v.problem(line)
        except Exception as exc:  # a broken checker is a finding, not a reason to lose the others
            log.exception("verify: extra check %r raised", check)
            v.problem(f"CHECK {getattr(check, '__name__', repr(check))}: raised {type(exc).__name__}: {exc}")
    log.info("verify: %d camera(s), %d rows, %d files (%d bytes) re-hashed, %d deleted by retention,"
             " %d partial(s), %d problem(s)", report.cameras, report.rows, report.segments_checked,
             report.bytes_checked, report.deleted_by_retention, report.partials, len(report.problems))
    return report
