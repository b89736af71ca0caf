"""The one two-person workflow (Art. 18): request → approve | deny | expire, every step registered.

Exports, hold releases and review grants are uses of it. Each use names its table (one DDL shape,
`request_table_ddl`, plus the use's own columns), its register actions and the register fields of
a request; the rules live here once:
- nothing is decided twice: a decision applies only to a request still `pending` (checked in the
  UPDATE itself, so two approvers racing cannot both win);
- the second person is a different account *and* a different work credential, with the approver
  role (`second_person_refusal`): one officer holding two accounts is still one person;
- a pending request past its time-to-live expires (registered by the system);
- every step, and every refused step, is registered with the request's subject.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from edge.access.identity import credential_key, name_key
from edge.access.users import Role, User
from edge.i18n.message import N_, Message, term
from storage.clock import HOUR_US, Clock
from storage.index import Index
from storage.register import SYSTEM, AccessRegister, Actor

PENDING, APPROVED, DENIED, EXPIRED = "pending", "approved", "denied", "expired"


class WorkflowError(Exception):
    """A refused workflow step; `status` is the HTTP status the API answers with, `message` the
    reason (a stable `code` plus parameters, translated where it is shown); `reason` is its English,
    as the register keeps it."""

    def __init__(self, status: int, message: Message) -> None:
        super().__init__(str(message))
        self.status = status
        self.message = message

    @property
    def reason(self) -> str:
        return str(self.message)

    @property
    def code(self) -> str:
        return self.message.code


@dataclass(frozen=True)
class Problem:
    """One reason a request is refused before it exists: the field (a path, e.g. ("cameras", 2))
    and the rule it breaks."""

    field: tuple[str | int, ...]
    message: Message

    @property
    def msg(self) -> str:
        return str(self.message)


class InvalidRequest(WorkflowError):
    """A request refused as a whole, with one problem per broken rule (the API answers 422)."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__(422, Message("invalid_request", "; ".join(
            f"{'.'.join(map(str, p.field))}: {p.msg}" for p in problems)))
        self.problems = problems


#: The refusals every use shares. Codes are stable (API clients test them); texts are msgids.
NOT_FOUND = N_("no %(noun)s %(id)s")
NOT_PENDING = N_("%(noun)s %(id)s is %(state)s, not pending")
NO_LONGER_PENDING = N_("%(noun)s %(id)s is no longer pending")
PENDING_CAP = N_("%(user)s already has %(count)s pending %(noun)s(s), the most allowed (%(setting)s); "
                 "wait for a decision first")
HOLDS_UNAVAILABLE = Message("holds_unavailable", N_("holds are not available on this box"))


def unknown_camera(camera: str) -> Message:
    return Message("unknown_camera", N_("unknown camera '%(camera)s'"), {"camera": camera})


def range_too_long(hours: float) -> Message:
    return Message("range_too_long", N_("the range is longer than the maximum of %(hours)s h "
                                        "([access] max_export_hours); split the request"), {"hours": f"{hours:g}"})


#: A request's end may lie this far after the box's clock (clock skew between officer and box).
FUTURE_TOLERANCE_US = 5_000_000


def footage_range_problems(cameras: Sequence[str], start_us: int, end_us: int, known: set[str] | frozenset[str],
                           max_hours: float, now_us: int, future: Message) -> list[Problem]:
    """The rules a request for recorded footage shares (an export, a review): known cameras, a range
    no longer than `[access] max_export_hours`, an end not in the future (`future` says why)."""
    out = [Problem(("cameras", i), unknown_camera(cam)) for i, cam in enumerate(cameras) if cam not in known]
    if end_us - start_us > int(max_hours * HOUR_US):
        out.append(Problem(("end",), range_too_long(max_hours)))
    if end_us > now_us + FUTURE_TOLERANCE_US:
        out.append(Problem(("end",), future))
    return out


def pending_cap(user: str, count: int, noun: Message, setting: str) -> Message:
    return Message("pending_cap", PENDING_CAP, {"user": user, "count": count, "noun": noun, "setting": setting})


@dataclass(frozen=True)
class Person:
    name: str
    credential_id: str


def same_credential(a: str, b: str) -> bool:
    """Compared after normalisation (edge/access/identity.py): `O\u200b-1` or `Ｏ-1` is `O-1`."""
    return credential_key(a) == credential_key(b)


def second_person_refusal(requester: Person, approver: User) -> Message | None:
    """Why `approver` may not decide `requester`'s request, or None when they may."""
    if approver.role is not Role.APPROVER:
        return Message("approver_role", N_("role '%(role)s' may not approve"), {"role": approver.role.value})
    if name_key(approver.name) == name_key(requester.name):
        return Message("self_approval", N_("a request cannot be approved by the user who made it "
                                           "(Art. 18: at least two persons)"))
    if same_credential(approver.credential_id, requester.credential_id):
        return Message("same_credential", N_("the approver holds the same work credential as the requester: one "
                                             "person cannot approve their own request under a second account "
                                             "(Art. 18)"))
    return None


COMMON = ("id", "state", "requested_by", "requester_credential", "requested_us", "expires_us", "decided_by",
          "decider_credential", "decided_us", "decision_reason")


@dataclass(frozen=True)
class Request:
    """One row of a use's table: the common columns, and the use's own in `own` (JSON decoded)."""

    id: int
    state: str
    requester: Person
    requested_us: int
    expires_us: int
    decider: Person | None
    decided_us: int | None
    decision_reason: str
    own: Mapping[str, Any]


@dataclass(frozen=True)
class Use:
    """How one use of the workflow is stored and registered."""

    table: str
    #: Register actions: `<action>_request`, `_approve`, `_deny`; expiry is `expire_action`.
    action: str
    subject: Callable[[Request], str]
    #: The register fields (cameras, range, purpose, case, approval ...) of a request.
    fields: Callable[[Request], dict[str, Any]]
    #: How a request is named in messages: "export" → "no export 7", "export 7 is denied"
    #: (a catalog text: it is translated with the message).
    noun: str = N_("request")
    own_columns: Sequence[str] = ()
    json_columns: frozenset[str] = frozenset()
    expire_action: str = ""
    expire_result: str = "ok"

    @property
    def columns(self) -> str:
        return ", ".join((*COMMON, *self.own_columns))


class Workflow:
    def __init__(self, use: Use, index: Index, register: AccessRegister, clock: Clock, ttl_us: int) -> None:
        self.use = use
        self.index = index
        self.register = register
        self.clock = clock
        self.ttl_us = ttl_us
        #: Serialises the read-check-decide steps of one use (the UPDATE guards across processes).
        self.lock = threading.RLock()

    # -- reading --------------------------------------------------------------------------------
    def _row(self, r: Sequence[Any]) -> Request:
        (id_, state, by, cred, req_us, exp_us, dby, dcred, d_us, reason, *own) = r
        values = {}
        for name, value in zip(self.use.own_columns, own, strict=True):
            values[name] = json.loads(value) if name in self.use.json_columns and value is not None else value
        return Request(int(id_), state, Person(by, cred), req_us, exp_us,
                       Person(dby, dcred) if dby is not None else None, d_us, reason, values)

    def get(self, request_id: int) -> Request | None:
        r = self.index.reader().execute(f"SELECT {self.use.columns} FROM {self.use.table} WHERE id=?",
                                        (request_id,)).fetchone()
        return None if r is None else self._row(r)

    def select(self, where: str = "", args: Sequence[Any] = (), limit: int = 100) -> list[Request]:
        sql = f"SELECT {self.use.columns} FROM {self.use.table}"
        if where:
            sql += f" WHERE {where}"
        sql += " ORDER BY id DESC LIMIT ?"
        return [self._row(r) for r in self.index.reader().execute(sql, (*args, limit))]

    # -- steps ----------------------------------------------------------------------------------
    @property
    def noun(self) -> Message:
        return term(self.use.noun)

    def refuse(self, req: Request, actor: Actor, step: str, status: int, reason: Message) -> WorkflowError:
        """Register a refused step (in English, with its code) and return the error to raise."""
        self.register.append(actor, f"{self.use.action}_{step}", result="refused", subject=self.use.subject(req),
                             detail={"reason": str(reason), "code": reason.code}, **self.use.fields(req))
        return WorkflowError(status, reason)

    def pending_of(self, user: str) -> int:
        """How many of `user`'s requests wait for a decision (after expiring what is due)."""
        self.expire_due()
        row = self.index.reader().execute(f"SELECT count(*) FROM {self.use.table} WHERE state='pending'"
                                          " AND requested_by=?", (user,)).fetchone()
        return int(row[0])

    def create(self, actor: Actor, own: Mapping[str, Any], detail: dict[str, Any] | None = None) -> Request:
        """A new pending request, registered as `<action>_request`."""
        now = self.clock.now_us()
        names = list(own)
        values = [json.dumps(own[n], sort_keys=True) if n in self.use.json_columns else own[n] for n in names]
        cols = ", ".join(["state", *names, "requested_by", "requester_credential", "requested_us", "expires_us"])
        marks = ", ".join("?" * (len(names) + 5))
        with self.index.write() as c:
            cur = c.execute(f"INSERT INTO {self.use.table} ({cols}) VALUES ({marks})",
                            (PENDING, *values, actor.name, actor.credential_id, now, now + self.ttl_us))
            assert cur.lastrowid is not None
            request_id = cur.lastrowid
        req = self.get(request_id)
        assert req is not None
        self.register.append(actor, f"{self.use.action}_request", subject=self.use.subject(req),
                             detail=detail or {}, **self.use.fields(req))
        return req

    def pending(self, request_id: int, actor: Actor, step: str) -> Request:
        """The request if it is still pending (expiring what is due first), or a refusal."""
        self.expire_due()
        req = self.get(request_id)
        if req is None:
            raise WorkflowError(404, Message("not_found", NOT_FOUND, {"noun": self.noun, "id": request_id}))
        if req.state != PENDING:
            raise self.refuse(req, actor, step, 409, Message("not_pending", NOT_PENDING,
                                                             {"noun": self.noun, "id": req.id,
                                                              "state": term(req.state)}))
        return req

    def decide(self, req: Request, user: User, actor: Actor, approve: bool, reason: str = "",
               detail: dict[str, Any] | None = None, on_approve: Callable[[Request], None] | None = None) -> Request:
        """Approve or deny `req` (already checked pending) as `user`, the second person.

        `on_approve` runs before the decision is written: if it raises a WorkflowError the step is
        refused and registered, and the request stays pending."""
        step = "approve" if approve else "deny"
        why = second_person_refusal(req.requester, user)
        if why is not None:
            raise self.refuse(req, actor, step, 403, why)
        if on_approve is not None and approve:
            try:
                on_approve(req)
            except WorkflowError as err:
                raise self.refuse(req, actor, step, err.status, err.message) from None
        with self.index.write() as c:
            cur = c.execute(
                f"UPDATE {self.use.table} SET state=?, decided_by=?, decider_credential=?, decided_us=?,"
                " decision_reason=? WHERE id=? AND state='pending'",
                (APPROVED if approve else DENIED, user.name, user.credential_id, self.clock.now_us(), reason, req.id))
            if cur.rowcount != 1:
                raise WorkflowError(409, Message("no_longer_pending", NO_LONGER_PENDING,
                                                 {"noun": self.noun, "id": req.id}))
        self.register.append(actor, f"{self.use.action}_{step}", subject=self.use.subject(req),
                             detail=detail if detail is not None else ({"reason": reason} if reason else {}),
                             **self.use.fields(req))
        out = self.get(req.id)
        assert out is not None
        return out

    def set_state(self, request_id: int, state: str, **columns: Any) -> None:
        """A use's own later states (an export's producing → ready): not a workflow decision."""
        sets = ", ".join(["state=?", *(f"{k}=?" for k in columns)])
        with self.index.write() as c:
            c.execute(f"UPDATE {self.use.table} SET {sets} WHERE id=?", (state, *columns.values(), request_id))

    def expire_due(self) -> int:
        now = self.clock.now_us()
        due = [int(r[0]) for r in self.index.reader().execute(
            f"SELECT id FROM {self.use.table} WHERE state='pending' AND expires_us <= ?", (now,))]
        n = 0
        for request_id in due:
            with self.index.write() as c:
                if c.execute(f"UPDATE {self.use.table} SET state='expired' WHERE id=? AND state='pending'",
                             (request_id,)).rowcount != 1:
                    continue
            req = self.get(request_id)
            assert req is not None
            self.register.append(SYSTEM, self.use.expire_action or f"{self.use.action}_expire",
                                 result=self.use.expire_result, subject=self.use.subject(req),
                                 detail={"expires_us": req.expires_us, "reason": "the request expired"},
                                 **self.use.fields(req))
            n += 1
        return n
