"""Wires the access features into a daemon: device key, exports and their producer, hold releases.

Kept out of `edge.daemon` so the daemon only calls `attach_access(self)`. Holds themselves are
the retention side's (`daemon.holds`); they are looked up lazily, so the order in which the two
are attached does not matter.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from edge.export_producer import ExportProducer
from edge.exports import ExportManager
from edge.hold_release import HoldReleases
from edge.hold_requests import HoldRequests
from edge.refusals import AnonymousRefusals, RefusalFlusher
from storage.signing import load_or_create

if TYPE_CHECKING:
    from edge.daemon import Daemon


def attach_access(d: Daemon) -> None:
    d.device_key = load_or_create(d.store.layout.keys_dir)
    d.exports = ExportManager(d.store.index, d.register, d.clock, d.cfg.access, lambda: getattr(d, "holds", None))
    d.hold_releases = HoldReleases(d.store.index, d.register, d.clock, d.cfg.access.request_ttl_hours,
                                   lambda: getattr(d, "holds", None), d.cfg.access.max_pending_per_user)
    d.export_producer = ExportProducer(d.cfg, d.store, d.exports, d.register, d.device_key)
    d.services.append(d.export_producer)
    # Anonymous refusals: one register entry per source and window (edge/refusals.py).
    d.refusals = AnonymousRefusals(d.register, d.clock, d.cfg.access.refusal_window_seconds)
    d.services.append(RefusalFlusher(d.refusals))
    # Open-ended all-camera holds: requested by one person, approved by another (edge/hold_requests.py).
    d.hold_requests = HoldRequests(d.store.index, d.register, d.clock, d.cfg.retention, d.cfg.access.request_ttl_hours,
                                   d.cfg.access.max_pending_per_user, lambda: getattr(d, "holds", None))
