"""/api/v1/exports: request, approve/deny (a second person), follow, download (Art. 18-20)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request
from fastapi.responses import StreamingResponse

from api.auth import Principal, daemon_of, require
from api.schemas import ApproveIn, DenyIn, ExportOut, ExportRequestIn, ExportState, PersonOut, RegisterEntryOut
from edge.bundle import bundle_files, zip_stream
from edge.export_producer import iso, safe_name
from edge.exports import Export, ExportManager, ExportSpec, State
from edge.register import Entry
from edge.twoperson import Person, WorkflowError
from edge.users import Role
from storage.layout import datetime_to_us

if TYPE_CHECKING:
    from edge.daemon import Daemon

router = APIRouter(prefix="/api/v1/exports", tags=["exports"])

Officer = Annotated[Principal, Depends(require(Role.OFFICER))]
Approver = Annotated[Principal, Depends(require(Role.APPROVER))]
Either = Annotated[Principal, Depends(require(Role.OFFICER, Role.APPROVER))]
ExportId = Annotated[int, Path(ge=1, le=2**53, description="Export id")]
#: An export's end may lie this far after the box's clock (clock skew between officer and box).
FUTURE_TOLERANCE_US = 5_000_000


def _manager(request: Request) -> ExportManager:
    return daemon_of(request).exports


def http_error(err: WorkflowError) -> HTTPException:
    return HTTPException(status_code=err.status, detail=err.reason)


def entry_out(e: Entry) -> RegisterEntryOut:
    return RegisterEntryOut(**e.to_json(), time=iso(e.time_us))


def _person(p: Person | None) -> PersonOut | None:
    return None if p is None else PersonOut(name=p.name, credential_id=p.credential_id)


def export_out(d: Daemon, exp: Export, with_register: bool = False) -> ExportOut:
    s = exp.spec
    requester = _person(exp.requester)
    assert requester is not None
    return ExportOut(
        id=exp.id, state=exp.state.value, progress=d.exports.percent(exp), cameras=list(s.cameras),
        start=iso(s.start_us), end=iso(s.end_us), purpose=s.purpose, case_number=s.case_number,
        recipient=s.recipient, approval_document=s.approval_document, hold=s.hold, requested_by=requester,
        requested=iso(exp.requested_us), expires=iso(exp.expires_us), decided_by=_person(exp.decider),
        decided=iso(exp.decided_us) if exp.decided_us is not None else None, decision_reason=exp.decision_reason,
        error=exp.error, manifest_sha256=exp.manifest_sha256,
        download=f"/api/v1/exports/{exp.id}/download" if exp.state is State.READY else None,
        register_entries=[entry_out(e) for e in d.register.entries_for_subject(exp.subject)] if with_register else [],
    )


def _problems(d: Daemon, body: ExportRequestIn) -> tuple[ExportSpec, list[dict[str, Any]]]:
    start_us, end_us = datetime_to_us(body.start), datetime_to_us(body.end)
    problems: list[dict[str, Any]] = []
    known = {c.id for c in d.cfg.cameras} | set(d.store.index.cameras())
    for i, cam in enumerate(body.cameras):
        if cam not in known:
            problems.append({"loc": ["body", "cameras", i], "msg": f"unknown camera '{cam}'", "type": "value_error"})
    max_us = int(d.cfg.access.max_export_hours * 3_600_000_000)
    if end_us - start_us > max_us:
        problems.append({"loc": ["body", "end"], "type": "value_error",
                         "msg": f"the range is longer than the maximum of {d.cfg.access.max_export_hours:g} h "
                                "([access] max_export_hours); split the request"})
    if end_us > d.clock.now_us() + FUTURE_TOLERANCE_US:
        problems.append({"loc": ["body", "end"], "msg": "end is in the future: only recorded footage can be "
                                                        "exported", "type": "value_error"})
    spec = ExportSpec(tuple(body.cameras), start_us, end_us, body.purpose, body.case_number,
                      body.recipient.model_dump(), body.approval_document.model_dump(mode="json"), body.hold)
    return spec, problems


@router.post("", status_code=201, response_model=ExportOut, summary="Request an export (officer)")
def create_export(body: ExportRequestIn, request: Request, p: Officer) -> ExportOut:
    """Step 1 of 2: the request is registered and waits for a second person's approval. Nothing is
    read from the store yet."""
    d = daemon_of(request)
    spec, problems = _problems(d, body)
    if problems:
        d.register.append(p.actor, "export_request", result="refused", subject="export:-",
                          detail={"problems": [x["msg"] for x in problems]}, **spec.register_fields())
        raise HTTPException(status_code=422, detail=problems)
    return export_out(d, d.exports.request(p.actor, spec), with_register=True)


@router.get("", response_model=list[ExportOut], summary="List exports (officer, approver)")
def list_exports(request: Request, p: Either, state: ExportState | None = None,
                 limit: Annotated[int, Query(ge=1, le=500)] = 100) -> list[ExportOut]:
    d = daemon_of(request)
    d.exports.expire_due()
    states = (State(state),) if state else ()
    return [export_out(d, e) for e in d.exports.list(limit, states)]


@router.get("/{export_id}", response_model=ExportOut, summary="State, progress and register entries")
def get_export(export_id: ExportId, request: Request, p: Either) -> ExportOut:
    d = daemon_of(request)
    d.exports.expire_due()
    exp = d.exports.get(export_id)
    if exp is None:
        raise HTTPException(status_code=404, detail=f"no export {export_id}")
    return export_out(d, exp, with_register=True)


@router.post("/{export_id}/approve", response_model=ExportOut, summary="Approve (a different approver)")
def approve_export(export_id: ExportId, request: Request, p: Approver, body: ApproveIn | None = None) -> ExportOut:
    """Step 2 of 2, by an approver who is neither the requester nor holds the requester's work
    credential. The bundle is then produced in the background (`progress`)."""
    d = daemon_of(request)
    try:
        exp = d.exports.approve(export_id, p.user, p.actor, body.note if body else "")
    except WorkflowError as err:
        raise http_error(err) from None
    return export_out(d, exp, with_register=True)


@router.post("/{export_id}/deny", response_model=ExportOut, summary="Deny, with a reason")
def deny_export(export_id: ExportId, body: DenyIn, request: Request, p: Approver) -> ExportOut:
    d = daemon_of(request)
    try:
        exp = d.exports.deny(export_id, p.user, p.actor, body.reason)
    except WorkflowError as err:
        raise http_error(err) from None
    return export_out(d, exp, with_register=True)


@router.get("/{export_id}/download", summary="The bundle as a zip (requester or approver only)",
            response_class=StreamingResponse,
            responses={200: {"content": {"application/zip": {}}, "description": "The export bundle"}})
def download_export(export_id: ExportId, request: Request, p: Either) -> StreamingResponse:
    d = daemon_of(request)
    try:
        exp = d.exports.authorize_download(export_id, p.user, p.actor)
    except WorkflowError as err:
        raise http_error(err) from None
    directory = d.export_producer.final_dir(exp.id)
    if not directory.is_dir():
        raise HTTPException(status_code=410, detail=f"the bundle of export {export_id} is no longer on this box")
    size = sum(f.stat().st_size for f in bundle_files(directory))
    entry_id = d.exports.register_download(exp, p.actor, size)
    # Box id and case number in the name: a copied bundle keeps saying where and for what it was made.
    name = safe_name(f"{d.cfg.box.id}_{exp.spec.case_number or 'no-case'}_export-{exp.id}")
    return StreamingResponse(zip_stream(directory, name), media_type="application/zip",
                             headers={"Content-Disposition": f'attachment; filename="{name}.zip"',
                                      "X-Register-Entry": str(entry_id)})
