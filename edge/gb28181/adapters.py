"""The interfaces of `interfaces.py` built from the running daemon (the wiring is three lines)."""

from __future__ import annotations

from typing import Any

from edge.gb28181.interfaces import Channel, Sources


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
