"""/api/v1/audit: the access register for auditors, filtered and paginated (Art. 19(4))."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from pydantic import AwareDatetime

from api.auth import Principal, daemon_of, require
from api.presenters import audit_page
from api.schemas import AuditPage
from edge.access.users import Role
from storage.clock import datetime_to_us
from storage.register import ACTIONS
from storage.register import Query as RegisterQuery

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
    q = RegisterQuery(since_us=datetime_to_us(since) if since else None,
                      until_us=datetime_to_us(until) if until else None,
                      actions=action or [], actor=actor, camera=camera, limit=limit, after_id=after_id)
    return audit_page(daemon_of(request).register, q)
