"""Review grants (Art. 18): footage seen on the box by two persons' decision, never downloaded.

The third use of the two-person workflow: an officer asks to review cameras × a time range, with
purpose, case number and approval document; a different approver with a different work credential
approves; the grant then lasts `[access] review_hours` and can be revoked earlier by either of
its two persons or any approver. A grant lets its two persons play the range on the page
(edge/access/playback.py); it never lets anything leave the box (that is the export's job).
Every step, refusal and view is registered under the subject `review:<id>`.
"""

from __future__ import annotations

import builtins
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from edge.access.users import Role, User
from edge.access.workflow import (
    APPROVED,
    NOT_FOUND,
    InvalidRequest,
    Problem,
    Request,
    Use,
    Workflow,
    WorkflowError,
    footage_range_problems,
    pending_cap,
)
from edge.config_sections import AccessConfig
from edge.i18n.message import N_, Message, term
from storage.clock import HOUR_US, Clock
from storage.index import Index
from storage.register import AccessRegister, Actor

OWN_COLUMNS = ("spec", "granted_until_us", "revoked_by", "revoked_us")


@dataclass(frozen=True)
class ReviewSpec:
    cameras: tuple[str, ...]
    start_us: int
    end_us: int
    purpose: str
    case_number: str
    approval_document: dict[str, Any]

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "cameras": list(self.cameras)}

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> ReviewSpec:
        return cls(**{**d, "cameras": tuple(d["cameras"])})

    def register_fields(self) -> dict[str, Any]:
        return {"cameras": list(self.cameras), "range_start_us": self.start_us, "range_end_us": self.end_us,
                "purpose": self.purpose, "case_number": self.case_number, "approval": self.approval_document}


@dataclass(frozen=True)
class Grant(Request):
    spec: ReviewSpec
    granted_until_us: int | None
    revoked_by: str | None
    revoked_us: int | None

    @property
    def subject(self) -> str:
        return f"review:{self.id}"

    def in_force(self, now_us: int) -> bool:
        return (self.state == APPROVED and self.revoked_us is None and self.granted_until_us is not None
                and now_us < self.granted_until_us)

    def status(self, now_us: int) -> str:
        """pending | denied | expired (request) | active | revoked | ended (grant)."""
        if self.state != APPROVED:
            return self.state
        if self.revoked_us is not None:
            return "revoked"
        return "active" if self.in_force(now_us) else "ended"

    def persons(self) -> set[str]:
        return {self.requester.name} | ({self.decider.name} if self.decider is not None else set())


def _grant(r: Request) -> Grant:
    o = r.own
    return Grant(**vars(r), spec=ReviewSpec.from_json(o["spec"]), granted_until_us=o["granted_until_us"],
                 revoked_by=o["revoked_by"], revoked_us=o["revoked_us"])


def _use() -> Use:
    return Use(table="review_grants", action="review", subject=lambda r: f"review:{r.id}",
               fields=lambda r: ReviewSpec.from_json(r.own["spec"]).register_fields(),
               noun=N_("review request"), own_columns=OWN_COLUMNS, json_columns=frozenset({"spec"}))


class ReviewGrants:
    def __init__(self, index: Index, register: AccessRegister, clock: Clock, access: AccessConfig,
                 known_cameras: Callable[[], set[str]] = set) -> None:
        self.register = register
        self.clock = clock
        self.access = access
        self.known_cameras = known_cameras
        self.flow = Workflow(_use(), index, register, clock, int(access.request_ttl_hours * HOUR_US))

    # -- reading --------------------------------------------------------------------------------
    def get(self, grant_id: int) -> Grant | None:
        r = self.flow.get(grant_id)
        return None if r is None else _grant(r)

    def list(self, limit: int = 100) -> builtins.list[Grant]:
        return [_grant(r) for r in self.flow.select(limit=limit)]

    def in_force_ids(self) -> set[int]:
        """The grants under which footage may be shown now (approved, not revoked, not ended)."""
        now = self.clock.now_us()
        rows = self.flow.select("state='approved' AND revoked_us IS NULL AND granted_until_us > ?", (now,),
                                limit=1_000_000)
        return {g.id for g in map(_grant, rows) if g.in_force(now)}

    # -- the workflow ---------------------------------------------------------------------------
    def problems(self, spec: ReviewSpec) -> builtins.list[Problem]:
        out: builtins.list[Problem] = []
        if not spec.cameras:
            out.append(Problem(("cameras",), Message("no_camera", N_("choose at least one camera"))))
        if spec.end_us <= spec.start_us:
            out.append(Problem(("end",), Message("end_before_start", N_("end must be after start"))))
        return out + footage_range_problems(
            spec.cameras, spec.start_us, spec.end_us, self.known_cameras(), self.access.max_export_hours,
            self.clock.now_us(), Message("end_in_future", N_("end is in the future: only recorded footage "
                                                             "can be reviewed")))

    def submit(self, actor: Actor, spec: ReviewSpec) -> Grant:
        """Step 1 of 2: a checked request, registered; a refused one is registered with its problems."""
        problems = self.problems(spec)
        if problems:
            self.register.append(actor, "review_request", result="refused", subject="review:-",
                                 detail={"problems": [p.msg for p in problems]}, **spec.register_fields())
            raise InvalidRequest(problems)
        with self.flow.lock:
            # A cap per person: one account cannot flood the approvers' queue (nor the register).
            pending = self.flow.pending_of(actor.name)
            if pending >= self.access.max_pending_reviews_per_user:
                reason = pending_cap(actor.name, pending, term(N_("review request")),
                                     "[access] max_pending_reviews_per_user")
                self.register.append(actor, "review_request", result="refused", subject="review:-",
                                     detail={"reason": str(reason), "code": reason.code}, **spec.register_fields())
                raise WorkflowError(429, reason)
            return _grant(self.flow.create(actor, {"spec": spec.to_json()}))

    def approve(self, grant_id: int, user: User, actor: Actor, note: str = "") -> Grant:
        """Step 2 of 2: the second person approves; the grant runs from now for `review_hours`."""
        with self.flow.lock:
            req = self.flow.pending(grant_id, actor, "approve")
            until = self.clock.now_us() + int(self.access.review_hours * HOUR_US)
            self.flow.decide(req, user, actor, approve=True,
                             detail={"note": note, "granted_until_us": until} if note else {"granted_until_us": until})
            self.flow.set_state(grant_id, APPROVED, granted_until_us=until)
        out = self.get(grant_id)
        assert out is not None
        return out

    def deny(self, grant_id: int, user: User, actor: Actor, reason: str) -> Grant:
        with self.flow.lock:
            req = self.flow.pending(grant_id, actor, "deny")
            self.flow.decide(req, user, actor, approve=False, reason=reason)
        out = self.get(grant_id)
        assert out is not None
        return out

    def revoke(self, grant_id: int, user: User, actor: Actor, reason: str = "") -> Grant:
        """End a grant early: its two persons, or any approver, may; registered as review_revoke."""
        with self.flow.lock:
            grant = self._existing(grant_id)
            req = self.flow.get(grant_id)
            assert req is not None
            if user.name not in grant.persons() and user.role is not Role.APPROVER:
                raise self.flow.refuse(req, actor, "revoke", 403, Message(
                    "revoke_not_party", N_("only the two persons of this grant or an approver may revoke it")))
            if not grant.in_force(self.clock.now_us()):
                raise self.flow.refuse(req, actor, "revoke", 409, Message(
                    "review_not_active", N_("review %(id)s is %(state)s, not active"),
                    {"id": grant_id, "state": term(grant.status(self.clock.now_us()))}))
            now = self.clock.now_us()
            self.flow.set_state(grant_id, APPROVED, revoked_by=user.name, revoked_us=now)
            self.register.append(actor, "review_revoke", subject=grant.subject, detail={"reason": reason},
                                 **grant.spec.register_fields())
        out = self.get(grant_id)
        assert out is not None
        return out

    def expire_due(self) -> int:
        return self.flow.expire_due()

    # -- viewing --------------------------------------------------------------------------------
    def _existing(self, grant_id: int) -> Grant:
        grant = self.get(grant_id)
        if grant is None:
            raise WorkflowError(404, Message("not_found", NOT_FOUND, {"noun": term(N_("review")), "id": grant_id}))
        return grant

    def authorize(self, grant_id: int, user: User, actor: Actor, camera: str | None = None) -> Grant:
        """The grant if `user` may view under it now (and `camera` is one of its cameras);
        otherwise the refusal, registered as a refused review_view."""
        self.expire_due()
        grant = self._existing(grant_id)
        req = self.flow.get(grant_id)
        assert req is not None
        now = self.clock.now_us()
        if user.name not in grant.persons():
            raise self.flow.refuse(req, actor, "view", 403, Message(
                "view_not_party", N_("only the requester and the approver of this grant may view under it")))
        if not grant.in_force(now):
            raise self.flow.refuse(req, actor, "view", 409, Message(
                "review_not_in_force", N_("review %(id)s is %(state)s: nothing may be shown under it"),
                {"id": grant_id, "state": term(grant.status(now))}))
        if camera is not None and camera not in grant.spec.cameras:
            raise self.flow.refuse(req, actor, "view", 403, Message(
                "camera_not_in_review", N_("camera '%(camera)s' is not part of review %(id)s"),
                {"camera": camera, "id": grant_id}))
        return grant

    def register_view(self, grant: Grant, actor: Actor, camera: str, start_us: int, end_us: int,
                      detail: dict[str, Any]) -> int:
        """One view: who, which grant, which camera and the span actually streamed."""
        fields = {**grant.spec.register_fields(), "cameras": [camera], "range_start_us": start_us,
                  "range_end_us": end_us}
        return self.register.append(actor, "review_view", subject=grant.subject, detail=detail, **fields).id
