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
import sqlite3
import threading
import time
from collections import defaultdict, deque
from collections.abc import Callable
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from edge.access.identity import IdentityError, credential_key, name_key, normalise_credential, normalise_name
from storage.clock import Clock
from storage.index import Index

TOKEN_PREFIX = "edge_"
#: Verified against when a sign-in names no user (or one without a password); see `_warm_dummy`.
_DUMMY_HASH: str | None = None
_DUMMY_READY = threading.Event()
_DUMMY_LOCK = threading.Lock()
_DUMMY_STARTED = False


#: A dummy made once, with the hasher's default parameters (argon2id, m=64 MiB, t=3, p=4), of a
#: random secret nobody kept. Whatever that secret was, a sign-in verified against the dummy is
#: refused anyway; what matters is that the verification costs what a real one does. Shipping it
#: saves every daemon start from making one: the hash's 64 MiB were a fifth of a 32-camera box's
#: peak memory, for a sign-in that may never come.
FIXED_DUMMY_HASH = "$argon2id$v=19$m=65536,t=3,p=4$fU5T3IHDo76aLejyRpOndg$RiWrgpAIRhuEK7uE0utEv037OwjAmdVqP1pbwR2vcbU"


def _warm_dummy(hasher: PasswordHasher) -> None:
    """The dummy hash: the shipped one when it costs what this hasher's hashes cost, else one made
    off the caller's thread, so neither start-up nor the first sign-in pays for it (a first
    sign-in that did would again tell by its time that the name is unknown)."""
    global _DUMMY_STARTED, _DUMMY_HASH
    if not hasher.check_needs_rehash(FIXED_DUMMY_HASH):  # same type and parameters as its own
        _DUMMY_HASH = FIXED_DUMMY_HASH
        _DUMMY_READY.set()
        return

    def make() -> None:
        global _DUMMY_HASH
        _DUMMY_HASH = hasher.hash(secrets.token_urlsafe(16))
        _DUMMY_READY.set()

    with _DUMMY_LOCK:
        if _DUMMY_STARTED:
            return
        _DUMMY_STARTED = True
    threading.Thread(target=make, name="argon2-dummy", daemon=True).start()



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

    def add(self, name: str, role: Role, credential_id: str, created_by: str = "cli", password: str | None = None,
            on_created: Callable[[sqlite3.Connection, User], object] | None = None) -> tuple[User, str]:
        """Create a user; returns it with its new token (shown once, never stored).

        All or nothing: name and credential are normalised and checked (edge/access/identity.py), the
        password (if any) is checked and hashed, and the user row, the password and whatever
        `on_created` writes (the register entry) commit in one transaction."""
        name = normalise_name(name)
        given_credential = credential_id.strip()
        credential_id = normalise_credential(credential_id)
        password_hash = self._hasher.hash(check_password(password)) if password is not None else None
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        with self.index.write() as c:
            for (other,) in c.execute("SELECT name FROM users"):
                if name_key(str(other)) == name_key(name):
                    raise ValueError(f"user '{name}' already exists" + (
                        "" if other == name else f" (as '{other}': the same name after normalisation)"))
            for (other,) in c.execute("SELECT DISTINCT credential_id FROM users"):
                # A second account of the same person repeats the credential exactly; any other
                # spelling that normalises to it (case, width, compatibility forms) is a look-alike.
                if credential_key(str(other)) == credential_key(credential_id) and other != given_credential:
                    raise ValueError(f"work credential id '{credential_id}' collides with the existing '{other}' "
                                     f"after normalisation; if it is the same person, give exactly '{other}'")
            cur = c.execute(
                "INSERT INTO users (name, role, credential_id, token_sha256, password_argon2, created_us, created_by)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                (name, role.value, credential_id, token_hash(token), password_hash, self.clock.now_us(), created_by),
            )
            assert cur.lastrowid is not None
            user = User(cur.lastrowid, name, role, credential_id, False)
            if on_created is not None:
                on_created(c, user)
        return user, token

    def get(self, name: str) -> User | None:
        try:
            name = normalise_name(name)
        except IdentityError:
            return None
        r = self.index.reader().execute(
            "SELECT id, name, role, credential_id, disabled FROM users WHERE name=?", (name,)).fetchone()
        return None if r is None else self._row(r)

    def list(self) -> list[User]:
        rows = self.index.reader().execute("SELECT id, name, role, credential_id, disabled FROM users ORDER BY name")
        return [self._row(r) for r in rows]

    @staticmethod
    def _end_sessions(c: sqlite3.Connection, name: str) -> None:
        """A disabled user or a rotated token ends the user's web sessions (api/web/session.py's
        table, in the same index): a browser signed in with the old token must not stay in."""
        if c.execute("SELECT 1 FROM sqlite_master WHERE type='table' AND name='web_sessions'").fetchone():
            c.execute("DELETE FROM web_sessions WHERE user_id IN (SELECT id FROM users WHERE name=?)", (name,))

    def set_disabled(self, name: str, disabled: bool) -> None:
        name = self._stored_name(name)
        with self.index.write() as c:
            if c.execute("UPDATE users SET disabled=? WHERE name=?", (int(disabled), name)).rowcount == 0:
                raise KeyError(name)
            if disabled:
                self._end_sessions(c, name)

    def rotate_token(self, name: str) -> str:
        name = self._stored_name(name)
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        with self.index.write() as c:
            if c.execute("UPDATE users SET token_sha256=? WHERE name=?", (token_hash(token), name)).rowcount == 0:
                raise KeyError(name)
            self._end_sessions(c, name)
        return token

    def set_password(self, name: str, password: str) -> None:
        name = self._stored_name(name)
        hashed = self._hasher.hash(check_password(password))
        with self.index.write() as c:
            cur = c.execute("UPDATE users SET password_argon2=? WHERE name=?", (hashed, name))
            if cur.rowcount == 0:
                raise KeyError(name)
            self._end_sessions(c, name)

    @staticmethod
    def _stored_name(name: str) -> str:
        try:
            return normalise_name(name)
        except IdentityError:
            return name  # not a valid name: no such user (KeyError from the caller)

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

    def warm_up(self) -> None:
        """Start making the dummy hash in the background; the API calls this at start so that
        the first sign-in costs the same as every other (the CLI never needs it)."""
        _warm_dummy(self._hasher)

    def _dummy_hash(self) -> str:
        """One argon2 hash made once per process (in the background from `warm_up` on), verified
        against when there is no such user or no password."""
        _warm_dummy(self._hasher)
        _DUMMY_READY.wait()
        assert _DUMMY_HASH is not None
        return _DUMMY_HASH

    def by_password(self, name: str, password: str) -> User | None:
        """The enabled user with this name and password, or None. Unknown names, users without a
        password and wrong passwords cost the same single argon2 verification, so sign-in time
        does not tell which names exist."""
        try:
            name = normalise_name(name)
        except IdentityError:
            name = ""
        r = self.index.reader().execute(
            "SELECT id, name, role, credential_id, disabled, password_argon2 FROM users WHERE name=?",
            (name,)).fetchone() if name else None
        if r is None or r[5] is None:
            with contextlib.suppress(VerificationError, InvalidHashError):
                self._hasher.verify(self._dummy_hash(), password)
            return None
        try:
            self._hasher.verify(str(r[5]), password)
        except (VerificationError, InvalidHashError):
            return None
        return None if r[4] else self._row(r[:5])


def check_password(password: str) -> str:
    if len(password) < 12:
        raise ValueError("passwords must be at least 12 characters")
    return password
