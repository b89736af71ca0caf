"""The interfaces of `interfaces.py` built from a box and its camera fleet (the daemon's wiring).

Typed loosely (`Any` for the box and the camera configs) on purpose: edge.gb28181 sits below
edge.config in the layers (the config holds its `[gb28181]` model) and imports nothing of edge;
the daemon hands it the few parts it uses.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from edge.gb28181.interfaces import Channel, Sources
from edge.gb28181.service import Gb28181Service


class FleetCameras:
    """Cameras from the config, online/recording state from the capture workers."""

    def __init__(self, cameras: Sequence[Any], workers: Mapping[str, Any]) -> None:
        self.cameras = cameras
        self.workers = workers

    def channels(self) -> list[Channel]:
        out = []
        for cam in self.cameras:
            if not cam.gb28181_channel_id:
                continue
            worker = self.workers.get(cam.id)
            state = worker.status.snapshot() if worker is not None else {}
            recording = state.get("state") == "recording"
            out.append(Channel(cam.id, cam.gb28181_channel_id, cam.name or cam.id, cam.url, cam.enabled,
                               online=bool(state.get("connected")) or recording, recording=recording,
                               location=cam.location))
        return out


def gb28181_service(box: Any, workers: Mapping[str, Any]) -> Gb28181Service | None:
    """The platform link of a box when `[gb28181] enabled` (else None): the daemon starts it with
    its background services, after the capture workers, and stops it before them."""
    cfg = box.cfg
    if not cfg.gb28181.enabled:
        return None
    sources = Sources(FleetCameras(cfg.cameras, workers), box.store.index, box.store.layout.root, box.alarms,
                      box.register)
    return Gb28181Service(cfg.gb28181, sources, box.clock.now_us)
