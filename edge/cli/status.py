"""`edge status` (the status document for staff at the box) and `edge camera baseline`.

`edge status` asks the local daemon's API when a token is given (`--token` or `$EDGE_TOKEN`):
that is the live picture (worker states, active alarms, image health). Without a token, or when
the daemon does not answer, it reads the index and the store directly; camera states are then
inferred from the newest segment and alarms are the last recorded ones (the output says so).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from typing import TYPE_CHECKING, Any

from edge.cli.common import EXIT_CONFIG, EXIT_FAILED, EXIT_OK, add_config_arg, load_or_report
from edge.config import EdgeConfig

if TYPE_CHECKING:
    from storage.clock import Clock
    from storage.store import SegmentStore


def register(sub: Any) -> None:
    p = sub.add_parser("status", help="box, cameras, alarms and the compliance summary")
    add_config_arg(p)
    p.add_argument("--json", action="store_true", help="print the status document as JSON")
    p.add_argument("--token", default=None, help="API token: ask the running daemon (default: $EDGE_TOKEN)")
    p.set_defaults(func=cmd_status)

    cam = sub.add_parser("camera", help="camera maintenance")
    csub = cam.add_subparsers(dest="camera_command", required=True, metavar="ACTION")
    p = csub.add_parser("baseline", help="commission the camera's current view as its reference (Art. 20(2))")
    add_config_arg(p)
    p.add_argument("camera", metavar="ID")
    p.add_argument("--by", default=os.environ.get("SUDO_USER") or os.environ.get("USER") or "cli",
                   help="who re-commissions (registered)")
    p.add_argument("--credential-id", default="", metavar="WORK_ID", help="their work credential (registered)")
    p.add_argument("--timeout", type=float, default=15.0, help="seconds to wait for a keyframe")
    p.set_defaults(func=cmd_baseline)


def _from_api(cfg: EdgeConfig, token: str) -> dict[str, Any] | None:
    import httpx

    host = "127.0.0.1" if cfg.api.host in ("0.0.0.0", "::", "") else cfg.api.host
    try:
        r = httpx.get(f"http://{host}:{cfg.api.port}/api/v1/status",
                      headers={"Authorization": f"Bearer {token}"}, timeout=5.0)
    except httpx.HTTPError as exc:
        print(f"note: the daemon's API did not answer ({exc}); reading the store directly", file=sys.stderr)
        return None
    if r.status_code != 200:
        print(f"note: the API refused ({r.status_code}: {r.text[:200]}); reading the store directly",
              file=sys.stderr)
        return None
    out: dict[str, Any] = r.json()
    return out


def _from_store(cfg: EdgeConfig) -> dict[str, Any]:
    from edge.app.box import Box
    from edge.monitor.status import build, from_store
    from storage.clock import SystemClock
    from storage.lock import holder
    from storage.store import SegmentStore

    if holder(cfg.storage.root) is None:
        with Box(cfg) as box:
            retention = _retention_status(box.store, cfg, box.clock)
            return build(from_store(cfg, box.store, box.clock, retention)).model_dump(mode="json")
    # Beside a running recorder: the index opened read-only (no lock, no migration, no write).
    clock = SystemClock()
    store = SegmentStore(cfg.storage.root, clock, read_only=True)
    try:
        retention = _retention_status(store, cfg, clock)
        return build(from_store(cfg, store, clock, retention)).model_dump(mode="json")
    finally:
        store.close()


def _retention_status(store: SegmentStore, cfg: EdgeConfig, clock: Clock) -> dict[str, Any] | None:
    from edge.recording.retention import retention_status

    try:
        return retention_status(store, cfg, clock)
    except Exception as exc:  # noqa: BLE001 - the status must print even if that part fails
        print(f"note: retention status unavailable: {exc}", file=sys.stderr)
        return None


def _gb(n: int | None) -> str:
    return "?" if n is None else f"{n / 1e9:.1f} GB"


def render(doc: dict[str, Any]) -> str:
    box, comp, st = doc["box"], doc["compliance"], doc["box"]["storage"]
    lines = [f"{box['name']} ({box['id']})  edge {box['version']}  {box['time']}"]
    if box.get("recorder_running") is False:
        lines.append("  THE RECORDER IS NOT RUNNING: nothing is being recorded (start it: systemctl start edge)")
    elif box["source"] == "index":
        lines.append("  (daemon not asked: states inferred from the index, alarms as last recorded)")
    elif box.get("uptime_seconds") is not None:
        lines.append(f"  up {box['uptime_seconds'] / 3600:.1f} h")
    if box.get("warming_up"):
        lines.append("  (the recorder is still loading its store totals: counts are partial)")
    for step in (box.get("clock") or {}).get("steps", [])[:3]:
        lines.append(f"  clock stepped {step['step_seconds']:+.3f} s at {step['time']}")
    used = st.get("volume_used_bytes")
    total = st.get("volume_total_bytes")
    pct = f" ({100 * used / total:.0f} %)" if used is not None and total else ""
    forecast = st.get("forecast_days")
    lines.append(f"  storage: {_gb(used)} used{pct}, {_gb(st.get('volume_free_bytes'))} free; footage "
                 f"{_gb(st['store_bytes'])} in {st['store_segments']} segments"
                 + (f"; forecast {forecast:.1f} days" if forecast is not None else ""))
    lines.append("")
    lines.append(("COMPLIANCE OK: " if comp["ok"] else "COMPLIANCE AT RISK: ") + comp["summary"])
    for r in comp["risks"]:
        lines.append(f"  [{r['severity']}] {r['message']}")
    lines.append("")
    lines.append(f"{'CAMERA':<16} {'STATE':<13} {'FPS':>5} {'KBIT/S':>8} {'LAST SEGMENT':<21} "
                 f"{'SEGMENTS':>8} {'GAPS 24H':>12}  ALARMS")
    for c in doc["cameras"]:
        fps = f"{c['fps']:.1f}" if c["fps"] else "-"
        kbit = f"{c['bitrate'] / 1000:.0f}" if c["bitrate"] else "-"
        gaps = f"{c['gaps_24h']['count']} / {c['gaps_24h']['seconds']:.0f}s"
        alarms = ", ".join(a["code"] for a in c["alarms"]) or "-"
        state = "not recording" if c["state"] == "unknown" else c["state"]
        lines.append(f"{c['id']:<16} {state:<13} {fps:>5} {kbit:>8} {c['last_segment_end'] or '-':<21} "
                     f"{c['segments']:>8} {gaps:>12}  {alarms}")
    return "\n".join(lines)


def cmd_status(ns: argparse.Namespace) -> int:
    cfg = load_or_report(ns.config)
    if cfg is None:
        return EXIT_CONFIG
    token = ns.token or os.environ.get("EDGE_TOKEN")
    doc = _from_api(cfg, token) if token and cfg.api.enabled else None
    if doc is None:
        doc = _from_store(cfg)
    print(json.dumps(doc, indent=2) if ns.json else render(doc))
    return EXIT_OK if doc["compliance"]["ok"] else EXIT_FAILED


def grab_keyframe(url: str, timeout: float) -> Any:
    """One decoded BGR picture from the camera: the first keyframe of a fresh connection."""
    import av

    from capture.session import open_options

    deadline = time.monotonic() + timeout
    with av.open(url, mode="r", options=open_options(min(timeout, 10.0))) as container:
        video = container.streams.video[0]
        for packet in container.demux(video):
            if time.monotonic() > deadline:
                break
            if not packet.size or not packet.is_keyframe:
                continue
            for frame in packet.decode():
                return frame.to_ndarray(format="bgr24")  # type: ignore[union-attr]
    raise TimeoutError(f"no keyframe within {timeout:g} s")


def cmd_baseline(ns: argparse.Namespace) -> int:
    cfg = load_or_report(ns.config)
    if cfg is None:
        return EXIT_CONFIG
    try:
        cam = cfg.camera(ns.camera)
    except KeyError:
        print(f"unknown camera '{ns.camera}' (configured: {', '.join(c.id for c in cfg.cameras) or 'none'})",
              file=sys.stderr)
        return EXIT_CONFIG
    from capture.redact import redact_text
    from edge.app.box import Box
    from edge.monitor.image_health import commission
    from edge.monitor.references import PICTURE_WIDTH
    from storage.register import Actor

    try:
        picture = grab_keyframe(cam.url, ns.timeout)
    except Exception as exc:  # noqa: BLE001 - any failure to get a picture is reported the same way
        print(f"camera {cam.id}: no picture: {redact_text(str(exc))}", file=sys.stderr)
        return EXIT_FAILED
    import cv2

    if picture.shape[1] > PICTURE_WIDTH:
        h = round(picture.shape[0] * PICTURE_WIDTH / picture.shape[1])
        picture = cv2.resize(picture, (PICTURE_WIDTH, h), interpolation=cv2.INTER_AREA)
    with Box(cfg) as box:
        actor = Actor(ns.by, "maintainer", ns.credential_id, "cli")
        info = commission(box.store.layout, box.register, box.clock, cam.id, picture, automatic=False,
                          set_by=ns.by, actor=actor)
    print(f"camera {cam.id}: reference view set ({info.width}x{info.height}) -> {info.path}")
    print("the running daemon picks it up at its next health check; registered as baseline_set")
    return EXIT_OK
