"""Open-ended holds of every camera: the two-person path (Art. 18, 19(8)).

A hold of every camera that reaches past now keeps everything any camera records until its end
for at least two years; one officer may not decide that alone (`edge.hold_policy`). The officer
asks (reason, case, approval document), a different approver with a different work credential
approves, and only then the hold is created, still bounded by `[retention]
max_hold_future_hours` counted from the approval. Requests expire like export requests; every
step and refusal is registered under the subject `hold-request:<id>`.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from edge.clock import Clock
from edge.config import RetentionConfig
from edge.hold_policy import bound_hold
from edge.register import SYSTEM, AccessRegister, Actor
from edge.twoperson import Person, WorkflowError, second_person_refusal
from edge.users import User
from storage.holds import Hold, HoldError, HoldStore, register_hold_create
from storage.index import Index

SCHEMA = """
CREATE TABLE IF NOT EXISTS hold_requests (
    id INTEGER PRIMARY KEY,
    state TEXT NOT NULL,                 -- pending | approved | denied | expired
    camera TEXT,                         -- NULL: every camera
    start_us INTEGER NOT NULL,
    end_us INTEGER NOT NULL,
    reason TEXT NOT NULL,
    case_number TEXT NOT NULL,
    approval TEXT NOT NULL,              -- JSON approval document
    requested_by TEXT NOT NULL,
    requester_credential TEXT NOT NULL,
    requested_us INTEGER NOT NULL,
    expires_us INTEGER NOT NULL,
    decided_by TEXT,
    decider_credential TEXT,
    decided_us INTEGER,
    decision_reason TEXT NOT NULL DEFAULT '',
    hold_id INTEGER
);
CREATE INDEX IF NOT EXISTS hold_requests_state ON hold_requests (state);
"""
COLUMNS = ("id, state, camera, start_us, end_us, reason, case_number, approval, requested_by, requester_credential,"
           " requested_us, expires_us, decided_by, decider_credential, decided_us, decision_reason, hold_id")


@dataclass(frozen=True)
class HoldRequest:
    id: int
    state: str
    camera: str | None
    start_us: int
    end_us: int
    reason: str
    case_number: str
    approval: dict[str, Any]
    requester: Person
    requested_us: int
    expires_us: int
    decider: Person | None
    decided_us: int | None
    decision_reason: str
    hold_id: int | None

    @property
    def subject(self) -> str:
        return f"hold-request:{self.id}"


def _row(r: tuple[Any, ...]) -> HoldRequest:
    (id_, state, cam, start, end, reason, case, approval, by, cred, req_us, exp_us, dby, dcred, d_us, dreason,
     hold_id) = r
    return HoldRequest(id_, state, cam, start, end, reason, case, json.loads(approval), Person(by, cred), req_us,
                       exp_us, Person(dby, dcred) if dby is not None else None, d_us, dreason, hold_id)


class HoldRequests:
    def __init__(self, index: Index, register: AccessRegister, clock: Clock, retention: RetentionConfig,
                 ttl_hours: float, max_pending_per_user: int, holds: Callable[[], HoldStore | None]) -> None:
        self.index = index
        self.register = register
        self.clock = clock
        self.retention = retention
        self.ttl_us = int(ttl_hours * 3_600_000_000)
        self.max_pending_per_user = max_pending_per_user
        self._holds = holds
        self._lock = threading.Lock()
        index.execute_schema(SCHEMA)

    def get(self, request_id: int) -> HoldRequest | None:
        r = self.index.reader().execute(f"SELECT {COLUMNS} FROM hold_requests WHERE id=?", (request_id,)).fetchone()
        return None if r is None else _row(r)

    def list(self, limit: int = 100) -> list[HoldRequest]:
        rows = self.index.reader().execute(f"SELECT {COLUMNS} FROM hold_requests ORDER BY id DESC LIMIT ?", (limit,))
        return [_row(r) for r in rows]

    @staticmethod
    def _fields(camera: str | None, start_us: int, end_us: int, reason: str, case_number: str,
                approval: dict[str, Any], subject: str) -> dict[str, Any]:
        return {"subject": subject, "cameras": [camera] if camera else [], "range_start_us": start_us,
                "range_end_us": end_us, "purpose": reason, "case_number": case_number, "approval": approval}

    def _req_fields(self, req: HoldRequest) -> dict[str, Any]:
        return self._fields(req.camera, req.start_us, req.end_us, req.reason, req.case_number, req.approval,
                            req.subject)

    def request(self, actor: Actor, camera: str | None, start_us: int, end_us: int, reason: str, case_number: str,
                approval: dict[str, Any]) -> HoldRequest:
        fields = self._fields(camera, start_us, end_us, reason, case_number, approval, "hold-request:-")
        with self._lock:
            self.expire_due()
            try:
                if not reason.strip() or not case_number.strip():
                    raise HoldError("a hold needs a reason and a case number")
                bounded = bound_hold(self.retention, self.index, self.clock, camera, start_us, end_us,
                                     two_persons=True)
            except HoldError as exc:
                self.register.append(actor, "hold_request", result="refused", detail={"reason": str(exc)}, **fields)
                raise WorkflowError(422, str(exc)) from None
            mine = self.index.reader().execute("SELECT count(*) FROM hold_requests WHERE state='pending' AND"
                                               " requested_by=?", (actor.name,)).fetchone()[0]
            if mine >= self.max_pending_per_user:
                why = (f"{actor.name} already has {mine} pending hold request(s), the most allowed "
                       "([access] max_pending_per_user)")
                self.register.append(actor, "hold_request", result="refused", detail={"reason": why}, **fields)
                raise WorkflowError(429, why)
            now = self.clock.now_us()
            with self.index.write() as c:
                cur = c.execute(
                    "INSERT INTO hold_requests (state, camera, start_us, end_us, reason, case_number, approval,"
                    " requested_by, requester_credential, requested_us, expires_us)"
                    " VALUES ('pending', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (camera, bounded.start_us, bounded.end_us, reason.strip(), case_number.strip(),
                     json.dumps(approval, sort_keys=True), actor.name, actor.credential_id, now, now + self.ttl_us))
                assert cur.lastrowid is not None
                request_id = cur.lastrowid
            req = self.get(request_id)
            assert req is not None
            self.register.append(actor, "hold_request", **self._req_fields(req))
        return req

    def _pending(self, request_id: int, user: User, actor: Actor, action: str) -> HoldRequest:
        self.expire_due()
        req = self.get(request_id)
        if req is None:
            raise WorkflowError(404, f"no hold request {request_id}")
        if req.state != "pending":
            why = f"hold request {request_id} is {req.state}, not pending"
            self.register.append(actor, action, result="refused", detail={"reason": why}, **self._req_fields(req))
            raise WorkflowError(409, why)
        why2 = second_person_refusal(req.requester, user)
        if why2 is not None:
            self.register.append(actor, action, result="refused", detail={"reason": why2}, **self._req_fields(req))
            raise WorkflowError(403, why2)
        return req

    def _decide(self, req: HoldRequest, state: str, user: User, reason: str, hold_id: int | None) -> None:
        with self.index.write() as c:
            cur = c.execute("UPDATE hold_requests SET state=?, decided_by=?, decider_credential=?, decided_us=?,"
                            " decision_reason=?, hold_id=? WHERE id=? AND state='pending'",
                            (state, user.name, user.credential_id, self.clock.now_us(), reason, hold_id, req.id))
            if cur.rowcount != 1:
                raise WorkflowError(409, "the hold request is no longer pending")

    def approve(self, request_id: int, user: User, actor: Actor) -> Hold:
        with self._lock:
            req = self._pending(request_id, user, actor, "hold_request_approve")
            holds = self._holds()
            if holds is None:
                raise WorkflowError(503, "holds are not available on this box")
            try:
                # Bounded again from the approval's "now": a request left pending cannot reach further.
                bounded = bound_hold(self.retention, self.index, self.clock, req.camera, req.start_us, req.end_us,
                                     two_persons=True)
                hold = holds.create(req.camera, bounded.start_us, bounded.end_us, req.reason, req.case_number,
                                    created_by=user.name, source=req.subject)
            except HoldError as exc:
                self.register.append(actor, "hold_request_approve", result="refused", detail={"reason": str(exc)},
                                     **self._req_fields(req))
                raise WorkflowError(409, str(exc)) from None
            self._decide(req, "approved", user, "", hold.id)
            self.register.append(actor, "hold_request_approve", detail={"hold_id": hold.id,
                                                                         "requested_by": req.requester.name},
                                 **self._req_fields(req))
            register_hold_create(self.register, actor, hold)
        return hold

    def deny(self, request_id: int, user: User, actor: Actor, reason: str) -> HoldRequest:
        with self._lock:
            req = self._pending(request_id, user, actor, "hold_request_deny")
            self._decide(req, "denied", user, reason, None)
            self.register.append(actor, "hold_request_deny", detail={"reason": reason}, **self._req_fields(req))
        out = self.get(request_id)
        assert out is not None
        return out

    def expire_due(self) -> int:
        now = self.clock.now_us()
        due = [_row(r) for r in self.index.reader().execute(
            f"SELECT {COLUMNS} FROM hold_requests WHERE state='pending' AND expires_us <= ?", (now,))]
        n = 0
        for req in due:
            with self.index.write() as c:
                if c.execute("UPDATE hold_requests SET state='expired' WHERE id=? AND state='pending'",
                             (req.id,)).rowcount != 1:
                    continue
            self.register.append(SYSTEM, "hold_request_deny", result="expired",
                                 detail={"reason": "the hold request expired"}, **self._req_fields(req))
            n += 1
        return n
