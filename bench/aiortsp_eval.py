"""aiortsp (PyPI, asyncio) vs capture.rtsp: CPU to receive K simulated 1080p25 streams.

aiortsp hands over RTP packets (a dpkt object per packet) and has no depacketizer, so it is
measured receiving only; capture.rtsp receives AND depacketizes into access units. Each runs in
its own process, one after the other, against the same simulator. Prints one JSON object.

Usage: bench/aiortsp_eval.py [--streams 4] [--seconds 20]   (needs `pip install aiortsp`)
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from capture.sim.simulator import Simulator, default_clip_dir, make_clip  # noqa: E402

CHILD_AIORTSP = r"""
import asyncio, sys, time
from aiortsp.rtsp.reader import RTSPReader
urls, seconds = sys.argv[1].split(","), float(sys.argv[2])
count = 0
async def one(url):
    global count
    async with RTSPReader(url, timeout=10) as reader:
        end = time.monotonic() + seconds
        async for pkt in reader.iter_packets():
            count += 1
            if time.monotonic() > end:
                break
async def main():
    await asyncio.gather(*(one(u) for u in urls))
t0 = time.process_time(); w0 = time.monotonic()
asyncio.run(main())
print(time.process_time() - t0, time.monotonic() - w0, count)
"""

CHILD_NATIVE = r"""
import sys, threading, time
from capture.native_source import NativeSource
urls, seconds = sys.argv[1].split(","), float(sys.argv[2])
counts = []
def one(url):
    src = NativeSource(url, 10.0, audio=False)
    src.connect()
    end = time.monotonic() + seconds
    n = 0
    while time.monotonic() < end:
        n += len(src.read())
    counts.append(src.stats()["packets"])
    src.close()
t0 = time.process_time(); w0 = time.monotonic()
ts = [threading.Thread(target=one, args=(u,)) for u in urls]
[t.start() for t in ts]; [t.join() for t in ts]
print(time.process_time() - t0, time.monotonic() - w0, sum(counts))
"""


def run(child: str, urls: list[str], seconds: float) -> dict[str, float]:
    out = subprocess.run([sys.executable, "-c", child, ",".join(urls), str(seconds)], capture_output=True,
                         text=True, timeout=seconds * 4 + 60, cwd=Path(__file__).resolve().parent.parent,
                         check=True).stdout.split()
    cpu, wall, packets = float(out[0]), float(out[1]), int(out[2])
    return {"cpu_s": round(cpu, 3), "wall_s": round(wall, 2), "rtp_packets": packets,
            "us_per_packet": round(cpu / max(packets, 1) * 1e6, 2),
            "percent_of_core_per_stream": round(100 * cpu / wall / len(urls), 3)}


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--streams", type=int, default=4)
    ap.add_argument("--seconds", type=float, default=20.0)
    args = ap.parse_args()
    clip = make_clip(default_clip_dir(), "normal", 1920, 1080, fps=25, gop=50, seconds=8.0, bitrate=3_000_000,
                     seed=0)
    mounts = {f"cam{i}": clip for i in range(args.streams)}
    result: dict[str, object] = {"benchmark": "aiortsp_eval", "streams": args.streams, "load_average": os.getloadavg()}
    with Simulator(mounts) as sim:
        urls = [sim.url(m) for m in mounts]
        time.sleep(1)
        result["aiortsp_receive_only"] = run(CHILD_AIORTSP, urls, args.seconds)
        result["capture_rtsp_receive_and_depacketize"] = run(CHILD_NATIVE, urls, args.seconds)
    print(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
