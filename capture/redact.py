"""Keep camera credentials out of logs, errors and API output.

Three places a secret hides in a camera URL, all redacted wherever the URL appears (alone, or
inside free text such as an FFmpeg error):
- the user info, whatever characters it holds (`rtsp://admin:p@ss@host/`: everything up to the
  last `@` before the host is the user info);
- query parameters named like secrets (`?user=admin&password=...`, `token`, `key`, `auth`, ...);
- the same two in any text that embeds such a URL.
"""

from __future__ import annotations

import logging
import re
from urllib.parse import urlsplit, urlunsplit

# scheme://USERINFO@ : greedy up to the last '@' of the authority (it ends at / ? # or a space).
_USERINFO = re.compile(r"(?P<scheme>\b[a-zA-Z][a-zA-Z0-9+.-]*://)(?P<userinfo>[^/?#\s]*)@")
#: Query (or matrix/fragment) parameters whose value is a secret or names an account.
SECRET_PARAMS = ("user", "username", "usr", "login", "password", "passwd", "pass", "pwd", "secret", "token",
                 "key", "apikey", "api_key", "api-key", "auth", "authorization", "access_token", "sig",
                 "signature", "credential", "credentials", "session", "sessionid")
_PARAM = re.compile(r"(?P<lead>[?&;#](?:" + "|".join(re.escape(p) for p in SECRET_PARAMS)
                    + r")=)(?P<value>[^&;#\s\"'<>]*)", re.IGNORECASE)


def _redact_params(text: str) -> str:
    return _PARAM.sub(lambda m: m.group("lead") + ("***" if m.group("value") else ""), text)


def redact_url(url: str) -> str:
    """The URL with any user name and password, and any secret-named parameter, replaced by '***'."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return redact_text(url)
    netloc = parts.netloc
    if "@" in netloc:
        host = parts.hostname or ""
        if ":" in host:
            host = f"[{host}]"
        netloc = f"***@{host}" + (f":{port}" if port else "")
    out = urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))
    return _redact_params(out)


def redact_text(text: str) -> str:
    """Redact user info and secret parameters of every URL found in free text."""
    return _redact_params(_USERINFO.sub(r"\g<scheme>***@", text))


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
