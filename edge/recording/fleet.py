"""The camera fleet: one capture worker per enabled camera, started, paused and stopped together.

The fleet owns the workers; services that need their live state (health, probes, the status
document, the space guard) get the fleet's read-only mapping of workers, never the daemon.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence

from capture.state import CameraState
from capture.worker import CaptureWorker, KeyframeHook
from edge.config import CameraConfig
from storage.clock import Clock
from storage.index import Segment
from storage.store import SegmentStore

log = logging.getLogger(__name__)


class CameraFleet:
    def __init__(self, cameras: Sequence[CameraConfig], store: SegmentStore, segment_seconds: float,
                 clock: Clock, fragment_seconds: float | None = None) -> None:
        self.cameras = list(cameras)
        self.fragment_seconds = fragment_seconds
        self.store = store
        self.segment_seconds = segment_seconds
        self.clock = clock
        self._workers: dict[str, CaptureWorker] = {}

    @property
    def workers(self) -> Mapping[str, CaptureWorker]:
        """The running workers by camera id (empty before `start`)."""
        return self._workers

    @property
    def enabled(self) -> list[str]:
        return [c.id for c in self.cameras if c.enabled]

    def start(self, on_segment: Callable[[Segment], None] | None, on_keyframe: KeyframeHook | None) -> None:
        for cam in self.cameras:
            if not cam.enabled:
                log.info("camera %s: disabled in the configuration", cam.id)
                continue
            worker = CaptureWorker(cam, self.store, self.segment_seconds, self.clock,
                                   on_segment=on_segment, on_keyframe=on_keyframe,
                                   fragment_seconds=self.fragment_seconds)
            self._workers[cam.id] = worker
            worker.start()

    def settle(self, timeout: float, cancelled: Callable[[], bool] = lambda: False) -> list[str]:
        """Wait (at most `timeout` s, or until `cancelled()`: a SIGTERM must not wait for it) until
        every worker's first connection has either recorded or failed, so that READY and the first
        status say something true; the cameras still trying."""
        deadline = time.monotonic() + timeout
        while True:
            trying = [c for c, w in self._workers.items()
                      if w.alive and w.status.state in (CameraState.STARTING, CameraState.CONNECTING)]
            if not trying or time.monotonic() >= deadline or cancelled():
                return trying
            time.sleep(0.05)

    def clock_stepped(self, step_us: int) -> None:
        """The wall clock stepped: every worker re-anchors its segment times at its next keyframe."""
        for w in list(self._workers.values()):
            w.clock_stepped(step_us)

    def stop(self) -> None:
        for w in self._workers.values():
            w.stop()

    def join(self, deadline: float) -> list[str]:
        """Wait for every worker until the monotonic `deadline`; the cameras still running."""
        late = []
        for cam_id, w in self._workers.items():
            if not w.join(max(0.0, deadline - time.monotonic())):
                late.append(cam_id)
        return late
