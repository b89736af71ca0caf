"""Is the daemon able to do its job right now? Shared by `/readyz` and the systemd watchdog.

- the store is writable: a tiny file written, fsynced and removed in the store root (a full or
  read-only volume fails here first), cached for a few seconds so probes cost nothing;
- the index answers a trivial query;
- every enabled camera's capture thread is alive (a camera that is offline is still "ready": its
  worker is reconnecting, which is the daemon doing its job).
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

from capture.worker import CaptureWorker
from storage.store import SegmentStore

PROBE_NAME = ".write-probe"


class Probes:
    def __init__(self, store: SegmentStore, enabled: Sequence[str], workers: Mapping[str, CaptureWorker],
                 ttl: float = 3.0) -> None:
        self.store = store
        self.enabled = list(enabled)
        self.workers = workers
        self.ttl = ttl
        #: Where the write probe goes; the store root unless a test points it elsewhere.
        self.probe_dir: Path = store.layout.root
        self._lock = threading.Lock()
        self._cached: tuple[float, str | None] | None = None

    def store_problem(self) -> str | None:
        with self._lock:
            now = time.monotonic()
            if self._cached is not None and now - self._cached[0] < self.ttl:
                return self._cached[1]
            problem = self._write_probe()
            self._cached = (now, problem)
            return problem

    def _write_probe(self) -> str | None:
        path = self.probe_dir / f"{PROBE_NAME}.{os.getpid()}"
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            try:
                os.write(fd, b"edge write probe\n")
                os.fsync(fd)
            finally:
                os.close(fd)
            os.unlink(path)
        except OSError as exc:
            return f"store not writable: {exc.strerror or exc}"
        return None

    def index_problem(self) -> str | None:
        try:
            self.store.index.reader().execute("SELECT count(*) FROM meta").fetchone()
        except Exception as exc:  # noqa: BLE001 - any failure means the index is not answering
            return f"index not answering: {exc}"
        return None

    def workers_problem(self) -> str | None:
        missing = [c for c in self.enabled if c not in self.workers]
        if missing:
            return f"capture not started for {', '.join(missing)}"
        dead = [c for c, w in self.workers.items() if not w.alive]
        if dead:
            return f"capture thread not running for {', '.join(sorted(dead))}"
        return None

    def problems(self) -> list[str]:
        checks = (self.workers_problem(), self.index_problem(), self.store_problem())
        return [p for p in checks if p is not None]
