"""The daemon caps glibc's malloc arenas before its threads start (edge/app/memory.py)."""

from __future__ import annotations

import platform
import subprocess
import sys

import pytest

from edge.app.memory import limit_malloc_arenas


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="mallopt(M_ARENA_MAX) is glibc's")
def test_arenas_are_capped_and_threads_share_them() -> None:
    assert limit_malloc_arenas() is True
    # In a fresh process: with the cap, 16 threads allocating at once leave at most 2 arenas
    # (glibc's malloc_stats prints one "Arena N:" block per arena to stderr).
    code = (
        "import ctypes, threading\n"
        "from edge.app.memory import limit_malloc_arenas\n"
        "import sys; capped = sys.argv[1] == '1'\n"
        "capped and limit_malloc_arenas(2)\n"
        "keep = []\n"
        "held = threading.Barrier(16)\n"
        "def work():\n"
        "    keep.append([bytearray(200_000) for _ in range(20)])\n"
        "    held.wait()  # all alive at once: an exited thread's arena would be reused\n"
        "ts = [threading.Thread(target=work) for _ in range(16)]\n"
        "[t.start() for t in ts]; [t.join() for t in ts]\n"
        "ctypes.CDLL('libc.so.6').malloc_stats()\n"
    )

    def arenas(capped: bool) -> int:
        out = subprocess.run([sys.executable, "-c", code, "1" if capped else "0"], capture_output=True,
                             text=True, timeout=60)
        return out.stderr.count("Arena ")

    assert arenas(True) <= 2
    assert arenas(False) > 2  # the check can fail: without the cap the threads get arenas of their own
