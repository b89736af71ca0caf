"""Export: one hour of one camera through edge's clip path, next to `ffmpeg -f concat -c copy`.

Footage: one real segment recorded once by edge (an in-process `Daemon` on the 1080p25 ~3 Mbit/s
simulator clip, 60 s segments) and cached; it is then replicated into 60 consecutive one-minute
segments through the store API (`SegmentStore.open_segment` / `commit`: real files, SHA-256,
chain and index rows), i.e. one hour of footage of one camera.

Measured, each `--reps` times alternately (best and median kept):
- edge: `storage.clip_mux.write_clip` over the hour (re-hashes every source against the index,
  stream-copies into one MP4 with +faststart, hashes the result);
- ffmpeg: `ffmpeg -f concat -safe 0 -i list -c copy out.mp4` over the same 60 files.
Throughput is footage seconds per wall second ("x real time"). Goal: edge >= 200x.

Usage: bench/export.py [--minutes 60] [--reps 3] [--quick]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import emit, log, machine, ratio  # noqa: E402
from capture.sim.simulator import Simulator, default_clip_dir, make_clip, simulator_available  # noqa: E402
from storage.clock import OffsetClock  # noqa: E402

CAMERA = "cam-1"
GOAL_X_REALTIME = 200.0


def cache_dir() -> Path:
    return default_clip_dir().parent / "bench"


def recorded_segment(seconds: int) -> tuple[Path, dict[str, Any]]:
    """A real edge segment of about `seconds` of 1080p footage (recorded once, then cached)."""
    out = cache_dir() / f"recorded_1080p25_g50_b3000000_{seconds}s.mp4"
    meta_path = out.with_suffix(".json")
    if out.exists() and meta_path.exists():
        return out, json.loads(meta_path.read_text())
    from edge.cli.wiring import build_daemon
    from edge.config import parse_config
    from storage.index import Index

    clip = make_clip(default_clip_dir(), "normal", 1920, 1080, fps=25, gop=50, seconds=8.0, bitrate=3_000_000, seed=0)
    log(f"recording {seconds} s of 1080p footage once (cached in {out.parent}) ...")
    with tempfile.TemporaryDirectory(prefix="edge-bench-rec-") as tmp, Simulator({"cam1": clip}) as sim:
        cfg = parse_config({
            "storage": {"root": tmp, "segment_seconds": seconds},
            "api": {"enabled": False}, "health": {"enabled": False},
            "cameras": [{"id": CAMERA, "url": sim.url("cam1"), "site_category": "street"}],
        })
        d = build_daemon(cfg, OffsetClock())
        d.start()
        try:
            deadline = time.monotonic() + seconds * 3 + 30
            while d.box.store.index.last_segment(CAMERA) is None:
                if time.monotonic() > deadline:
                    raise RuntimeError("no segment recorded in time")
                time.sleep(0.5)
        finally:
            d.request_stop()
            d.shutdown()
        index = Index(Path(tmp) / "index.sqlite3")
        try:
            seg = next(index.chain_of(CAMERA))
        finally:
            index.close()
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp_out = out.with_suffix(".tmp")
        shutil.copyfile(Path(tmp) / seg.path, tmp_out)
        meta = {"duration_us": seg.end_us - seg.start_us, "packets": seg.packets, "bytes": seg.bytes,
                "codec": seg.codec, "width": seg.width, "height": seg.height}
        meta_path.write_text(json.dumps(meta))
        tmp_out.replace(out)
    return out, meta


def build_store(root: Path, source: Path, meta: dict[str, Any], count: int) -> tuple[Any, int, int]:
    """`count` consecutive copies of `source` as real segments; returns (store, start_us, end_us)."""
    from storage.store import SegmentStore, StreamInfo

    store = SegmentStore(root, OffsetClock())
    data = source.read_bytes()
    dur = int(meta["duration_us"])
    start0 = (time.time_ns() // 1000 - count * dur - 3_600_000_000) // 1_000_000 * 1_000_000
    info = StreamInfo(meta["codec"], meta["width"], meta["height"])
    for i in range(count):
        start = start0 + i * dur
        f = store.open_segment(CAMERA, start)
        view = memoryview(data)
        for off in range(0, len(view), 1 << 20):
            f.write(view[off:off + (1 << 20)])
        store.commit(CAMERA, f, start + dur, int(meta["packets"]), info)
    return store, start0, start0 + count * dur


def run_edge(store: Any, start: int, end: int, out: Path) -> dict[str, Any]:
    from storage.clip_mux import write_clip

    segs = store.index.segments_in_range(CAMERA, start, end)
    t0 = time.perf_counter()
    res = write_clip(store.index, store.layout.root, CAMERA, segs, start, end, out)
    took = time.perf_counter() - t0
    return {"seconds": took, "packets": res.packets, "bytes": res.bytes, "segments": len(segs),
            "starts_on_keyframe": res.starts_on_keyframe}


def run_ffmpeg(files: list[Path], work: Path, out: Path) -> dict[str, Any]:
    lst = work / "concat.txt"
    lst.write_text("".join(f"file '{p}'\n" for p in files))
    t0 = time.perf_counter()
    subprocess.run(["ffmpeg", "-hide_banner", "-loglevel", "error", "-nostdin", "-y", "-f", "concat", "-safe", "0",
                    "-i", str(lst), "-c", "copy", str(out)], check=True)
    took = time.perf_counter() - t0
    return {"seconds": took, "bytes": out.stat().st_size}


def hash_sources(files: list[Path]) -> float:
    """The integrity re-hash alone (part of edge's path, not ffmpeg's), for the breakdown."""
    t0 = time.perf_counter()
    for p in files:
        h = hashlib.sha256()
        with open(p, "rb") as f:
            while chunk := f.read(1 << 20):
                h.update(chunk)
    return time.perf_counter() - t0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--minutes", type=int, default=60, help="footage to export, in one-minute segments")
    ap.add_argument("--segment-seconds", type=int, default=60, help="length of the recorded segment")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--quick", action="store_true", help="4 s segments, 1 minute of footage, 1 rep")
    ap.add_argument("--no-ffmpeg", action="store_true", help="edge only (no baseline, no ratio)")
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args(argv)
    if args.quick:
        args.segment_seconds, args.reps = 4, 1
    missing = simulator_available()
    if missing is not None:
        print(f"the RTSP simulator cannot run here; install with: {missing}", file=sys.stderr)
        return 2
    if not args.no_ffmpeg and shutil.which("ffmpeg") is None:
        print("ffmpeg not found; `scripts/sysdeps.sh --ffmpeg` installs it", file=sys.stderr)
        return 2
    source, meta = recorded_segment(args.segment_seconds)
    count = max(1, round(args.minutes * 60 / (meta["duration_us"] / 1e6))) if not args.quick else 15
    footage_s = count * meta["duration_us"] / 1e6
    edge_runs: list[dict[str, Any]] = []
    ff_runs: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="edge-bench-export-") as tmp:
        work = Path(tmp)
        log(f"building {count} segments ({footage_s / 60:.1f} min of footage) through the store ...")
        store, start, end = build_store(work / "store", source, meta, count)
        try:
            files = [store.path_of(s) for s in store.index.segments_in_range(CAMERA, start, end)]
            hash_s = hash_sources(files)  # also warms the page cache for both sides alike
            for rep in range(args.reps):
                e = run_edge(store, start, end, work / f"edge-{rep}.mp4")
                (work / f"edge-{rep}.mp4").unlink()
                edge_runs.append(e)
                log(f"rep {rep + 1}: edge {footage_s / e['seconds']:.0f}x real time")
                if not args.no_ffmpeg:
                    f = run_ffmpeg(files, work, work / f"ffmpeg-{rep}.mp4")
                    (work / f"ffmpeg-{rep}.mp4").unlink()
                    ff_runs.append(f)
                    log(f"rep {rep + 1}: ffmpeg {footage_s / f['seconds']:.0f}x real time")
        finally:
            store.close()

    def side(runs: list[dict[str, Any]]) -> dict[str, Any]:
        times = [r["seconds"] for r in runs]
        best, med = min(times), statistics.median(times)
        out = {k: v for k, v in runs[0].items() if k != "seconds"}
        out.update({"best_s": round(best, 3), "median_s": round(med, 3),
                    "x_realtime_best": round(footage_s / best, 1), "x_realtime_median": round(footage_s / med, 1)})
        return out

    edge_side = side(edge_runs)
    ff_side = side(ff_runs) if ff_runs else None
    edge_side["source_rehash_s"] = round(hash_s, 3)
    result = {
        "benchmark": "export", "machine": machine(),
        "setup": {"footage_s": round(footage_s, 1), "segments": count, "segment_s": meta["duration_us"] / 1e6,
                  "source_bytes": meta["bytes"] * count, "reps": args.reps,
                  "source": "one real edge-recorded 1080p25 ~3 Mbit/s segment replicated through the store API",
                  "edge": "storage.clip_mux.write_clip (re-hash sources, stream copy, +faststart, hash result)",
                  "ffmpeg": "ffmpeg -f concat -safe 0 -i list -c copy out.mp4"},
        "goals": {"x_realtime_min": GOAL_X_REALTIME},
        "edge": edge_side, "ffmpeg": ff_side,
        "ratios_edge_over_ffmpeg": {"throughput_median": ratio(
            edge_side["x_realtime_median"], ff_side["x_realtime_median"] if ff_side else None)},
        "goals_met": {"x_realtime_ge_200": edge_side["x_realtime_median"] >= GOAL_X_REALTIME},
    }
    emit("export", result, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
