"""run, check, verify, categories."""

from __future__ import annotations

import argparse
import sqlite3
import sys
from pathlib import Path
from typing import Any

from capture.redact import redact_url
from edge import legal
from edge.cli.common import EXIT_CONFIG, EXIT_FAILED, EXIT_OK, add_config_arg, load_or_report


def register(sub: Any) -> None:
    p = sub.add_parser("run", help="run the recording daemon")
    add_config_arg(p)
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("check", help="validate a configuration file")
    add_config_arg(p)
    p.set_defaults(func=cmd_check)

    p = sub.add_parser("verify", help="re-hash every segment and check the hash chains")
    add_config_arg(p)
    p.add_argument("--camera", metavar="ID", help="only this camera")
    p.add_argument("--checkpoints", metavar="FILE_OR_URL",
                   help="signed checkpoints archived off the box (JSON or JSON lines; a URL is read with"
                        " the bearer token in $EDGE_API_TOKEN)")
    p.add_argument("--public-key", metavar="PEM", type=Path, help="the device key to trust (default: the"
                   " archive's, else the box's)")
    p.set_defaults(func=cmd_verify)

    p = sub.add_parser("categories", help="list the Art. 9 site categories and the Art. 10 prohibited ones")
    p.set_defaults(func=cmd_categories)


def cmd_run(ns: argparse.Namespace) -> int:
    cfg = load_or_report(ns.config)
    if cfg is None:
        return EXIT_CONFIG
    from edge.cli.wiring import build_daemon
    from storage.lock import StoreLock, StoreLocked

    try:
        # Before the index is opened at all: a second instance must not even create its tables.
        lock = StoreLock(cfg.storage.root).acquire()
    except StoreLocked as exc:
        print(f"edge run: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    return build_daemon(cfg, lock=lock).run_forever()


def cmd_check(ns: argparse.Namespace) -> int:
    cfg = load_or_report(ns.config)
    if cfg is None:
        return EXIT_CONFIG
    enabled = [c for c in cfg.cameras if c.enabled]
    print(f"{ns.config}: OK")
    print(f"  storage: {cfg.storage.root} (segments of {cfg.storage.segment_seconds:g} s)")
    r = cfg.retention
    print(f"  retention: at least {r.min_days:g} days, holds {r.hold_days:g} days, on_full={r.on_full}")
    print(f"  api: {cfg.api.host}:{cfg.api.port}" if cfg.api.enabled else "  api: disabled")
    print(f"  cameras: {len(cfg.cameras)} ({len(enabled)} enabled)")
    for c in cfg.cameras:
        state = "enabled" if c.enabled else "disabled"
        print(f"    {c.id}: {c.name or '-'} [{c.site_category}] {redact_url(c.url)} ({state})")
    from edge.recording.capacity import check_forecast_lines

    for line in check_forecast_lines(cfg):
        print(f"  {line}")
    return EXIT_OK


def cmd_verify(ns: argparse.Namespace) -> int:
    cfg = load_or_report(ns.config)
    if cfg is None:
        return EXIT_CONFIG
    from edge.cli.verify_integrity import ArchiveError, check_integrity, load_archive, trusted_key
    from storage.checkpoint_verify import wanted_positions
    from storage.checkpoints import since
    from storage.clock import SystemClock
    from storage.store import SegmentStore
    from storage.verify import verify_store

    archive, archived_key = None, None
    if ns.checkpoints is not None:
        try:
            archive, archived_key = load_archive(ns.checkpoints)
        except ArchiveError as exc:
            print(f"cannot read the checkpoints: {exc}")
            return EXIT_CONFIG
    try:
        # Read-only: verify creates nothing and changes nothing in the store it judges.
        store = SegmentStore(cfg.storage.root, SystemClock(), read_only=True)
    except (FileNotFoundError, sqlite3.Error) as exc:
        print(f"cannot open the store read-only: {exc}")
        return EXIT_CONFIG
    try:
        if ns.camera is not None and ns.camera not in {c.id for c in cfg.cameras} | set(store.index.cameras()):
            print(f"unknown camera '{ns.camera}'")
            return EXIT_CONFIG
        from storage.register import verify_register
        from storage.retention_check import unrecorded_deletes

        # The access register is box-wide: checked on a full verify, not a per-camera one.
        checks = [] if ns.camera is not None else [lambda: verify_register(store.index)]
        # Every row retention marked deleted must be named in the (verified) register.
        checks.append(lambda: [line for line in unrecorded_deletes(store.index)
                               if ns.camera is None or line.startswith(f"UNRECORDED DELETE {ns.camera} #")])
        from storage.retention_check import deletes_under_floor

        checks.append(lambda: deletes_under_floor(store.index, legal.MIN_RETENTION_DAYS))
        own = since(store.index.reader(), 0, 0, 2**62)
        report = verify_store(store, ns.camera, checks, wanted_positions([*own, *(archive or [])]))
        # One camera's verify checks that camera's heads against the checkpoints too: a truncation
        # of its chain must not pass because the auditor asked about it alone.
        check_integrity(cfg, store, report, archive, own, trusted_key(store, archived_key, ns.public_key, report),
                        camera=ns.camera)
    finally:
        store.close()
    for line in report.problems:
        print(line)
    for line in report.notes:
        print(f"note: {line}")
    verdict = "INTACT" if report.ok else f"FAILED: {len(report.problems)} problem(s)"
    print(f"{verdict}: {report.cameras} camera(s), {report.rows} chain link(s), "
          f"{report.segments_checked} segment(s) re-hashed ({report.bytes_checked} bytes), "
          f"{report.deleted_by_retention} deleted by retention")
    return EXIT_FAILED if report.problems else EXIT_OK


def cmd_categories(ns: argparse.Namespace) -> int:
    print("Allowed (Art. 9):")
    for c in sorted(legal.ALLOWED_SITE_CATEGORIES):
        print(f"  {c}")
    print("Prohibited (Art. 10):")
    for c, why in sorted(legal.PROHIBITED_SITE_CATEGORIES.items()):
        print(f"  {c}: {why}")
    return EXIT_OK
