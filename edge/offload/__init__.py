"""Evidence offload: held segments, approved export bundles and integrity checkpoints copied to an
S3-compatible bucket with Object Lock in compliance mode (`[offload]`, off by default).

`attach_offload(daemon)` is the one call the daemon makes; it reads only the collaborators below.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from edge.exports import State
from edge.offload.service import OffloadService
from edge.offload.sources import CheckpointRecords, ReadyExport, TableCheckpoints

if TYPE_CHECKING:
    from edge.daemon import Daemon

__all__ = ["OffloadService", "attach_offload"]


def attach_offload(d: Daemon) -> OffloadService | None:
    """The offload service as a daemon background service, or None when `[offload]` is off."""
    if not d.cfg.offload.enabled:
        return None
    exports, producer = d.exports, d.export_producer

    def ready_exports() -> list[ReadyExport]:
        return [ReadyExport(e.id, producer.final_dir(e.id)) for e in exports.list(limit=10_000, states=(State.READY,))]

    # The integrity feature may provide its own records (`daemon.checkpoint_records`); else its table.
    records: CheckpointRecords = getattr(d, "checkpoint_records", None) or TableCheckpoints(d.store.index)
    svc = OffloadService(d.cfg, d.store.index, d.store.layout.root, d.clock, d.register, d.alarms, d.holds.list,
                         ready_exports, records, d.store.pinned)
    d.services.append(svc)
    return svc
