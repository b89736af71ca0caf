"""/register: the access register for auditors, with the API's filters (Art. 19(4)).

Readable for an auditor: times in the box's zone, details as named fields (not reprs), the
filters kept across pages, the chain-check state on top, and the same selection as CSV.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi import Query as Param
from fastapi.responses import Response

from api.auth import daemon_of
from api.presenters import audit_page
from api.schemas import AuditPage
from api.web.access_pages import errors_of
from api.web.deps import REGISTER_ROLES, WebUser, ensure_role, localizer, render, templates, web_user
from edge.i18n import Localizer
from edge.i18n.message import N_
from storage.clock import datetime_to_us
from storage.register import ACTIONS, Query, verify_register

router = APIRouter(include_in_schema=False)
User = Annotated[WebUser, Depends(web_user)]
PAGE = 100
CSV_LIMIT = 100_000
#: Detail values that are times (µs since the epoch): shown as local times.
TIME_KEYS = frozenset({"expires_us", "granted_until_us", "start_us", "end_us", "set_us"})


def readable(detail: dict[str, Any], loc: Localizer) -> Iterator[tuple[str, str]]:
    """A register entry's detail as (field name, text) pairs: times local, lists joined, no reprs."""
    for key, value in sorted(detail.items()):
        if key in TIME_KEYS and isinstance(value, int):
            text = loc.ts(value)
        elif isinstance(value, list):
            text = ", ".join(str(v) for v in value) or "-"
        elif isinstance(value, dict):
            text = ", ".join(f"{k}: {v}" for k, v in sorted(value.items())) or "-"
        elif isinstance(value, bool):
            text = loc.gettext("yes") if value else loc.gettext("no")
        else:
            text = str(value)
        yield key.replace("_", " "), text


templates.env.filters["readable"] = readable


@dataclass(frozen=True)
class ChainState:
    ok: bool
    message: str
    entries: int
    checked_us: int


def chain_state(request: Request) -> ChainState:
    d = daemon_of(request)
    problems = verify_register(d.store.index)
    count = int(d.store.index.reader().execute("SELECT COUNT(*) FROM register").fetchone()[0])
    return ChainState(not problems, "; ".join(problems[:3]), count, d.clock.now_us())


def _query(request: Request, since: str, until: str, action: str, actor: str, camera: str, after_id: int,
           limit: int) -> Query:
    loc = localizer(request)
    start, end = loc.day_bounds(since, False), loc.day_bounds(until, True)
    return Query(since_us=datetime_to_us(start) if start else None, until_us=datetime_to_us(end) if end else None,
                 actions=[action] if action else [], actor=actor.strip() or None, camera=camera.strip() or None,
                 limit=limit, after_id=max(0, after_id))


@router.get("/register")
def register_page(request: Request, web: User, since: str = "", until: str = "", action: str = "",
                  actor: str = "", camera: str = "",
                  after_id: Annotated[int, Param(ge=0, le=2**53)] = 0) -> Response:
    ensure_role(request, web, REGISTER_ROLES, N_("The access register"))
    filters = {"since": since, "until": until, "action": action, "actor": actor, "camera": camera}
    errors: list[str] = []
    page: AuditPage | None = None
    try:
        page = audit_page(daemon_of(request).register, _query(request, since, until, action, actor, camera,
                                                              after_id, PAGE))
    except ValueError:
        errors.append("since/until: dates are YYYY-MM-DD")
    except HTTPException as exc:
        errors += errors_of(exc)
    kept = {k: v for k, v in filters.items() if v}
    next_query = None
    if page is not None and page.next_after_id:
        next_query = urlencode(kept | {"after_id": page.next_after_id})
    return render(request, web, "register.html", {
        "page": page, "filters": filters, "actions": sorted(ACTIONS), "errors": errors, "next_query": next_query,
        "csv_query": urlencode(kept), "chain": chain_state(request)}, status=422 if errors else 200)


CSV_COLUMNS = ("id", "time", "actor", "role", "credential_id", "source", "action", "result", "cameras",
               "range_start", "range_end", "purpose", "case_number", "recipient", "approval", "subject", "detail")


@router.get("/register.csv")
def register_csv(request: Request, web: User, since: str = "", until: str = "", action: str = "",
                 actor: str = "", camera: str = "") -> Response:
    """The filtered register as CSV (times in the box's zone with the offset; detail as JSON)."""
    ensure_role(request, web, REGISTER_ROLES, N_("The access register"))
    loc = localizer(request)
    try:
        page = audit_page(daemon_of(request).register, _query(request, since, until, action, actor, camera, 0,
                                                              CSV_LIMIT))
    except ValueError:
        return Response("since/until: dates are YYYY-MM-DD\n", status_code=422, media_type="text/plain")
    except HTTPException as exc:
        return Response("; ".join(e.striptags() for e in errors_of(exc)) + "\n", status_code=422,
                        media_type="text/plain")
    out = io.StringIO()
    w = csv.writer(out)
    w.writerow(CSV_COLUMNS)
    for e in page.entries:
        w.writerow([e.id, loc.ts(e.time_us), e.actor, e.role, e.credential_id, e.source, e.action, e.result,
                    " ".join(e.cameras), loc.ts(e.range_start_us) if e.range_start_us else "",
                    loc.ts(e.range_end_us) if e.range_end_us else "", e.purpose, e.case_number,
                    json.dumps(e.recipient, ensure_ascii=False) if e.recipient else "",
                    json.dumps(e.approval, ensure_ascii=False) if e.approval else "", e.subject,
                    json.dumps(e.detail, ensure_ascii=False, sort_keys=True) if e.detail else ""])
    daemon_of(request).register.append(web.actor, "register_export",
                                       detail={"via": "web", "format": "csv", "entries": len(page.entries)})
    # The BOM lets a spreadsheet on a Chinese desktop read the file as UTF-8.
    return Response("\ufeff" + out.getvalue(), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": 'attachment; filename="access-register.csv"'})
