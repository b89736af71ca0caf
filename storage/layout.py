"""Where things live under the storage root, and how segment files are named.

Segment files are named by their zero-padded UTC start so that a plain sort is chronological
(as Kafka names log segments by base offset), and grouped per camera per UTC day so that startup
only lists the newest day directories instead of every file of a 30-day store.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from storage.clock import datetime_to_us, us_to_datetime

SEGMENT_SUFFIX = ".mp4"
PARTIAL_SUFFIX = ".mp4.partial"
TMP_SUFFIX = ".tmp"
_NAME = re.compile(r"^(\d{8}T\d{6})\.(\d{6})Z$")
#: A day directory's name (UTC date); anything else in a camera folder (`lost+found` after an fsck,
#: an operator's notes) is not ours to list, recover or delete.
_DAY = re.compile(r"^\d{8}$")
_CAMERA = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")


def segment_stem(start_us: int) -> str:
    dt = us_to_datetime(start_us)
    return f"{dt:%Y%m%dT%H%M%S}.{start_us % 1_000_000:06d}Z"


def parse_stem(stem: str) -> int | None:
    """Start time (µs) encoded in a segment stem, or None when the name is not ours."""
    m = _NAME.match(stem)
    if not m:
        return None
    dt = datetime.strptime(m.group(1), "%Y%m%dT%H%M%S").replace(tzinfo=UTC)
    return datetime_to_us(dt) + int(m.group(2))


def is_day_name(name: str) -> bool:
    return _DAY.match(name) is not None


def day_name(start_us: int) -> str:
    return f"{us_to_datetime(start_us):%Y%m%d}"


@dataclass(frozen=True)
class Layout:
    root: Path

    @property
    def index_path(self) -> Path:
        return self.root / "index.sqlite3"

    @property
    def segments_dir(self) -> Path:
        return self.root / "segments"

    @property
    def quarantine_dir(self) -> Path:
        return self.root / "quarantine"

    @property
    def keys_dir(self) -> Path:
        return self.root / "keys"

    @property
    def exports_dir(self) -> Path:
        return self.root / "exports"

    @property
    def review_dir(self) -> Path:
        """Playback clips of review grants (stream copies, deleted when the grant ends)."""
        return self.root / "review"

    @property
    def health_dir(self) -> Path:
        return self.root / "health"

    def camera_dir(self, camera: str) -> Path:
        return self.segments_dir / camera

    def segment_path(self, camera: str, start_us: int) -> Path:
        return self.camera_dir(camera) / day_name(start_us) / (segment_stem(start_us) + SEGMENT_SUFFIX)

    def partial_path(self, camera: str, start_us: int) -> Path:
        return self.camera_dir(camera) / day_name(start_us) / (segment_stem(start_us) + PARTIAL_SUFFIX)

    def relative(self, path: Path) -> str:
        return path.relative_to(self.root).as_posix()

    def cameras_on_disk(self) -> list[str]:
        if not self.segments_dir.is_dir():
            return []
        # Camera ids are lowercase words joined by dashes (edge/config.py): `lost+found` (the
        # segments folder as a mount point) and other strays are not cameras.
        return sorted(p.name for p in self.segments_dir.iterdir()
                      if _CAMERA.match(p.name) and p.is_dir() and not p.is_symlink())

    def day_dirs(self, camera: str, since_us: int | None = None) -> list[Path]:
        """Day directories of a camera, oldest first; with `since_us`, only days from that one on."""
        cam_dir = self.camera_dir(camera)
        if not cam_dir.is_dir():
            return []
        first = day_name(since_us) if since_us is not None else ""
        return sorted(p for p in cam_dir.iterdir()
                      if _DAY.match(p.name) and p.name >= first and p.is_dir() and not p.is_symlink())

    def ensure(self) -> None:
        for d in (self.root, self.segments_dir, self.quarantine_dir, self.keys_dir, self.exports_dir):
            d.mkdir(parents=True, exist_ok=True)
        # Footage is not for other local users (Art. 6 privacy).
        os.chmod(self.root, 0o750)
