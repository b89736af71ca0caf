"""What the status document and the metrics read of a running box.

A Protocol, so monitoring depends on no part above it: `edge.app.runtime.Runtime` satisfies it.
The retention and export services are read through their `status()`/`counts()` documents (see
`status.call_dict`), so they appear here only as objects. The offload service and the readiness
probe are read through the two small Protocols below (edge/monitor/fleet_metrics.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from capture.worker import CaptureWorker
    from edge.config import EdgeConfig
    from edge.monitor.alarms import AlarmCenter
    from edge.monitor.image_health import HealthService
    from storage.clock import Clock
    from storage.store import SegmentStore


@dataclass(frozen=True)
class OffloadFigures:
    enabled: bool
    pending: dict[str, int]  # kind -> objects waiting (segment, export, checkpoint)
    pending_bytes: int
    lag_seconds: float  # how long the oldest waiting object has waited; 0 when none waits
    uploaded_objects: int
    uploaded_bytes: int
    failures: int
    last_success_us: int | None


class OffloadFiguresSource(Protocol):
    def figures(self) -> OffloadFigures: ...


class ReadinessProbe(Protocol):
    def problems(self) -> list[str]: ...


class LiveBox(Protocol):
    @property
    def cfg(self) -> EdgeConfig: ...

    @property
    def clock(self) -> Clock: ...

    @property
    def store(self) -> SegmentStore: ...

    @property
    def alarms(self) -> AlarmCenter: ...

    @property
    def workers(self) -> Mapping[str, CaptureWorker]: ...

    @property
    def started_monotonic(self) -> float: ...

    @property
    def health(self) -> HealthService: ...

    @property
    def retention(self) -> object: ...

    @property
    def exports(self) -> object: ...

    @property
    def probes(self) -> ReadinessProbe: ...

    @property
    def offload(self) -> OffloadFiguresSource | None: ...
