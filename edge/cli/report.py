"""report filing: the Art. 15 filing pack (JSON, HTML, PDF) for the police."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from edge.cli.common import EXIT_CONFIG, EXIT_OK, add_config_arg, load_or_report


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
    from edge.app.box import Box
    from edge.i18n import Localizer
    from edge.reports.filing import PackInputs, build_pack, write_pack

    with Box(cfg) as box:
        # The same device key the daemon signs exports with (created here if the box never ran).
        store = box.store
        pack = build_pack(PackInputs(cfg, store.index, store.layout, box.clock.now_us(), box.holds.in_force(),
                                     box.device_key))
        paths = write_pack(pack, Path(ns.output), store.layout, with_pictures=not ns.no_pictures,
                           loc=Localizer(cfg.box.language, cfg.box.timezone))
    s = pack["storage"]
    days = "unlimited" if s["forecast_days"] is None else f"{s['forecast_days']:g}"
    print(f"filing pack for box {pack['box']['id']}: {len(pack['cameras'])} camera(s), forecast {days} days "
          f"(floor {s['min_days']:g})")
    for line in pack["checks"]:
        print(f"  open point: {line}")
    for kind, path in paths.items():
        print(f"  {kind}: {path}")
    return EXIT_OK
