"""What the native RTSP path raises: one base class, a subclass per gap reason."""

from __future__ import annotations


class RtspError(Exception):
    """Anything that ends a native RTSP session. `reason` is the gap reason it maps to."""

    reason = "bad_data"


class RtspTimeout(RtspError, TimeoutError):
    reason = "timeout"


class RtspUnauthorized(RtspError):
    reason = "unauthorized"


class RtspNotFound(RtspError):
    reason = "not_found"


class RtspClosed(RtspError, EOFError):
    reason = "stream_ended"


class Unsupported(RtspError):
    """The camera offers something this path does not handle (codec, transport, packetization):
    the caller falls back to the PyAV path."""

    reason = "unsupported"
