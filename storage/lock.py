"""One recorder per store: an exclusive `flock` on `<root>/LOCK`, held for the life of the process.

Like Prometheus TSDB's and Kafka's lock files: the kernel releases an flock when its process dies
(kill -9 and power cuts included), so a stale file never blocks a restart, and the file's content
(the holder's pid) only serves the message. Read-only commands (`verify`, `status`, `report`) never
take it; `holder()` lets them tell whether a recorder is running beside them.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import time
from pathlib import Path

LOCK_NAME = "LOCK"


class StoreLocked(Exception):
    """Another process holds the store's lock."""

    def __init__(self, path: Path, pid: int | None) -> None:
        who = f"process {pid}" if pid is not None else "another process"
        super().__init__(f"the store {path.parent} is in use by {who} (lock {path}); only one recorder"
                         " may write a store: stop the other one first (systemctl stop edge)")
        self.path = path
        self.pid = pid


def _read_pid(path: Path) -> int | None:
    try:
        text = path.read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError):
        return None
    return int(text) if text.isdigit() else None


class StoreLock:
    """`StoreLock(root).acquire()` or raise StoreLocked; `release()` (or process exit) frees it."""

    def __init__(self, root: Path) -> None:
        self.path = Path(root) / LOCK_NAME
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def acquire(self, patience: float = 0.5) -> StoreLock:
        """Take the lock; a `holder()` probe (a shared lock for an instant) is waited out for up to
        `patience` seconds, a recorder is not."""
        if self._fd is not None:
            return self
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o640)
        deadline = time.monotonic() + patience
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except OSError as exc:
                if exc.errno not in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                    os.close(fd)
                    raise
                if time.monotonic() >= deadline:
                    os.close(fd)
                    raise StoreLocked(self.path, _read_pid(self.path)) from None
                time.sleep(0.05)
        # The pid is for the message only: rewritten in place (never a rename, which would hand a
        # second process a different inode to lock).
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode("ascii"), 0)
        os.fsync(fd)
        self._fd = fd
        return self

    def release(self) -> None:
        if self._fd is not None:
            with contextlib.suppress(OSError):
                fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None


def holder(root: Path) -> int | None:
    """The pid of the recorder holding the store (-1 when its pid is unreadable), or None when no
    process holds it. Never blocks; the shared lock it takes lasts only the probe."""
    path = Path(root) / LOCK_NAME
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except OSError as exc:
            if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                return _read_pid(path) or -1
            return None
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)
