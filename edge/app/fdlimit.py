"""Open-file budget: the API may use only what capture and the store leave over.

systemd starts services with a soft RLIMIT_NOFILE of 1024 (the unit raises it with LimitNOFILE);
the daemon lifts the soft limit to the hard one at start, then keeps a reserve of descriptors for
capture (camera sockets, segment files, day directories) and the store (SQLite, one reader per
thread), and gives the API's connection cap only what remains.
"""

from __future__ import annotations

import logging
import resource

log = logging.getLogger(__name__)

#: Descriptors kept for the index (writer plus one reader per worker thread: db, -wal, -shm),
#: logs, the signing key and the threads' own files, whatever the camera count.
RESERVE_BASE = 256
#: Per camera: its RTSP socket(s), the open segment, its day directory, demuxer internals.
RESERVE_PER_CAMERA = 16
#: The API keeps at least this many connections even on a starved limit (health checks).
MIN_API_CONNECTIONS = 8


def raise_open_file_limit() -> int:
    """Lift the soft RLIMIT_NOFILE to the hard limit; returns the soft limit now in force."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = hard if hard != resource.RLIM_INFINITY else max(soft, 65536)
    if soft != resource.RLIM_INFINITY and soft < target:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
        except (ValueError, OSError) as exc:
            log.warning("cannot raise the open-file limit from %d to %d: %s", soft, target, exc)
    return int(soft) if soft != resource.RLIM_INFINITY else 1 << 20


def api_connection_cap(configured: int, cameras: int, nofile: int | None = None) -> int:
    """The API's connection cap: `configured`, lowered so capture and the store keep their reserve."""
    if nofile is None:
        nofile = raise_open_file_limit()
    left = nofile - RESERVE_BASE - RESERVE_PER_CAMERA * cameras
    cap = max(MIN_API_CONNECTIONS, min(configured, left // 2))
    if cap < configured:
        log.warning("API connection cap lowered from %d ([api] max_connections) to %d: the open-file limit is "
                    "%d and %d camera(s) need their descriptors (raise LimitNOFILE)", configured, cap, nofile,
                    cameras)
    return cap
