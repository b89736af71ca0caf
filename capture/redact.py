"""Keep camera credentials out of logs, errors and API output."""

from __future__ import annotations

import logging
import re
from urllib.parse import urlsplit, urlunsplit

# Any URL with user info, e.g. rtsp://admin:secret@10.0.0.5/stream1.
_USERINFO = re.compile(r"(?P<scheme>[a-zA-Z][a-zA-Z0-9+.-]*://)(?P<userinfo>[^/@\s]+)@")


def redact_url(url: str) -> str:
    """The URL with any user name and password replaced by '***'."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return redact_text(url)
    if parts.username is None and parts.password is None:
        return url
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    netloc = f"***@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def redact_text(text: str) -> str:
    """Redact the user info of every URL found in free text (exception messages, FFmpeg errors)."""
    return _USERINFO.sub(r"\g<scheme>***@", text)


class RedactingFilter(logging.Filter):
    """Applied to every handler so that no log line, whatever its source, carries a password."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = redact_text(message)
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact_text(record.exc_text)
        if redacted != message:
            record.msg, record.args = redacted, None
        return True
