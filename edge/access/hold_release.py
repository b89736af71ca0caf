"""Releasing a hold before its expiry: a use of the two-person workflow (Art. 18, 19(8)).

An officer asks (reason and approval document), a different approver with a different work
credential approves, and only then `HoldStore.release` runs. Requests expire like export
requests. Every step and every refusal is registered under the subject `hold:<id>`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from edge.access.hold_policy import hold_message
from edge.access.users import User
from edge.access.workflow import HOLDS_UNAVAILABLE, NOT_FOUND, Request, Use, Workflow, WorkflowError, pending_cap
from edge.i18n.message import N_, Message, term
from storage.clock import HOUR_US, Clock
from storage.holds import Hold, HoldError, HoldStore
from storage.index import Index
from storage.register import AccessRegister, Actor

OWN_COLUMNS = ("hold_id", "reason", "approval")


@dataclass(frozen=True)
class Release(Request):
    """A release request with its own columns read out (the workflow's fields come from Request)."""

    hold_id: int
    reason: str
    approval: dict[str, Any]


def _release(r: Request) -> Release:
    return Release(**vars(r), hold_id=int(r.own["hold_id"]), reason=r.own["reason"], approval=r.own["approval"])


def hold_fields(hold: Hold, approval: dict[str, Any] | None = None) -> dict[str, Any]:
    """A hold's register fields: what it covers, why, and (for a release) its approval document."""
    return {"cameras": [hold.camera] if hold.camera else [], "range_start_us": hold.start_us,
            "range_end_us": hold.end_us, "purpose": hold.reason, "case_number": hold.case_number,
            "approval": approval or {}}


class HoldReleases:
    def __init__(self, index: Index, register: AccessRegister, clock: Clock, ttl_hours: float,
                 holds: HoldStore | None, max_pending_per_user: int = 10) -> None:
        self.holds = holds
        self.max_pending_per_user = max_pending_per_user

        def fields(r: Request) -> dict[str, Any]:
            hold = self.holds.get(int(r.own["hold_id"])) if self.holds is not None else None
            return hold_fields(hold, r.own["approval"]) if hold is not None else {}

        use = Use(table="hold_releases", action="hold_release", subject=lambda r: f"hold:{r.own['hold_id']}",
                  fields=fields, noun=N_("release request"), own_columns=OWN_COLUMNS,
                  json_columns=frozenset({"approval"}), expire_action="hold_release_deny", expire_result="expired")
        self.flow = Workflow(use, index, register, clock, int(ttl_hours * HOUR_US))
        self.register = register
        self.clock = clock

    def store(self) -> HoldStore:
        if self.holds is None:
            raise WorkflowError(503, HOLDS_UNAVAILABLE)
        return self.holds

    def hold(self, hold_id: int) -> Hold:
        hold = self.store().get(hold_id)
        if hold is None:
            raise WorkflowError(404, Message("not_found", NOT_FOUND, {"noun": term(N_("hold")), "id": hold_id}))
        return hold

    def latest(self, hold_id: int) -> Release | None:
        rows = self.flow.select("hold_id=?", (hold_id,), limit=1)
        return _release(rows[0]) if rows else None

    def _refuse(self, hold: Hold, actor: Actor, step: str, status: int, reason: Message,
                approval: dict[str, Any] | None = None) -> WorkflowError:
        """A refusal before any request exists (nothing to release, one already pending)."""
        self.register.append(actor, f"hold_release_{step}", result="refused", subject=f"hold:{hold.id}",
                             detail={"reason": str(reason), "code": reason.code}, **hold_fields(hold, approval))
        return WorkflowError(status, reason)

    def request(self, hold_id: int, actor: Actor, reason: str, approval: dict[str, Any]) -> Release:
        with self.flow.lock:
            self.flow.expire_due()
            hold = self.hold(hold_id)
            if not hold.in_force(self.clock.now_us()):
                raise self._refuse(hold, actor, "request", 409, Message(
                    "hold_not_in_force", N_("hold %(id)s is not in force"), {"id": hold_id}), approval)
            latest = self.latest(hold_id)
            if latest is not None and latest.state == "pending":
                raise self._refuse(hold, actor, "request", 409, Message(
                    "release_already_pending", N_("hold %(id)s already has a pending release request"),
                    {"id": hold_id}), approval)
            mine = self.flow.pending_of(actor.name)
            if mine >= self.max_pending_per_user:
                raise self._refuse(hold, actor, "request", 429, pending_cap(
                    actor.name, mine, self.flow.noun, "[access] max_pending_per_user"), approval)
            req = self.flow.create(actor, {"hold_id": hold_id, "reason": reason, "approval": approval},
                                   detail={"reason": reason})
        return _release(req)

    def _pending(self, hold_id: int, actor: Actor, step: str) -> Request:
        self.flow.expire_due()
        hold = self.hold(hold_id)
        latest = self.latest(hold_id)
        if latest is None or latest.state != "pending":
            raise self._refuse(hold, actor, step, 409, Message(
                "no_pending_release", N_("hold %(id)s has no pending release request"), {"id": hold_id}))
        req = self.flow.get(latest.id)
        assert req is not None
        return req

    def approve(self, hold_id: int, user: User, actor: Actor) -> Hold:
        with self.flow.lock:
            req = self._pending(hold_id, actor, "approve")
            released: list[Hold] = []

            def release(_: Request) -> None:
                try:
                    released.append(self.store().release(hold_id, user.name))
                except HoldError as exc:
                    raise WorkflowError(409, hold_message(exc)) from None

            self.flow.decide(req, user, actor, approve=True, on_approve=release,
                             detail={"requested_by": req.requester.name, "reason": req.own["reason"]})
        return released[0]

    def deny(self, hold_id: int, user: User, actor: Actor, reason: str) -> Release:
        with self.flow.lock:
            req = self._pending(hold_id, actor, "deny")
            return _release(self.flow.decide(req, user, actor, approve=False, reason=reason))

    def expire_due(self) -> int:
        return self.flow.expire_due()
