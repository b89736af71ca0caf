"""What the layers above see of a running box: its stores and the few live services.

The API (and sd_notify's status line) read a `Runtime`; it is built by the daemon once its
services exist and exposes them read-only. Nothing here starts or stops anything.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from edge.app.box import Box
from edge.app.probes import Probes
from edge.recording.fleet import CameraFleet

if TYPE_CHECKING:
    from capture.sampler import KeyframeSampler
    from capture.worker import CaptureWorker
    from edge.access.exports import ExportManager
    from edge.access.hold_release import HoldReleases
    from edge.access.hold_requests import HoldRequests
    from edge.access.holds import HoldPlacement
    from edge.access.playback import Playback
    from edge.access.producer import ExportProducer
    from edge.access.refusals import AnonymousRefusals
    from edge.access.review import ReviewGrants
    from edge.access.users import UserStore
    from edge.config import EdgeConfig
    from edge.monitor.alarms import AlarmCenter
    from edge.monitor.clock_watch import ClockWatch
    from edge.monitor.image_health import HealthService
    from edge.monitor.integrity import IntegrityService
    from edge.offload import OffloadService
    from edge.recording.retention import RetentionService
    from storage.clock import Clock
    from storage.holds import HoldStore
    from storage.register import AccessRegister
    from storage.signing import DeviceKey
    from storage.store import SegmentStore


@dataclass(frozen=True)
class Runtime:
    box: Box
    fleet: CameraFleet
    health: HealthService
    retention: RetentionService
    export_producer: ExportProducer
    probes: Probes
    started_monotonic: float
    stopping: Callable[[], bool]
    #: Evidence offload (edge/offload/); None when [offload] is off.
    offload: OffloadService | None = None
    #: Clock steps and time sync (edge/monitor/clock_watch.py), read by the status document.
    clock_watch: ClockWatch | None = None
    #: The checkpoint service (signed chain heads; metrics read its last checkpoint).
    integrity: IntegrityService | None = None

    # The box's parts, by name (read-only views for the API and the status document).
    @property
    def cfg(self) -> EdgeConfig:
        return self.box.cfg

    @property
    def clock(self) -> Clock:
        return self.box.clock

    @property
    def store(self) -> SegmentStore:
        return self.box.store

    @property
    def register(self) -> AccessRegister:
        return self.box.register

    @property
    def alarms(self) -> AlarmCenter:
        return self.box.alarms

    @property
    def users(self) -> UserStore:
        return self.box.users

    @property
    def holds(self) -> HoldStore:
        return self.box.holds

    @property
    def exports(self) -> ExportManager:
        return self.box.exports

    @property
    def hold_placement(self) -> HoldPlacement:
        return self.box.hold_placement

    @property
    def hold_releases(self) -> HoldReleases:
        return self.box.hold_releases

    @property
    def hold_requests(self) -> HoldRequests:
        return self.box.hold_requests

    @property
    def refusals(self) -> AnonymousRefusals:
        return self.box.refusals

    @property
    def reviews(self) -> ReviewGrants:
        return self.box.reviews

    @property
    def playback(self) -> Playback:
        return self.box.playback

    @property
    def sampler(self) -> KeyframeSampler:
        """The capture threads' keyframe hook: the live view reads the newest keyframes from it."""
        return self.health.sampler

    @property
    def device_key(self) -> DeviceKey:
        return self.box.device_key

    @property
    def workers(self) -> Mapping[str, CaptureWorker]:
        return self.fleet.workers
