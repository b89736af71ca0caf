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


def build_daemon(cfg: EdgeConfig, clock: Clock | None = None) -> Daemon:
    """The daemon of `cfg`'s box, with its API when the config enables it."""
    attach: list[Attachment] = []
    if cfg.api.enabled:
        attach.append(lambda runtime: ApiService(create_app(runtime), cfg.api))
    return Daemon(Box(cfg, clock), attach)


def api_port(daemon: Daemon) -> int | None:
    """The port the daemon's API listens on, once bound (None without an API)."""
    for svc in daemon.attached:
        if isinstance(svc, ApiService):
            return svc.port
    return None
