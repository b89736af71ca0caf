"""/api/v1/holds: create (officer), list (officer, approver, auditor), two-person early release."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request

from api.auth import Principal, Refusal, daemon_of, require
from api.presenters import hold_out, release_out
from api.schemas import HoldIn, HoldOut, ReleaseDenyIn, ReleaseIn, ReleaseOut
from edge.access.users import Role
from edge.access.workflow import NOT_FOUND
from edge.i18n.message import N_, Message, term
from storage.clock import datetime_to_us

router = APIRouter(prefix="/api/v1/holds", tags=["holds"])

Officer = Annotated[Principal, Depends(require(Role.OFFICER))]
Approver = Annotated[Principal, Depends(require(Role.APPROVER))]
Readers = Annotated[Principal, Depends(require(Role.OFFICER, Role.APPROVER, Role.AUDITOR))]
HoldId = Annotated[int, Path(ge=1, le=2**53, description="Hold id")]


@router.post("", status_code=201, response_model=HoldOut, summary="Hold footage for the statutory period")
def create_hold(body: HoldIn, request: Request, p: Officer) -> HoldOut:
    d = daemon_of(request)
    hold = d.hold_placement.place(p.actor, body.camera, datetime_to_us(body.start), datetime_to_us(body.end),
                                      body.reason, body.case_number)
    return hold_out(d, hold)


@router.get("", response_model=list[HoldOut], summary="Holds in force (or all with include_inactive)")
def list_holds(request: Request, p: Readers, include_inactive: bool = False) -> list[HoldOut]:
    d = daemon_of(request)
    d.hold_releases.expire_due()
    return [hold_out(d, h) for h in d.holds.list(include_inactive=include_inactive)]


@router.get("/{hold_id}", response_model=HoldOut)
def get_hold(hold_id: HoldId, request: Request, p: Readers) -> HoldOut:
    d = daemon_of(request)
    hold = d.holds.get(hold_id)
    if hold is None:
        raise Refusal(404, Message("not_found", NOT_FOUND, {"noun": term(N_("hold")), "id": hold_id}))
    return hold_out(d, hold)


@router.post("/{hold_id}/release", status_code=201, response_model=ReleaseOut,
             summary="Ask to release a hold early (needs a second person's approval)")
def request_release(hold_id: HoldId, body: ReleaseIn, request: Request, p: Officer) -> ReleaseOut:
    d = daemon_of(request)
    rel = d.hold_releases.request(hold_id, p.actor, body.reason, body.approval_document.model_dump(mode="json"))
    return release_out(rel)


@router.post("/{hold_id}/release/approve", response_model=HoldOut,
             summary="Approve the pending release (a different approver): the hold ends now")
def approve_release(hold_id: HoldId, request: Request, p: Approver) -> HoldOut:
    d = daemon_of(request)
    hold = d.hold_releases.approve(hold_id, p.user, p.actor)
    return hold_out(d, hold)


@router.post("/{hold_id}/release/deny", response_model=ReleaseOut, summary="Deny the pending release")
def deny_release(hold_id: HoldId, body: ReleaseDenyIn, request: Request, p: Approver) -> ReleaseOut:
    d = daemon_of(request)
    rel = d.hold_releases.deny(hold_id, p.user, p.actor, body.reason)
    return release_out(rel)
