"""/api/v1/checkpoints: the box's signed checkpoints, for central monitoring to poll and archive
off the box (monitor role and up, like status). `edge verify --checkpoints` reads the archive."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from pydantic import AwareDatetime, BaseModel

from api.auth import Principal, daemon_of, require
from edge.access.users import STATUS_ROLES
from storage import checkpoints
from storage.layout import datetime_to_us

router = APIRouter(prefix="/api/v1/checkpoints", tags=["integrity"])

Monitor = Annotated[Principal, Depends(require(*STATUS_ROLES))]


class CheckpointOut(BaseModel):
    id: int
    time: str
    time_us: int
    body: str
    signature: str
    sha256: str
    tsa_token: str | None
    tsa_time: str | None


class CheckpointPage(BaseModel):
    box_id: str
    public_key: str
    fingerprint: str
    checkpoints: list[CheckpointOut]
    next_after_id: int | None


@router.get("", response_model=CheckpointPage, summary="Signed checkpoints of every chain head, oldest first")
def list_checkpoints(
    request: Request,
    p: Monitor,
    since: Annotated[AwareDatetime | None, Query(description="Checkpoints at or after this time")] = None,
    after_id: Annotated[int, Query(ge=0, le=2**53, description="Continue after this checkpoint id")] = 0,
    limit: Annotated[int, Query(ge=1, le=10000)] = 1000,
) -> dict[str, Any]:
    d = daemon_of(request)
    rows = checkpoints.since(d.store.index.reader(), datetime_to_us(since) if since else 0, after_id, limit + 1)
    more = len(rows) > limit
    rows = rows[:limit]
    return {"box_id": d.cfg.box.id, "public_key": d.device_key.public_pem, "fingerprint": d.device_key.fingerprint,
            "checkpoints": [cp.to_json() for cp in rows], "next_after_id": rows[-1].id if more else None}
