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
    try:
        # glibc's soname first: find_library runs ldconfig (tens of ms at every start).
        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        try:
            libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so")
        except OSError:
            return False
    try:
        mallopt = libc.mallopt
    except AttributeError:
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    ok = bool(mallopt(M_ARENA_MAX, arenas))
    if not ok:
        log.debug("mallopt(M_ARENA_MAX) refused")
    return ok
