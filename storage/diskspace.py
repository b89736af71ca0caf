"""Volume figures from statvfs: cheap (one syscall), so they can be read on every segment close."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Volume:
    total: int  # bytes of the filesystem
    used: int  # bytes in use, by anyone (root's reserved blocks count as used)
    free: int  # bytes an unprivileged writer can still use

    @property
    def used_fraction(self) -> float:
        return self.used / self.total if self.total else 1.0


def volume_of(path: Path) -> Volume:
    """Figures of the filesystem holding `path` (or its nearest existing parent, for `edge check`)."""
    p = path
    while not p.exists() and p.parent != p:
        p = p.parent
    st = os.statvfs(p)
    total = st.f_blocks * st.f_frsize
    free = st.f_bavail * st.f_frsize
    # Blocks reserved for root are neither usable by us nor free: count them as used.
    return Volume(total=total, used=max(0, total - free), free=free)
