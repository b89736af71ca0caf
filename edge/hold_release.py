"""Releasing a hold before its expiry: the same two-person rule as exports (Art. 18, 19(8)).

An officer asks (reason and approval document), a different approver with a different work
credential approves, and only then `HoldStore.release` runs. Requests expire like export
requests. Every step and every refusal is registered under the subject `hold:<id>`.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from edge.clock import Clock
from edge.register import SYSTEM, AccessRegister, Actor
from edge.twoperson import Person, WorkflowError, second_person_refusal
from edge.users import User
from storage.holds import Hold, HoldError, HoldStore
from storage.index import Index

SCHEMA = """
CREATE TABLE IF NOT EXISTS hold_releases (
    id INTEGER PRIMARY KEY,
    hold_id INTEGER NOT NULL,
    state TEXT NOT NULL,                 -- pending | approved | denied | expired
    reason TEXT NOT NULL,
    approval TEXT NOT NULL,              -- JSON approval document
    requested_by TEXT NOT NULL,
    requester_credential TEXT NOT NULL,
    requested_us INTEGER NOT NULL,
    expires_us INTEGER NOT NULL,
    decided_by TEXT,
    decider_credential TEXT,
    decided_us INTEGER,
    decision_reason TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS hold_releases_hold ON hold_releases (hold_id, state);
"""
COLUMNS = ("id, hold_id, state, reason, approval, requested_by, requester_credential, requested_us, expires_us,"
           " decided_by, decider_credential, decided_us, decision_reason")


@dataclass(frozen=True)
class Release:
    id: int
    hold_id: int
    state: str
    reason: str
    approval: dict[str, Any]
    requester: Person
    requested_us: int
    expires_us: int
    decider: Person | None
    decided_us: int | None
    decision_reason: str


def _row(r: tuple[Any, ...]) -> Release:
    (id_, hold_id, state, reason, approval, by, cred, req_us, exp_us, dby, dcred, d_us, dreason) = r
    return Release(id_, hold_id, state, reason, json.loads(approval), Person(by, cred), req_us, exp_us,
                   Person(dby, dcred) if dby is not None else None, d_us, dreason)


class HoldReleases:
    def __init__(self, index: Index, register: AccessRegister, clock: Clock, ttl_hours: float,
                 holds: Callable[[], HoldStore | None], max_pending_per_user: int = 10) -> None:
        self.max_pending_per_user = max_pending_per_user
        self.index = index
        self.register = register
        self.clock = clock
        self.ttl_us = int(ttl_hours * 3_600_000_000)
        self._holds = holds
        self._lock = threading.Lock()
        index.execute_schema(SCHEMA)

    def store(self) -> HoldStore:
        holds = self._holds()
        if holds is None:
            raise WorkflowError(503, "holds are not available on this box")
        return holds

    def hold(self, hold_id: int) -> Hold:
        hold = self.store().get(hold_id)
        if hold is None:
            raise WorkflowError(404, f"no hold {hold_id}")
        return hold

    def latest(self, hold_id: int) -> Release | None:
        r = self.index.reader().execute(f"SELECT {COLUMNS} FROM hold_releases WHERE hold_id=? ORDER BY id DESC"
                                        " LIMIT 1", (hold_id,)).fetchone()
        return None if r is None else _row(r)

    def _pending(self, hold_id: int) -> Release | None:
        rel = self.latest(hold_id)
        return rel if rel is not None and rel.state == "pending" else None

    @staticmethod
    def _fields(hold: Hold, approval: dict[str, Any] | None = None) -> dict[str, Any]:
        return {"subject": f"hold:{hold.id}", "cameras": [hold.camera] if hold.camera else [],
                "range_start_us": hold.start_us, "range_end_us": hold.end_us, "purpose": hold.reason,
                "case_number": hold.case_number, "approval": approval or {}}

    def _refuse(self, hold: Hold, actor: Actor, action: str, status: int, reason: str,
                approval: dict[str, Any] | None = None) -> WorkflowError:
        self.register.append(actor, action, result="refused", detail={"reason": reason},
                             **self._fields(hold, approval))
        return WorkflowError(status, reason)

    def request(self, hold_id: int, actor: Actor, reason: str, approval: dict[str, Any]) -> Release:
        with self._lock:
            self.expire_due()
            hold = self.hold(hold_id)
            if not hold.in_force(self.clock.now_us()):
                raise self._refuse(hold, actor, "hold_release_request", 409, f"hold {hold_id} is not in force",
                                   approval)
            if self._pending(hold_id) is not None:
                raise self._refuse(hold, actor, "hold_release_request", 409,
                                   f"hold {hold_id} already has a pending release request", approval)
            mine = self.index.reader().execute("SELECT count(*) FROM hold_releases WHERE state='pending' AND"
                                               " requested_by=?", (actor.name,)).fetchone()[0]
            if mine >= self.max_pending_per_user:
                raise self._refuse(hold, actor, "hold_release_request", 429,
                                   f"{actor.name} already has {mine} pending release request(s), the most allowed "
                                   "([access] max_pending_per_user)", approval)
            now = self.clock.now_us()
            with self.index.write() as c:
                c.execute("INSERT INTO hold_releases (hold_id, state, reason, approval, requested_by,"
                          " requester_credential, requested_us, expires_us) VALUES (?, 'pending', ?, ?, ?, ?, ?, ?)",
                          (hold_id, reason, json.dumps(approval, sort_keys=True), actor.name, actor.credential_id,
                           now, now + self.ttl_us))
            self.register.append(actor, "hold_release_request", detail={"reason": reason},
                                 **self._fields(hold, approval))
        rel = self.latest(hold_id)
        assert rel is not None
        return rel

    def _decision(self, hold_id: int, user: User, actor: Actor, action: str) -> tuple[Hold, Release]:
        self.expire_due()
        hold = self.hold(hold_id)
        rel = self._pending(hold_id)
        if rel is None:
            raise self._refuse(hold, actor, action, 409, f"hold {hold_id} has no pending release request")
        why = second_person_refusal(rel.requester, user)
        if why is not None:
            raise self._refuse(hold, actor, action, 403, why, rel.approval)
        return hold, rel

    def _decide(self, rel: Release, state: str, user: User, reason: str) -> None:
        with self.index.write() as c:
            cur = c.execute("UPDATE hold_releases SET state=?, decided_by=?, decider_credential=?, decided_us=?,"
                            " decision_reason=? WHERE id=? AND state='pending'",
                            (state, user.name, user.credential_id, self.clock.now_us(), reason, rel.id))
            if cur.rowcount != 1:
                raise WorkflowError(409, "the release request is no longer pending")

    def approve(self, hold_id: int, user: User, actor: Actor) -> Hold:
        with self._lock:
            hold, rel = self._decision(hold_id, user, actor, "hold_release_approve")
            try:
                released = self.store().release(hold_id, user.name)
            except HoldError as exc:
                raise self._refuse(hold, actor, "hold_release_approve", 409, str(exc), rel.approval) from None
            self._decide(rel, "approved", user, "")
            self.register.append(actor, "hold_release_approve", detail={"requested_by": rel.requester.name,
                                                                         "reason": rel.reason},
                                 **self._fields(hold, rel.approval))
        return released

    def deny(self, hold_id: int, user: User, actor: Actor, reason: str) -> Release:
        with self._lock:
            hold, rel = self._decision(hold_id, user, actor, "hold_release_deny")
            self._decide(rel, "denied", user, reason)
            self.register.append(actor, "hold_release_deny", detail={"reason": reason},
                                 **self._fields(hold, rel.approval))
        out = self.latest(hold_id)
        assert out is not None
        return out

    def expire_due(self) -> int:
        now = self.clock.now_us()
        due = [_row(r) for r in self.index.reader().execute(
            f"SELECT {COLUMNS} FROM hold_releases WHERE state='pending' AND expires_us <= ?", (now,))]
        for rel in due:
            with self.index.write() as c:
                if c.execute("UPDATE hold_releases SET state='expired' WHERE id=? AND state='pending'",
                             (rel.id,)).rowcount != 1:
                    continue
            holds = self._holds()
            hold = holds.get(rel.hold_id) if holds is not None else None
            fields = self._fields(hold, rel.approval) if hold is not None else {"subject": f"hold:{rel.hold_id}"}
            self.register.append(SYSTEM, "hold_release_deny", result="expired",
                                 detail={"reason": "the release request expired"}, **fields)
        return len(due)
