"""/report/filing: the Art. 15 filing pack as a page, a PDF and JSON (`edge.report`)."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from api.auth import daemon_of
from api.web.deps import WebUser, localizer, render, web_user
from edge.monitor import references as baseline
from edge.reports.filing import PackInputs, build_pack, localized

router = APIRouter(include_in_schema=False)
User = Annotated[WebUser, Depends(web_user)]


def pack_of(request: Request) -> dict[str, Any]:
    d = daemon_of(request)
    return build_pack(PackInputs(d.cfg, d.store.index, d.store.layout, d.clock.now_us(), d.holds.in_force(),
                                 d.device_key))


def _register_pictures(request: Request, web: WebUser, pack: dict[str, Any], form: str) -> list[str]:
    """Reference pictures go only to footage roles, and their view is registered like a snapshot's."""
    if not web.sees_footage:
        return []
    layout = daemon_of(request).store.layout
    ids = [c["id"] for c in pack["cameras"] if baseline.reference_path(layout, c["id"]).is_file()]
    if ids:
        daemon_of(request).register.append(web.actor, "snapshot_view", cameras=ids, subject="filing-pack",
                                           detail={"kind": "reference", "via": f"filing pack ({form})"})
    return ids


@router.get("/report/filing")
def filing_page(request: Request, web: User) -> Response:
    pack = pack_of(request)
    # The page's images are fetched (and registered) by the snapshot route itself.
    layout = daemon_of(request).store.layout
    pictures = {c["id"]: f"/cameras/{c['id']}/reference.png" for c in pack["cameras"]
                if web.sees_footage and baseline.reference_path(layout, c["id"]).is_file()}
    return render(request, web, "filing.html", {"pack": pack, "texts": localized(pack, localizer(request)),
                                                "pictures": pictures})


@router.get("/report/filing.pdf")
def filing_pdf(request: Request, web: User) -> Response:
    pack = pack_of(request)
    layout = daemon_of(request).store.layout
    pictures = {i: baseline.reference_path(layout, i) for i in _register_pictures(request, web, pack, "pdf")}
    loc = localizer(request)
    # Imported here, at the first PDF asked for: fpdf2 (with fontTools and Pillow) is ~40 MB of a
    # recorder's resident memory that recording never uses.
    from edge.reports.pdf import render_pdf

    return Response(render_pdf(pack, pictures, loc, localized(pack, loc)), media_type="application/pdf",
                    headers={"Content-Disposition": f'attachment; filename="filing-{pack["box"]["id"]}.pdf"'})


@router.get("/report/filing.json")
def filing_json(request: Request, web: User) -> Response:
    return Response(json.dumps(pack_of(request), indent=2, ensure_ascii=False), media_type="application/json",
                    headers={"Content-Disposition": 'attachment; filename="filing.json"'})
