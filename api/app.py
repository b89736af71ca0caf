"""The local HTTP API (FastAPI): an app factory over a running daemon."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from fastapi import FastAPI

if TYPE_CHECKING:
    from edge.daemon import Daemon


def create_app(daemon: Daemon) -> FastAPI:
    app = FastAPI(title="edge", version="0.1.0", docs_url=None, redoc_url=None)
    app.state.daemon = daemon

    @app.get("/healthz", tags=["health"])
    def healthz() -> dict[str, Any]:
        """Liveness: the process answers. Per-camera states, no footage, no credentials."""
        return {
            "status": "ok",
            "cameras": {cid: w.status.state.value for cid, w in daemon.workers.items()},
        }

    return app
