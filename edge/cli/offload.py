"""`edge offload status`: what of the held evidence is in the bucket, what waits, and why.

Reads the offload queue in the index (works with the daemon running or not); nothing is sent to
the bucket from here.
"""

from __future__ import annotations

import argparse
import json
from datetime import UTC, datetime
from typing import Any

from edge.cli.common import EXIT_CONFIG, EXIT_OK, add_config_arg, load_or_report


def register(sub: Any) -> None:
    p = sub.add_parser("offload", help="evidence offload to S3 Object Lock storage")
    osub = p.add_subparsers(dest="offload_command", required=True, metavar="ACTION")
    s = osub.add_parser("status", help="what is in the bucket, what waits and the last errors")
    add_config_arg(s)
    s.add_argument("--json", action="store_true", help="print the summary as JSON")
    s.add_argument("--list", type=int, default=0, metavar="N", help="also list the newest N objects")
    s.set_defaults(func=cmd_offload_status)


def _iso(us: int | None) -> str:
    return datetime.fromtimestamp(us / 1e6, UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if us else "-"


def offload_summary(cfg: Any, listing: int = 0) -> dict[str, Any]:
    from edge.app.box import Box
    from edge.offload.queue import OffloadQueue

    with Box(cfg) as box:
        index = box.store.index
        queue = OffloadQueue(index)
        out: dict[str, Any] = {"enabled": cfg.offload.enabled, "endpoint": cfg.offload.endpoint_url or
                               f"aws:{cfg.offload.region}", "bucket": cfg.offload.bucket,
                               "prefix": f"{cfg.offload.prefix}{cfg.box.id}/"}
        out |= queue.summary(box.clock.now_us())
        if listing:
            rows = index.reader().execute(
                "SELECT source, key, state, bytes, retain_until_us, version_id, sha256, attempts, last_error"
                " FROM offload_queue ORDER BY id DESC LIMIT ?", (listing,))
            out["objects"] = [{"source": r[0], "key": r[1], "state": r[2], "bytes": r[3], "retain_until": _iso(r[4]),
                               "version_id": r[5], "sha256": r[6], "attempts": r[7], "last_error": r[8]}
                              for r in rows]
        return out


def cmd_offload_status(ns: argparse.Namespace) -> int:
    cfg = load_or_report(ns.config)
    if cfg is None:
        return EXIT_CONFIG
    if not (cfg.storage.root / "index.sqlite3").exists():
        print(f"no store at {cfg.storage.root}")
        return EXIT_CONFIG
    s = offload_summary(cfg, ns.list)
    if ns.json:
        print(json.dumps(s, indent=2, sort_keys=True))
        return EXIT_OK
    print(f"offload: {'enabled' if s['enabled'] else 'off'}; bucket {s['bucket'] or '-'} at {s['endpoint']},"
          f" keys under {s['prefix']}")
    print(f"in the bucket (verified, locked): {s['uploaded_objects']} object(s), {s['uploaded_bytes']} bytes;"
          f" last {_iso(s['last_success_us'])}")
    waiting = ", ".join(f"{k} {n}" for k, n in sorted(s["pending_by_kind"].items())) or "nothing"
    print(f"waiting: {waiting} ({s['pending_bytes']} bytes); oldest since {_iso(s['oldest_pending_us'])}"
          f" ({s['lag_seconds']:.0f} s)")
    for kind, states in sorted(s["by_kind"].items()):
        print(f"  {kind}: " + ", ".join(f"{st} {n}" for st, n in sorted(states.items())))
    for e in s["recent_errors"]:
        print(f"  error {e['source']} (attempt {e['attempts']}): {e['error']}")
    for o in s.get("objects", []):
        print(f"  {o['state']:8} {o['key']}  until {o['retain_until']}  v={o['version_id'] or '-'}")
    return EXIT_OK
