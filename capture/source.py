"""What a capture worker needs to know about a camera: a Protocol, not the config model.

`edge.config.CameraConfig` satisfies it structurally; capture never imports the config, so the
layers point one way (storage ← capture ← edge) and a test can hand in a plain dataclass.
"""

from __future__ import annotations

from typing import Protocol


class CameraSource(Protocol):
    @property
    def id(self) -> str: ...

    @property
    def url(self) -> str: ...

    @property
    def record_audio(self) -> bool: ...

    @property
    def stall_timeout(self) -> float: ...

    @property
    def handshake_timeout(self) -> float:
        """Overall deadline for connect + RTSP handshake + probe."""
        ...

    @property
    def reconnect_initial(self) -> float: ...

    @property
    def native_writer(self) -> str:
        """Who writes the native path's segments: "python" (capture.fmp4) or "pyav"."""
        ...

    @property
    def reconnect_max(self) -> float: ...

    @property
    def ingest(self) -> str:
        """"auto" | "native" | "pyav": which ingest path the worker runs (capture.native_session)."""
        ...
