"""A connection flood against the API: edge's bounded server vs uvicorn's defaults (the baseline).

One simulated camera records (2 s segments) under an open-file limit of 1024 (soft and hard:
systemd's default soft limit, with no room to raise it); then `--connections` sockets each send
half a request (`GET /healthz HTTP/1.1\\r\\nHost: x\\r\\n`) and are held for `--seconds`, any the
box closes being opened again once a second. Both runs use the same daemon code; the baseline
only builds its API server the way the daemon did before issue 11 (`uvicorn.Config` defaults)
and logs without the rate limit.

Prints JSON per variant: seconds of footage lost during the flood (holes between segments plus
gaps opened), gaps opened, `/healthz` answers during the flood, seconds until it answers again
after the sockets close (null: not within 30 s), the daemon's peak descriptors and log bytes.
Run: .venv/bin/python bench/hostile_network.py [--seconds 40] [--connections 1100] [--quick]
"""

from __future__ import annotations

import argparse
import os
import resource
import select
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import emit, log, machine  # noqa: E402
from capture.sim.clips import make_clip  # noqa: E402
from capture.sim.simulator import Simulator, free_port  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
NOFILE = 1024
HALF_REQUEST = b"GET /healthz HTTP/1.1\r\nHost: x\r\n"

BASELINE = """
import logging, sys, uvicorn
import api.server, api.service, edge.app.logs
def legacy(app, api_cfg, max_connections=None):
    return uvicorn.Server(uvicorn.Config(app, host=api_cfg.host, port=api_cfg.port, log_config=None,
                                         access_log=False, lifespan="off"))
class NoLimit(logging.Filter):
    def __init__(self, *a, **k): super().__init__()
api.service.build_server = legacy
edge.app.logs.RateLimitFilter = NoLimit
from edge.cli.main import main
sys.exit(main())
"""
EDGE = "import sys\nfrom edge.cli.main import main\nsys.exit(main())\n"


def half_open(port: int) -> socket.socket | None:
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(2.0)
    try:
        s.connect(("127.0.0.1", port))
        s.sendall(HALF_REQUEST)
    except OSError:
        s.close()
        return None
    s.setblocking(False)
    return s


def answers(port: int, timeout: float = 1.0) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=timeout).status_code == 200
    except httpx.HTTPError:
        return False


def rows(root: Path, sql: str, args: tuple[object, ...]) -> list[tuple[Any, ...]]:
    con = sqlite3.connect(f"file:{root / 'index.sqlite3'}?mode=ro", uri=True)
    try:
        return list(con.execute(sql, args))
    finally:
        con.close()


def run(variant: str, sim: Simulator, tmp: Path, seconds: float, connections: int) -> dict[str, Any]:
    root = tmp / variant / "store"
    root.parent.mkdir(parents=True)
    port = free_port()
    cfg = root.parent / "edge.toml"
    cfg.write_text(f'[storage]\nroot = "{root}"\nsegment_seconds = 2.0\nsync_interval = 0.5\n'
                   f'[api]\nhost = "127.0.0.1"\nport = {port}\n[health]\nenabled = false\n'
                   f'[[cameras]]\nid = "gate-1"\nurl = "{sim.url("cam")}"\nsite_category = "street"\n')
    logf = open(root.parent / "edge.log", "wb")  # noqa: SIM115 - closed below

    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_NOFILE, (NOFILE, NOFILE))

    code = BASELINE if variant == "baseline" else EDGE
    proc = subprocess.Popen([sys.executable, "-c", code, "run", "-c", str(cfg)], stdout=logf, stderr=logf, cwd=ROOT,
                            preexec_fn=limit, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        def recorded() -> int:
            try:
                return len(rows(root, "SELECT 1 FROM segments", ()))
            except sqlite3.Error:
                return 0  # the index is being created

        while recorded() < 2:
            if time.monotonic() > deadline or proc.poll() is not None:
                raise RuntimeError(f"{variant}: no recording before the flood")
            time.sleep(0.2)
        log(f"{variant}: flooding with {connections} half requests for {seconds:g} s")
        start_us = int(time.time() * 1e6)
        socks: list[socket.socket | None] = [half_open(port) for _ in range(connections)]
        t_end = time.monotonic() + seconds
        polls = answered = max_fds = 0
        while time.monotonic() < t_end:
            poller = select.poll()
            for s in socks:
                if s is not None:
                    poller.register(s, select.POLLIN | select.POLLHUP | select.POLLERR)
            ready = {fd for fd, _ in poller.poll(0)}
            for i, s in enumerate(socks):
                if s is None or s.fileno() in ready:
                    if s is not None:
                        s.close()
                    socks[i] = half_open(port)
            polls += 1
            answered += answers(port)
            max_fds = max(max_fds, len(os.listdir(f"/proc/{proc.pid}/fd")))
            time.sleep(1.0)
        end_us = int(time.time() * 1e6)
        for s in socks:
            if s is not None:
                s.close()
        closed = time.monotonic()
        recovered = None
        while time.monotonic() - closed < 30:
            if answers(port, 0.5):
                recovered = round(time.monotonic() - closed, 2)
                break
            time.sleep(0.05)
        time.sleep(4.0)  # let the segment under way close
        segs = rows(root, "SELECT start_us, end_us FROM segments WHERE camera='gate-1' AND end_us > ? AND start_us < ?"
                    " ORDER BY seq", (start_us - 2_000_000, end_us + 2_000_000))
        holes = sum(max(0, b[0] - a[1]) for a, b in zip(segs, segs[1:], strict=False))
        gaps = rows(root, "SELECT start_us, coalesce(end_us, ?) FROM gaps WHERE camera='gate-1' AND"
                    " coalesce(end_us, 9e18) > ?", (end_us, start_us))
        lost_s = max(holes, sum(e - s for s, e in gaps)) / 1e6
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
        logf.close()
    text = (root.parent / "edge.log").read_bytes()
    return {"footage_lost_s": round(lost_s, 2), "gaps_opened": len(gaps), "healthz_during_flood": f"{answered}/{polls}",
            "healthz_back_after_s": recovered, "peak_fds": max_fds, "log_bytes": len(text),
            "emfile_lines": text.count(b"Too many open files")}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=40.0)
    ap.add_argument("--connections", type=int, default=1100)
    ap.add_argument("--variants", default="edge,baseline")
    ap.add_argument("--quick", action="store_true", help="a 10 s flood")
    ap.add_argument("--out", type=Path, default=None, help="directory for hostile_network.json")
    ns = ap.parse_args()
    seconds = 10.0 if ns.quick else ns.seconds
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, ns.connections + 256)), hard))
    result: dict[str, Any] = {"benchmark": "hostile_network", "machine": machine(), "connections": ns.connections,
                              "flood_seconds": seconds, "nofile": NOFILE}
    with tempfile.TemporaryDirectory(prefix="edge-bench-flood-") as t:
        tmp = Path(t)
        clip = make_clip(tmp, "normal", seed=3)
        sim = Simulator({"cam": clip})
        sim.start()
        try:
            for variant in ns.variants.split(","):
                result[variant] = run(variant, sim, tmp, seconds, ns.connections)
        finally:
            sim.stop()
    emit("hostile_network", result, ns.out)


if __name__ == "__main__":
    main()
