"""Time to produce a 1-hour export: record real 1080p25 footage, stretch it to an hour, export it.

1. The daemon (in process) records `--record` seconds of one simulated 1080p25 camera (~3 Mbit/s,
   GOP 50) in 10 s segments.
2. Copies of those segment files are committed through the store API (`open_segment`/`commit`,
   so they are hashed and chained like recorded ones) under a second camera id, back to back,
   until they cover `--hours` of footage.
3. An export of that whole range is requested, approved and produced by the real producer
   (re-hash of every source, stream copy into one MP4, signed manifest, crash-safe rename), timed;
   then the download zip is streamed to nowhere, timed.

Prints one JSON object (also written to bench/results/export_time.json).
Usage: bench/export_time.py [--record 60] [--hours 1]
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import emit, log, machine  # noqa: E402
from capture.sim.simulator import Simulator, default_clip_dir, make_clip  # noqa: E402
from edge.access.exports import ExportSpec, State  # noqa: E402
from edge.access.users import Role  # noqa: E402
from edge.app.daemon import Daemon  # noqa: E402
from edge.cli.wiring import build_daemon  # noqa: E402
from edge.config import parse_config  # noqa: E402
from storage.register import Actor  # noqa: E402
from storage.store import StreamInfo  # noqa: E402

SEGMENT_SECONDS = 10.0


def record(root: Path, seconds: float) -> None:
    clip = make_clip(default_clip_dir(), "normal", 1920, 1080, fps=25, gop=50, seconds=8.0, bitrate=3_000_000, seed=0)
    with Simulator({"cam": clip}) as sim:
        cfg = parse_config({"storage": {"root": str(root), "segment_seconds": SEGMENT_SECONDS},
                            "api": {"enabled": False}, "health": {"enabled": False},
                            "cameras": [{"id": "live-1", "url": sim.url("cam"), "site_category": "street"}]})
        d = build_daemon(cfg)
        d.start()
        time.sleep(seconds + SEGMENT_SECONDS)  # the last segment closes at the stop
        d.request_stop()
        d.shutdown()


def stretch(d: Daemon, hours: float) -> tuple[int, int, int, int]:
    """Copy the recorded segments back to back under camera 'bench-1'; returns (start, end, n, bytes)."""
    store = d.box.store
    recorded = list(store.index.chain_of("live-1"))[1:-1]  # whole segments only (not the first/last cut)
    if not recorded:
        raise SystemExit("nothing recorded")
    span = sum(s.end_us - s.start_us for s in recorded)
    copies = int(hours * 3_600_000_000 // span) + 1
    start = d.box.clock.now_us() - copies * span - 600_000_000
    t, n, size = start, 0, 0
    for _ in range(copies):
        for seg in recorded:
            data = store.path_of(seg).read_bytes()
            f = store.open_segment("bench-1", t)
            f.write(data)
            dur = seg.end_us - seg.start_us
            store.commit("bench-1", f, t + dur, seg.packets, StreamInfo(seg.codec, seg.width, seg.height))
            t, n, size = t + dur, n + 1, size + len(data)
    return start, t, n, size


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--record", type=float, default=60.0, help="seconds of real footage to record")
    ap.add_argument("--hours", type=float, default=1.0, help="length of the exported range")
    ns = ap.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="edge-export-bench-"))
    try:
        root = work / "store"
        log(f"recording {ns.record:g} s of 1080p25 in {SEGMENT_SECONDS:g} s segments")
        record(root, ns.record)
        cfg = parse_config({"storage": {"root": str(root), "segment_seconds": SEGMENT_SECONDS},
                            "api": {"enabled": False}, "access": {"max_export_hours": max(24.0, ns.hours)}})
        d = build_daemon(cfg)  # not started: its store, exports and producer are used directly
        try:
            start, end, n, size = stretch(d, ns.hours)
            log(f"{n} segments, {size / 1e9:.2f} GB, {(end - start) / 3.6e9:.2f} h")
            officer = Actor("officer-1", "officer", "PSB-1", "bench")
            approver_user, _ = d.box.users.add("approver-1", Role.APPROVER, "PSB-2")
            range_end = start + int(ns.hours * 3_600_000_000)
            exp = d.box.exports.request(officer, ExportSpec(("bench-1",), start, range_end, "benchmark", "BENCH-1",
                                                        {"name": "n/a", "unit": "n/a"},
                                                        {"number": "n/a", "issued_by": "n/a",
                                                         "issued_on": "2026-01-01", "sha256": None}))
            exp = d.box.exports.approve(exp.id, approver_user, Actor("approver-1", "approver", "PSB-2", "bench"))
            t0 = time.perf_counter()
            d.export_producer.produce(exp)
            produce_s = time.perf_counter() - t0
            done = d.box.exports.get(exp.id)
            assert done is not None and done.state is State.READY, done
            bundle = d.export_producer.final_dir(exp.id)
            clip_bytes = (bundle / "bench-1.mp4").stat().st_size
            from edge.access.bundle import zip_stream

            t0 = time.perf_counter()
            zipped = sum(len(c) for c in zip_stream(bundle, f"export-{exp.id}"))
            zip_s = time.perf_counter() - t0
        finally:
            d.box.store.close()
        result: dict[str, Any] = {
            "benchmark": "export_time", "machine": machine(),
            "footage": {"recorded_seconds": ns.record, "segment_seconds": SEGMENT_SECONDS, "resolution": "1920x1080",
                        "fps": 25, "bitrate_bps": 3_000_000, "segments": n, "source_bytes": size,
                        "exported_hours": ns.hours},
            "produce_seconds": round(produce_s, 2),
            "produce_mb_per_s": round(size / produce_s / 1e6, 1),
            "realtime_factor": round(ns.hours * 3600 / produce_s, 1),
            "clip_bytes": clip_bytes,
            "zip_stream_seconds": round(zip_s, 2),
            "zip_bytes": zipped,
            "notes": "produce = re-hash of every source segment + stream copy into one MP4 + "
                     "signed manifest + fsync/rename; zip = the download stream, consumed in process",
        }
        emit("export_time", result)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
