"""The interfaces of `interfaces.py` built from the running daemon (the wiring is three lines)."""

from __future__ import annotations

from typing import Any

from edge.gb28181.interfaces import Channel, Sources
from edge.gb28181.service import Gb28181Service


class DaemonCameras:
    """Cameras from the config, online/recording state from the capture workers."""

    def __init__(self, daemon: Any) -> None:
        self.daemon = daemon

    def channels(self) -> list[Channel]:
        out = []
        for cam in self.daemon.cfg.cameras:
            if not cam.gb28181_channel_id:
                continue
            worker = self.daemon.workers.get(cam.id)
            state = worker.status.snapshot() if worker is not None else {}
            recording = state.get("state") == "recording"
            out.append(Channel(cam.id, cam.gb28181_channel_id, cam.name or cam.id, cam.url, cam.enabled,
                               online=bool(state.get("connected")) or recording, recording=recording,
                               location=cam.location))
        return out


def daemon_sources(daemon: Any) -> Sources:
    return Sources(DaemonCameras(daemon), daemon.store.index, daemon.store.layout.root, daemon.alarms,
                   daemon.register)


def attach_gb28181(daemon: Any) -> Gb28181Service | None:
    """Wiring for the daemon: when `[gb28181] enabled`, build the service from the daemon's parts
    and add it to the services it starts after the capture workers and stops before them."""
    if not daemon.cfg.gb28181.enabled:
        return None
    svc = Gb28181Service(daemon.cfg.gb28181, daemon_sources(daemon), daemon.clock.now_us)
    daemon.services.append(svc)
    return svc
