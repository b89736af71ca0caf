"""/api/v1/reviews: two-person review grants (Art. 18): request, approve/deny, revoke, follow.

Playback itself is the page's (/review/ID): a grant never lets footage leave the box, so the API
offers no media. Refused steps are answered by the app's one WorkflowError handler.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request

from api.auth import Principal, Refusal, daemon_of, require
from api.presenters import review_out
from api.schemas import ApproveIn, DenyIn, ReviewOut, ReviewRequestIn, RevokeIn
from edge.access.users import Role
from edge.access.workflow import NOT_FOUND
from edge.i18n.message import N_, Message, term

router = APIRouter(prefix="/api/v1/reviews", tags=["reviews"])

Officer = Annotated[Principal, Depends(require(Role.OFFICER))]
Approver = Annotated[Principal, Depends(require(Role.APPROVER))]
Either = Annotated[Principal, Depends(require(Role.OFFICER, Role.APPROVER))]
ReviewId = Annotated[int, Path(ge=1, le=2**53, description="Review id")]


@router.post("", status_code=201, response_model=ReviewOut, summary="Request a review on the box (officer)")
def create_review(body: ReviewRequestIn, request: Request, p: Officer) -> ReviewOut:
    d = daemon_of(request)
    return review_out(d.reviews.submit(p.actor, body.to_spec()), d.clock.now_us())


@router.get("", response_model=list[ReviewOut], summary="List reviews (officer, approver)")
def list_reviews(request: Request, p: Either, limit: Annotated[int, Query(ge=1, le=500)] = 100) -> list[ReviewOut]:
    d = daemon_of(request)
    d.reviews.expire_due()
    return [review_out(g, d.clock.now_us()) for g in d.reviews.list(limit)]


@router.get("/{review_id}", response_model=ReviewOut)
def get_review(review_id: ReviewId, request: Request, p: Either) -> ReviewOut:
    d = daemon_of(request)
    g = d.reviews.get(review_id)
    if g is None:
        raise Refusal(404, Message("not_found", NOT_FOUND, {"noun": term(N_("review")), "id": review_id}))
    return review_out(g, d.clock.now_us())


@router.post("/{review_id}/approve", response_model=ReviewOut, summary="Approve (a different approver)")
def approve_review(review_id: ReviewId, body: ApproveIn, request: Request, p: Approver) -> ReviewOut:
    d = daemon_of(request)
    return review_out(d.reviews.approve(review_id, p.user, p.actor, body.note), d.clock.now_us())


@router.post("/{review_id}/deny", response_model=ReviewOut, summary="Deny the review request")
def deny_review(review_id: ReviewId, body: DenyIn, request: Request, p: Approver) -> ReviewOut:
    d = daemon_of(request)
    return review_out(d.reviews.deny(review_id, p.user, p.actor, body.reason), d.clock.now_us())


@router.post("/{review_id}/revoke", response_model=ReviewOut, summary="End an active grant early")
def revoke_review(review_id: ReviewId, body: RevokeIn, request: Request, p: Either) -> ReviewOut:
    d = daemon_of(request)
    g = d.reviews.revoke(review_id, p.user, p.actor, body.reason)
    d.playback.drop(review_id)
    return review_out(g, d.clock.now_us())
