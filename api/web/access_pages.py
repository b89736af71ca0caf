"""Exports and holds pages: the officer's request form, the approver's queue, downloads, holds.

Every action calls the same domain services as the API (`edge.access`: exports, holds, their
two-person workflow) after the same role check, so the page follows exactly the API's rules
(second person, approval document, maximum range, ...) and its register entries, including those
of refused steps.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import RedirectResponse, Response
from markupsafe import Markup
from pydantic import ValidationError
from starlette.datastructures import FormData

from api.auth import daemon_of
from api.presenters import export_out, hold_out
from api.routes.exports import ExportId
from api.routes.holds import HoldId
from api.schemas import ApproveIn, DenyIn, ExportRequestIn, HoldIn, ReleaseDenyIn, ReleaseIn
from api.web.deps import (
    EXPORT_ROLES,
    HOLD_ROLES,
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
from edge.access.exports import State
from edge.access.users import Role
from edge.access.workflow import InvalidRequest, WorkflowError
from edge.i18n import Localizer
from edge.i18n.message import N_
from storage.clock import datetime_to_us

router = APIRouter(include_in_schema=False)
User = Annotated[WebUser, Depends(web_user)]
Form = Annotated[FormData, Depends(form_of)]

MESSAGES = {
    "requested": N_("Export requested. It now waits for a second person (an approver) to approve it."),
    "approved": N_("Export approved. The bundle is being produced; its download link appears here when ready."),
    "denied": N_("Export denied; the requester sees the reason."),
    "held": N_("Hold created: this footage is kept for the statutory period."),
    "release_requested": N_("Release requested. It now waits for a second person (an approver) to approve it."),
    "released": N_("Hold released."),
    "release_denied": N_("Release denied."),
}

#: Pydantic's own rules, by error type, in words the catalog has (its English texts are not).
VALIDATION = {
    "missing": N_("required"), "string_too_short": N_("must not be empty"),
    "string_too_long": N_("is too long"), "string_pattern_mismatch": N_("has the wrong form"),
    "datetime_from_date_parsing": N_("is not a time"), "datetime_parsing": N_("is not a time"),
    "datetime_type": N_("is not a time"), "date_from_datetime_parsing": N_("is not a date"),
    "date_parsing": N_("is not a date"), "list_too_short": N_("choose at least one"),
    "int_parsing": N_("is not a whole number"), "too_short": N_("choose at least one"),
}


def _field(loc: tuple[int | str, ...] | list[Any]) -> Markup:
    """A field's path (`approval_document.number`): a name in the code, kept as it is."""
    path = ".".join(str(p) for p in loc) or "form"
    return Markup('<span translate="no">%s</span>') % path


def errors_of(exc: ValidationError | HTTPException, loc: Localizer | None = None) -> list[Markup]:
    """Readable lines from a pydantic error or an API refusal (whose detail may be a list), in the
    reader's language when `loc` is given."""
    tr = loc.gettext if loc is not None else (lambda t: t)
    if isinstance(exc, ValidationError):
        lines = []
        for e in exc.errors(include_url=False):
            msg = e["msg"].removeprefix("Value error, ")
            # A schema's own rule (a ValueError) is a catalog text; a pydantic rule is named by its type.
            text = tr(msg) if e["type"] == "value_error" else tr(VALIDATION[e["type"]]) if e["type"] in VALIDATION \
                and loc is not None and loc.language != "en" else msg
            lines.append(_field(e["loc"]) + Markup(": ") + text)
        return lines
    detail = exc.detail
    if isinstance(detail, list):
        return [_field(e.get("loc", [])[1:]) + Markup(": ") + str(e.get("msg", e)) for e in detail]
    return [Markup.escape(str(detail))]


def refusal(exc: ValidationError | WorkflowError, loc: Localizer) -> tuple[list[Markup], int]:
    """The lines to show (in the reader's language) and the status to answer with for a refused form."""
    if isinstance(exc, ValidationError):
        return errors_of(exc, loc), 422
    if isinstance(exc, InvalidRequest):
        return [_field(p.field) + Markup(": ") + loc.message(p.message) for p in exc.problems], 422
    return [Markup.escape(loc.message(exc.message))], exc.status


def local_input(loc: Localizer, value: str) -> str | None:
    """A `datetime-local` field, typed in the box's zone, as RFC 3339 UTC; None when empty.
    (The conversion itself is `Localizer.parse_local`, the one place local time becomes UTC.)"""
    try:
        dt = loc.parse_local(value)
    except ValueError:
        return value  # let the schema name the field and the rule
    return None if dt is None else dt.isoformat()


def _defaults(loc: Localizer, now_us: int) -> dict[str, str]:
    return {"start": loc.input_value(now_us - 600_000_000), "end": loc.input_value(now_us),
            "issued_on": loc.input_value(now_us)[:10]}


def export_request_body(form: FormData, loc: Localizer) -> dict[str, Any]:
    cams = [c for c in form.getlist("cameras") if isinstance(c, str)]
    return {
        "cameras": cams, "start": local_input(loc, text(form, "start")), "end": local_input(loc, text(form, "end")),
        "purpose": text(form, "purpose"), "case_number": text(form, "case_number"),
        "recipient": {"name": text(form, "recipient_name"), "unit": text(form, "recipient_unit")},
        "approval_document": {"number": text(form, "doc_number"), "issued_by": text(form, "doc_issued_by"),
                              "issued_on": text(form, "doc_issued_on") or None,
                              "sha256": text(form, "doc_sha256") or None},
        "hold": text(form, "hold") == "on",
    }


def exports_page(request: Request, web: WebUser, errors: list[Markup] | None = None, status: int = 200,
                 values: dict[str, str] | None = None, msg: str = "") -> Response:
    d = daemon_of(request)
    d.exports.expire_due()
    exports = [export_out(d, e) for e in d.exports.list_visible(web.principal.user, 100)]
    mine = {e.id for e in exports if web.name in {e.requested_by.name, e.decided_by.name if e.decided_by else ""}
            and e.state != State.DENIED.value}
    form_values = {**_defaults(localizer(request), d.clock.now_us()), **(values or {})}
    return render(request, web, "exports.html", {
        "exports": exports, "pending": [e for e in exports if e.state == "pending"], "may_download": mine,
        "is_officer": web.role is Role.OFFICER, "is_approver": web.role is Role.APPROVER,
        "cameras": d.cfg.cameras, "errors": errors or [], "values": form_values,
        "message": flash(request, MESSAGES, msg),
        "max_hours": d.cfg.access.max_export_hours}, status=status)


@router.get("/exports")
def exports(request: Request, web: User, msg: str = "", camera: str = "", start_us: int | None = None,
            end_us: int | None = None, case_number: str = "", purpose: str = "") -> Response:
    """The page; "Export this span" on a review comes here with the span and the grant's case filled in."""
    ensure_role(request, web, EXPORT_ROLES, N_("The exports page"))
    loc = localizer(request)
    values = {k: v for k, v in {"cameras": camera, "case_number": case_number, "purpose": purpose,
                                "start": loc.input_value(start_us) if start_us is not None else "",
                                "end": loc.input_value(end_us) if end_us is not None else ""}.items() if v}
    return exports_page(request, web, msg=msg, values=values)


@router.post("/exports")
def request_export(request: Request, web: User, form: Form) -> Response:
    check_csrf(request, web, form)
    ensure_role(request, web, {Role.OFFICER}, N_("Requesting an export"))
    values = {k: v for k, v in form.multi_items() if isinstance(v, str) and k != "csrf"}
    values["cameras"] = ",".join(c for c in form.getlist("cameras") if isinstance(c, str))
    try:
        body = ExportRequestIn.model_validate(export_request_body(form, localizer(request)))
        daemon_of(request).exports.submit(web.principal.actor, body.to_spec())
    except (ValidationError, WorkflowError) as exc:
        return exports_page(request, web, *refusal(exc, localizer(request)), values)
    return RedirectResponse("/exports?msg=requested", status_code=303)


@router.post("/exports/{export_id}/approve")
def approve(export_id: ExportId, request: Request, web: User, form: Form) -> Response:
    check_csrf(request, web, form)
    ensure_role(request, web, {Role.APPROVER}, N_("Approving an export"))
    try:
        note = ApproveIn(note=text(form, "note")).note
        daemon_of(request).exports.approve(export_id, web.principal.user, web.principal.actor, note)
    except (ValidationError, WorkflowError) as exc:
        return exports_page(request, web, *refusal(exc, localizer(request)))
    return RedirectResponse("/exports?msg=approved", status_code=303)


@router.post("/exports/{export_id}/deny")
def deny(export_id: ExportId, request: Request, web: User, form: Form) -> Response:
    check_csrf(request, web, form)
    ensure_role(request, web, {Role.APPROVER}, N_("Denying an export"))
    try:
        reason = DenyIn(reason=text(form, "reason")).reason
        daemon_of(request).exports.deny(export_id, web.principal.user, web.principal.actor, reason)
    except (ValidationError, WorkflowError) as exc:
        return exports_page(request, web, *refusal(exc, localizer(request)))
    return RedirectResponse("/exports?msg=denied", status_code=303)


def holds_page(request: Request, web: WebUser, errors: list[Markup] | None = None, status: int = 200,
               values: dict[str, str] | None = None, msg: str = "", include_inactive: bool = False) -> Response:
    d = daemon_of(request)
    d.hold_releases.expire_due()
    holds = [hold_out(d, h) for h in d.holds.list(include_inactive=include_inactive)]
    return render(request, web, "holds.html", {
        "holds": holds, "is_officer": web.role is Role.OFFICER, "is_approver": web.role is Role.APPROVER,
        "cameras": d.cfg.cameras, "errors": errors or [],
        "values": {**_defaults(localizer(request), d.clock.now_us()), **(values or {})},
        "message": flash(request, MESSAGES, msg),
        "include_inactive": include_inactive, "hold_days": d.cfg.retention.hold_days}, status=status)


@router.get("/holds")
def holds(request: Request, web: User, msg: str = "", all: bool = False) -> Response:  # noqa: A002
    ensure_role(request, web, HOLD_ROLES, N_("The holds page"))
    return holds_page(request, web, msg=msg, include_inactive=all)


@router.post("/holds")
def create_hold(request: Request, web: User, form: Form) -> Response:
    check_csrf(request, web, form)
    ensure_role(request, web, {Role.OFFICER}, N_("Creating a hold"))
    values = {k: v for k, v in form.multi_items() if isinstance(v, str) and k != "csrf"}
    try:
        loc = localizer(request)
        body = HoldIn.model_validate({"camera": text(form, "camera") or None,
                                      "start": local_input(loc, text(form, "start")),
                                      "end": local_input(loc, text(form, "end")), "reason": text(form, "reason"),
                                      "case_number": text(form, "case_number")})
        daemon_of(request).hold_placement.place(web.principal.actor, body.camera, datetime_to_us(body.start),
                                                datetime_to_us(body.end), body.reason, body.case_number)
    except (ValidationError, WorkflowError) as exc:
        return holds_page(request, web, *refusal(exc, localizer(request)), values)
    return RedirectResponse("/holds?msg=held", status_code=303)


@router.post("/holds/{hold_id}/release")
def request_release(hold_id: HoldId, request: Request, web: User, form: Form) -> Response:
    """Step 1 of the two-person early release (the same service as the API's)."""
    check_csrf(request, web, form)
    ensure_role(request, web, {Role.OFFICER}, N_("Asking to release a hold"))
    try:
        body = ReleaseIn.model_validate({
            "reason": text(form, "reason"),
            "approval_document": {"number": text(form, "doc_number"), "issued_by": text(form, "doc_issued_by"),
                                  "issued_on": text(form, "doc_issued_on") or None, "sha256": None}})
        daemon_of(request).hold_releases.request(hold_id, web.actor, body.reason,
                                                 body.approval_document.model_dump(mode="json"))
    except (ValidationError, WorkflowError) as exc:
        return holds_page(request, web, *refusal(exc, localizer(request)))
    return RedirectResponse("/holds?msg=release_requested", status_code=303)


@router.post("/holds/{hold_id}/release/approve")
def approve_release(hold_id: HoldId, request: Request, web: User, form: Form) -> Response:
    check_csrf(request, web, form)
    ensure_role(request, web, {Role.APPROVER}, N_("Approving a hold release"))
    try:
        daemon_of(request).hold_releases.approve(hold_id, web.principal.user, web.actor)
    except WorkflowError as exc:
        return holds_page(request, web, *refusal(exc, localizer(request)))
    return RedirectResponse("/holds?msg=released", status_code=303)


@router.post("/holds/{hold_id}/release/deny")
def deny_release(hold_id: HoldId, request: Request, web: User, form: Form) -> Response:
    check_csrf(request, web, form)
    ensure_role(request, web, {Role.APPROVER}, N_("Denying a hold release"))
    try:
        reason = ReleaseDenyIn(reason=text(form, "reason")).reason
        daemon_of(request).hold_releases.deny(hold_id, web.principal.user, web.actor, reason)
    except (ValidationError, WorkflowError) as exc:
        return holds_page(request, web, *refusal(exc, localizer(request)))
    return RedirectResponse("/holds?msg=release_denied", status_code=303)
