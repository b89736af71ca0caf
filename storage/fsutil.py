"""Crash-safe file primitives, after Prometheus TSDB's fileutil: write, fsync, rename, fsync dir."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def make_dirs_durable(path: Path, stop_at: Path) -> None:
    """mkdir -p, fsyncing each parent whose entry was created, so a new day dir survives a crash."""
    missing: list[Path] = []
    p = path
    while not p.exists():
        missing.append(p)
        if p == stop_at or p.parent == p:
            break
        p = p.parent
    for d in reversed(missing):
        with contextlib.suppress(FileExistsError):
            d.mkdir()
        fsync_dir(d.parent)


def rename_durable(src: Path, dst: Path) -> None:
    """Atomically move src over dst and make the new name survive a power cut."""
    os.replace(src, dst)
    fsync_dir(dst.parent)
    if src.parent != dst.parent:
        fsync_dir(src.parent)


def write_file_atomic(path: Path, data: bytes, mode: int = 0o640) -> None:
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        view = memoryview(data)
        while view:
            n = os.write(fd, view)
            view = view[n:]
        os.fsync(fd)
    finally:
        os.close(fd)
    rename_durable(tmp, path)
