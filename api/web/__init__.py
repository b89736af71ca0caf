"""The maintenance page: server-rendered HTML on the daemon's own FastAPI app.

`install(app)` adds the pages, the stylesheet, the security headers and the web sessions, and
lets the API's `require()` accept a signed-in browser (`session_principal`), so a page's download
link goes through the very same API route, rules and register entries.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from fastapi.staticfiles import StaticFiles

if TYPE_CHECKING:
    from fastapi import FastAPI

    from edge.app.runtime import Runtime

STATIC_DIR = Path(__file__).resolve().parent / "static"


def install(app: FastAPI, daemon: Runtime) -> None:
    from api.web import access_pages, cameras, filing, login, register_page, review_pages
    from api.web.deps import install_handlers
    from api.web.security import SecurityHeaders
    from api.web.session import SessionStore, api_session_principal
    from edge.access.live_view import LiveView

    app.state.web_sessions = SessionStore(daemon.store.index, daemon.users, daemon.clock)
    app.state.session_resolver = api_session_principal
    #: (session, grant, camera) whose clip was opened: registered once, not per Range request.
    app.state.review_opened = set()
    #: (session, camera, kind) whose snapshot/reference view is registered already.
    app.state.snapshot_viewed = set()
    # The sampler is the capture hook also with [health] off (it then keeps only watched cameras).
    app.state.live_view = LiveView(daemon.sampler, daemon.register)
    app.add_middleware(SecurityHeaders)
    install_handlers(app)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    for module in (login, cameras, access_pages, review_pages, register_page, filing):
        app.include_router(module.router)
