"""Playback of a review grant's range in the page: one MP4 per camera, stream-copied, never re-encoded.

Why a whole MP4 (moov in front) served with HTTP Range, not HLS: a `<video>` element plays and
seeks an MP4 natively in every browser the box meets (HLS needs hls.js or Safari), Range requests
let it fetch only what it plays, and the clip is exactly the export's muxing (storage/clip_mux.py),
so what the officer reviews is frame for frame what an export of the span would hand over. The
clip is assembled once per grant and camera (a stream copy: a grant's range of a few minutes is
muxed in well under a second) and deleted when the grant is revoked, when it ends (`ClipSweeper`,
a periodic service: a grant runs out without anyone touching it) and at the daemon's start.

Every segment is re-hashed as it is muxed (storage/clip_mux.py, as for an export): one whose SHA-256
no longer matches the index is left out (its span shows as a gap marked `segment_altered`) and
raises the `segment_altered` alarm; the clip is then muxed again from the segments that match.
"""

from __future__ import annotations

import logging
import shutil
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from edge.access.review import Grant, ReviewGrants
from edge.monitor.alarms import AlarmCenter
from edge.periodic import PeriodicService
from storage.clip_mux import ExportError, find_gaps, write_clip
from storage.index import Segment
from storage.salvage import sha256_file
from storage.store import SegmentStore

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Clip:
    camera: str
    path: Path | None
    #: Wall-clock time of the clip's first frame (media time 0) and end, UTC µs.
    start_us: int
    end_us: int
    bytes_read: int
    bytes: int
    spans: list[tuple[int, int]] = field(default_factory=list)
    gaps: list[dict[str, Any]] = field(default_factory=list)


class Playback:
    def __init__(self, store: SegmentStore, alarms: AlarmCenter) -> None:
        self.store = store
        self.alarms = alarms
        self._lock = threading.Lock()
        self._building: dict[tuple[int, str], threading.Lock] = {}
        self._clips: dict[tuple[int, str], Clip] = {}

    @property
    def dir(self) -> Path:
        return self.store.layout.review_dir

    def _verified(self, camera: str, segments: list[Segment]) -> tuple[list[Segment], list[Segment], int]:
        """Segments whose file still matches the index, those that do not, and the bytes read."""
        good: list[Segment] = []
        altered: list[Segment] = []
        read = 0
        for seg in segments:
            try:
                digest, size = sha256_file(self.store.path_of(seg))
            except OSError:
                digest, size = "", -1
            read += max(0, size)
            (good if (digest, size) == (seg.sha256, seg.bytes) else altered).append(seg)
        for seg in altered:
            self.alarms.raise_("segment_altered", "critical",
                               f"segment {seg.path} no longer matches its recorded SHA-256: not played; "
                               "run `edge verify`", camera=camera, details={"segment": seg.path, "seq": seg.seq})
        return good, altered, read

    def clip(self, grant: Grant, camera: str) -> Clip:
        """The grant's clip of `camera` (built on first use; `grant` is already authorized)."""
        key = (grant.id, camera)
        with self._lock:
            if key in self._clips:
                return self._clips[key]
            building = self._building.setdefault(key, threading.Lock())
        with building:
            with self._lock:
                if key in self._clips:
                    return self._clips[key]
            clip = self._build(grant, camera)
            with self._lock:
                self._clips[key] = clip
            return clip

    def _build(self, grant: Grant, camera: str) -> Clip:
        index = self.store.index
        start, end = grant.spec.start_us, grant.spec.end_us
        segments = index.segments_in_range(camera, start, end)
        altered: list[Segment] = []
        read = 0
        self.dir.mkdir(parents=True, exist_ok=True)
        out = self.dir / f"review-{grant.id}-{camera}.mp4"
        with self.store.pinned([s.id for s in segments]):
            good = list(segments)
            while True:
                try:
                    # write_clip re-hashes every source against the index, then demuxes it.
                    result = write_clip(index, self.store.layout.root, camera, good, start, end, out, faststart=True)
                    read += 2 * sum(s.bytes for s in good)
                    break
                except ExportError:
                    # Rare: find every altered file (one more read of each), leave them out, mux again.
                    out.unlink(missing_ok=True)
                    good, bad, hashed = self._verified(camera, good)
                    read += hashed
                    altered += bad
                    if not bad:  # unreadable for another reason: nothing is served
                        return Clip(camera, None, start, end, read, 0, [], [])
            gaps = find_gaps(index, camera, good, start, end)
        for gap in gaps:
            if any(s.start_us < gap["end_us"] and s.end_us > gap["start_us"] for s in altered):
                gap["reasons"] = sorted({*gap["reasons"], "segment_altered"} - {"not_recorded"})
        spans = [(max(s.start_us, start), min(s.end_us, end)) for s in good]
        if result.file is None or result.actual_start_us is None:
            return Clip(camera, None, start, end, read, 0, spans, gaps)
        log.info("review %d: clip of %s, %d packets, %d bytes", grant.id, camera, result.packets, result.bytes)
        return Clip(camera, out, result.actual_start_us, result.actual_end_us or end, read, result.bytes, spans, gaps)

    def drop(self, grant_id: int) -> None:
        """Forget and delete a grant's clips (the grant ended or was revoked)."""
        with self._lock:
            keys = [k for k in self._clips if k[0] == grant_id]
            for k in keys:
                clip = self._clips.pop(k)
                if clip.path is not None:
                    clip.path.unlink(missing_ok=True)

    def prune(self, in_force: set[int]) -> None:
        """Delete clips of every grant not in force (also those left by an earlier run)."""
        with self._lock:
            ids = {k[0] for k in self._clips}
        for grant_id in ids - in_force:
            self.drop(grant_id)
        if self.dir.is_dir():
            for path in self.dir.glob("review-*.mp4"):
                try:
                    grant_id = int(path.name.split("-")[1])
                except (IndexError, ValueError):
                    continue
                if grant_id not in in_force:
                    path.unlink(missing_ok=True)

    def clear(self) -> None:
        shutil.rmtree(self.dir, ignore_errors=True)


class ClipSweeper(PeriodicService):
    """Deletes the clips of grants no longer in force: ended (`review_hours` passed), revoked,
    expired or denied. A clip is a copy of recorded footage on disk; it must not outlive the
    decision that let it be made, even when nobody opens a page after the grant ends."""

    name = "review-clips"

    def __init__(self, playback: Playback, reviews: ReviewGrants, interval: float = 30.0) -> None:
        super().__init__(interval)
        self.playback = playback
        self.reviews = reviews

    def tick(self) -> None:
        self.reviews.expire_due()
        self.playback.prune(self.reviews.in_force_ids())
