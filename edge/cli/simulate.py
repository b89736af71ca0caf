"""simulate (test cameras over real RTSP) and demo (zero-configuration recorder on them)."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from edge.app.box import Box

from edge.cli.common import EXIT_FAILED

DEMO_CAMERAS = (("gate-1", "North gate", "street"), ("square-1", "Main square", "square"),
                ("station-1", "Bus station hall", "station"), ("road-1", "Ring road", "public_road"))


def register(sub: Any) -> None:
    p = sub.add_parser("simulate", help="serve test cameras over RTSP on 127.0.0.1")
    p.add_argument("--cameras", type=int, default=2, help="number of cameras (cam1..camN)")
    p.add_argument("--port", type=int, default=8554, help="RTSP port on 127.0.0.1")
    p.add_argument("--kind", default="normal", help="picture: normal, black, blurred, frozen, moved, ...")
    p.add_argument("--size", default="1920x1080", help="WIDTHxHEIGHT (default 1920x1080)")
    p.add_argument("--bitrate", type=int, default=3_000_000, help="bit/s (default 3000000)")
    p.set_defaults(func=cmd_simulate)

    p = sub.add_parser("demo", help="record simulated cameras with zero configuration")
    p.add_argument("--cameras", type=int, default=4, choices=range(1, len(DEMO_CAMERAS) + 1))
    p.add_argument("--data", default="demo-data", help="footage and index directory (default ./demo-data)")
    p.add_argument("--port", type=int, default=8080, help="API port on 127.0.0.1 (default 8080)")
    p.add_argument("--rtsp-port", type=int, default=0, help="simulator port (default: a free one)")
    p.add_argument("--segment-seconds", type=float, default=10.0)
    p.set_defaults(func=cmd_demo)


def _size(text: str) -> tuple[int, int]:
    w, _, h = text.partition("x")
    return int(w), int(h)


def cmd_simulate(ns: argparse.Namespace) -> int:
    from capture.sim.simulator import run_simulator_cli

    width, height = _size(ns.size)
    return run_simulator_cli(ns.cameras, ns.port, ns.kind, width, height, ns.bitrate)


def demo_config_text(data: Path, port: int, urls: list[str], segment_seconds: float) -> str:
    lines = [
        "# Written by `edge demo`: simulated cameras on loopback.",
        "[box]", 'id = "demo-box"', 'name = "edge demo"', "",
        "[storage]", f'root = "{data.resolve()}"', f"segment_seconds = {segment_seconds:g}", "",
        "[api]", 'host = "127.0.0.1"', f"port = {port}", "",
        "[health]", "interval_seconds = 10", "",
    ]
    for (cam_id, name, category), url in zip(DEMO_CAMERAS, urls, strict=False):
        lines += ["[[cameras]]", f'id = "{cam_id}"', f'name = "{name}"', f'url = "{url}"',
                  f'site_category = "{category}"', f'location = "{name} (simulated camera)"', "signage = true",
                  "expected_bitrate = 3000000", ""]
    return "\n".join(lines)


#: The demo's users, one per role, all with DEMO_PASSWORD (documented in the README; loopback only).
DEMO_USERS = (("maintainer", "maintainer", "DEMO-MNT-1"), ("officer", "officer", "DEMO-PSB-1"),
              ("approver", "approver", "DEMO-PSB-2"), ("auditor", "auditor", "DEMO-AUD-1"),
              ("monitor", "monitor", "DEMO-MON-1"))
DEMO_PASSWORD = "edge-demo-password"


def demo_users(box: Box, data: Path) -> Path:
    """One user per role with a fresh token and the demo password, written to a 0600 file."""
    from edge.access.users import Role
    from storage.register import Actor

    actor = Actor("demo", "admin", "", "cli")
    lines = ["# edge demo users: sign in at the page with a name and the password, or with a token.",
             f"password (every user): {DEMO_PASSWORD}", ""]
    for name, role, cred in DEMO_USERS:
        if box.users.get(name) is None:
            _, token = box.users.add(name, Role(role), cred, created_by="demo")
            box.register.append(actor, "user_add", subject=name, detail={"role": role, "credential_id": cred})
        else:  # a second run: the old tokens were shown once and are gone, so issue new ones
            token = box.users.rotate_token(name)
            box.register.append(actor, "token_rotate", subject=name)
        box.users.set_password(name, DEMO_PASSWORD)
        lines.append(f"{name:<11} role {role:<10} token {token}")
    path = data / "DEMO-CREDENTIALS.txt"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")
    os.chmod(path, 0o600)  # an older file keeps its mode through O_TRUNC
    return path


def cmd_demo(ns: argparse.Namespace) -> int:
    from capture.sim.simulator import Simulator, default_clip_dir, make_clip, simulator_available
    from edge.cli.wiring import build_daemon
    from edge.config import load_config

    missing = simulator_available()
    if missing is not None:
        print("The demo's simulated cameras need GStreamer's RTSP server. Install it once with:", file=sys.stderr)
        print(f"  {missing}", file=sys.stderr)
        return EXIT_FAILED
    data = Path(ns.data)
    data.mkdir(parents=True, exist_ok=True)
    print(f"Preparing simulated camera clips in {default_clip_dir()} (cached after the first run)...",
          flush=True)
    clips = [make_clip(default_clip_dir(), "normal", 1280, 720, fps=25, gop=50, seconds=8.0,
                       bitrate=2_000_000, seed=i) for i in range(ns.cameras)]
    sim = Simulator({f"cam{i + 1}": clip for i, clip in enumerate(clips)}, port=ns.rtsp_port or None)
    sim.start()
    try:
        urls = [sim.url(f"cam{i + 1}") for i in range(ns.cameras)]
        cfg_path = data / "edge.toml"
        cfg_path.write_text(demo_config_text(data, ns.port, urls, ns.segment_seconds), encoding="utf-8")
        cfg = load_config(cfg_path)
        daemon = build_daemon(cfg)
        creds = demo_users(daemon.box, data)
        print(creds.read_text(encoding="utf-8"), flush=True)
        print(f"""
edge demo: recording {ns.cameras} simulated camera(s).
  page:     http://127.0.0.1:{ns.port}/  sign in as maintainer, officer, approver, auditor or monitor,
            password "{DEMO_PASSWORD}" (tokens: {creds})
  footage:  {data.resolve()}/segments/<camera>/<day>/  (first segments within {ns.segment_seconds:g} s)
  config:   {cfg_path}
  health:   http://127.0.0.1:{ns.port}/healthz
  verify:   .venv/bin/edge verify -c {cfg_path}
Ctrl-C stops cleanly.
""", flush=True)
        return daemon.run_forever()
    finally:
        sim.stop()
