"""/api/v1/holds: create (officer), list (officer, approver, auditor), two-person early release."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

from fastapi import APIRouter, Depends, HTTPException, Path, Request

from api.auth import Principal, daemon_of, require
from api.routes.exports import http_error
from api.schemas import HoldIn, HoldOut, PersonOut, ReleaseDenyIn, ReleaseIn, ReleaseOut
from edge.export_producer import iso
from edge.hold_policy import HoldRefused, bound_hold
from edge.hold_release import Release
from edge.twoperson import WorkflowError
from edge.users import Role
from storage.holds import Hold, HoldError, HoldStore, register_hold_create
from storage.layout import datetime_to_us

if TYPE_CHECKING:
    from edge.daemon import Daemon

router = APIRouter(prefix="/api/v1/holds", tags=["holds"])

Officer = Annotated[Principal, Depends(require(Role.OFFICER))]
Approver = Annotated[Principal, Depends(require(Role.APPROVER))]
Readers = Annotated[Principal, Depends(require(Role.OFFICER, Role.APPROVER, Role.AUDITOR))]
HoldId = Annotated[int, Path(ge=1, le=2**53, description="Hold id")]


def _store(d: Daemon) -> HoldStore:
    holds: HoldStore | None = getattr(d, "holds", None)
    if holds is None:
        raise HTTPException(status_code=503, detail="holds are not available on this box")
    return holds


def release_out(r: Release) -> ReleaseOut:
    return ReleaseOut(
        id=r.id, hold_id=r.hold_id, state=r.state, reason=r.reason,  # type: ignore[arg-type]
        approval_document=r.approval, requested_by=PersonOut(name=r.requester.name,
                                                             credential_id=r.requester.credential_id),
        requested=iso(r.requested_us), expires=iso(r.expires_us),
        decided_by=PersonOut(name=r.decider.name, credential_id=r.decider.credential_id) if r.decider else None,
        decided=iso(r.decided_us) if r.decided_us is not None else None, decision_reason=r.decision_reason)


def hold_out(d: Daemon, h: Hold) -> HoldOut:
    rel = d.hold_releases.latest(h.id)
    return HoldOut(id=h.id, camera=h.camera, start=iso(h.start_us), end=iso(h.end_us), reason=h.reason,
                   case_number=h.case_number, created_by=h.created_by, created=iso(h.created_us),
                   expires=iso(h.expires_us), released=iso(h.released_us) if h.released_us is not None else None,
                   released_by=h.released_by, source=h.source, active=h.in_force(d.clock.now_us()),
                   release_request=release_out(rel) if rel is not None else None)


@router.post("", status_code=201, response_model=HoldOut, summary="Hold footage for the statutory period")
def create_hold(body: HoldIn, request: Request, p: Officer) -> HoldOut:
    d = daemon_of(request)
    holds = _store(d)
    known = {c.id for c in d.cfg.cameras} | set(d.store.index.cameras())
    if body.camera is not None and body.camera not in known:
        raise HTTPException(status_code=422, detail=[{"loc": ["body", "camera"], "type": "value_error",
                                                      "msg": f"unknown camera '{body.camera}'"}])
    try:
        bounded = bound_hold(d.cfg.retention, d.store.index, d.clock, body.camera, datetime_to_us(body.start),
                             datetime_to_us(body.end))
        hold = holds.create(body.camera, bounded.start_us, bounded.end_us, body.reason,
                            body.case_number, created_by=p.user.name, source="manual")
    except HoldError as exc:
        status = exc.status if isinstance(exc, HoldRefused) else 422
        d.register.append(p.actor, "hold_create", result="refused", cameras=[body.camera] if body.camera else [],
                          purpose=body.reason, case_number=body.case_number, detail={"reason": str(exc)})
        raise HTTPException(status_code=status, detail=str(exc)) from None
    register_hold_create(d.register, p.actor, hold)
    return hold_out(d, hold)


@router.get("", response_model=list[HoldOut], summary="Holds in force (or all with include_inactive)")
def list_holds(request: Request, p: Readers, include_inactive: bool = False) -> list[HoldOut]:
    d = daemon_of(request)
    d.hold_releases.expire_due()
    return [hold_out(d, h) for h in _store(d).list(include_inactive=include_inactive)]


@router.get("/{hold_id}", response_model=HoldOut)
def get_hold(hold_id: HoldId, request: Request, p: Readers) -> HoldOut:
    d = daemon_of(request)
    hold = _store(d).get(hold_id)
    if hold is None:
        raise HTTPException(status_code=404, detail=f"no hold {hold_id}")
    return hold_out(d, hold)


@router.post("/{hold_id}/release", status_code=201, response_model=ReleaseOut,
             summary="Ask to release a hold early (needs a second person's approval)")
def request_release(hold_id: HoldId, body: ReleaseIn, request: Request, p: Officer) -> ReleaseOut:
    d = daemon_of(request)
    try:
        rel = d.hold_releases.request(hold_id, p.actor, body.reason, body.approval_document.model_dump(mode="json"))
    except WorkflowError as err:
        raise http_error(err) from None
    return release_out(rel)


@router.post("/{hold_id}/release/approve", response_model=HoldOut,
             summary="Approve the pending release (a different approver): the hold ends now")
def approve_release(hold_id: HoldId, request: Request, p: Approver) -> HoldOut:
    d = daemon_of(request)
    try:
        hold = d.hold_releases.approve(hold_id, p.user, p.actor)
    except WorkflowError as err:
        raise http_error(err) from None
    return hold_out(d, hold)


@router.post("/{hold_id}/release/deny", response_model=ReleaseOut, summary="Deny the pending release")
def deny_release(hold_id: HoldId, body: ReleaseDenyIn, request: Request, p: Approver) -> ReleaseOut:
    d = daemon_of(request)
    try:
        rel = d.hold_releases.deny(hold_id, p.user, p.actor, body.reason)
    except WorkflowError as err:
        raise http_error(err) from None
    return release_out(rel)
