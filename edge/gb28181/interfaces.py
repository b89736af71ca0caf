"""What the GB/T 28181 service consumes from the rest of edge, as Protocols the daemon satisfies.

The service never reaches into the daemon; the composition root hands it these (see `adapters.py`
for the ones built from today's daemon), so tests can drive it with a real store and plain lists.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol


@dataclass(frozen=True)
class Channel:
    camera_id: str
    channel_id: str
    name: str
    url: str            # the camera's own RTSP URL: live video is copied from it
    enabled: bool
    online: bool
    recording: bool
    location: str = ""


class CameraDirectory(Protocol):
    def channels(self) -> list[Channel]: ...


class SegmentLike(Protocol):
    @property
    def start_us(self) -> int: ...
    @property
    def end_us(self) -> int: ...
    @property
    def path(self) -> str: ...
    @property
    def codec(self) -> str: ...


class RecordIndex(Protocol):
    """storage/index.py's Index and the store's root (segment paths are relative to it)."""

    def segments_in_range(self, camera: str, start_us: int, end_us: int,
                          stored_only: bool = True) -> list[Any]: ...


class AlarmLike(Protocol):
    @property
    def code(self) -> str: ...
    @property
    def camera(self) -> str | None: ...
    @property
    def message(self) -> str: ...
    @property
    def since_us(self) -> int: ...
    @property
    def severity(self) -> str: ...


class AlarmSource(Protocol):
    """edge/alarms.py's AlarmCenter: polled for changes (raise/clear) by the service."""

    def active(self, camera: str | None = None, box_only: bool = False) -> list[Any]: ...


class AccessLog(Protocol):
    """edge/register.py's AccessRegister."""

    def append(self, actor: Any, action: str, **kw: Any) -> Any: ...


@dataclass(frozen=True)
class Sources:
    cameras: CameraDirectory
    index: RecordIndex
    storage_root: Path
    alarms: AlarmSource
    register: AccessLog
