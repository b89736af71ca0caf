"""`edge verify`: check the index chain and every stored segment file against it.

Read-only, and safe while the daemon records: a `.partial` is the active segment, and a file that
retention removes during the walk is told from a missing one by re-reading its row. The chain is
read per camera in one short pass and the (slow) re-hashing happens outside it, so verify never
holds an SQLite read transaction open long enough to stall the daemon's WAL checkpoints.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from storage.chain import GENESIS, segment_link
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

    @property
    def ok(self) -> bool:
        return not self.problems


class _Verifier:
    def __init__(self, store: SegmentStore, report: VerifyReport) -> None:
        self.store = store
        self.layout = store.layout
        self.index = store.index
        self.report = report

    def problem(self, line: str) -> None:
        self.report.problems.append(line)
        # Debug only: the caller (`edge verify`) prints the report; a warning would say it twice.
        log.debug("verify: %s", line)

    def chain(self, camera: str) -> list[Segment]:
        """Recompute every link; return the rows whose files must be re-hashed."""
        prev, expect = GENESIS, 0
        stored: list[Segment] = []
        for seg in self.index.chain_of(camera):
            self.report.rows += 1
            if seg.seq != expect:
                # The predecessor's chain value is gone with its row: this link cannot be checked.
                gap = f"#{expect}..#{seg.seq - 1}"
                self.problem(f"CHAIN {camera} #{seg.seq}: seq gap, {gap} not in the index")
            else:
                try:
                    link = segment_link(prev, seg.sha256, camera, seg.start_us, seg.end_us, seg.bytes)
                except ValueError:
                    link = ""  # a hash column that is not hex: edited by hand
                if link != seg.chain:
                    self.problem(f"CHAIN {camera} #{seg.seq}: link does not match")
            prev, expect = seg.chain, seg.seq + 1
            # The path is not part of the link; pinning it to camera and start closes that hole.
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
    store: SegmentStore, camera: str | None = None, checks: Sequence[Checker] = ()
) -> VerifyReport:
    """Verify one camera (or all: indexed ones and those with a directory), then run `checks`."""
    report = VerifyReport()
    v = _Verifier(store, report)
    cameras = [camera] if camera is not None else sorted(
        set(store.index.cameras()) | set(store.layout.cameras_on_disk())
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
