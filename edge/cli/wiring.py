"""The one place the API is wired into the daemon (the layers point storage ← capture ← edge ←
api; only the command line, at the top, may join them). import-linter allows exactly this import.
"""

from __future__ import annotations

from api.app import create_app
from api.service import ApiService
from edge.app.box import Box
from edge.app.daemon import Attachment, Daemon
from edge.config import EdgeConfig
from storage.clock import Clock
from storage.lock import StoreLock


def build_daemon(cfg: EdgeConfig, clock: Clock | None = None, lock: StoreLock | None = None) -> Daemon:
    """The daemon of `cfg`'s box, with its API when the config enables it (`lock`: the store's
    lock when the caller already took it)."""
    attach: list[Attachment] = []
    if cfg.api.enabled:
        attach.append(lambda runtime: ApiService(create_app(runtime), cfg.api))
    return Daemon(Box(cfg, clock), attach, lock)


def api_port(daemon: Daemon) -> int | None:
    """The port the daemon's API listens on, once bound (None without an API)."""
    for svc in daemon.attached:
        if isinstance(svc, ApiService):
            return svc.port
    return None
