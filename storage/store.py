"""The segment store: the one place that turns a finished file into an indexed, chained segment.

Order of a close (never the index ahead of the media): fsync file, rename, fsync dir, then the
index row in a FULL-synchronous commit.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from storage.clock import Clock
from storage.index import Index, NewSegment, Segment
from storage.layout import Layout
from storage.pins import Pins
from storage.writer import SegmentFile

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class StreamInfo:
    codec: str
    width: int
    height: int


class SegmentStore:
    def __init__(self, root: Path, clock: Clock, sync_interval: float = 2.0, read_only: bool = False) -> None:
        self.layout = Layout(root)
        #: For read-only commands beside a running recorder: nothing created, the index opened `mode=ro`.
        self.read_only = read_only
        if not read_only:
            self.layout.ensure()
        elif not self.layout.index_path.exists():
            raise FileNotFoundError(f"no store at {root} (no {self.layout.index_path.name})")
        self.clock = clock
        self.index = Index(self.layout.index_path, read_only)
        self.sync_interval = sync_interval
        #: Segments being read (exports): retention skips them (storage/pins.py).
        self.pins = Pins()
        self._active_lock = threading.Lock()
        self._active: list[SegmentFile] = []

    def close(self) -> None:
        self.index.close()

    def pinned(self, segment_ids: Iterable[int]) -> contextlib.AbstractContextManager[list[int]]:
        """`with store.pinned(ids):` retention leaves these segments alone until the block ends."""
        return self.pins.pinned(segment_ids)

    def active_bytes(self) -> int:
        """Bytes in the open (.partial) segments: not rows yet, but they count in the store's usage."""
        with self._active_lock:
            self._active = [f for f in self._active if not f.closed]
            return sum(f.size for f in self._active)

    def open_segment(self, camera: str, start_us: int) -> SegmentFile:
        last = self.index.last_segment(camera)
        # Per camera, segment times only go forward and never overlap, even when the wall clock
        # steps backwards (and two segments never share a name).
        if last is not None and start_us < last.end_us:
            start_us = max(last.end_us, last.start_us + 1)
        while self.layout.segment_path(camera, start_us).exists() or self.layout.partial_path(
            camera, start_us
        ).exists():
            start_us += 1
        file = SegmentFile(
            self.layout.partial_path(camera, start_us),
            self.layout.segment_path(camera, start_us),
            self.layout.root,
            start_us,
            self.sync_interval,
        )
        with self._active_lock:
            self._active.append(file)
        return file

    def commit(
        self,
        camera: str,
        file: SegmentFile,
        end_us: int,
        packets: int,
        info: StreamInfo,
        origin: str = "recorded",
    ) -> Segment:
        start_us = file.start_us
        published = file.publish()
        seg = self.index.add_segment(
            NewSegment(
                camera=camera,
                start_us=start_us,
                end_us=max(end_us, start_us + 1),
                path=self.layout.relative(published.path),
                bytes=published.size,
                packets=packets,
                codec=info.codec,
                width=info.width,
                height=info.height,
                sha256=published.sha256,
                origin=origin,
            ),
            self.clock.now_us(),
        )
        log.debug("segment closed camera=%s seq=%d bytes=%d", camera, seg.seq, seg.bytes)
        return seg

    def path_of(self, seg: Segment) -> Path:
        return self.layout.root / seg.path
