"""The HTTP API as a service of the daemon: uvicorn in a thread of its own.

Start returns once the socket is bound, or raises: a box whose API cannot listen (the port is
taken, say) must fail at start, so systemd restarts it, rather than record on without its API.
"""

from __future__ import annotations

import threading
import time

import uvicorn
from fastapi import FastAPI

from api.server import build_server
from edge.app.fdlimit import api_connection_cap
from edge.config_sections import ApiConfig

#: How long start waits for the socket to be bound.
BIND_TIMEOUT = 10.0


class ApiStartError(RuntimeError):
    pass


class ApiService:
    name = "api"

    def __init__(self, app: FastAPI, cfg: ApiConfig) -> None:
        # Bounded (api/server.py): connection cap within what the open-file limit leaves capture.
        cameras = len(app.state.daemon.cfg.cameras) if hasattr(app.state, "daemon") else 0
        self.server: uvicorn.Server = build_server(app, cfg, api_connection_cap(cfg.max_connections, cameras))
        self._thread: threading.Thread | None = None
        self._where = f"{cfg.host}:{cfg.port}"

    def start(self) -> None:
        self._thread = threading.Thread(target=self.server.run, name="api", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + BIND_TIMEOUT
        while not self.server.started:
            if not self._thread.is_alive():
                raise ApiStartError(f"the API could not listen on {self._where} (see the log line above)")
            if time.monotonic() > deadline:
                raise ApiStartError(f"the API did not start listening on {self._where} within {BIND_TIMEOUT:g} s")
            time.sleep(0.02)

    def stop(self) -> None:
        self.server.should_exit = True

    def join(self, timeout: float | None = None) -> bool:
        if self._thread is None:
            return True
        # Requests under way get a moment even when the stop budget is spent.
        self._thread.join(max(0.5, timeout or 0.0))
        return not self._thread.is_alive()

    @property
    def port(self) -> int | None:
        """The bound port (useful when the config asks for port 0)."""
        if not self.server.started:
            return None
        for srv in self.server.servers:
            for sock in srv.sockets:
                return int(sock.getsockname()[1])
        return None
