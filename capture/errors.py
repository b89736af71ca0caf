"""Map what PyAV/FFmpeg raise to the reason stored with a gap."""

from __future__ import annotations

import errno

import av.error

from capture.redact import redact_text

_BY_TYPE: tuple[tuple[type[BaseException], str], ...] = (
    (av.error.HTTPUnauthorizedError, "unauthorized"),
    (av.error.HTTPForbiddenError, "unauthorized"),
    (av.error.HTTPNotFoundError, "not_found"),
    (av.error.ConnectionRefusedError, "refused"),
    (ConnectionRefusedError, "refused"),
    (av.error.TimeoutError, "timeout"),
    (TimeoutError, "timeout"),
    (av.error.EOFError, "stream_ended"),
    (EOFError, "stream_ended"),
    (av.error.InvalidDataError, "bad_data"),
    (av.error.ConnectionResetError, "connection_lost"),
    (av.error.ConnectionAbortedError, "connection_lost"),
    (av.error.BrokenPipeError, "connection_lost"),
    (ConnectionError, "connection_lost"),
)
_BY_ERRNO = {
    errno.ECONNREFUSED: "refused",
    errno.ETIMEDOUT: "timeout",
    errno.EHOSTUNREACH: "unreachable",
    errno.ENETUNREACH: "unreachable",
    errno.EIO: "connection_lost",
}


def classify(exc: BaseException) -> tuple[str, str]:
    """(reason, redacted detail). 'error' means unexpected: the caller logs the traceback."""
    detail = redact_text(str(exc)) or type(exc).__name__
    for cls, reason in _BY_TYPE:
        if isinstance(exc, cls):
            return reason, detail
    if isinstance(exc, OSError) and exc.errno in _BY_ERRNO:
        return _BY_ERRNO[exc.errno], detail
    if isinstance(exc, av.error.FFmpegError):
        return "bad_data", detail
    return "error", detail
