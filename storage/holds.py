"""Holds (Art. 19(8)): footage important to public safety, kept at least `hold_days` (>= 2 years).

A hold covers a time range on one camera or all of them; every segment overlapping it is exempt
from retention until the hold expires, including segments that close after the hold was set (the
sweep compares time ranges, not a list of segment ids). Holds live in the index, so they survive
restarts and disk pressure. Triggers make the table append-only except for the release columns,
and refuse an expiry that moves earlier: a hold cannot be shortened or deleted, even by hand with
the daemon's own SQL. Releasing one before expiry is the two-person path of the access issue
(`release`); there is deliberately no single-person CLI for it.

Registering the creation in the access register is the caller's job (`register_hold_create`), as
for users and tokens: the caller knows the actor's role, work credential and source.
"""

from __future__ import annotations

import builtins
import threading
from dataclasses import dataclass

from storage.clock import DAY_US, Clock
from storage.index import Index
from storage.register import AccessRegister, Actor, Entry

_COLUMNS = ("id, camera, start_us, end_us, reason, case_number, created_by, created_us, expires_us,"
            " released_us, released_by, source")


def N_(text: str) -> str:  # noqa: N802 - marks a text for the catalog (edge/i18n); storage imports none of ours
    return text


class HoldError(ValueError):
    """A hold request that cannot be honoured (bad range, missing reason, unknown hold, ...).

    `text` (with `%(name)s` placeholders) and `params` let the pages show it translated; the
    English is `str(error)`. `code` is stable for API clients."""

    code = "hold_refused"

    def __init__(self, text: str, **params: object) -> None:
        super().__init__(text % params if params else text)
        self.text = text
        self.params = params


@dataclass(frozen=True)
class Hold:
    id: int
    camera: str | None  # None = all cameras
    start_us: int
    end_us: int
    reason: str
    case_number: str
    created_by: str
    created_us: int
    expires_us: int  # created_us + hold_days (at least 2 years)
    released_us: int | None
    released_by: str | None
    source: str  # 'manual', 'cli', or 'export:<id>'

    @property
    def active(self) -> bool:
        return self.released_us is None

    def in_force(self, now_us: int) -> bool:
        return self.active and now_us < self.expires_us

    def covers(self, camera: str, start_us: int, end_us: int) -> bool:
        return (self.camera is None or self.camera == camera) and self.start_us < end_us and start_us < self.end_us

    def to_json(self) -> dict[str, object]:
        return {k: getattr(self, k) for k in self.__dataclass_fields__} | {"active": self.active}


class HoldStore:
    def __init__(self, index: Index, clock: Clock, hold_days: float) -> None:
        self.index = index
        self.clock = clock
        self.hold_us = int(hold_days * DAY_US)
        self._lock = threading.Lock()

    def create(self, camera: str | None, start_us: int, end_us: int, reason: str, case_number: str,
               created_by: str, source: str = "manual") -> Hold:
        if end_us <= start_us:
            raise HoldError(N_("the hold's end must be after its start"))
        if not reason.strip():
            raise HoldError(N_("a hold needs a reason"))
        if not case_number.strip():
            raise HoldError(N_("a hold needs a case number"))
        if not created_by.strip():
            raise HoldError(N_("a hold needs the name of who created it"))
        if camera is not None and not camera:
            raise HoldError(N_("camera must be an id or None (all cameras)"))
        now = self.clock.now_us()
        with self.index.write() as c:
            cur = c.execute(
                "INSERT INTO holds (camera, start_us, end_us, reason, case_number, created_by, created_us,"
                " expires_us, released_us, released_by, source) VALUES (?, ?, ?, ?, ?, ?, ?, ?, NULL, NULL, ?)",
                (camera, start_us, end_us, reason.strip(), case_number.strip(), created_by, now,
                 now + self.hold_us, source),
            )
            hold_id = cur.lastrowid
        assert hold_id is not None
        return Hold(hold_id, camera, start_us, end_us, reason.strip(), case_number.strip(), created_by, now,
                    now + self.hold_us, None, None, source)

    def _rows(self, sql: str, args: tuple[object, ...] = ()) -> list[Hold]:
        return [Hold(*r) for r in self.index.reader().execute(f"SELECT {_COLUMNS} FROM holds {sql}", args)]

    def get(self, hold_id: int) -> Hold | None:
        rows = self._rows("WHERE id=?", (hold_id,))
        return rows[0] if rows else None

    def list(self, include_inactive: bool = False) -> list[Hold]:
        """Holds in force (not released, not expired), or every hold ever made."""
        if include_inactive:
            return self._rows("ORDER BY id")
        return self._rows("WHERE released_us IS NULL AND expires_us > ? ORDER BY id", (self.clock.now_us(),))

    def release(self, hold_id: int, released_by: str) -> Hold:
        """Only for the two-person release path (access issue): the approval is checked by the caller."""
        if not released_by.strip():
            raise HoldError(N_("a release needs the name of who released it"))
        with self._lock:
            hold = self.get(hold_id)
            if hold is None:
                raise HoldError(N_("no hold #%(id)s"), id=hold_id)
            if not hold.active:
                raise HoldError(N_("hold #%(id)s was already released"), id=hold_id)
            now = self.clock.now_us()
            with self.index.write() as c:
                c.execute("UPDATE holds SET released_us=?, released_by=? WHERE id=? AND released_us IS NULL",
                          (now, released_by, hold_id))
        released = self.get(hold_id)
        assert released is not None
        return released

    def holds_covering(self, camera: str, start_us: int, end_us: int) -> builtins.list[Hold]:
        """Holds in force at clock.now whose range overlaps [start_us, end_us) on this camera."""
        return [h for h in self.list() if h.covers(camera, start_us, end_us)]

    def in_force(self) -> builtins.list[Hold]:
        """Loaded once per sweep; the sweep checks each candidate segment against them in memory."""
        return self.list()


def register_hold_create(register: AccessRegister, actor: Actor, hold: Hold) -> Entry:
    """The `hold_create` entry of the access register, the same for the CLI and the API."""
    return register.append(
        actor, "hold_create", cameras=[hold.camera] if hold.camera else [], range_start_us=hold.start_us,
        range_end_us=hold.end_us, purpose=hold.reason, case_number=hold.case_number, subject=f"hold:{hold.id}",
        detail={"hold_id": hold.id, "expires_us": hold.expires_us, "source": hold.source,
                "created_by": hold.created_by, "all_cameras": hold.camera is None},
    )
