"""Synthesized stores for retention tests: real files and real index rows at chosen times."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from edge.config import EdgeConfig, parse_config
from storage.clock import DAY_US, OffsetClock
from storage.delete_record import runs_in
from storage.holds import HoldStore
from storage.index import NewSegment, Segment
from storage.register import AccessRegister
from storage.retention import RetentionEngine
from storage.store import SegmentStore

MIN = 60_000_000


def config(root: Path, cameras: list[str] | None = None, **retention: object) -> EdgeConfig:
    ids = ["a", "b"] if cameras is None else cameras
    cams = [{"id": c, "url": f"rtsp://127.0.0.1:1/{c}", "site_category": "street"} for c in ids]
    return parse_config({"storage": {"root": str(root), "reserve_bytes": 0}, "api": {"enabled": False},
                         "retention": retention, "cameras": cams})


def add_segment(store: SegmentStore, camera: str, start_us: int, seconds: float = 60.0, size: int = 1000) -> Segment:
    """A closed segment whose file holds `size` bytes (not media: retention never decodes)."""
    path = store.layout.segment_path(camera, start_us)
    path.parent.mkdir(parents=True, exist_ok=True)
    data = os.urandom(size)
    path.write_bytes(data)
    return store.index.add_segment(
        NewSegment(camera, start_us, start_us + int(seconds * 1e6), store.layout.relative(path), size, 1, "h264",
                   320, 180, hashlib.sha256(data).hexdigest()),
        store.clock.now_us(),
    )


def add_aged(store: SegmentStore, camera: str, age_days: float, size: int = 1000) -> Segment:
    """A one-minute segment that ENDED `age_days` ago by the store's clock."""
    end = store.clock.now_us() - int(age_days * DAY_US)
    return add_segment(store, camera, end - MIN, 60.0, size)


def named(detail: dict[str, object]) -> list[tuple[str, int]]:
    """(camera, seq) of every segment a retention register entry's detail names (either form)."""
    return [(r.camera, seq) for r in runs_in(detail) for seq in range(r.first, r.last + 1)]


class Box:
    """A store, holds, register and engine on one root, like the daemon wires them."""

    def __init__(self, root: Path, clock: OffsetClock | None = None, cameras: list[str] | None = None,
                 **retention: object) -> None:
        self.root = root
        self.clock = clock or OffsetClock()
        self.cfg = config(root, cameras, **retention)
        self.store = SegmentStore(root, self.clock)
        self.register = AccessRegister(self.store.index, self.clock)
        self.holds = HoldStore(self.store.index, self.clock, self.cfg.retention.hold_days)
        self.engine = RetentionEngine(self.store, self.holds, self.register, self.cfg.retention)

    def state(self, seg: Segment) -> str:
        now = self.store.index.segment_by_id(seg.id)
        assert now is not None
        return now.state

    def exists(self, seg: Segment) -> bool:
        return self.store.path_of(seg).exists()

    def close(self) -> None:
        self.store.close()
