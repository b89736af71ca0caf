"""Open-ended holds of every camera: a use of the two-person workflow (Art. 18, 19(8)).

A hold of every camera that reaches past now keeps everything any camera records until its end
for at least two years; one officer may not decide that alone (`edge.access.hold_policy`). The
officer asks (reason, case, approval document), a different approver with a different work
credential approves, and only then the hold is created, still bounded by `[retention]
max_hold_future_hours` counted from the approval. Requests expire like export requests; every
step and refusal is registered under the subject `hold-request:<id>`.
"""

from __future__ import annotations

import builtins
from dataclasses import dataclass
from typing import Any

from edge.access.hold_policy import bound_hold, hold_message
from edge.access.users import User
from edge.access.workflow import HOLDS_UNAVAILABLE, Request, Use, Workflow, WorkflowError, pending_cap
from edge.config_sections import RetentionConfig
from edge.i18n.message import N_, Message
from storage.clock import HOUR_US, Clock
from storage.holds import Hold, HoldError, HoldStore, register_hold_create
from storage.index import Index
from storage.register import AccessRegister, Actor

OWN_COLUMNS = ("camera", "start_us", "end_us", "reason", "case_number", "approval", "hold_id")


@dataclass(frozen=True)
class HoldRequest(Request):
    camera: str | None
    start_us: int
    end_us: int
    reason: str
    case_number: str
    approval: dict[str, Any]
    hold_id: int | None

    @property
    def subject(self) -> str:
        return f"hold-request:{self.id}"


def _hold_request(r: Request) -> HoldRequest:
    o = r.own
    return HoldRequest(**vars(r), camera=o["camera"], start_us=int(o["start_us"]), end_us=int(o["end_us"]),
                       reason=o["reason"], case_number=o["case_number"], approval=o["approval"],
                       hold_id=o["hold_id"])


def _fields(camera: str | None, start_us: int, end_us: int, reason: str, case_number: str,
            approval: dict[str, Any]) -> dict[str, Any]:
    return {"cameras": [camera] if camera else [], "range_start_us": start_us, "range_end_us": end_us,
            "purpose": reason, "case_number": case_number, "approval": approval}


def _request_fields(r: Request) -> dict[str, Any]:
    o = r.own
    return _fields(o["camera"], int(o["start_us"]), int(o["end_us"]), o["reason"], o["case_number"], o["approval"])


class HoldRequests:
    def __init__(self, index: Index, register: AccessRegister, clock: Clock, retention: RetentionConfig,
                 ttl_hours: float, max_pending_per_user: int, holds: HoldStore | None) -> None:
        use = Use(table="hold_requests", action="wide_hold", subject=lambda r: f"hold-request:{r.id}",
                  fields=_request_fields, noun=N_("hold request"), own_columns=OWN_COLUMNS,
                  json_columns=frozenset({"approval"}), expire_action="wide_hold_deny", expire_result="expired")
        self.flow = Workflow(use, index, register, clock, int(ttl_hours * HOUR_US))
        self.index = index
        self.register = register
        self.clock = clock
        self.retention = retention
        self.max_pending_per_user = max_pending_per_user
        self.holds = holds

    def get(self, request_id: int) -> HoldRequest | None:
        r = self.flow.get(request_id)
        return None if r is None else _hold_request(r)

    def list(self, limit: int = 100) -> builtins.list[HoldRequest]:
        return [_hold_request(r) for r in self.flow.select(limit=limit)]

    def _refused(self, actor: Actor, status: int, why: Message, fields: dict[str, Any]) -> WorkflowError:
        self.register.append(actor, "wide_hold_request", result="refused", subject="hold-request:-",
                             detail={"reason": str(why), "code": why.code}, **fields)
        return WorkflowError(status, why)

    def request(self, actor: Actor, camera: str | None, start_us: int, end_us: int, reason: str, case_number: str,
                approval: dict[str, Any]) -> HoldRequest:
        fields = _fields(camera, start_us, end_us, reason, case_number, approval)
        with self.flow.lock:
            self.flow.expire_due()
            try:
                if not reason.strip() or not case_number.strip():
                    raise HoldError(N_("a hold needs a reason and a case number"))
                bounded = bound_hold(self.retention, self.index, self.clock, camera, start_us, end_us,
                                     two_persons=True)
            except HoldError as exc:
                raise self._refused(actor, 422, hold_message(exc), fields) from None
            mine = self.flow.pending_of(actor.name)
            if mine >= self.max_pending_per_user:
                raise self._refused(actor, 429, pending_cap(actor.name, mine, self.flow.noun,
                                                            "[access] max_pending_per_user"), fields)
            req = self.flow.create(actor, {"camera": camera, "start_us": bounded.start_us, "end_us": bounded.end_us,
                                           "reason": reason.strip(), "case_number": case_number.strip(),
                                           "approval": approval, "hold_id": None})
        return _hold_request(req)

    def approve(self, request_id: int, user: User, actor: Actor) -> Hold:
        with self.flow.lock:
            req = self.flow.pending(request_id, actor, "approve")
            made: list[Hold] = []

            def place(r: Request) -> None:
                if self.holds is None:
                    raise WorkflowError(503, HOLDS_UNAVAILABLE)
                hr = _hold_request(r)
                try:
                    # Bounded again from the approval's "now": a request left pending cannot reach further.
                    b = bound_hold(self.retention, self.index, self.clock, hr.camera, hr.start_us, hr.end_us,
                                   two_persons=True)
                    made.append(self.holds.create(hr.camera, b.start_us, b.end_us, hr.reason, hr.case_number,
                                                  created_by=user.name, source=hr.subject))
                except HoldError as exc:
                    raise WorkflowError(409, hold_message(exc)) from None

            self.flow.decide(req, user, actor, approve=True, on_approve=place,
                             detail={"requested_by": req.requester.name})
            hold = made[0]
            self.flow.set_state(req.id, "approved", hold_id=hold.id)
            register_hold_create(self.register, actor, hold)
        return hold

    def deny(self, request_id: int, user: User, actor: Actor, reason: str) -> HoldRequest:
        with self.flow.lock:
            req = self.flow.pending(request_id, actor, "deny")
            return _hold_request(self.flow.decide(req, user, actor, approve=False, reason=reason))

    def expire_due(self) -> int:
        return self.flow.expire_due()
