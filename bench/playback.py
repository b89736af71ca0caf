"""Cost of serving one review playback stream, next to the export's clip muxing as the baseline.

1. Segments of a simulated 1080p25 camera (~3 Mbit/s, GOP 50, 10 s each) are made by stream-copying
   the simulator's H.264 clip into fMP4 and committed through the store (hashed and chained).
2. Baseline: the export's muxing of the range (storage/clip_mux.write_clip, as an export does).
3. Playback: a review grant's clip (edge/access/playback.Playback.clip: re-hash of every source,
   stream copy with the index in front), then the clip served over real HTTP (uvicorn, the clip
   behind a FileResponse as the review route serves it) to an HTTP client reading it the way a
   `<video>` does (Range requests of 1 MiB); CPU from getrusage, bytes read and sent.

Prints one JSON object (also written to bench/results/playback.json).
Usage: bench/playback.py [--minutes 10]
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from fractions import Fraction
from pathlib import Path

import av

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import emit, log, machine, ratio  # noqa: E402
from capture.segmenter import MOVFLAGS  # noqa: E402
from capture.sim.simulator import default_clip_dir, make_clip  # noqa: E402
from edge.access.review import ReviewSpec  # noqa: E402
from edge.access.users import Role  # noqa: E402
from edge.app.box import Box  # noqa: E402
from edge.config import parse_config  # noqa: E402
from storage.clip_mux import write_clip  # noqa: E402
from storage.register import Actor  # noqa: E402
from storage.store import StreamInfo  # noqa: E402

SEGMENT_S = 10
FPS = 25
TB = Fraction(1, 90_000)


def cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def make_segments(box: Box, minutes: float) -> tuple[int, int, int]:
    clip = make_clip(default_clip_dir(), "normal", 1920, 1080, fps=FPS, gop=50, seconds=8.0, bitrate=3_000_000, seed=0)
    with av.open(str(clip), format="h264") as inp:
        packets = [bytes(p) for p in inp.demux(inp.streams.video[0]) if p.size]
    per_seg = SEGMENT_S * FPS
    n_segs = int(minutes * 60 // SEGMENT_S)
    start = box.clock.now_us() - n_segs * SEGMENT_S * 1_000_000 - 60_000_000
    size = 0
    for s in range(n_segs):
        t0 = start + s * SEGMENT_S * 1_000_000
        f = box.store.open_segment("bench-1", t0)
        with av.open(f, "w", format="mp4", options={"movflags": MOVFLAGS}) as out:  # type: ignore[call-overload]
            st = out.add_stream("h264", rate=FPS)
            st.width, st.height = 1920, 1080
            st.time_base = TB
            for i in range(per_seg):
                data = packets[(i % 200) if i % 200 else 0] if i % 50 else packets[(i // 50 % 4) * 50]
                p = av.Packet(data)
                p.pts = p.dts = i * 3600
                p.duration = 3600
                p.time_base = TB
                p.stream = st
                out.mux(p)
        seg = box.store.commit("bench-1", f, t0 + SEGMENT_S * 1_000_000, per_seg, StreamInfo("h264", 1920, 1080))
        size += seg.bytes
    return start, start + n_segs * SEGMENT_S * 1_000_000, size


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--minutes", type=float, default=10.0)
    ns = ap.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="edge-bench-playback-") as tmp:
        root = Path(tmp) / "store"
        cfg = parse_config({"storage": {"root": str(root)}, "api": {"enabled": False},
                            "cameras": [{"id": "bench-1", "url": "rtsp://127.0.0.1:1/x", "site_category": "street"}]})
        with Box(cfg) as box:
            log(f"making {ns.minutes:g} min of 1080p segments")
            start, end, source_bytes = make_segments(box, ns.minutes)
            segs = box.store.index.segments_in_range("bench-1", start, end)

            c0, w0 = cpu(), time.perf_counter()
            base = write_clip(box.store.index, root, "bench-1", segs, start, end, Path(tmp) / "export.mp4")
            base_cpu, base_wall = cpu() - c0, time.perf_counter() - w0

            box.users.add("officer", Role.OFFICER, "PSB-1")
            approver, _ = box.users.add("approver", Role.APPROVER, "PSB-2")
            o_act = Actor("officer", "officer", "PSB-1", "bench")
            spec = ReviewSpec(("bench-1",), start, end, "bench", "B-1", {"number": "D", "issued_by": "x",
                                                                          "issued_on": "2026-01-01"})
            grant = box.reviews.approve(box.reviews.submit(o_act, spec).id, approver,
                                        Actor("approver", "approver", "PSB-2", "bench"))
            c0, w0 = cpu(), time.perf_counter()
            clip = box.playback.clip(grant, "bench-1")
            play_cpu, play_wall = cpu() - c0, time.perf_counter() - w0
            assert clip.path is not None
            served = serve(clip.path)
    result = {
        "machine": machine(), "range_minutes": ns.minutes, "segments": len(segs), "source_bytes": source_bytes,
        "baseline_export_mux": {"cpu_s": round(base_cpu, 3), "wall_s": round(base_wall, 3), "clip_bytes": base.bytes},
        "playback_clip_build": {"cpu_s": round(play_cpu, 3), "wall_s": round(play_wall, 3), "clip_bytes": clip.bytes,
                                "bytes_read": clip.bytes_read,
                                "cpu_vs_baseline": ratio(play_cpu, base_cpu)},
        "serving": served,
        "cpu_per_minute_of_footage_s": round((play_cpu + float(served["server_cpu_s"])) / ns.minutes, 4),
    }
    emit("playback", result)
    return 0


def serve(path: Path) -> dict[str, float | int | str]:
    """The clip read over real HTTP by Range requests of 1 MiB, as a browser's `<video>` does."""
    import threading

    import httpx
    import uvicorn
    from fastapi import FastAPI
    from fastapi.responses import FileResponse

    app = FastAPI()

    @app.get("/clip.mp4")
    def clip() -> FileResponse:
        return FileResponse(path, media_type="video/mp4")

    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning"))
    t = threading.Thread(target=server.run, daemon=True)
    t.start()
    while not server.started:
        time.sleep(0.05)
    port = server.servers[0].sockets[0].getsockname()[1]
    size = path.stat().st_size
    sent = 0
    c0, w0 = cpu(), time.perf_counter()
    with httpx.Client() as client:
        for off in range(0, size, 1 << 20):
            r = client.get(f"http://127.0.0.1:{port}/clip.mp4",
                           headers={"Range": f"bytes={off}-{min(size, off + (1 << 20)) - 1}"})
            assert r.status_code == 206
            sent += len(r.content)
    server_cpu, wall = cpu() - c0, time.perf_counter() - w0
    server.should_exit = True
    t.join(5)
    return {"bytes_sent": sent, "clip_bytes": size, "server_cpu_s": round(server_cpu, 3),
            "wall_s": round(wall, 3), "note": "cpu includes the in-process HTTP client"}


if __name__ == "__main__":
    raise SystemExit(main())
