"""The daemon: recovery, the camera fleet and the background services of one box; signals.

Start order: recovery (before any worker writes) → workers → services → attached services (the
API, wired in by the CLI) → READY. Stop order is the reverse, and every worker closes its active
segment before the process exits.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from collections.abc import Callable, Sequence
from types import FrameType

from capture.sampler import KeyframeSampler
from edge.access.playback import ClipSweeper
from edge.access.producer import ExportProducer
from edge.access.refusals import RefusalFlusher
from edge.app.box import Box
from edge.app.fdlimit import raise_open_file_limit
from edge.app.memory import limit_malloc_arenas
from edge.app.notify import Notifier, NotifyService, watchdog_interval
from edge.app.probes import Probes
from edge.app.runtime import Runtime
from edge.gb28181.adapters import gb28181_service
from edge.monitor.clock_watch import ClockWatch, system_sync_probe
from edge.monitor.image_health import HealthService, sampler_period
from edge.monitor.integrity import IntegrityService, tsa_client
from edge.monitor.status import one_line
from edge.offload import offload_service
from edge.periodic import Service
from edge.recording.fleet import CameraFleet
from edge.recording.retention import RetentionService
from storage.lock import StoreLock
from storage.recovery import recover

log = logging.getLogger(__name__)

#: SIGTERM must end the process within 5 s (systemd's and the issue's budget); keep a margin.
STOP_BUDGET_SECONDS = 3.0

#: READY waits at most this long for the cameras' first connections (a camera that never answers
#: is an alarm, not a reason to keep systemd waiting).
SETTLE_SECONDS = 10.0

#: Builds a service that needs the running box (the API server): called once the runtime exists.
Attachment = Callable[[Runtime], Service]


class Daemon:
    def __init__(self, box: Box, attach: Sequence[Attachment] = (), lock: StoreLock | None = None) -> None:
        self.box = box
        cfg = box.cfg
        self.cfg = cfg
        #: One recorder per store (storage/lock.py): taken at `start` unless `edge run` already holds
        #: it (taken there before anything opens the store), released at the end of `shutdown`.
        self.lock = lock or StoreLock(cfg.storage.root)
        self.stopped_cleanly = True
        self.started_monotonic = time.monotonic()
        self._stop = threading.Event()
        self.fleet = CameraFleet(cfg.cameras, box.store, cfg.storage.segment_seconds, box.clock,
                                 cfg.storage.fragment_seconds)
        # The sweeper and space guard: pauses and resumes the workers on a full disk.
        self.retention = RetentionService(cfg, box.store, box.holds, box.register, box.alarms, self.fleet.workers,
                                          box.clock)
        # Image health and offline/stalled alarms; the sampler is the capture threads' keyframe hook.
        period = sampler_period(cfg.health.interval_seconds)
        # Hold a keyframe only over the last two sampling periods before the next pass (which may
        # come at 0.9 intervals, see HealthService.tick).
        rest = max(0.0, 0.9 * cfg.health.interval_seconds - 2 * period)
        self.sampler = KeyframeSampler(period, box.clock.now_us, health=cfg.health.enabled, rest=rest)
        self.health = HealthService(cfg.health, [c.id for c in cfg.cameras], box.store, box.alarms, box.register,
                                    box.clock, self.fleet.workers, self.sampler, lambda: self._stop.is_set())
        self.export_producer = ExportProducer(cfg, box.store, box.exports, box.register, box.device_key)
        self.probes = Probes(box.store, self.fleet.enabled, self.fleet.workers)
        # Clock steps (recorded with their size; workers re-anchor segment times) and time sync.
        self.clock_watch = ClockWatch(box.clock, box.store.index, box.alarms, on_step=self.fleet.clock_stepped,
                                      sync_probe=system_sync_probe if cfg.clock.sync_check else None)
        # Signed checkpoints of every chain head, timestamped by the TSA if configured (issue 13).
        self.integrity = IntegrityService(cfg.integrity, cfg.box.id, box.store.index, box.device_key, box.alarms,
                                          box.clock, tsa_client(cfg.integrity))
        #: Background services, started after the workers and stopped before them.
        self.services: list[Service] = [self.retention, self.health, self.export_producer,
                                        RefusalFlusher(box.refusals), self.clock_watch, self.integrity,
                                        ClipSweeper(box.playback, box.reviews)]
        # Held evidence copied to S3 Object Lock storage; None when [offload] is off.
        self.offload = offload_service(cfg, box.store, box.clock, box.register, box.alarms, box.holds, box.exports,
                                       self.export_producer.final_dir)
        if self.offload is not None:
            self.services.append(self.offload)
        self.gb28181 = gb28181_service(box, self.fleet.workers)  # the police platform link, if enabled
        if self.gb28181 is not None:
            self.services.append(self.gb28181)
        self.runtime = Runtime(box, self.fleet, self.health, self.retention, self.export_producer, self.probes,
                               self.started_monotonic, lambda: self._stop.is_set(), self.offload,
                               clock_watch=self.clock_watch, integrity=self.integrity)
        #: Services that need the runtime (the API): made and started last (after the cameras:
        #: importing the web stack takes a good part of a second that recording need not wait
        #: for), stopped first.
        self._attach = list(attach)
        self.attached: list[Service] = []
        self.notifier = Notifier.from_env()
        self._notify: NotifyService | None = None

    def start(self) -> None:
        # Before any camera or connection opens a descriptor: systemd's soft default is 1024.
        raise_open_file_limit()
        # Before the capture threads start: each would otherwise get an arena of its own.
        limit_malloc_arenas()
        # Raises StoreLocked (another recorder writes this store) before anything is touched.
        self.lock.acquire()
        # Recovery logs each event itself; it must finish before any worker writes.
        recover(self.box.store, [c.id for c in self.cfg.cameras])
        # Review clips are caches built from stored segments for a grant: an earlier run's are stale.
        self.box.playback.clear()
        # Always the sampler: with [health] off it keeps only the live view's keyframes (watched cameras).
        self.fleet.start(self.retention.on_segment, self.sampler.offer)
        for svc in self.services:
            svc.start()
        for make in self._attach:
            svc = make(self.runtime)
            self.attached.append(svc)
            svc.start()
        trying = self.fleet.settle(SETTLE_SECONDS, self._stop.is_set)
        if trying:
            log.info("still connecting after %g s: %s", SETTLE_SECONDS, ", ".join(trying))
        log.info("edge started: %d camera(s) recording to %s", len(self.fleet.workers), self.cfg.storage.root)
        if self.notifier.enabled:
            n = len(self.fleet.workers)
            self.notifier.send("READY=1", f"STATUS=recording {n} camera(s)", f"MAINPID={os.getpid()}")
            self._notify = NotifyService(self.probes, lambda problems: one_line(self.runtime, problems),
                                         self.notifier, watchdog_interval())
            self._notify.start()

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

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
        # No new requests while the rest stops; requests under way finish before the join below.
        for svc in self.attached:
            svc.stop()
        for svc in self.services:
            svc.stop()
        self.fleet.stop()
        late = self.fleet.join(deadline)
        for cam_id in late:
            # Blocked in a socket read on a hung camera: its complete fragments are on disk and
            # startup recovery salvages the partial; the exit must not wait for the socket timeout.
            log.warning("camera %s: worker did not stop in time; its segment is recovered at next start", cam_id)
        all_stopped = not late
        for svc in [*self.services, *self.attached]:
            all_stopped &= svc.join(max(0.0, deadline - time.monotonic()))
        self.integrity.final_checkpoint()  # after the workers closed their last segments
        self.stopped_cleanly = all_stopped
        if all_stopped:
            self.box.close()
        else:
            # A thread still inside a query would fail on a closed connection; every commit is
            # already durable (WAL, synchronous=FULL), so the process may simply exit.
            log.warning("some threads did not stop in time; leaving the index to close with the process")
        self.lock.release()
        log.info("edge stopped")

    def run_forever(self) -> int:
        def on_signal(signum: int, _frame: FrameType | None) -> None:
            log.info("received %s, stopping", signal.Signals(signum).name)
            self.request_stop()

        signal.signal(signal.SIGTERM, on_signal)
        signal.signal(signal.SIGINT, on_signal)
        rc = 0
        try:
            self.start()
            self.wait()
        except Exception as exc:
            # A box that cannot do its whole job (its API cannot listen, say) exits non-zero so
            # systemd restarts it and central monitoring sees it down, instead of limping on.
            log.error("edge cannot run: %s", exc)
            rc = 1
        finally:
            self.shutdown()
        if not self.stopped_cleanly:
            # Threads hung in a camera's socket would only slow the interpreter's exit down (the
            # 5 s budget): every commit is durable, the partials are salvaged at the next start.
            logging.shutdown()
            os._exit(rc)
        return rc
