"""The box's composition root: the stores of one data directory, built once from the config.

The daemon, every CLI command and the tests get their store, index, register, users, holds,
alarms and the access services from a `Box`; nothing else opens the index or builds them, so
there is one place that decides how they fit together. Services then receive the few of these
they use, never the box or the daemon whole.
"""

from __future__ import annotations

from functools import cached_property
from types import TracebackType

from edge.access.exports import ExportManager
from edge.access.hold_release import HoldReleases
from edge.access.hold_requests import HoldRequests
from edge.access.holds import HoldPlacement
from edge.access.playback import Playback
from edge.access.refusals import AnonymousRefusals
from edge.access.review import ReviewGrants
from edge.access.users import UserStore
from edge.config import EdgeConfig
from edge.monitor.alarms import AlarmCenter
from storage.clock import Clock, SystemClock
from storage.holds import HoldStore
from storage.register import AccessRegister
from storage.signing import DeviceKey, load_or_create
from storage.store import SegmentStore


class Box:
    def __init__(self, cfg: EdgeConfig, clock: Clock | None = None) -> None:
        self.cfg = cfg
        self.clock: Clock = clock or SystemClock()
        self.store = SegmentStore(cfg.storage.root, self.clock, cfg.storage.sync_interval)
        index = self.store.index
        self.register = AccessRegister(index, self.clock)
        self.alarms = AlarmCenter(index, self.clock)
        self.users = UserStore(index, self.clock, cfg.access.auth_failures_per_minute)
        self.holds = HoldStore(index, self.clock, cfg.retention.hold_days)
        self.exports = ExportManager(index, self.register, self.clock, cfg.access, self.holds, self.known_cameras)
        self.hold_placement = HoldPlacement(self.holds, self.register, self.known_cameras, cfg.retention, index,
                                            self.clock)
        self.hold_releases = HoldReleases(index, self.register, self.clock, cfg.access.request_ttl_hours,
                                          self.holds, cfg.access.max_pending_per_user)
        # Open-ended all-camera holds: requested by one person, approved by another.
        self.hold_requests = HoldRequests(index, self.register, self.clock, cfg.retention,
                                          cfg.access.request_ttl_hours, cfg.access.max_pending_per_user, self.holds)
        # Anonymous refusals: one register entry per source and window (edge/access/refusals.py).
        self.refusals = AnonymousRefusals(self.register, self.clock, cfg.access.refusal_window_seconds)
        self.reviews = ReviewGrants(index, self.register, self.clock, cfg.access, self.known_cameras)
        self.playback = Playback(self.store, self.alarms)

    @cached_property
    def device_key(self) -> DeviceKey:
        """The box's Ed25519 key (made at first use, private part 0600): signs export manifests."""
        return load_or_create(self.store.layout.keys_dir)

    def known_cameras(self) -> set[str]:
        """Cameras of the config and cameras with footage in the index (a removed camera's
        recordings can still be exported and held)."""
        return {c.id for c in self.cfg.cameras} | set(self.store.index.cameras())

    def close(self) -> None:
        self.store.close()

    def __enter__(self) -> Box:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()
