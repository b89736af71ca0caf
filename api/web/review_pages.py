"""/review: two-person review grants and playback on the box (officer and approver only).

The officer asks for a review (cameras × range, purpose, case, approval document), a different
approver approves (the workflow's rules, edge/access/review.py), and then either of them plays the
range here: one stream-copied MP4 per camera served with HTTP Range (edge/access/playback.py),
a clickable timeline with the gaps, the wall-clock time as it plays. Nothing here downloads:
"Export this span" opens the export request form filled in.
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request
from fastapi.responses import FileResponse, RedirectResponse, Response
from markupsafe import Markup
from pydantic import ValidationError
from starlette.datastructures import FormData

from api.auth import daemon_of
from api.presenters import grant_out, playback_timeline
from api.routes.reviews import ReviewId
from api.schemas import ApproveIn, DenyIn, ReviewRequestIn
from api.web.access_pages import local_input, refusal
from api.web.deps import (
    REVIEW_ROLES,
    Refused,
    WebUser,
    check_csrf,
    ensure_role,
    flash,
    form_of,
    localizer,
    render,
    text,
    web_user,
)
from edge.access.users import Role
from edge.access.workflow import WorkflowError
from edge.i18n.message import N_, Message

router = APIRouter(include_in_schema=False)
User = Annotated[WebUser, Depends(web_user)]
Form = Annotated[FormData, Depends(form_of)]
MESSAGES = {
    "requested": N_("Review requested. It now waits for a second person (an approver) to approve it."),
    "approved": N_("Review approved: its requester and approver may play the range on this box until it ends."),
    "denied": N_("Review denied; the requester sees the reason."),
    "revoked": N_("Review revoked: nothing more may be played under it."),
}


def _refused(exc: WorkflowError, web: WebUser, request: Request) -> Refused:
    lines, status = refusal(exc, localizer(request))
    return Refused(status, Markup("; ").join(lines), web)


def review_list_page(request: Request, web: WebUser, errors: list[Markup] | None = None, status: int = 200,
                     values: dict[str, str] | None = None, msg: str = "") -> Response:
    d = daemon_of(request)
    d.reviews.expire_due()
    now = d.clock.now_us()
    grants = [grant_out(g, now, web.name) for g in d.reviews.list(100)]
    d.playback.prune({g.id for g in d.reviews.list(500) if g.in_force(now)})
    loc = localizer(request)
    defaults = {"start": loc.input_value(now - 600_000_000), "end": loc.input_value(now),
                "issued_on": loc.input_value(now)[:10]}
    return render(request, web, "review.html", {
        "grants": grants, "pending": [g for g in grants if g["status"] == "pending"],
        "is_officer": web.role is Role.OFFICER, "is_approver": web.role is Role.APPROVER,
        "cameras": d.cfg.cameras, "errors": errors or [], "values": {**defaults, **(values or {})},
        "message": flash(request, MESSAGES, msg), "review_hours": d.cfg.access.review_hours}, status=status)


@router.get("/review")
def reviews(request: Request, web: User, msg: str = "") -> Response:
    ensure_role(request, web, REVIEW_ROLES, N_("Review on the box"))
    return review_list_page(request, web, msg=msg)


@router.post("/review")
def request_review(request: Request, web: User, form: Form) -> Response:
    check_csrf(request, web, form)
    ensure_role(request, web, {Role.OFFICER}, N_("Requesting a review"))
    values = {k: v for k, v in form.multi_items() if isinstance(v, str) and k != "csrf"}
    values["cameras"] = ",".join(c for c in form.getlist("cameras") if isinstance(c, str))
    loc = localizer(request)
    try:
        body = ReviewRequestIn.model_validate({
            "cameras": [c for c in form.getlist("cameras") if isinstance(c, str)],
            "start": local_input(loc, text(form, "start")), "end": local_input(loc, text(form, "end")),
            "purpose": text(form, "purpose"), "case_number": text(form, "case_number"),
            "approval_document": {"number": text(form, "doc_number"), "issued_by": text(form, "doc_issued_by"),
                                  "issued_on": text(form, "doc_issued_on") or None,
                                  "sha256": text(form, "doc_sha256") or None}})
        daemon_of(request).reviews.submit(web.actor, body.to_spec())
    except (ValidationError, WorkflowError) as exc:
        return review_list_page(request, web, *refusal(exc, localizer(request)), values)
    return RedirectResponse("/review?msg=requested", status_code=303)


@router.post("/review/{grant_id}/approve")
def approve(grant_id: ReviewId, request: Request, web: User, form: Form) -> Response:
    check_csrf(request, web, form)
    ensure_role(request, web, {Role.APPROVER}, N_("Approving a review"))
    try:
        note = ApproveIn(note=text(form, "note")).note
        daemon_of(request).reviews.approve(grant_id, web.principal.user, web.actor, note)
    except (ValidationError, WorkflowError) as exc:
        return review_list_page(request, web, *refusal(exc, localizer(request)))
    return RedirectResponse("/review?msg=approved", status_code=303)


@router.post("/review/{grant_id}/deny")
def deny(grant_id: ReviewId, request: Request, web: User, form: Form) -> Response:
    check_csrf(request, web, form)
    ensure_role(request, web, {Role.APPROVER}, N_("Denying a review"))
    try:
        reason = DenyIn(reason=text(form, "reason")).reason
        daemon_of(request).reviews.deny(grant_id, web.principal.user, web.actor, reason)
    except (ValidationError, WorkflowError) as exc:
        return review_list_page(request, web, *refusal(exc, localizer(request)))
    return RedirectResponse("/review?msg=denied", status_code=303)


@router.post("/review/{grant_id}/revoke")
def revoke(grant_id: ReviewId, request: Request, web: User, form: Form) -> Response:
    check_csrf(request, web, form)
    ensure_role(request, web, REVIEW_ROLES, N_("Revoking a review"))
    d = daemon_of(request)
    try:
        d.reviews.revoke(grant_id, web.principal.user, web.actor, text(form, "reason"))
    except WorkflowError as exc:
        return review_list_page(request, web, *refusal(exc, localizer(request)))
    d.playback.drop(grant_id)
    return RedirectResponse("/review?msg=revoked", status_code=303)


@router.get("/review/{grant_id}")
def playback_page(grant_id: ReviewId, request: Request, web: User) -> Response:
    ensure_role(request, web, REVIEW_ROLES, N_("Review on the box"))
    d = daemon_of(request)
    try:
        grant = d.reviews.authorize(grant_id, web.principal.user, web.actor)
    except WorkflowError as exc:
        raise _refused(exc, web, request) from None
    loc = localizer(request)
    players: list[dict[str, Any]] = []
    for cam in grant.spec.cameras:
        clip = d.playback.clip(grant, cam)
        export_query = urlencode({"camera": cam, "start_us": grant.spec.start_us, "end_us": grant.spec.end_us,
                                  "case_number": grant.spec.case_number, "purpose": grant.spec.purpose,
                                  "review": grant.id})
        players.append({"camera": cam, "clip": clip, "src": f"/review/{grant.id}/{cam}.mp4" if clip.path else None,
                        "tl": playback_timeline(clip, grant.spec.start_us, grant.spec.end_us, loc),
                        "export_href": f"/exports?{export_query}#request"})
    start_local = loc.local(grant.spec.start_us)
    offset = start_local.utcoffset()
    return render(request, web, "playback.html", {
        "grant": grant_out(grant, d.clock.now_us(), web.name), "players": players,
        "offset_ms": int(offset.total_seconds() * 1000) if offset is not None else 0,
        "offset_label": loc.offset(start_local), "seek_default": loc.input_value(grant.spec.start_us)})


@router.get("/review/{grant_id}/{camera}.mp4")
def clip_file(grant_id: ReviewId, camera: str, request: Request, web: User) -> Response:
    """The clip, with HTTP Range (Starlette's FileResponse answers 206 for a Range request)."""
    ensure_role(request, web, REVIEW_ROLES, N_("Playing recorded footage"))
    d = daemon_of(request)
    try:
        grant = d.reviews.authorize(grant_id, web.principal.user, web.actor, camera)
    except WorkflowError as exc:
        raise _refused(exc, web, request) from None
    clip = d.playback.clip(grant, camera)
    if clip.path is None or not clip.path.is_file():
        raise Refused(404, Message("no_footage", N_("Camera %(camera)s has no playable footage in review %(id)s."),
                                   {"camera": camera, "id": grant_id}), web)
    key = (web.session.id_sha256, grant_id, camera)
    opened: set[tuple[str, int, str]] = request.app.state.review_opened
    if key not in opened:  # one register entry per person, grant and camera: not one per Range request
        opened.add(key)
        d.reviews.register_view(grant, web.actor, camera, clip.start_us, clip.end_us,
                                {"via": "web", "kind": "opened", "bytes": clip.bytes,
                                 "gaps": len(clip.gaps)})
    return FileResponse(clip.path, media_type="video/mp4")


@router.post("/review/{grant_id}/{camera}/played")
def played(grant_id: ReviewId, camera: str, request: Request, web: User, form: Form) -> Response:
    """The page reports the span it actually played (on pause, end, or leaving): registered."""
    check_csrf(request, web, form)
    ensure_role(request, web, REVIEW_ROLES, N_("Playing recorded footage"))
    d = daemon_of(request)
    try:
        grant = d.reviews.authorize(grant_id, web.principal.user, web.actor, camera)
        start_us, end_us = int(text(form, "start_us")), int(text(form, "end_us"))
    except WorkflowError as exc:
        raise _refused(exc, web, request) from None
    except ValueError:
        raise Refused(422, Message("bad_span", N_("start_us and end_us must be whole microseconds")), web) from None
    lo, hi = grant.spec.start_us, grant.spec.end_us
    start_us, end_us = max(lo, min(start_us, hi)), max(lo, min(end_us, hi))
    if end_us > start_us:
        d.reviews.register_view(grant, web.actor, camera, start_us, end_us, {"via": "web", "kind": "played"})
    return Response(status_code=204)
