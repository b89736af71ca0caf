"""The local HTTP API (FastAPI): an app factory over a running daemon."""

from __future__ import annotations

import contextlib
import warnings
from typing import TYPE_CHECKING, Any

import anyio
from fastapi import Depends, FastAPI

from api.limits import BodyLimit

if TYPE_CHECKING:
    from edge.app.runtime import Runtime


def _preload_anyio() -> None:
    """anyio imports its API lazily, on first use, in whatever thread first serves a file. CPython
    3.11 before 3.11.8 can fail with "AST constructor recursion depth mismatch" when two threads
    compile at once (gh-106905), so resolve every lazy name here, once, on the starting thread."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for name in dir(anyio):
            with contextlib.suppress(AttributeError, ImportError):
                getattr(anyio, name)


def create_app(daemon: Runtime) -> FastAPI:
    _preload_anyio()
    # No anonymous /openapi.json (deny by default): the schema is served to authenticated users below.
    app = FastAPI(title="edge", version="0.1.0", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.daemon = daemon
    app.add_middleware(BodyLimit)  # authentication, then at most [api] max_body_bytes, then parsing
    daemon.users.warm_up()  # the sign-in's dummy argon2 hash, made before the first sign-in needs it

    from api.routes import health, metrics
    from edge.monitor.metrics import make_registry

    # /healthz, /readyz, /api/v1/status and /metrics; a metrics registry per app, never the global one.
    app.state.metrics_registry = make_registry(daemon)
    for module in (health, metrics):
        app.include_router(module.router)

    from api.routes import audit, checkpoints, exports, hold_requests, holds, reviews

    for module in (exports, holds, hold_requests, reviews, audit, checkpoints):
        app.include_router(module.router)

    from fastapi import Request
    from fastapi.responses import JSONResponse

    from api.auth import Refusal
    from api.presenters import localizer_for, refusal_json
    from edge.access.workflow import WorkflowError

    @app.exception_handler(Refusal)
    def refused_request(request: Request, err: Exception) -> JSONResponse:
        """An API refusal (authentication, role, a missing id): its code and its reason translated."""
        assert isinstance(err, Refusal)
        loc = localizer_for(request)
        return JSONResponse({"detail": err.detail, **err.message.to_json(), "message": loc.message(err.message)},
                            status_code=err.status_code,
                            headers={**(err.headers or {}), "Content-Language": loc.language})

    @app.exception_handler(WorkflowError)
    def refused_step(request: Request, err: WorkflowError) -> JSONResponse:
        """A refused workflow step (already registered by the domain) as its HTTP answer, its
        reason in the client's language beside the stable code."""
        return JSONResponse(refusal_json(err, localizer_for(request)), status_code=err.status,
                            headers={"Content-Language": localizer_for(request).language})

    from api.web import install as install_web

    # The maintenance page: login, overview, cameras, exports, holds, register, filing pack.
    install_web(app, daemon)

    from api.auth import Principal, require
    from edge.access.users import STATUS_ROLES

    @app.get("/api/v1/openapi.json", include_in_schema=False)
    def openapi_schema(_: Principal = Depends(require(*STATUS_ROLES))) -> dict[str, Any]:  # noqa: B008
        """The API's OpenAPI document, for any authenticated role."""
        return app.openapi()

    return app
