"""/api/v1/hold-requests: a hold of every camera reaching past now, decided by two persons."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request
from pydantic import BaseModel

from api.auth import Principal, daemon_of, require
from api.presenters import hold_out
from api.schemas import ApprovalDocument, HoldIn, HoldOut, PersonOut, ReleaseDenyIn
from edge.access.hold_requests import HoldRequest
from edge.access.users import Role
from edge.access.workflow import InvalidRequest, Problem, unknown_camera
from storage.clock import datetime_to_us, iso

router = APIRouter(prefix="/api/v1/hold-requests", tags=["holds"])

Officer = Annotated[Principal, Depends(require(Role.OFFICER))]
Approver = Annotated[Principal, Depends(require(Role.APPROVER))]
Readers = Annotated[Principal, Depends(require(Role.OFFICER, Role.APPROVER, Role.AUDITOR))]
RequestId = Annotated[int, Path(ge=1, le=2**53, description="Hold request id")]


class HoldRequestIn(HoldIn):
    approval_document: ApprovalDocument


class HoldRequestOut(BaseModel):
    id: int
    state: str
    camera: str | None
    start: str
    end: str
    reason: str
    case_number: str
    approval_document: dict[str, Any]
    requested_by: PersonOut
    requested: str
    expires: str
    decided_by: PersonOut | None
    decided: str | None
    decision_reason: str
    hold_id: int | None


def request_out(r: HoldRequest) -> HoldRequestOut:
    return HoldRequestOut(
        id=r.id, state=r.state, camera=r.camera, start=str(iso(r.start_us)), end=str(iso(r.end_us)), reason=r.reason,
        case_number=r.case_number, approval_document=r.approval,
        requested_by=PersonOut(name=r.requester.name, credential_id=r.requester.credential_id),
        requested=str(iso(r.requested_us)), expires=str(iso(r.expires_us)),
        decided_by=PersonOut(name=r.decider.name, credential_id=r.decider.credential_id) if r.decider else None,
        decided=iso(r.decided_us) if r.decided_us is not None else None, decision_reason=r.decision_reason,
        hold_id=r.hold_id)


@router.post("", status_code=201, response_model=HoldRequestOut,
             summary="Ask for a hold of every camera reaching past now (needs a second person's approval)")
def create_request(body: HoldRequestIn, request: Request, p: Officer) -> HoldRequestOut:
    d = daemon_of(request)
    if body.camera is not None and body.camera not in d.box.known_cameras():
        raise InvalidRequest([Problem(("camera",), unknown_camera(body.camera))])
    req = d.hold_requests.request(p.actor, body.camera, datetime_to_us(body.start), datetime_to_us(body.end),
                                  body.reason, body.case_number, body.approval_document.model_dump(mode="json"))
    return request_out(req)


@router.get("", response_model=list[HoldRequestOut], summary="Hold requests, newest first")
def list_requests(request: Request, p: Readers) -> list[HoldRequestOut]:
    d = daemon_of(request)
    d.hold_requests.expire_due()
    return [request_out(r) for r in d.hold_requests.list()]


@router.post("/{request_id}/approve", response_model=HoldOut,
             summary="Approve (a different approver): the hold is made")
def approve_request(request_id: RequestId, request: Request, p: Approver) -> HoldOut:
    d = daemon_of(request)
    hold = d.hold_requests.approve(request_id, p.user, p.actor)
    return hold_out(d, hold)


@router.post("/{request_id}/deny", response_model=HoldRequestOut, summary="Deny the hold request")
def deny_request(request_id: RequestId, body: ReleaseDenyIn, request: Request, p: Approver) -> HoldRequestOut:
    d = daemon_of(request)
    req = d.hold_requests.deny(request_id, p.user, p.actor, body.reason)
    return request_out(req)
