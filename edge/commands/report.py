"""report filing: the Art. 15 filing pack (JSON, HTML, PDF) for the police."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from edge.commands import EXIT_CONFIG, EXIT_OK, add_config_arg, load_or_report


def register(sub: Any) -> None:
    report = sub.add_parser("report", help="documents for the authorities")
    rsub = report.add_subparsers(dest="report_command", required=True, metavar="REPORT")
    p = rsub.add_parser("filing", help="the filing pack (Art. 15): filing.json, filing.html and filing.pdf")
    add_config_arg(p)
    p.add_argument("-o", "--output", required=True, metavar="DIR", help="directory to write the pack into")
    p.add_argument("--no-pictures", action="store_true", help="leave the cameras' reference pictures out")
    p.set_defaults(func=cmd_filing)


def cmd_filing(ns: argparse.Namespace) -> int:
    cfg = load_or_report(ns.config)
    if cfg is None:
        return EXIT_CONFIG
    from edge.clock import SystemClock
    from edge.report import PackInputs, build_pack, write_pack
    from storage.holds import HoldStore
    from storage.signing import load_or_create
    from storage.store import SegmentStore

    clock = SystemClock()
    store = SegmentStore(cfg.storage.root, clock)
    try:
        # The same device key the daemon signs exports with (created here if the box never ran).
        key = load_or_create(store.layout.keys_dir)
        holds = HoldStore(store.index, clock, cfg.retention.hold_days).in_force()
        pack = build_pack(PackInputs(cfg, store.index, store.layout, clock.now_us(), holds, key))
        paths = write_pack(pack, Path(ns.output), store.layout, with_pictures=not ns.no_pictures)
    finally:
        store.close()
    s = pack["storage"]
    days = "unlimited" if s["forecast_days"] is None else f"{s['forecast_days']:g}"
    print(f"filing pack for box {pack['box']['id']}: {len(pack['cameras'])} camera(s), forecast {days} days "
          f"(floor {s['min_days']:g})")
    for line in pack["checks"]:
        print(f"  open point: {line}")
    for kind, path in paths.items():
        print(f"  {kind}: {path}")
    return EXIT_OK
