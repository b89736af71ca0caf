"""Ingest: edge recording K simulated 1080p25 cameras next to K `ffmpeg -c copy -f segment` processes.

The cameras are the project's RTSP simulator (GStreamer serving pre-encoded 1080p25 H.264 clips of
about 3 Mbit/s in a loop; no live encoding). The two recorders run ONE AFTER THE OTHER against the
same simulator (on a 2-core box, running them at once would make each steal the other's CPU), each
measured over the same fixed window after a warm-up:

- CPU: user+sys of the recorder processes only (never the simulator), /proc/PID/stat deltas over
  the window; for ffmpeg, summed over its K processes. Reported as CPU seconds per stream per minute.
- memory: peak RSS (VmHWM) summed over the recorder processes, and PSS (shared library pages split
  between the processes that map them; kinder to K ffmpeg processes).
- loss: packets written whose wall time falls in the window, counted by demuxing the segment files
  with PyAV, against 25 fps x window per stream. edge's packet times are exact (segment start from
  the index + pts); ffmpeg's `-reset_timestamps 1` files carry no wall time, so a segment's start is
  taken as the mtime of the segment before it (the muxer closes one file when the next one's first
  packet arrives) and, for the first, the second-resolution time in its name. One frame of slack per
  stream covers the window edges.
- bytes: written through write-like system calls over the window (/proc/PID/io wchar: segment
  files, and for edge also SQLite and logs) per byte received, where received is the payload of the
  packets counted in the window (rchar cannot serve: recv() on a socket does not count there).

Usage: bench/ingest.py [--streams 8,32,64] [--window 60] [--quick] [--find-max] [--repeat 2]
                       [--recorders edge-native,edge-pyav,ffmpeg]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx  # noqa: E402

from bench.common import (  # noqa: E402
    PYTHON,
    ROOT,
    cpu_seconds,
    emit,
    io_bytes,
    log,
    machine,
    pss_kb,
    ratio,
    status_kb,
)
from bench.ingest_counts import FPS, edge_counts, ffmpeg_counts, loss  # noqa: E402
from capture.sim.simulator import Simulator, default_clip_dir, free_port, make_clip, simulator_available  # noqa: E402

SEGMENT_SECONDS = 10
CLIP_SEEDS = 4  # distinct clips, cycled over the mounts
GOALS = {"cpu_ratio_max": 0.7, "rss_ratio_max": 0.1, "lost_packets_at_64": 0}
#: edge recorders by name: the daemon with cameras[].ingest set to this value.
EDGE_RECORDERS = {"edge": "auto", "edge-native": "native", "edge-pyav": "pyav"}


def clips(n: int) -> list[Path]:
    return [make_clip(default_clip_dir(), "normal", 1920, 1080, fps=FPS, gop=50, seconds=8.0,
                      bitrate=3_000_000, seed=s) for s in range(n)]


# -- process measurement ----------------------------------------------------------------------------
class Meter:
    """CPU, memory and I/O of a set of processes over a window (RSS sampled every second too)."""

    def __init__(self, pids: list[int]) -> None:
        self.pids = pids
        self.cpu0 = self._cpu()
        self.io0 = self._io()
        self.t0 = time.monotonic()
        self.wall0 = time.time()
        self.peak_rss_sampled_kb = 0

    def _cpu(self) -> float:
        return sum(cpu_seconds(p) for p in self.pids)

    def _io(self) -> dict[str, int]:
        total: dict[str, int] = {}
        for p in self.pids:
            for k, v in io_bytes(p).items():
                total[k] = total.get(k, 0) + v
        return total

    def sample(self) -> None:
        self.peak_rss_sampled_kb = max(self.peak_rss_sampled_kb, sum(status_kb(p, "VmRSS") for p in self.pids))

    def run(self, seconds: float, alive: Callable[[], bool]) -> None:
        end = self.t0 + seconds
        while (now := time.monotonic()) < end:
            self.sample()
            if not alive():
                raise RuntimeError("a recorder process exited during the window")
            time.sleep(min(1.0, end - now))

    def finish(self) -> dict[str, Any]:
        cpu = self._cpu() - self.cpu0
        io1 = self._io()
        elapsed = time.monotonic() - self.t0
        self.sample()
        return {
            "window_s": round(elapsed, 2),
            "wall_start": self.wall0,
            "wall_end": self.wall0 + elapsed,
            "cpu_s": round(cpu, 2),
            "peak_rss_mb": round(sum(status_kb(p, "VmHWM") for p in self.pids) / 1024, 1),
            "peak_rss_sampled_mb": round(self.peak_rss_sampled_kb / 1024, 1),
            "pss_mb": round(sum(pss_kb(p) for p in self.pids) / 1024, 1),
            "written_bytes": io1.get("wchar", 0) - self.io0.get("wchar", 0),
        }


def wait_until(cond: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(0.25)


# -- counting packets in segment files ----------------------------------------------------------------
def write_edge_config(path: Path, root: Path, urls: dict[str, str], api_port: int, health: bool,
                      ingest: str = "auto") -> None:
    lines = [
        "[storage]", f'root = "{root}"', f"segment_seconds = {SEGMENT_SECONDS}", "",
        "[api]", 'host = "127.0.0.1"', f"port = {api_port}", "",
        "[health]", f"enabled = {'true' if health else 'false'}", "",
    ]
    for cam, url in urls.items():
        lines += ["[[cameras]]", f'id = "{cam}"', f'url = "{url}"', 'site_category = "street"',
                  f'ingest = "{ingest}"', ""]
    path.write_text("\n".join(lines), encoding="utf-8")


def run_edge(urls: dict[str, str], work: Path, warmup: float, window: float, health: bool,
             profile: Path | None = None, ingest: str = "auto") -> dict[str, Any]:
    root = work / "edge-store"
    cfg = work / "edge.toml"
    port = free_port()
    write_edge_config(cfg, root, urls, port, health, ingest)
    logf = open(work / "edge.log", "wb")  # noqa: SIM115 - closed in finally
    proc = subprocess.Popen([PYTHON, "-m", "edge", "--log-level", "warning", "run", "-c", str(cfg)],
                            stdout=logf, stderr=logf, cwd=ROOT, start_new_session=True)
    try:
        def recording() -> bool:
            if proc.poll() is not None:
                raise RuntimeError(f"edge exited with {proc.returncode}: {(work / 'edge.log').read_text()[-2000:]}")
            try:
                cams = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2.0).json()["cameras"]
            except (httpx.HTTPError, ValueError, KeyError):
                return False
            return len(cams) == len(urls) and all(s == "recording" for s in cams.values())

        wait_until(recording, 60 + len(urls), "edge to record every camera")
        time.sleep(warmup)
        spy = None
        if profile is not None:
            # A dev aid: py-spy (pip install py-spy into the venv) samples without pausing edge.
            spy = subprocess.Popen([str(Path(PYTHON).parent / "py-spy"), "record", "--nonblocking", "--threads",
                                    "--format", "raw", "-r", "50", "-d", str(int(window)), "-p", str(proc.pid),
                                    "-o", str(profile)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        meter = Meter([proc.pid])
        meter.run(window, lambda: proc.poll() is None)
        m = meter.finish()
        if spy is not None:
            spy.wait(30)
        time.sleep(1.0)  # the packets of the window's last instant reach the file
        proc.send_signal(signal.SIGTERM)
        rc = proc.wait(60)
        if rc != 0:
            log(f"edge exited with {rc}")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
        logf.close()
    m["counts"] = edge_counts(root, list(urls), m["wall_start"], m["wall_end"])
    return m


def ffmpeg_cmd(url: str, out: Path) -> list[str]:
    # What Frigate runs per camera for recording (its global args: -hide_banner -loglevel warning).
    return ["ffmpeg", "-hide_banner", "-loglevel", "warning", "-nostdin", "-rtsp_transport", "tcp", "-i", url,
            "-c", "copy", "-f", "segment", "-segment_time", str(SEGMENT_SECONDS), "-segment_format", "mp4",
            "-reset_timestamps", "1", "-strftime", "1", str(out / "%Y%m%d%H%M%S.mp4")]


def run_ffmpeg(urls: dict[str, str], work: Path, warmup: float, window: float) -> dict[str, Any]:
    dirs = {cam: work / "ffmpeg" / cam for cam in urls}
    procs: list[subprocess.Popen[bytes]] = []
    logf = open(work / "ffmpeg.log", "wb")  # noqa: SIM115 - closed in finally
    try:
        for cam, url in urls.items():
            dirs[cam].mkdir(parents=True)
            procs.append(subprocess.Popen(ffmpeg_cmd(url, dirs[cam]), stdin=subprocess.DEVNULL,
                                          stdout=logf, stderr=logf, start_new_session=True))

        def writing() -> bool:
            if any(p.poll() is not None for p in procs):
                raise RuntimeError(f"an ffmpeg exited: {(work / 'ffmpeg.log').read_text()[-2000:]}")
            return all(any(d.glob("*.mp4")) for d in dirs.values())

        wait_until(writing, 60 + len(urls), "every ffmpeg to write its first segment")
        time.sleep(warmup)
        meter = Meter([p.pid for p in procs])
        meter.run(window, lambda: all(p.poll() is None for p in procs))
        m = meter.finish()
        time.sleep(1.0)
        for p in procs:
            p.send_signal(signal.SIGINT)  # ffmpeg writes the trailer of the open segment and exits
        for p in procs:
            try:
                p.wait(30)
            except subprocess.TimeoutExpired:
                p.kill()
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait(10)
        logf.close()
    m["counts"] = ffmpeg_counts(dirs, m["wall_start"], m["wall_end"])
    return m


def summarize(m: dict[str, Any], k: int) -> dict[str, Any]:
    c = m.pop("counts")
    minutes = m["window_s"] / 60
    out = dict(m)
    out.pop("wall_start")
    out.pop("wall_end")
    out["cpu_s_per_stream_per_min"] = round(m["cpu_s"] / k / minutes, 4)
    out["cpu_percent_of_core_per_stream"] = round(100 * m["cpu_s"] / k / m["window_s"], 3)
    out.update(loss(c["per_stream"], m["window_s"]))
    out["received_payload_bytes"] = c["payload_bytes"]
    out["written_per_received"] = ratio(m["written_bytes"], c["payload_bytes"], 4)
    out["segment_file_bytes"] = c["file_bytes"]
    return out


def run_k(k: int, clip_paths: list[Path], warmup: float, window: float, health: bool,
          recorders: tuple[str, ...] = ("edge", "ffmpeg"), profile: Path | None = None) -> dict[str, Any]:
    mounts = {f"cam{i + 1}": clip_paths[i % len(clip_paths)] for i in range(k)}
    result: dict[str, Any] = {"streams": k}
    with tempfile.TemporaryDirectory(prefix=f"edge-bench-ingest-{k}-") as tmp, Simulator(mounts) as sim:
        work = Path(tmp)
        urls = {f"cam-{i + 1}": sim.url(f"cam{i + 1}") for i in range(k)}
        assert sim.pid is not None
        for name in recorders:
            sim_cpu0 = cpu_seconds(sim.pid)
            t0 = time.monotonic()
            log(f"K={k}: {name} (warm-up {warmup:g} s, window {window:g} s)")
            (work / name).mkdir()
            if name in EDGE_RECORDERS:
                m = run_edge(urls, work / name, warmup, window, health,
                             profile / f"{name}-{k}.txt" if profile is not None else None, EDGE_RECORDERS[name])
            else:
                m = run_ffmpeg(urls, work / name, warmup, window)
            s = summarize(m, k)
            s["simulator_cpu_percent"] = round(100 * (cpu_seconds(sim.pid) - sim_cpu0) / (time.monotonic() - t0), 1)
            result[name] = s
            log(f"K={k}: {name}: {s['cpu_percent_of_core_per_stream']}% of a core per stream, "
                f"peak RSS {s['peak_rss_mb']} MB, lost {s['packets_lost']}/{s['packets_expected']}")
    for name in EDGE_RECORDERS:
        if name not in result or "ffmpeg" not in result:
            continue
        e, f = result[name], result["ffmpeg"]
        suffix = "" if name == "edge" else "_" + name.split("-", 1)[1]
        ratios = result[f"ratios_edge{suffix}_over_ffmpeg"] = {
            "cpu": ratio(e["cpu_s"], f["cpu_s"]),
            "peak_rss": ratio(e["peak_rss_mb"], f["peak_rss_mb"]),
            "pss": ratio(e["pss_mb"], f["pss_mb"]),
            "written_per_received": ratio(e["written_per_received"], f["written_per_received"]),
        }
        result[f"goals_met{suffix}"] = {
            "cpu_le_0.7x": ratios["cpu"] is not None and ratios["cpu"] <= GOALS["cpu_ratio_max"],
            "rss_le_0.1x": ratios["peak_rss"] is not None and ratios["peak_rss"] <= GOALS["rss_ratio_max"],
            "no_loss": e["packets_lost"] == 0,
            "written_per_received_le_1.02": e["written_per_received"] is not None
            and e["written_per_received"] <= 1.02,
        }
    return result


def spread(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Per stream count and ratio: min, max and every value over the repeated runs."""
    out: dict[str, Any] = {}
    for k in sorted({r["streams"] for r in runs}):
        same = [r for r in runs if r["streams"] == k]
        entry: dict[str, Any] = {}
        for key in sorted({key for r in same for key in r if key.startswith("ratios_")}):
            for metric in ("cpu", "peak_rss"):
                values = [r[key][metric] for r in same if key in r and r[key][metric] is not None]
                if values:
                    entry[f"{key}.{metric}"] = {"min": min(values), "max": max(values), "values": values}
        for name in ("ffmpeg", *EDGE_RECORDERS):
            lost = [r[name]["packets_lost"] for r in same if name in r]
            if lost:
                entry[f"{name}.packets_lost"] = lost
        out[str(k)] = entry
    return out


def find_max(clip_paths: list[Path], start: int, step: int, limit: int, warmup: float, window: float,
             health: bool) -> dict[str, Any]:
    """Coarse search upward from `start` (edge only): the largest K recorded without loss."""
    trials: list[dict[str, Any]] = []
    best: int | None = None
    k = start
    while k <= limit:
        try:
            r = run_k(k, clip_paths, warmup, window, health, recorders=("edge",))
        except RuntimeError as exc:
            log(f"find-max: K={k} failed: {exc}")
            trials.append({"streams": k, "error": str(exc)[:500]})
            break
        e = r["edge"]
        trials.append({"streams": k, "packets_lost": e["packets_lost"], "cpu_percent_total": round(
            100 * e["cpu_s"] / e["window_s"], 1), "simulator_cpu_percent": e["simulator_cpu_percent"]})
        if e["packets_lost"] > 0:
            break
        best = k
        k += step
    return {"largest_without_loss": best, "step": step, "trials": trials}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--streams", default="8,32,64", help="comma-separated stream counts (default 8,32,64)")
    ap.add_argument("--window", type=float, default=60.0, help="measurement window, seconds (default 60)")
    ap.add_argument("--warmup", type=float, default=15.0, help="seconds after all streams record (default 15)")
    ap.add_argument("--quick", action="store_true", help="K=4, 15 s window, 5 s warm-up")
    ap.add_argument("--no-health", action="store_true", help="run edge with image health off")
    ap.add_argument("--recorders", default="edge,ffmpeg",
                    help="which recorders to run: edge (ingest auto), edge-native, edge-pyav, ffmpeg "
                         "(default edge,ffmpeg)")
    ap.add_argument("--repeat", type=int, default=1, help="measure each stream count this many times")
    ap.add_argument("--find-max", action="store_true", help="then search the largest K edge records without loss")
    ap.add_argument("--find-max-step", type=int, default=32)
    ap.add_argument("--find-max-limit", type=int, default=256)
    ap.add_argument("--out", type=Path, default=None, help="results directory (default bench/results)")
    ap.add_argument("--profile", type=Path, default=None, metavar="DIR",
                    help="write py-spy collapsed stacks of edge over each window to DIR (needs py-spy)")
    args = ap.parse_args(argv)
    if args.quick:
        args.streams, args.window, args.warmup = "4", 15.0, 5.0
    ks = [int(x) for x in args.streams.split(",") if x.strip()]
    recorders = tuple(r for r in (*EDGE_RECORDERS, "ffmpeg") if r in args.recorders.split(","))
    if not recorders:
        ap.error("--recorders: name edge, edge-native, edge-pyav and/or ffmpeg")
    missing = simulator_available()
    if missing is not None:
        print(f"the RTSP simulator cannot run here; install with: {missing}", file=sys.stderr)
        return 2
    if "ffmpeg" in recorders and shutil.which("ffmpeg") is None:
        print("ffmpeg not found; `scripts/sysdeps.sh --ffmpeg` installs it", file=sys.stderr)
        return 2
    log("preparing 1080p clips (cached after the first run) ...")
    clip_paths = clips(CLIP_SEEDS)
    result: dict[str, Any] = {
        "benchmark": "ingest", "machine": machine(),
        "setup": {"clip": "1080p25 H.264, GOP 50, ~3 Mbit/s, looped by the GStreamer RTSP simulator",
                  "order": "edge then ffmpeg, one after the other, against the same simulator",
                  "segment_seconds": SEGMENT_SECONDS, "window_s": args.window, "warmup_s": args.warmup,
                  "edge_health": not args.no_health, "ffmpeg": " ".join(ffmpeg_cmd("URL", Path("OUT")))},
        "goals": GOALS, "runs": [],
    }
    result["load_average_before"] = os.getloadavg()
    for _ in range(max(1, args.repeat)):
        for k in ks:
            run = run_k(k, clip_paths, args.warmup, args.window, not args.no_health, recorders=recorders,
                        profile=args.profile)
            run["load_average_after"] = os.getloadavg()
            result["runs"].append(run)
    result["spread"] = spread(result["runs"])
    if args.find_max:
        start = max(ks) + args.find_max_step
        result["find_max"] = find_max(clip_paths, start, args.find_max_step, args.find_max_limit,
                                      args.warmup, min(args.window, 30.0), not args.no_health)
    emit("ingest", result, args.out)
    return 0


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        sys.exit(main())
    os._exit(130)
