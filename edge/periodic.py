"""A background service of the daemon: a thread that runs `tick` every `interval` seconds.

Same protocol as the capture workers: start, stop (an event), join; an exception in one tick is
logged with its traceback and the service goes on, since a monitor that dies silently is worse
than one that reports its own failure.
"""

from __future__ import annotations

import logging
import threading
from typing import Protocol

log = logging.getLogger(__name__)


class Service(Protocol):
    """What the daemon starts and stops: a thread of its own behind start, stop (an event), join."""

    name: str

    def start(self) -> None: ...

    def stop(self) -> None: ...

    def join(self, timeout: float | None = None) -> bool:
        """True once the service's thread has exited."""
        ...


class PeriodicService:
    name = "service"

    def __init__(self, interval: float) -> None:
        self.interval = interval
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self.ticks = 0
        self.failures = 0

    def tick(self) -> None:
        raise NotImplementedError

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()

    def join(self, timeout: float | None = None) -> bool:
        if self._thread is None:
            return True
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def wake(self) -> None:
        """Run the next tick now (e.g. a sweep right after a segment closed on a full disk)."""
        self._wake.set()

    def _run(self) -> None:
        log.debug("%s started", self.name)
        while not self._stop.is_set():
            try:
                self.tick()
                self.ticks += 1
            except Exception:
                self.failures += 1
                log.exception("%s: tick failed", self.name)
            self._wake.wait(self.interval)
            self._wake.clear()
        log.debug("%s exited", self.name)
