"""`GET /metrics`: Prometheus text exposition, for every role (Prometheus sends the token with
`authorization: {credentials: TOKEN}` in its scrape config)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from api.auth import Principal, require
from edge.access.users import STATUS_ROLES

router = APIRouter(tags=["health"])


@router.get("/metrics", response_class=Response)
def metrics(request: Request, _: Principal = Depends(require(*STATUS_ROLES))) -> Response:  # noqa: B008
    registry = request.app.state.metrics_registry
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)
