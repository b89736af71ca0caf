"""The active segment file: written under a temporary name, hashed while writing, published durably.

The muxer is handed this object as a write-only sink. Without `seek`, FFmpeg treats the output as
non-seekable, so every byte passes through `write` exactly once, in order, and the SHA-256 taken
here is the hash of the final file without reading it again.
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from storage.fsutil import fsync_dir, make_dirs_durable
from storage.salvage import MediaInfo, SalvageError, plan_salvage, probe, sha256_file

IOV_MAX = 1024  # buffers per writev call (Linux)


@dataclass(frozen=True)
class PublishedFile:
    path: Path
    sha256: str
    size: int


class SegmentFile:
    def __init__(self, partial: Path, final: Path, root: Path, start_us: int, sync_interval: float = 2.0) -> None:
        make_dirs_durable(partial.parent, root)
        #: The segment's wall-clock start, as encoded in its file name.
        self.start_us = start_us
        self.partial = partial
        self.final = final
        self._fd: int | None = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o640)
        self._sha = hashlib.sha256()
        self.size = 0
        self._sync_interval = sync_interval
        self._last_sync = time.monotonic()
        self._kept_sha: str | None = None  # set when a disk-full write left the file cut in place
        self._external = False  # written through its path by the muxer's own I/O (`written_by_path`)

    def write(self, data: bytes | bytearray | memoryview) -> int:
        if self._fd is None:
            raise ValueError("segment file already closed")
        view = memoryview(data)
        total = len(view)
        while view:
            n = os.write(self._fd, view)
            view = view[n:]
        self._sha.update(data)
        self.size += total
        # Bytes written reach the page cache at once (no user-space buffer), so a killed process
        # loses nothing; the periodic fdatasync bounds what a power cut can lose.
        if self._sync_interval and time.monotonic() - self._last_sync >= self._sync_interval:
            os.fdatasync(self._fd)
            self._last_sync = time.monotonic()
        return total

    def writev(self, buffers: Sequence[bytes | bytearray | memoryview]) -> int:
        """Write `buffers` in order with as few system calls as the kernel allows (one `writev`
        for a whole fragment, no copy into one buffer), hashing them on the way."""
        if self._fd is None:
            raise ValueError("segment file already closed")
        fd = self._fd
        total = 0
        for i in range(0, len(buffers), IOV_MAX):
            chunk = buffers[i:i + IOV_MAX]
            want = sum(len(b) for b in chunk)
            n = os.writev(fd, chunk)
            if n < want:  # a short write (a signal, or the disk filling up): finish piece by piece
                rest = memoryview(b"".join(chunk))[n:]
                while rest:
                    rest = rest[os.write(fd, rest):]
            total += want
        update = self._sha.update
        for b in buffers:
            update(b)
        self.size += total
        if self._sync_interval and (now := time.monotonic()) - self._last_sync >= self._sync_interval:
            os.fdatasync(fd)
            self._last_sync = now
        return total

    def written_by_path(self) -> None:
        """The muxer writes this file through `partial` with its own (C-level) I/O instead of `write`:
        size and SHA-256 are then taken from the closed file at `publish`, read back from the page
        cache, and `sync_if_due` bounds what a power cut can lose."""
        self._external = True

    def sync_if_due(self, now: float) -> None:
        """For `written_by_path` files: the periodic fdatasync (and the size, for the store's usage)."""
        if self._fd is not None and self._sync_interval and now - self._last_sync >= self._sync_interval:
            os.fdatasync(self._fd)
            self.size = os.fstat(self._fd).st_size
            self._last_sync = now

    def publish(self) -> PublishedFile:
        """fsync, rename to the final name, fsync the directory. Only then may the index know it."""
        if self._fd is None:
            raise ValueError("segment file already closed")
        os.fsync(self._fd)
        if self._external and self._kept_sha is None:
            self._kept_sha, self.size = sha256_file(self.partial)
        os.close(self._fd)
        self._fd = None
        os.rename(self.partial, self.final)
        fsync_dir(self.final.parent)
        sha = self._kept_sha if self._kept_sha is not None else self._sha.hexdigest()
        return PublishedFile(self.final, sha, self.size)

    def keep_complete_fragments(self) -> MediaInfo | None:
        """After a failed write (disk full): cut the torn tail in place, so the file is exactly its
        complete fragments, and re-hash it. Needs no free space (truncation frees blocks). Returns
        the kept media for the index row, or None when no fragment is complete (then `discard`).
        Raises SalvageError when the file is not a clean prefix: startup recovery salvages it then."""
        if self._fd is None:
            raise ValueError("segment file already closed")
        plan = plan_salvage(self.partial)
        if not plan.fragments:
            return None
        if len(plan.ranges) != 1 or plan.ranges[0][0] != 0:
            raise SalvageError("not a clean prefix of fragments; left for startup recovery")
        os.ftruncate(self._fd, plan.ranges[0][1])
        media = probe(self.partial)
        # The running hash also saw bytes the failed write never stored: hash what the file holds.
        self._kept_sha, self.size = sha256_file(self.partial)
        return media

    def abandon(self) -> None:
        """Close without publishing or removing: the partial stays for startup recovery."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def discard(self) -> None:
        """Remove a partial that holds no footage (nothing was muxed into it)."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
        self.partial.unlink(missing_ok=True)
        fsync_dir(self.partial.parent)

    @property
    def closed(self) -> bool:
        return self._fd is None
