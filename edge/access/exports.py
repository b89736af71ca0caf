"""Export requests (Art. 18-20): request → approve/deny by a second person → produce → download.

States: pending → approved → producing → ready | failed; pending → denied | expired. Nothing is
read from the store before approval. Every step, and every refused step, is registered under the
subject `export:<id>`. The bundle itself is produced by `edge.export_producer`.
"""

from __future__ import annotations

import builtins
import enum
import logging
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any, Protocol

from edge.access.identity import name_key
from edge.access.users import User
from edge.access.workflow import (
    HOLDS_UNAVAILABLE,
    NOT_FOUND,
    InvalidRequest,
    Problem,
    Request,
    Use,
    Workflow,
    WorkflowError,
    footage_range_problems,
    pending_cap,
    second_person_refusal,
)
from edge.config_sections import AccessConfig
from edge.i18n.message import N_, Message, term
from storage.clock import HOUR_US, Clock
from storage.holds import Hold, register_hold_create
from storage.index import Index
from storage.register import AccessRegister, Actor

log = logging.getLogger(__name__)


OWN_COLUMNS = ("spec", "error", "completed_us", "manifest_sha256")
#: Newest exports scanned for those a user may see (a box holds far fewer pending or recent ones).
VISIBLE_SCAN = 5000


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
class Export(Request):
    """An export request with its own columns read out (the workflow's fields come from Request)."""

    state: State
    spec: ExportSpec
    error: str
    completed_us: int | None
    manifest_sha256: str | None

    @property
    def subject(self) -> str:
        return f"export:{self.id}"


def _export(r: Request) -> Export:
    o = r.own
    return Export(**{**vars(r), "state": State(r.state)}, spec=ExportSpec.from_json(o["spec"]), error=o["error"],
                  completed_us=o["completed_us"], manifest_sha256=o["manifest_sha256"])


def _use() -> Use:
    return Use(table="exports", action="export", subject=lambda r: f"export:{r.id}",
               fields=lambda r: ExportSpec.from_json(r.own["spec"]).register_fields(),
               noun=N_("export"), own_columns=OWN_COLUMNS, json_columns=frozenset({"spec"}))


class ExportManager:
    def __init__(self, index: Index, register: AccessRegister, clock: Clock, access: AccessConfig,
                 holds: HoldsLike | None, known_cameras: Callable[[], set[str]] = set) -> None:
        self.known_cameras = known_cameras
        self.index = index
        self.register = register
        self.clock = clock
        self.access = access
        self.holds = holds
        self.flow = Workflow(_use(), index, register, clock, int(access.request_ttl_hours * HOUR_US))
        #: Percent done of exports being produced (kept in memory: it changes per segment).
        self.progress: dict[int, float] = {}
        #: Called after an approval so the producer starts at once instead of at its next tick.
        self.on_approved: Callable[[int], None] = lambda _id: None

    # -- reading --------------------------------------------------------------------------------
    def get(self, export_id: int) -> Export | None:
        r = self.flow.get(export_id)
        return None if r is None else _export(r)

    def list(self, limit: int = 100, states: tuple[State, ...] = ()) -> list[Export]:
        where = f"state IN ({', '.join('?' * len(states))})" if states else ""
        return [_export(r) for r in self.flow.select(where, [s.value for s in states], limit)]

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
    def problems(self, spec: ExportSpec) -> builtins.list[Problem]:
        """Every rule the request breaks: unknown cameras, a range over the maximum, a future end."""
        return footage_range_problems(
            spec.cameras, spec.start_us, spec.end_us, self.known_cameras(), self.access.max_export_hours,
            self.clock.now_us(), Message("end_in_future", N_("end is in the future: only recorded footage "
                                                             "can be exported")))

    def submit(self, actor: Actor, spec: ExportSpec) -> Export:
        """Step 1 of 2: a checked request, registered; a refused one is registered with its problems."""
        problems = self.problems(spec)
        if problems:
            self.register.append(actor, "export_request", result="refused", subject="export:-",
                                 detail={"problems": [p.msg for p in problems]}, **spec.register_fields())
            raise InvalidRequest(problems)
        return self.request(actor, spec)

    def request(self, actor: Actor, spec: ExportSpec) -> Export:
        """A request taken as it is (`submit` checks it first), within the pending cap per user."""
        with self.flow.lock:
            pending = self.flow.pending_of(actor.name)
            if pending >= self.access.max_pending_per_user:
                reason = pending_cap(actor.name, pending, term(N_("export request")),
                                     "[access] max_pending_per_user")
                self.register.append(actor, "export_request", result="refused", subject="export:-",
                                     detail={"reason": str(reason), "code": reason.code}, **spec.register_fields())
                raise WorkflowError(429, reason)
            req = self.flow.create(actor, {"spec": spec.to_json()}, detail={"hold": spec.hold})
        log.info("export %d requested by %s (%s)", req.id, actor.name, ", ".join(spec.cameras))
        return _export(req)

    def _refuse(self, exp: Export, actor: Actor, action: str, status: int, reason: Message) -> WorkflowError:
        req = self.flow.get(exp.id)
        assert req is not None
        return self.flow.refuse(req, actor, action.removeprefix("export_"), status, reason)

    def approve(self, export_id: int, user: User, actor: Actor, note: str = "") -> Export:
        with self.flow.lock:
            req = self.flow.pending(export_id, actor, "approve")
            spec = ExportSpec.from_json(req.own["spec"])

            def holds_available(_: Request) -> None:
                if spec.hold and self.holds is None:
                    raise WorkflowError(503, HOLDS_UNAVAILABLE)

            self.flow.decide(req, user, actor, approve=True, detail={"note": note}, on_approve=holds_available)
            if spec.hold and self.holds is not None:
                exp = self.get(export_id)
                assert exp is not None
                self._hold(exp, self.holds, user, actor)
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
        # Denying is also a decision of the second person: the requester cannot "deny" to hide a
        # request either (withdrawal would be its own action).
        with self.flow.lock:
            req = self.flow.pending(export_id, actor, "deny")
            self.flow.decide(req, user, actor, approve=False, reason=reason)
        out = self.get(export_id)
        assert out is not None
        return out

    def expire_due(self) -> int:
        return self.flow.expire_due()

    # -- production (called by the producer) ----------------------------------------------------
    def set_state(self, export_id: int, state: State, error: str = "", manifest_sha256: str | None = None) -> None:
        done = self.clock.now_us() if state in (State.READY, State.FAILED) else None
        current = self.get(export_id)
        assert current is not None
        self.flow.set_state(export_id, state.value, error=error,
                            manifest_sha256=manifest_sha256 or current.manifest_sha256,
                            completed_us=done if done is not None else current.completed_us)
        if state is not State.PRODUCING:
            self.progress.pop(export_id, None)

    # -- download -------------------------------------------------------------------------------
    def authorize_download(self, export_id: int, user: User, actor: Actor) -> Export:
        """Only the two persons of the request may copy the bundle, and only once it is ready."""
        exp = self.get(export_id)
        if exp is None:
            raise WorkflowError(404, Message("not_found", NOT_FOUND, {"noun": term(N_("export")), "id": export_id}))
        allowed = {exp.requester.name} | ({exp.decider.name} if exp.decider and exp.state is not State.DENIED
                                          else set())
        if user.name not in allowed:
            raise self._refuse(exp, actor, "export_download", 403, Message(
                "download_not_party", N_("only the requester or the approver of this export may download it")))
        if exp.state is not State.READY:
            raise self._refuse(exp, actor, "export_download", 409, Message(
                "download_not_ready", N_("export %(id)s is %(state)s: there is nothing to download"),
                {"id": export_id, "state": term(exp.state.value)}))
        return exp

    def register_download(self, exp: Export, actor: Actor, size: int) -> int:
        entry = self.register.append(actor, "export_download", subject=exp.subject,
                                     detail={"manifest_sha256": exp.manifest_sha256, "bytes": size},
                                     **exp.spec.register_fields())
        return entry.id
