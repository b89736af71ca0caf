"""What a capture worker tells the rest of the daemon about its camera (read by status and metrics)."""

from __future__ import annotations

import enum
import threading
from dataclasses import dataclass, field


class CameraState(enum.Enum):
    STARTING = "starting"
    CONNECTING = "connecting"
    RECORDING = "recording"
    RECONNECTING = "reconnecting"
    OFFLINE = "offline"
    PAUSED = "paused"
    DISABLED = "disabled"
    STOPPED = "stopped"


@dataclass
class CameraStatus:
    """Written by the camera's worker thread only; readers take a consistent copy with `snapshot`."""

    camera: str
    state: CameraState = CameraState.STARTING
    connected: bool = False
    packets: int = 0
    bytes: int = 0
    segments: int = 0
    reconnects: int = 0
    timestamp_repairs: int = 0
    discontinuities: int = 0
    last_packet_wall_us: int | None = None
    last_packet_monotonic: float | None = None
    last_segment_end_us: int | None = None
    last_error: str = ""
    fps: float = 0.0
    bitrate: float = 0.0
    codec: str = ""
    width: int = 0
    height: int = 0
    #: "native" or "pyav": the ingest path of the current connection.
    ingest: str = ""
    #: RTP packets missing from the sequence (native ingest).
    rtp_lost: int = 0
    #: The camera's clock (RTCP sender reports) minus the box's, µs; None until a report came.
    clock_drift_us: int | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def snapshot(self) -> dict[str, object]:
        with self._lock:
            return {k: (v.value if isinstance(v, enum.Enum) else v)
                    for k, v in self.__dict__.items() if not k.startswith("_")}
