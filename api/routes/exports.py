"""/api/v1/exports: request, approve/deny (a second person), follow, download (Art. 18-20)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import StreamingResponse

from api.auth import Principal, Refusal, daemon_of, require
from api.presenters import export_out
from api.schemas import ApproveIn, DenyIn, ExportOut, ExportRequestIn, ExportState
from edge.access.bundle import bundle_files, zip_stream
from edge.access.exports import State
from edge.access.producer import safe_name
from edge.access.users import Role
from edge.access.workflow import NOT_FOUND
from edge.i18n.message import N_, Message, term

router = APIRouter(prefix="/api/v1/exports", tags=["exports"])

Officer = Annotated[Principal, Depends(require(Role.OFFICER))]
Approver = Annotated[Principal, Depends(require(Role.APPROVER))]
Either = Annotated[Principal, Depends(require(Role.OFFICER, Role.APPROVER))]
ExportId = Annotated[int, Path(ge=1, le=2**53, description="Export id")]


@router.post("", status_code=201, response_model=ExportOut, summary="Request an export (officer)")
def create_export(body: ExportRequestIn, request: Request, p: Officer) -> ExportOut:
    """Step 1 of 2: the request is registered and waits for a second person's approval. Nothing is
    read from the store yet."""
    d = daemon_of(request)
    exp = d.exports.submit(p.actor, body.to_spec())
    return export_out(d, exp, with_register=True)


@router.get("", response_model=list[ExportOut], summary="List exports (officer, approver)")
def list_exports(request: Request, p: Either, state: ExportState | None = None,
                 limit: Annotated[int, Query(ge=1, le=500)] = 100) -> list[ExportOut]:
    d = daemon_of(request)
    d.exports.expire_due()
    states = (State(state),) if state else ()
    # Only what this user requested, decided or may decide (Art. 18(5)): the rest is confidential.
    return [export_out(d, e) for e in d.exports.list_visible(p.user, limit, states)]


@router.get("/{export_id}", response_model=ExportOut, summary="State, progress and register entries")
def get_export(export_id: ExportId, request: Request, p: Either) -> ExportOut:
    d = daemon_of(request)
    d.exports.expire_due()
    exp = d.exports.get(export_id)
    if exp is None or not d.exports.visible_to(exp, p.user):
        raise Refusal(404, Message("not_found", NOT_FOUND, {"noun": term(N_("export")), "id": export_id}))
    return export_out(d, exp, with_register=True)


@router.post("/{export_id}/approve", response_model=ExportOut, summary="Approve (a different approver)")
def approve_export(export_id: ExportId, request: Request, p: Approver, body: ApproveIn | None = None) -> ExportOut:
    """Step 2 of 2, by an approver who is neither the requester nor holds the requester's work
    credential. The bundle is then produced in the background (`progress`)."""
    d = daemon_of(request)
    exp = d.exports.approve(export_id, p.user, p.actor, body.note if body else "")
    return export_out(d, exp, with_register=True)


@router.post("/{export_id}/deny", response_model=ExportOut, summary="Deny, with a reason")
def deny_export(export_id: ExportId, body: DenyIn, request: Request, p: Approver) -> ExportOut:
    d = daemon_of(request)
    exp = d.exports.deny(export_id, p.user, p.actor, body.reason)
    return export_out(d, exp, with_register=True)


@router.get("/{export_id}/download", summary="The bundle as a zip (requester or approver only)",
            response_class=StreamingResponse,
            responses={200: {"content": {"application/zip": {}}, "description": "The export bundle"}})
def download_export(export_id: ExportId, request: Request, p: Either) -> StreamingResponse:
    d = daemon_of(request)
    exp = d.exports.authorize_download(export_id, p.user, p.actor)
    directory = d.export_producer.final_dir(exp.id)
    if not directory.is_dir():
        raise Refusal(410, Message("bundle_gone", N_("the bundle of export %(id)s is no longer on this box"),
                                   {"id": export_id}))
    size = sum(f.stat().st_size for f in bundle_files(directory))
    entry_id = d.exports.register_download(exp, p.actor, size)
    # Box id and case number in the name: a copied bundle keeps saying where and for what it was made.
    name = safe_name(f"{d.cfg.box.id}_{exp.spec.case_number or 'no-case'}_export-{exp.id}")
    return StreamingResponse(zip_stream(directory, name), media_type="application/zip",
                             headers={"Content-Disposition": f'attachment; filename="{name}.zip"',
                                      "X-Register-Entry": str(entry_id)})
