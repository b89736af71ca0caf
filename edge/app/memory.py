"""Fewer malloc arenas: glibc gives each thread that allocates its own arena (up to 8 per core),
and the recorder's threads (readers, closer, health, API, one per camera) each keep a few MB of
freed but unreturned memory in theirs. Two arenas serve the daemon's allocation rate (the reader
threads allocate one buffer per access unit) with a fraction of that resident memory."""

from __future__ import annotations

import ctypes
import ctypes.util
import logging

log = logging.getLogger(__name__)

M_ARENA_MAX = -8  # glibc malloc.h
ARENAS = 2


def limit_malloc_arenas(arenas: int = ARENAS) -> bool:
    """mallopt(M_ARENA_MAX): call before the threads start. False where glibc is not the libc."""
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    ok = bool(mallopt(M_ARENA_MAX, arenas))
    if not ok:
        log.debug("mallopt(M_ARENA_MAX) refused")
    return ok
