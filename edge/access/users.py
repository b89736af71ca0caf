"""Users, roles and API tokens.

Tokens are 256-bit random strings shown once; only their SHA-256 is stored (right for random
secrets: there is nothing to brute-force), so a copied index reveals no token. Human passwords,
where set, are hashed with argon2. Failed authentications are throttled per source.
"""

from __future__ import annotations

import contextlib
import enum
import hashlib
import hmac
import secrets
import threading
import time
from collections import defaultdict, deque
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from storage.clock import Clock
from storage.index import Index

TOKEN_PREFIX = "edge_"



class Role(enum.StrEnum):
    MONITOR = "monitor"
    MAINTAINER = "maintainer"
    OFFICER = "officer"
    APPROVER = "approver"
    AUDITOR = "auditor"
    ADMIN = "admin"


#: Health, status and metrics are for every authenticated role (monitor is the least privileged).
STATUS_ROLES = frozenset(Role)
#: Roles that may see footage in any form (snapshots, exports): Art. 18 access is theirs alone.
FOOTAGE_ROLES = frozenset({Role.OFFICER, Role.APPROVER})


@dataclass(frozen=True)
class User:
    id: int
    name: str
    role: Role
    credential_id: str
    disabled: bool


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


class Throttle:
    """At most `limit` failures per source in a sliding minute; then refusals until it slides."""

    def __init__(self, limit: int, window: float = 60.0) -> None:
        self.limit = limit
        self.window = window
        self._fails: dict[str, deque[float]] = defaultdict(deque)
        self._reported: dict[str, float] = {}
        self._lock = threading.Lock()

    def _trim(self, q: deque[float], now: float) -> None:
        while q and now - q[0] > self.window:
            q.popleft()

    def blocked(self, source: str) -> bool:
        now = time.monotonic()
        with self._lock:
            q = self._fails.get(source)
            if not q:
                return False
            self._trim(q, now)
            return len(q) >= self.limit

    def report_block(self, source: str) -> bool:
        """True for the first refusal of a throttled source in a window: that one is registered, the
        rest are not, so a flood of requests cannot grow the append-only register without bound."""
        now = time.monotonic()
        with self._lock:
            last = self._reported.get(source)
            if last is not None and now - last < self.window:
                return False
            self._reported[source] = now
            if len(self._reported) > 10_000:
                self._reported = {k: v for k, v in self._reported.items() if now - v < self.window}
            return True

    def failed(self, source: str) -> None:
        now = time.monotonic()
        with self._lock:
            q = self._fails[source]
            self._trim(q, now)
            q.append(now)
            if len(self._fails) > 10_000:  # bound memory under a spray of sources
                for k in [k for k, v in self._fails.items() if not v][:5000]:
                    del self._fails[k]


class UserStore:
    def __init__(self, index: Index, clock: Clock, failures_per_minute: int = 10) -> None:
        self.index = index
        self.clock = clock
        self.throttle = Throttle(failures_per_minute)
        self._hasher = PasswordHasher()

    @staticmethod
    def _row(r: tuple[object, ...]) -> User:
        return User(int(str(r[0])), str(r[1]), Role(str(r[2])), str(r[3]), bool(r[4]))

    def add(self, name: str, role: Role, credential_id: str, created_by: str = "cli") -> tuple[User, str]:
        """Create a user; returns it with its new token (shown once, never stored)."""
        if not name or not credential_id:
            raise ValueError("a user needs a name and a work credential id")
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        with self.index.write() as c:
            if c.execute("SELECT 1 FROM users WHERE name=?", (name,)).fetchone():
                raise ValueError(f"user '{name}' already exists")
            cur = c.execute(
                "INSERT INTO users (name, role, credential_id, token_sha256, created_us, created_by)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (name, role.value, credential_id, token_hash(token), self.clock.now_us(), created_by),
            )
            assert cur.lastrowid is not None
            uid = cur.lastrowid
        return User(uid, name, role, credential_id, False), token

    def get(self, name: str) -> User | None:
        r = self.index.reader().execute(
            "SELECT id, name, role, credential_id, disabled FROM users WHERE name=?", (name,)).fetchone()
        return None if r is None else self._row(r)

    def list(self) -> list[User]:
        rows = self.index.reader().execute("SELECT id, name, role, credential_id, disabled FROM users ORDER BY name")
        return [self._row(r) for r in rows]

    def set_disabled(self, name: str, disabled: bool) -> None:
        with self.index.write() as c:
            if c.execute("UPDATE users SET disabled=? WHERE name=?", (int(disabled), name)).rowcount == 0:
                raise KeyError(name)

    def rotate_token(self, name: str) -> str:
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        with self.index.write() as c:
            if c.execute("UPDATE users SET token_sha256=? WHERE name=?", (token_hash(token), name)).rowcount == 0:
                raise KeyError(name)
        return token

    def set_password(self, name: str, password: str) -> None:
        if len(password) < 12:
            raise ValueError("passwords must be at least 12 characters")
        with self.index.write() as c:
            cur = c.execute("UPDATE users SET password_argon2=? WHERE name=?", (self._hasher.hash(password), name))
            if cur.rowcount == 0:
                raise KeyError(name)

    def by_token(self, token: str) -> User | None:
        """The enabled user holding this token, or None. The lookup is by hash; the final compare is
        constant-time so the response time says nothing about how much of a hash matched."""
        digest = token_hash(token)
        r = self.index.reader().execute(
            "SELECT id, name, role, credential_id, disabled, token_sha256 FROM users WHERE token_sha256=?",
            (digest,)).fetchone()
        if r is None or not hmac.compare_digest(str(r[5]), digest) or r[4]:
            return None
        return self._row(r[:5])

    def by_password(self, name: str, password: str) -> User | None:
        r = self.index.reader().execute(
            "SELECT id, name, role, credential_id, disabled, password_argon2 FROM users WHERE name=?",
            (name,)).fetchone()
        if r is None or r[5] is None:
            # Spend the same time as a real check so user names cannot be probed by timing.
            with contextlib.suppress(VerificationError):
                self._hasher.verify(self._hasher.hash("x" * 12), password)
            return None
        try:
            self._hasher.verify(str(r[5]), password)
        except (VerificationError, InvalidHashError):
            return None
        return None if r[4] else self._row(r[:5])
