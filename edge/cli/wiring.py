"""The one place the API is wired into the daemon (the layers point storage ← capture ← edge ←
api; only the command line, at the top, may join them). import-linter allows exactly this import.
"""

from __future__ import annotations

from edge.app.box import Box
from edge.app.daemon import Attachment, Daemon
from edge.app.runtime import Runtime
from edge.config import EdgeConfig
from edge.periodic import Service
from storage.clock import Clock
from storage.lock import StoreLock


def build_daemon(cfg: EdgeConfig, clock: Clock | None = None, lock: StoreLock | None = None) -> Daemon:
    """The daemon of `cfg`'s box, with its API when the config enables it (`lock`: the store's
    lock when the caller already took it)."""
    attach: list[Attachment] = []
    if cfg.api.enabled:
        attach.append(lambda runtime: _api(runtime, cfg))
    return Daemon(Box(cfg, clock), attach, lock)


def _api(runtime: Runtime, cfg: EdgeConfig) -> Service:
    # Imported when the daemon makes it, after its cameras started (the web stack is the slowest
    # import of the process).
    from api.app import create_app
    from api.service import ApiService

    return ApiService(create_app(runtime), cfg.api)


def api_port(daemon: Daemon) -> int | None:
    """The port the daemon's API listens on, once bound (None without an API)."""
    from api.service import ApiService

    for svc in daemon.attached:
        if isinstance(svc, ApiService):
            return svc.port
    return None
