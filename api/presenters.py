"""Domain objects as the API's schemas, shared by the routes and the web pages.

Also the one mapping of a refused workflow step to HTTP: a `WorkflowError` keeps its status and
reason; an `InvalidRequest` becomes a 422 whose detail names each field and rule, as FastAPI's
own validation errors do. The JSON keeps `detail` in English (as it always was) and adds the
stable `code`, its `params`, and `message`: the reason in the reader's language (Accept-Language,
else `[box] language`).
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Any

from fastapi import HTTPException, Request

from api.schemas import AuditPage, ExportOut, HoldOut, PersonOut, RegisterEntryOut, ReleaseOut, ReviewOut
from edge.access.exports import Export, State
from edge.access.hold_release import Release
from edge.access.playback import Clip
from edge.access.review import Grant
from edge.access.workflow import InvalidRequest, Person, WorkflowError
from edge.i18n import Localizer, choose_language
from storage.clock import iso_precise
from storage.holds import Hold
from storage.register import ACTIONS, AccessRegister, Entry, Query

if TYPE_CHECKING:
    from edge.app.runtime import Runtime


def localizer_for(request: Request) -> Localizer:
    """The language (the client's Accept-Language, else `[box] language`) and zone of a request."""
    box = request.app.state.daemon.cfg.box
    return Localizer(choose_language(request.headers.get("accept-language"), box.language), box.timezone)


def refusal_json(err: WorkflowError, loc: Localizer) -> dict[str, Any]:
    """A refused step as the API's JSON: English `detail`, stable `code` and `params`, translated `message`."""
    if isinstance(err, InvalidRequest):
        messages = [loc.message(p.message) for p in err.problems]
        detail = [{"loc": ["body", *p.field], "msg": p.msg, "type": "value_error", "code": p.message.code,
                   "message": m} for p, m in zip(err.problems, messages, strict=True)]
        return {"detail": detail, "code": err.code, "message": "; ".join(messages)}
    return {"detail": err.reason, **err.message.to_json(), "message": loc.message(err.message)}


def http_error(err: WorkflowError) -> HTTPException:
    if isinstance(err, InvalidRequest):
        return HTTPException(status_code=422, detail=[{"loc": ["body", *p.field], "msg": p.msg, "type": "value_error"}
                                                      for p in err.problems])
    return HTTPException(status_code=err.status, detail=err.reason)


def _time(us: int | None) -> str | None:
    return iso_precise(us) if us is not None else None


def entry_out(e: Entry) -> RegisterEntryOut:
    return RegisterEntryOut(**e.to_json(), time=iso_precise(e.time_us))


def audit_page(register: AccessRegister, q: Query) -> AuditPage:
    """One page of the register, oldest first, with where the next page starts; 422 for an
    action name the register does not know."""
    unknown = sorted(set(q.actions) - ACTIONS)
    if unknown:
        raise HTTPException(status_code=422, detail=[{"loc": ["query", "action"], "type": "value_error",
                                                      "msg": f"unknown action(s): {', '.join(unknown)}"}])
    limit = q.limit
    entries = register.query(replace(q, limit=limit + 1))
    more = len(entries) > limit
    entries = entries[:limit]
    return AuditPage(entries=[entry_out(e) for e in entries], next_after_id=entries[-1].id if more else None)


def person_out(p: Person | None) -> PersonOut | None:
    return None if p is None else PersonOut(name=p.name, credential_id=p.credential_id)


def export_out(d: Runtime, exp: Export, with_register: bool = False) -> ExportOut:
    s = exp.spec
    requester = person_out(exp.requester)
    assert requester is not None
    return ExportOut(
        id=exp.id, state=exp.state.value, progress=d.exports.percent(exp), cameras=list(s.cameras),
        start=iso_precise(s.start_us), end=iso_precise(s.end_us), purpose=s.purpose, case_number=s.case_number,
        recipient=s.recipient, approval_document=s.approval_document, hold=s.hold, requested_by=requester,
        requested=iso_precise(exp.requested_us), expires=iso_precise(exp.expires_us),
        decided_by=person_out(exp.decider), decided=_time(exp.decided_us), decision_reason=exp.decision_reason,
        error=exp.error, manifest_sha256=exp.manifest_sha256,
        download=f"/api/v1/exports/{exp.id}/download" if exp.state is State.READY else None,
        register_entries=[entry_out(e) for e in d.register.entries_for_subject(exp.subject)] if with_register else [],
    )


def release_out(r: Release) -> ReleaseOut:
    requester = person_out(r.requester)
    assert requester is not None
    return ReleaseOut(
        id=r.id, hold_id=r.hold_id, state=r.state, reason=r.reason,  # type: ignore[arg-type]
        approval_document=r.approval, requested_by=requester, requested=iso_precise(r.requested_us),
        expires=iso_precise(r.expires_us), decided_by=person_out(r.decider), decided=_time(r.decided_us),
        decision_reason=r.decision_reason)


def hold_out(d: Runtime, h: Hold) -> HoldOut:
    rel = d.hold_releases.latest(h.id)
    return HoldOut(id=h.id, camera=h.camera, start=iso_precise(h.start_us), end=iso_precise(h.end_us),
                   reason=h.reason, case_number=h.case_number, created_by=h.created_by,
                   created=iso_precise(h.created_us), expires=iso_precise(h.expires_us),
                   released=_time(h.released_us), released_by=h.released_by, source=h.source,
                   active=h.in_force(d.clock.now_us()), release_request=release_out(rel) if rel is not None else None)


def grant_out(g: Grant, now_us: int, viewer: str) -> dict[str, Any]:
    """A review grant as the review pages show it (status computed at `now_us`)."""
    return {"id": g.id, "status": g.status(now_us), "cameras": list(g.spec.cameras), "start_us": g.spec.start_us,
            "end_us": g.spec.end_us, "purpose": g.spec.purpose, "case_number": g.spec.case_number,
            "approval_document": g.spec.approval_document, "requested_by": g.requester, "requested_us": g.requested_us,
            "decided_by": g.decider, "decided_us": g.decided_us, "decision_reason": g.decision_reason,
            "granted_until_us": g.granted_until_us, "revoked_by": g.revoked_by, "revoked_us": g.revoked_us,
            "mine": viewer in g.persons()}


def playback_timeline(clip: Clip, since_us: int, until_us: int, loc: Localizer) -> dict[str, Any]:
    """A review range's bar: recorded spans and gaps (with reasons) in percent, and tick labels."""
    total = max(1, until_us - since_us)

    def bar(a: int, b: int) -> tuple[float, float]:
        a, b = max(a, since_us), min(b, until_us)
        return round(100.0 * (a - since_us) / total, 3), round(max(0.3, 100.0 * (b - a) / total), 3)

    spans = [{"x": x, "w": w, "start_us": a, "end_us": b} for a, b in clip.spans for x, w in [bar(a, b)]]
    gaps = [{"x": x, "w": w, "start_us": g["start_us"], "end_us": g["end_us"], "reasons": ", ".join(g["reasons"])}
            for g in clip.gaps for x, w in [bar(g["start_us"], g["end_us"])]]
    ticks = [(round(100.0 * i / 4, 3), f"{loc.local(since_us + total * i // 4):%H:%M:%S}") for i in range(5)]
    return {"spans": spans, "gaps": gaps, "ticks": ticks, "since_us": since_us, "until_us": until_us}


def review_out(g: Grant, now_us: int) -> ReviewOut:
    requester = person_out(g.requester)
    assert requester is not None
    status = g.status(now_us)
    return ReviewOut(
        id=g.id, status=status, cameras=list(g.spec.cameras), start=iso_precise(g.spec.start_us),  # type: ignore[arg-type]
        end=iso_precise(g.spec.end_us), purpose=g.spec.purpose, case_number=g.spec.case_number,
        approval_document=g.spec.approval_document, requested_by=requester, requested=iso_precise(g.requested_us),
        decided_by=person_out(g.decider), decided=_time(g.decided_us), decision_reason=g.decision_reason,
        granted_until=_time(g.granted_until_us), revoked_by=g.revoked_by, revoked=_time(g.revoked_us),
        play=f"/review/{g.id}" if status == "active" else None)
