"""Counting what each recorder of the ingest benchmark wrote inside the measuring window.

Both recorders are judged by their files alone: edge's segments (their index rows and packet
times) and ffmpeg's segment files, each packet placed on the wall clock and counted when it falls
in [t0, t1). Split from bench/ingest.py, which runs the recorders.
"""

from __future__ import annotations

import sqlite3
from fractions import Fraction
from pathlib import Path
from typing import Any

import av

from bench.common import log

FPS = 25


def read_times(path: Path) -> tuple[list[tuple[float, int]], float]:
    """(seconds from the first packet, size) of each video packet of a segment file, and the
    duration its timestamps span (last pts + one frame)."""
    out: list[tuple[float, int]] = []
    with av.open(str(path)) as inp:
        vin = inp.streams.video[0]
        tb = vin.time_base
        assert tb is not None
        first: int | None = None
        for pkt in inp.demux(vin):
            if pkt.size == 0 or pkt.pts is None:
                continue
            if first is None:
                first = pkt.pts
            out.append((float((pkt.pts - first) * Fraction(tb)), pkt.size))
    span = (max(t for t, _ in out) + 1 / FPS) if out else 0.0
    return out, span


def in_window(times: list[tuple[float, int]], start_wall: float, t0: float, t1: float) -> tuple[int, int]:
    """(packets, payload bytes) whose wall time (`start_wall` + offset) is in [t0, t1)."""
    n = payload = 0
    for offset, size in times:
        if t0 <= start_wall + offset < t1:
            n += 1
            payload += size
    return n, payload


def edge_counts(root: Path, cameras: list[str], t0: float, t1: float) -> dict[str, Any]:
    con = sqlite3.connect(f"file:{root / 'index.sqlite3'}?mode=ro", uri=True)
    try:
        per: dict[str, int] = {}
        payload = file_bytes = 0
        for cam in cameras:
            rows = con.execute("SELECT path, start_us, end_us FROM segments WHERE camera=? AND start_us < ?"
                               " AND end_us > ? ORDER BY start_us", (cam, int(t1 * 1e6), int(t0 * 1e6))).fetchall()
            per[cam] = 0
            for rel, start_us, _end in rows:
                times, _ = read_times(root / rel)
                n, p = in_window(times, start_us / 1e6, t0, t1)
                per[cam] += n
                payload += p
                file_bytes += (root / rel).stat().st_size
    finally:
        con.close()
    return {"per_stream": per, "payload_bytes": payload, "file_bytes": file_bytes}


def ffmpeg_counts(dirs: dict[str, Path], t0: float, t1: float) -> dict[str, Any]:
    per: dict[str, int] = {}
    payload = file_bytes = 0
    for cam, d in dirs.items():
        files = sorted(d.glob("*.mp4"))
        per[cam] = 0
        for i, f in enumerate(files):
            end = f.stat().st_mtime
            if end < t0 or (i > 0 and files[i - 1].stat().st_mtime >= t1):
                continue
            try:
                times, span = read_times(f)
            except (av.error.FFmpegError, IndexError) as exc:  # a file without a trailer (killed)
                log(f"ffmpeg {cam}: cannot read {f.name}: {exc}")
                continue
            # The muxer closes a segment (its mtime) when the next one's first packet arrives, so that
            # is where the next one starts; the first one ends where its own timestamps say.
            start = files[i - 1].stat().st_mtime if i > 0 else end - span
            n, p = in_window(times, start, t0, t1)
            per[cam] += n
            payload += p
            file_bytes += f.stat().st_size
    return {"per_stream": per, "payload_bytes": payload, "file_bytes": file_bytes}


def loss(per_stream: dict[str, int], window: float) -> dict[str, Any]:
    expected = round(FPS * window)
    # One frame of slack per stream: the window's two edges can each cut a frame interval.
    deficits = {cam: max(0, expected - n - 1) for cam, n in per_stream.items()}
    return {
        "packets_expected": expected * len(per_stream),
        "packets_written": sum(per_stream.values()),
        "packets_lost": sum(deficits.values()),
        "streams_with_loss": sorted(cam for cam, d in deficits.items() if d > 0),
        "min_stream_packets": min(per_stream.values()) if per_stream else 0,
    }


# -- the recorders ----------------------------------------------------------------------------------
