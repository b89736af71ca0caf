"""Web sessions: server-side, in the index database (`web_sessions`).

The browser holds only a random 256-bit session id in an HttpOnly, SameSite=Strict cookie; the
table keeps its SHA-256 (a copied index reveals no live session, as with API tokens), the user,
the CSRF secret of the session and two expiries: idle (slides with use) and absolute. The API
token itself never goes into a cookie.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

from fastapi import Request

from api.auth import Principal, client_source
from edge.access.users import User, UserStore
from storage.clock import HOUR_US, Clock
from storage.index import Index

COOKIE = "edge_session"
LOGIN_COOKIE = "edge_login"
#: A session ends after this much inactivity (a shift's break) or at the latest after MAX.
IDLE_US = 8 * HOUR_US
MAX_US = 24 * HOUR_US
#: last_seen is written at most this often: every page view must not be a FULL-synchronous commit.
TOUCH_US = 60_000_000


def _digest(session_id: str) -> str:
    return hashlib.sha256(session_id.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Session:
    user: User
    csrf: str
    id_sha256: str
    expires_us: int

    def csrf_ok(self, presented: str | None) -> bool:
        return bool(presented) and hmac.compare_digest(self.csrf.encode(), str(presented).encode())


class SessionStore:
    def __init__(self, index: Index, users: UserStore, clock: Clock, idle_us: int = IDLE_US,
                 max_us: int = MAX_US) -> None:
        self.index = index
        self.users = users
        self.clock = clock
        self.idle_us = idle_us
        self.max_us = max_us

    def create(self, user: User, source: str) -> str:
        """A new session for `user`; returns the session id for the cookie (never stored)."""
        session_id = secrets.token_urlsafe(32)
        now = self.clock.now_us()
        with self.index.write() as c:
            c.execute("DELETE FROM web_sessions WHERE idle_expires_us <= ? OR expires_us <= ?", (now, now))
            c.execute(
                "INSERT INTO web_sessions (id_sha256, user_id, csrf, source, created_us, last_seen_us,"
                " idle_expires_us, expires_us) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (_digest(session_id), user.id, secrets.token_urlsafe(32), source, now, now, now + self.idle_us,
                 now + self.max_us))
        return session_id

    def resolve(self, session_id: str | None) -> Session | None:
        """The live session behind a cookie value, or None (unknown, expired, user disabled)."""
        if not session_id or len(session_id) > 128:
            return None
        digest = _digest(session_id)
        r = self.index.reader().execute(
            "SELECT s.id_sha256, s.csrf, s.last_seen_us, s.idle_expires_us, s.expires_us, u.name"
            " FROM web_sessions s JOIN users u ON u.id = s.user_id WHERE s.id_sha256 = ?", (digest,)).fetchone()
        if r is None or not hmac.compare_digest(str(r[0]), digest):
            return None
        now = self.clock.now_us()
        if now >= int(r[3]) or now >= int(r[4]):
            self.end(session_id)
            return None
        user = self.users.get(str(r[5]))
        if user is None or user.disabled:
            return None
        if now - int(r[2]) >= TOUCH_US:
            with self.index.write() as c:
                c.execute("UPDATE web_sessions SET last_seen_us=?, idle_expires_us=? WHERE id_sha256=?",
                          (now, min(now + self.idle_us, int(r[4])), digest))
        return Session(user, str(r[1]), digest, int(r[4]))

    def end(self, session_id: str) -> None:
        with self.index.write() as c:
            c.execute("DELETE FROM web_sessions WHERE id_sha256=?", (_digest(session_id),))


SAFE_METHODS = frozenset({"GET", "HEAD"})


def api_session_principal(request: Request) -> Principal | None:
    """The API's view of a signed-in browser (`require()` asks this when no bearer token came).

    Reads (GET/HEAD: status, the bundle download) are allowed with the cookie alone; anything
    that changes state must also carry the session's CSRF secret in `X-CSRF-Token`, so another
    site cannot drive the API through a visitor's browser."""
    store: SessionStore | None = getattr(request.app.state, "web_sessions", None)
    cookie = request.cookies.get(COOKIE)
    if store is None or not cookie:
        return None
    session = store.resolve(cookie)
    if session is None:
        return None
    if request.method not in SAFE_METHODS and not session.csrf_ok(request.headers.get("X-CSRF-Token")):
        return None
    return Principal(session.user, client_source(request))
