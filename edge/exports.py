"""Export requests (Art. 18-20): request → approve/deny by a second person → produce → download.

States: pending → approved → producing → ready | failed; pending → denied | expired. Nothing is
read from the store before approval. Every step, and every refused step, is registered under the
subject `export:<id>`. The bundle itself is produced by `edge.export_producer`.
"""

from __future__ import annotations

import builtins
import enum
import json
import logging
import threading
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any, Protocol

from edge.clock import Clock
from edge.config import AccessConfig
from edge.identity import name_key
from edge.register import SYSTEM, AccessRegister, Actor
from edge.twoperson import Person, WorkflowError, second_person_refusal
from edge.users import User
from storage.holds import Hold, register_hold_create
from storage.index import Index

log = logging.getLogger(__name__)

HOUR_US = 3_600_000_000
#: Newest exports scanned for those a user may see (a box holds far fewer pending or recent ones).
VISIBLE_SCAN = 5000

SCHEMA = """
CREATE TABLE IF NOT EXISTS exports (
    id INTEGER PRIMARY KEY,
    state TEXT NOT NULL,
    spec TEXT NOT NULL,                  -- JSON: cameras, range, purpose, case, recipient, approval document, hold
    requested_by TEXT NOT NULL,
    requester_credential TEXT NOT NULL,
    requested_us INTEGER NOT NULL,
    expires_us INTEGER NOT NULL,
    decided_by TEXT,
    decider_credential TEXT,
    decided_us INTEGER,
    decision_reason TEXT NOT NULL DEFAULT '',
    error TEXT NOT NULL DEFAULT '',
    completed_us INTEGER,
    manifest_sha256 TEXT
);
CREATE INDEX IF NOT EXISTS exports_state ON exports (state);
"""


class State(enum.StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    PRODUCING = "producing"
    READY = "ready"
    FAILED = "failed"
    DENIED = "denied"
    EXPIRED = "expired"


class HoldsLike(Protocol):
    """What exports need of `storage.holds.HoldStore` (kept structural so the two evolve apart)."""

    def create(self, camera: str | None, start_us: int, end_us: int, reason: str, case_number: str,
               created_by: str, source: str = "manual") -> Hold: ...


@dataclass(frozen=True)
class ExportSpec:
    cameras: tuple[str, ...]
    start_us: int
    end_us: int
    purpose: str
    case_number: str
    recipient: dict[str, Any]
    approval_document: dict[str, Any]
    hold: bool = False

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        d["cameras"] = list(self.cameras)
        return d

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> ExportSpec:
        return cls(**{**d, "cameras": tuple(d["cameras"])})

    def register_fields(self) -> dict[str, Any]:
        return {"cameras": list(self.cameras), "range_start_us": self.start_us, "range_end_us": self.end_us,
                "purpose": self.purpose, "case_number": self.case_number, "recipient": self.recipient,
                "approval": self.approval_document}


@dataclass(frozen=True)
class Export:
    id: int
    state: State
    spec: ExportSpec
    requester: Person
    requested_us: int
    expires_us: int
    decider: Person | None
    decided_us: int | None
    decision_reason: str
    error: str
    completed_us: int | None
    manifest_sha256: str | None

    @property
    def subject(self) -> str:
        return f"export:{self.id}"


COLUMNS = ("id, state, spec, requested_by, requester_credential, requested_us, expires_us, decided_by, "
           "decider_credential, decided_us, decision_reason, error, completed_us, manifest_sha256")


def _row(r: tuple[Any, ...]) -> Export:
    (id_, state, spec, by, cred, req_us, exp_us, dby, dcred, d_us, reason, error, done_us, msha) = r
    decider = Person(dby, dcred) if dby is not None else None
    return Export(int(id_), State(state), ExportSpec.from_json(json.loads(spec)), Person(by, cred), req_us, exp_us,
                  decider, d_us, reason, error, done_us, msha)


class ExportManager:
    def __init__(self, index: Index, register: AccessRegister, clock: Clock, access: AccessConfig,
                 holds: Callable[[], HoldsLike | None]) -> None:
        self.index = index
        self.register = register
        self.clock = clock
        self.access = access
        self._holds = holds
        self._lock = threading.Lock()
        #: Percent done of exports being produced (kept in memory: it changes per segment).
        self.progress: dict[int, float] = {}
        #: Called after an approval so the producer starts at once instead of at its next tick.
        self.on_approved: Callable[[int], None] = lambda _id: None
        index.execute_schema(SCHEMA)

    # -- reading --------------------------------------------------------------------------------
    def get(self, export_id: int) -> Export | None:
        r = self.index.reader().execute(f"SELECT {COLUMNS} FROM exports WHERE id=?", (export_id,)).fetchone()
        return None if r is None else _row(r)

    def list(self, limit: int = 100, states: tuple[State, ...] = ()) -> list[Export]:
        sql = f"SELECT {COLUMNS} FROM exports"
        args: list[Any] = []
        if states:
            sql += f" WHERE state IN ({', '.join('?' * len(states))})"
            args += [s.value for s in states]
        sql += " ORDER BY id DESC LIMIT ?"
        args.append(limit)
        return [_row(r) for r in self.index.reader().execute(sql, args)]

    def visible_to(self, exp: Export, user: User) -> bool:
        """Purpose, case and recipient are confidential (Art. 18(5)): an officer sees the exports they
        requested, an approver those they decided or may still decide (pending, not their own)."""
        if name_key(exp.requester.name) == name_key(user.name):
            return True
        if exp.decider is not None and name_key(exp.decider.name) == name_key(user.name):
            return True
        return exp.state is State.PENDING and second_person_refusal(exp.requester, user) is None

    def list_visible(self, user: User, limit: int = 100, states: tuple[State, ...] = ()) -> builtins.list[Export]:
        return [e for e in self.list(VISIBLE_SCAN, states) if self.visible_to(e, user)][:limit]

    def percent(self, exp: Export) -> float:
        if exp.state is State.READY:
            return 100.0
        return round(self.progress.get(exp.id, 0.0), 1) if exp.state is State.PRODUCING else 0.0

    # -- the workflow ---------------------------------------------------------------------------
    def request(self, actor: Actor, spec: ExportSpec) -> Export:
        now = self.clock.now_us()
        expires = now + int(self.access.request_ttl_hours * HOUR_US)
        self.expire_due()
        with self._lock:
            pending = self.index.reader().execute(
                "SELECT count(*) FROM exports WHERE state='pending' AND requested_by=?", (actor.name,)).fetchone()[0]
            if pending >= self.access.max_pending_per_user:
                reason = (f"{actor.name} already has {pending} pending export request(s), the most allowed "
                          "([access] max_pending_per_user); wait for a decision first")
                self.register.append(actor, "export_request", result="refused", subject="export:-",
                                     detail={"reason": reason}, **spec.register_fields())
                raise WorkflowError(429, reason)
            with self.index.write() as c:
                cur = c.execute(
                    "INSERT INTO exports (state, spec, requested_by, requester_credential, requested_us, expires_us)"
                    " VALUES (?, ?, ?, ?, ?, ?)",
                    (State.PENDING.value, json.dumps(spec.to_json(), sort_keys=True), actor.name,
                     actor.credential_id, now, expires),
                )
                assert cur.lastrowid is not None
                export_id = cur.lastrowid
        self.register.append(actor, "export_request", subject=f"export:{export_id}", detail={"hold": spec.hold},
                             **spec.register_fields())
        log.info("export %d requested by %s (%s)", export_id, actor.name, ", ".join(spec.cameras))
        exp = self.get(export_id)
        assert exp is not None
        return exp

    def _refuse(self, exp: Export, actor: Actor, action: str, status: int, reason: str) -> WorkflowError:
        self.register.append(actor, action, result="refused", subject=exp.subject, detail={"reason": reason},
                             **exp.spec.register_fields())
        return WorkflowError(status, reason)

    def _pending(self, export_id: int, actor: Actor, action: str) -> Export:
        self.expire_due()
        exp = self.get(export_id)
        if exp is None:
            raise WorkflowError(404, f"no export {export_id}")
        if exp.state is not State.PENDING:
            raise self._refuse(exp, actor, action, 409, f"export {export_id} is {exp.state.value}, not pending")
        return exp

    def approve(self, export_id: int, user: User, actor: Actor, note: str = "") -> Export:
        with self._lock:
            exp = self._pending(export_id, actor, "export_approve")
            why = second_person_refusal(exp.requester, user)
            if why is not None:
                raise self._refuse(exp, actor, "export_approve", 403, why)
            holds = self._holds() if exp.spec.hold else None
            if exp.spec.hold and holds is None:
                raise self._refuse(exp, actor, "export_approve", 503, "holds are not available on this box")
            now = self.clock.now_us()
            self._decide(exp.id, State.APPROVED, user, now, note)
            self.register.append(actor, "export_approve", subject=exp.subject, detail={"note": note},
                                 **exp.spec.register_fields())
            if holds is not None:
                self._hold(exp, holds, user, actor)
        log.info("export %d approved by %s", export_id, user.name)
        self.on_approved(export_id)
        out = self.get(export_id)
        assert out is not None
        return out

    def _hold(self, exp: Export, holds: HoldsLike, user: User, actor: Actor) -> None:
        """Footage handed to police is kept for the statutory period (Art. 19(8)): hold whole segments."""
        for cam in exp.spec.cameras:
            segs = self.index.segments_in_range(cam, exp.spec.start_us, exp.spec.end_us)
            start = min([exp.spec.start_us] + [s.start_us for s in segs])
            end = max([exp.spec.end_us] + [s.end_us for s in segs])
            hold = holds.create(cam, start, end, f"export {exp.id}: {exp.spec.purpose}", exp.spec.case_number,
                                created_by=user.name, source=exp.subject)
            register_hold_create(self.register, actor, hold)

    def deny(self, export_id: int, user: User, actor: Actor, reason: str) -> Export:
        with self._lock:
            exp = self._pending(export_id, actor, "export_deny")
            # Denying is also a decision of the second person: the requester cannot "deny" to
            # hide a request either (withdrawal would be its own action).
            why = second_person_refusal(exp.requester, user)
            if why is not None:
                raise self._refuse(exp, actor, "export_deny", 403, why)
            self._decide(exp.id, State.DENIED, user, self.clock.now_us(), reason)
            self.register.append(actor, "export_deny", subject=exp.subject, detail={"reason": reason},
                                 **exp.spec.register_fields())
        out = self.get(export_id)
        assert out is not None
        return out

    def _decide(self, export_id: int, state: State, user: User, now: int, reason: str) -> None:
        with self.index.write() as c:
            cur = c.execute(
                "UPDATE exports SET state=?, decided_by=?, decider_credential=?, decided_us=?, decision_reason=?"
                " WHERE id=? AND state='pending'",
                (state.value, user.name, user.credential_id, now, reason, export_id))
            if cur.rowcount != 1:
                raise WorkflowError(409, f"export {export_id} is no longer pending")

    def expire_due(self) -> int:
        now = self.clock.now_us()
        due = [int(r[0]) for r in self.index.reader().execute(
            "SELECT id FROM exports WHERE state='pending' AND expires_us <= ?", (now,))]
        n = 0
        for export_id in due:
            with self.index.write() as c:
                if c.execute("UPDATE exports SET state='expired' WHERE id=? AND state='pending'",
                             (export_id,)).rowcount != 1:
                    continue
            exp = self.get(export_id)
            assert exp is not None
            self.register.append(SYSTEM, "export_expire", subject=exp.subject,
                                 detail={"expires_us": exp.expires_us}, **exp.spec.register_fields())
            n += 1
        return n

    # -- production (called by the producer) ----------------------------------------------------
    def set_state(self, export_id: int, state: State, error: str = "", manifest_sha256: str | None = None) -> None:
        done = self.clock.now_us() if state in (State.READY, State.FAILED) else None
        with self.index.write() as c:
            c.execute("UPDATE exports SET state=?, error=?, manifest_sha256=coalesce(?, manifest_sha256),"
                      " completed_us=coalesce(?, completed_us) WHERE id=?",
                      (state.value, error, manifest_sha256, done, export_id))
        if state is not State.PRODUCING:
            self.progress.pop(export_id, None)

    # -- download -------------------------------------------------------------------------------
    def authorize_download(self, export_id: int, user: User, actor: Actor) -> Export:
        """Only the two persons of the request may copy the bundle, and only once it is ready."""
        exp = self.get(export_id)
        if exp is None:
            raise WorkflowError(404, f"no export {export_id}")
        allowed = {exp.requester.name} | ({exp.decider.name} if exp.decider and exp.state is not State.DENIED
                                          else set())
        if user.name not in allowed:
            raise self._refuse(exp, actor, "export_download", 403,
                               "only the requester or the approver of this export may download it")
        if exp.state is not State.READY:
            raise self._refuse(exp, actor, "export_download", 409,
                               f"export {export_id} is {exp.state.value}: there is nothing to download")
        return exp

    def register_download(self, exp: Export, actor: Actor, size: int) -> int:
        entry = self.register.append(actor, "export_download", subject=exp.subject,
                                     detail={"manifest_sha256": exp.manifest_sha256, "bytes": size},
                                     **exp.spec.register_fields())
        return entry.id
