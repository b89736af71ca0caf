"""/register: the access register for auditors, with the API's filters (Art. 19(4))."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi import Query as Param
from fastapi.responses import Response

from api.auth import daemon_of
from api.presenters import audit_page
from api.web.access_pages import errors_of
from api.web.deps import REGISTER_ROLES, WebUser, ensure_role, render, web_user
from storage.clock import datetime_to_us
from storage.register import ACTIONS, Query

router = APIRouter(include_in_schema=False)
User = Annotated[WebUser, Depends(web_user)]
PAGE = 100


def _day(value: str, end: bool) -> datetime | None:
    """A `date` field as the start of that UTC day (or of the next one for 'until': inclusive)."""
    if not value:
        return None
    day = datetime.fromisoformat(value).replace(tzinfo=UTC)
    return day + timedelta(days=1) if end else day


@router.get("/register")
def register_page(request: Request, web: User, since: str = "", until: str = "", action: str = "",
                  actor: str = "", camera: str = "",
                  after_id: Annotated[int, Param(ge=0, le=2**53)] = 0) -> Response:
    ensure_role(request, web, REGISTER_ROLES, "The access register")
    filters = {"since": since, "until": until, "action": action, "actor": actor, "camera": camera}
    errors: list[str] = []
    page = None
    try:
        start, end = _day(since, False), _day(until, True)
        q = Query(since_us=datetime_to_us(start) if start else None, until_us=datetime_to_us(end) if end else None,
                  actions=[action] if action else [], actor=actor.strip() or None, camera=camera.strip() or None,
                  limit=PAGE, after_id=after_id)
        page = audit_page(daemon_of(request).register, q)
    except ValueError:
        errors.append("since/until: dates are YYYY-MM-DD")
    except HTTPException as exc:
        errors += errors_of(exc)
    next_query = None
    if page is not None and page.next_after_id:
        next_query = urlencode({k: v for k, v in filters.items() if v} | {"after_id": page.next_after_id})
    return render(request, web, "register.html", {
        "page": page, "filters": filters, "actions": sorted(ACTIONS), "errors": errors, "next_query": next_query},
        status=422 if errors else 200)
