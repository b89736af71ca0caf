"""/api/v1/audit: the access register for auditors, filtered and paginated (Art. 19(4))."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from pydantic import AwareDatetime

from api.auth import Principal, daemon_of, require
from api.routes.exports import entry_out
from api.schemas import AuditPage
from edge.register import ACTIONS
from edge.register import Query as RegisterQuery
from edge.users import Role
from storage.layout import datetime_to_us

router = APIRouter(prefix="/api/v1/audit", tags=["audit"])

Auditor = Annotated[Principal, Depends(require(Role.AUDITOR))]


@router.get("", response_model=AuditPage, summary="Register entries, oldest first")
def audit(
    request: Request,
    p: Auditor,
    since: Annotated[AwareDatetime | None, Query(description="Entries at or after this time")] = None,
    until: Annotated[AwareDatetime | None, Query(description="Entries before this time")] = None,
    action: Annotated[list[str] | None, Query(description=f"Repeatable; one of: {', '.join(sorted(ACTIONS))}")] = None,
    actor: Annotated[str | None, Query(max_length=200)] = None,
    camera: Annotated[str | None, Query(max_length=64)] = None,
    after_id: Annotated[int, Query(ge=0, le=2**53, description="Continue after this entry id")] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> AuditPage:
    actions = action or []
    unknown = sorted(set(actions) - ACTIONS)
    if unknown:
        raise HTTPException(status_code=422, detail=[{"loc": ["query", "action"], "type": "value_error",
                                                      "msg": f"unknown action(s): {', '.join(unknown)}"}])
    q = RegisterQuery(since_us=datetime_to_us(since) if since else None,
                      until_us=datetime_to_us(until) if until else None,
                      actions=actions, actor=actor, camera=camera, limit=limit + 1, after_id=after_id)
    entries = daemon_of(request).register.query(q)
    more = len(entries) > limit
    entries = entries[:limit]
    return AuditPage(entries=[entry_out(e) for e in entries],
                     next_after_id=entries[-1].id if more else None)
