"""The daemon: wires store, recovery, capture workers and the API; handles signals.

Start order: store → recovery (before any worker writes) → workers → API. Stop order is the
reverse, and every worker closes its active segment before the process exits.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from types import FrameType

import uvicorn

from capture.sampler import KeyframeSampler
from capture.worker import CaptureWorker
from edge.access import attach_access
from edge.alarms import AlarmCenter
from edge.clock import Clock, SystemClock
from edge.config import EdgeConfig
from edge.export_producer import ExportProducer
from edge.exports import ExportManager
from edge.health_service import HealthService, sampler_period
from edge.hold_release import HoldReleases
from edge.integrity_service import IntegrityService, tsa_client
from edge.notify import Notifier, NotifyService, watchdog_interval
from edge.probes import Probes
from edge.register import AccessRegister
from edge.retention_service import RetentionService
from edge.service import PeriodicService
from edge.users import UserStore
from storage.holds import HoldStore
from storage.recovery import recover
from storage.signing import DeviceKey
from storage.store import SegmentStore

log = logging.getLogger(__name__)

#: SIGTERM must end the process within 5 s (systemd's and the issue's budget); keep a margin.
STOP_BUDGET_SECONDS = 4.0


class Daemon:
    def __init__(self, cfg: EdgeConfig, clock: Clock | None = None) -> None:
        self.cfg = cfg
        self.clock: Clock = clock or SystemClock()
        self.started_monotonic = time.monotonic()
        self.store = SegmentStore(cfg.storage.root, self.clock, cfg.storage.sync_interval)
        self.alarms = AlarmCenter(self.store.index, self.clock)
        self.register = AccessRegister(self.store.index, self.clock)
        self.users = UserStore(self.store.index, self.clock, cfg.access.auth_failures_per_minute)
        self.workers: dict[str, CaptureWorker] = {}
        #: Background services (retention sweeper, image health, ...), started after the workers.
        self.services: list[PeriodicService] = []
        # Holds and the retention sweeper/space guard; pauses and resumes the workers on a full disk.
        self.holds = HoldStore(self.store.index, self.clock, cfg.retention.hold_days)
        self.retention = RetentionService(cfg, self.store, self.holds, self.register, self.alarms, self.workers,
                                          self.clock)
        self.services.append(self.retention)
        # Image health and offline/stalled alarms; the sampler is the capture threads' keyframe hook.
        self.sampler = KeyframeSampler(sampler_period(cfg.health.interval_seconds), self.clock.now_us)
        self.health = HealthService(self, self.sampler)
        self.services.append(self.health)
        self.probes = Probes(self)
        self.notifier = Notifier.from_env()
        self._notify: NotifyService | None = None
        # Exports, device key, hold releases (edge/access.py): sets the attributes below.
        self.device_key: DeviceKey
        self.exports: ExportManager
        self.export_producer: ExportProducer
        self.hold_releases: HoldReleases
        attach_access(self)
        # Signed checkpoints of every chain head, timestamped by the TSA if configured (issue 13).
        self.integrity = IntegrityService(cfg.integrity, cfg.box.id, self.store.index, self.device_key, self.alarms,
                                          self.clock, tsa_client(cfg.integrity))
        self.services.append(self.integrity)
        self._stop = threading.Event()
        self._api: uvicorn.Server | None = None
        self._api_thread: threading.Thread | None = None

    def start(self) -> None:
        # Recovery logs each event itself; it must finish before any worker writes.
        recover(self.store, [c.id for c in self.cfg.cameras])
        for cam in self.cfg.cameras:
            if not cam.enabled:
                log.info("camera %s: disabled in the configuration", cam.id)
                continue
            worker = CaptureWorker(cam, self.store, self.cfg.storage.segment_seconds, self.clock,
                                   on_segment=self.retention.on_segment,
                                   on_keyframe=self.sampler.offer if self.cfg.health.enabled else None)
            self.workers[cam.id] = worker
            worker.start()
        for svc in self.services:
            svc.start()
        if self.cfg.api.enabled:
            self._start_api()
        log.info("edge started: %d camera(s) recording to %s", len(self.workers), self.cfg.storage.root)
        if self.notifier.enabled:
            self.notifier.send("READY=1", f"STATUS=recording {len(self.workers)} camera(s)", f"MAINPID={os.getpid()}")
            self._notify = NotifyService(self, self.notifier, watchdog_interval())
            self._notify.start()

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    def _start_api(self) -> None:
        from api.app import create_app

        app = create_app(self)
        config = uvicorn.Config(app, host=self.cfg.api.host, port=self.cfg.api.port, log_config=None,
                                access_log=False, lifespan="off")
        self._api = uvicorn.Server(config)
        self._api_thread = threading.Thread(target=self._api.run, name="api", daemon=True)
        self._api_thread.start()

    @property
    def api_port(self) -> int | None:
        """The bound port (useful when the config asks for port 0)."""
        server = self._api
        if server is None or not server.started:
            return None
        for srv in server.servers:
            for sock in srv.sockets:
                return int(sock.getsockname()[1])
        return None

    def request_stop(self) -> None:
        self._stop.set()

    def wait(self) -> None:
        while not self._stop.wait(0.5):
            pass

    def shutdown(self) -> None:
        deadline = time.monotonic() + STOP_BUDGET_SECONDS
        self._stop.set()
        if self._notify is not None:
            self._notify.stop()
            self._notify.join(1.0)
            self.notifier.send("STOPPING=1", "STATUS=stopping: closing active segments")
        if self._api is not None:
            # No new requests while the rest stops; requests under way finish before the join below.
            self._api.should_exit = True
        for svc in self.services:
            svc.stop()
        for w in self.workers.values():
            w.stop()
        all_stopped = True
        for cam_id, w in self.workers.items():
            if not w.join(max(0.0, deadline - time.monotonic())):
                # Blocked in a socket read on a hung camera: its complete fragments are on disk and
                # startup recovery salvages the partial; the exit must not wait for the socket timeout.
                log.warning("camera %s: worker did not stop in time; its segment is recovered at next start",
                            cam_id)
                all_stopped = False
        for svc in self.services:
            all_stopped &= svc.join(max(0.0, deadline - time.monotonic()))
        self.integrity.final_checkpoint()  # after the workers closed their last segments
        if self._api_thread is not None:
            self._api_thread.join(max(0.5, deadline - time.monotonic()))
            all_stopped &= not self._api_thread.is_alive()
        if all_stopped:
            self.store.close()
        else:
            # A thread still inside a query would fail on a closed connection; every commit is
            # already durable (WAL, synchronous=FULL), so the process may simply exit.
            log.warning("some threads did not stop in time; leaving the index to close with the process")
        log.info("edge stopped")

    def run_forever(self) -> int:
        def on_signal(signum: int, _frame: FrameType | None) -> None:
            log.info("received %s, stopping", signal.Signals(signum).name)
            self.request_stop()

        signal.signal(signal.SIGTERM, on_signal)
        signal.signal(signal.SIGINT, on_signal)
        self.start()
        try:
            self.wait()
        finally:
            self.shutdown()
        return 0
