"""Liveness, readiness (no auth: process supervisors and load balancers call them) and the
status document (every role)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse

from api.auth import Principal, daemon_of, require
from edge.access.users import STATUS_ROLES
from edge.monitor.status import StatusDoc, status_of

router = APIRouter(tags=["health"])


@router.get("/healthz")
def healthz(request: Request) -> dict[str, Any]:
    """Liveness: the process answers. `{"status": "ok", "cameras": {id: state}}`: worker states
    only (the recording tests and simple probes rely on them), no footage, no credentials."""
    d = daemon_of(request)
    return {"status": "ok", "cameras": {cid: w.status.state.value for cid, w in d.workers.items()}}


@router.get("/readyz", responses={503: {"description": "not ready; `problems` says why"}})
def readyz(request: Request) -> JSONResponse:
    """Ready: the store takes writes, the index answers, every enabled camera's worker runs."""
    problems = daemon_of(request).probes.problems()
    if problems:
        return JSONResponse({"status": "not ready", "problems": problems}, status_code=503)
    return JSONResponse({"status": "ready", "problems": []})


@router.get("/api/v1/status", response_model=StatusDoc)
def status(request: Request, _: Principal = Depends(require(*STATUS_ROLES))) -> StatusDoc:  # noqa: B008
    """The box, each camera and a compliance summary (the README documents every field)."""
    return status_of(daemon_of(request))
