"""Evidence offload: held segments, approved export bundles and integrity checkpoints copied to an
S3-compatible bucket with Object Lock in compliance mode (`[offload]`, off by default).

`offload_service(...)` is the one call the daemon makes; it is given the collaborators it reads.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from edge.access.exports import ExportManager, State
from edge.config import EdgeConfig
from edge.monitor.alarms import AlarmCenter
from edge.offload.service import OffloadService
from edge.offload.sources import CheckpointRecords, ReadyExport, TableCheckpoints
from storage.clock import Clock
from storage.holds import HoldStore
from storage.register import AccessRegister
from storage.store import SegmentStore

__all__ = ["OffloadService", "offload_service"]


def offload_service(cfg: EdgeConfig, store: SegmentStore, clock: Clock, register: AccessRegister,
                    alarms: AlarmCenter, holds: HoldStore, exports: ExportManager,
                    bundle_dir: Callable[[int], Path],
                    checkpoints: CheckpointRecords | None = None) -> OffloadService | None:
    """The offload service (a background service to start with the others), or None when off.
    `checkpoints`: the integrity feature's records; default, its `checkpoints` table if present."""
    if not cfg.offload.enabled:
        return None

    def ready_exports() -> list[ReadyExport]:
        return [ReadyExport(e.id, bundle_dir(e.id)) for e in exports.list(limit=10_000, states=(State.READY,))]

    return OffloadService(cfg, store.index, store.layout.root, clock, register, alarms, holds.list, ready_exports,
                          checkpoints or TableCheckpoints(store.index), store.pinned)
