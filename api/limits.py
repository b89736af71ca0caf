"""Bounded requests: authentication first, then at most `[api] max_body_bytes` of body, then parsing.

An ASGI middleware in front of the app. A request that may carry a body to the API (`/api/...`,
any method but GET/HEAD/OPTIONS) is authenticated before a byte of its body is read, so an
anonymous client cannot make the box buffer and parse hundreds of megabytes; then a declared
`Content-Length` over the limit is refused with 413 at once, and a body without one (chunked) is
counted as it arrives and refused with 413 the moment it passes the limit. Nothing is parsed
before both checks; the web pages (forms, sign-in) get the same size limit.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import anyio
from fastapi import HTTPException, Request
from fastapi.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.auth import authenticate, session_principal

if TYPE_CHECKING:
    from edge.app.runtime import Runtime

BODYLESS = frozenset({"GET", "HEAD", "OPTIONS"})


def _too_large(limit: int) -> str:
    return f"request body larger than {limit} bytes ([api] max_body_bytes)"


def _authenticate_first(scope: Scope) -> None:
    """What `require()` does, without the role check (the route does that): raises the refusal."""
    request = Request(scope)
    header = request.headers.get("authorization", "")
    scheme, _, credentials = header.partition(" ")
    token = credentials.strip() if scheme.lower() == "bearer" and credentials.strip() else None
    principal = session_principal(request) if token is None else None
    if principal is None:
        authenticate(request, token)


class BodyLimit:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in BODYLESS:
            await self.app(scope, receive, send)
            return
        daemon: Runtime = scope["app"].state.daemon
        limit = daemon.cfg.api.max_body_bytes
        if str(scope["path"]).startswith("/api/"):
            try:
                await anyio.to_thread.run_sync(_authenticate_first, scope)
            except HTTPException as exc:
                await JSONResponse({"detail": exc.detail}, exc.status_code, headers=exc.headers)(scope, receive, send)
                return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None:
            try:
                size = int(declared)
            except ValueError:
                await JSONResponse({"detail": "invalid Content-Length"}, 400)(scope, receive, send)
                return
            if size > limit:
                await JSONResponse({"detail": _too_large(limit)}, 413)(scope, receive, send)
                return
        seen = 0

        async def bounded_receive() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    # Raised inside the app's own body read: its exception handler answers 413.
                    raise HTTPException(status_code=413, detail=_too_large(limit))
            return message

        await self.app(scope, bounded_receive, send)
