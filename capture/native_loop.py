"""A few reader threads for every native camera, and one closer thread for their finished segments.

A blocking thread per camera wakes (and takes the GIL) for every few packets: at 32 cameras that
is thousands of wake-ups and GIL hand-offs a second, the largest share of a thread-per-camera
recorder's cost (design notes, "Ingest cost"). Here a reader thread wakes every `interval` seconds and
drains every camera's socket without blocking, so a wake-up serves many packets of many cameras.
The slow, disk-bound end of a segment (fsync, hash, rename, SQLite) runs on the closer thread, in
order, so a slow disk never stalls the reading; the capture workers' own threads only connect,
then wait for their session to end.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Protocol, TypeVar

log = logging.getLogger(__name__)

#: Seconds between passes. Each pass costs a recv and some Python per camera whatever it brings;
#: 0.2 s cost ~8 % less CPU than 0.1 s at 32 cameras (bench/README.md), and a 4 Mbit/s camera's
#: ~100 KB of 200 ms fit its socket's receive buffer (the kernel grows it to several MB) easily.
INTERVAL = 0.2
T = TypeVar("T")


class Member(Protocol):
    def drain(self, now: float) -> None:
        """Read and process what the camera sent; raise to end the session."""

    def fail(self, exc: BaseException) -> None:
        """`drain` raised: the session ends with this error (called on the reader thread)."""


class ReaderLoop:
    def __init__(self, interval: float = INTERVAL) -> None:
        self.interval = interval
        self._members: list[Member] = []
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        self._thread: threading.Thread | None = None
        self.passes = 0

    def add(self, member: Member) -> None:
        with self._lock:
            self._members.append(member)
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="native-reader", daemon=True)
                self._thread.start()
            self._wake.notify()

    @property
    def size(self) -> int:
        return len(self._members)

    def remove(self, member: Member) -> None:
        """After this returns the loop no longer touches `member` (it waits for a pass to end)."""
        with self._lock:
            if member in self._members:
                self._members.remove(member)

    def _run(self) -> None:
        while True:
            with self._lock:
                while not self._members:
                    self._wake.wait()
                t0 = time.monotonic()
                for m in list(self._members):
                    try:
                        m.drain(t0)
                    except BaseException as exc:  # noqa: BLE001 - one camera's fault ends only its session
                        self._members.remove(m)
                        try:
                            m.fail(exc)
                        except Exception:
                            log.exception("native reader: a session's failure handler failed")
                self.passes += 1
            spent = time.monotonic() - t0
            time.sleep(max(self.interval - spent, 0.001))


#: Reader threads: one per `CAMERAS_PER_READER` cameras, at most `POOL`. Several readers for a few
#: dozen cameras hand the GIL to each other at every receive and write (each hand-off a futex and
#: a context switch): at 32 cameras one reader cost ~10 % less CPU than four. Past 64 cameras more
#: readers keep one thread's scheduling delays on a busy box from turning into loss.
POOL = 4
CAMERAS_PER_READER = 64
_loops: list[ReaderLoop] = []
_closer: ThreadPoolExecutor | None = None
_guard = threading.Lock()


def reader_loop() -> ReaderLoop:
    """The least busy of the shared reader loops (made on first use)."""
    with _guard:
        if len(_loops) < POOL and all(lp.size >= CAMERAS_PER_READER for lp in _loops):
            _loops.append(ReaderLoop())
            return _loops[-1]
        return min(_loops, key=lambda lp: lp.size)


def closer(job: Callable[[], T]) -> Future[T]:
    """Run a segment's closing work on the one closer thread (FIFO: segments commit in order)."""
    global _closer  # noqa: PLW0603 - one executor for the process, made on first use
    with _guard:
        if _closer is None:
            _closer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="native-closer")
        return _closer.submit(job)
