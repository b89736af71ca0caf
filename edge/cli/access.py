"""key show, audit export, verify-export, export status/download (an API client with a token)."""

from __future__ import annotations

import argparse
import getpass
import json
import os
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx

from edge.cli.common import EXIT_CONFIG, EXIT_FAILED, EXIT_OK, add_config_arg, load_or_report
from edge.config import EdgeConfig

TERMINAL = {"ready", "failed", "denied", "expired"}


def register(sub: Any) -> None:
    key = sub.add_parser("key", help="the device signing key (Ed25519)")
    ksub = key.add_subparsers(dest="key_command", required=True, metavar="ACTION")
    p = ksub.add_parser("show", help="print the public key (PEM) and its fingerprint; creates the key if missing")
    add_config_arg(p)
    p.set_defaults(func=cmd_key_show)

    audit = sub.add_parser("audit", help="the access register")
    asub = audit.add_subparsers(dest="audit_command", required=True, metavar="ACTION")
    p = asub.add_parser("export", help="write the register as JSON lines (registered itself)")
    add_config_arg(p)
    p.add_argument("-o", "--output", metavar="FILE", help="write here instead of stdout")
    p.add_argument("--since", metavar="TIME", help="RFC 3339 time, e.g. 2026-11-28T00:00:00Z")
    p.add_argument("--until", metavar="TIME")
    p.add_argument("--action", action="append", default=[], help="only this action (repeatable)")
    p.set_defaults(func=cmd_audit_export)

    p = sub.add_parser("verify-export", help="check an export bundle's signature, hashes and chain links")
    p.add_argument("bundle", metavar="BUNDLE", help="bundle directory or zip")
    trust = p.add_mutually_exclusive_group()
    trust.add_argument("--public-key", metavar="PEM", help="the device public key recorded when the device was "
                                                           "registered (the only key trusted)")
    trust.add_argument("--fingerprint", metavar="SHA256:HEX", help="trust the key inside the bundle only if it has "
                                                                   "this fingerprint (`edge key show` on the box)")
    p.set_defaults(func=cmd_verify_export)

    exp = sub.add_parser("export", help="follow or download an export through the API")
    esub = exp.add_subparsers(dest="export_command", required=True, metavar="ACTION")
    for name, func, helptext in (("status", cmd_export_status, "state and progress (--follow: until done)"),
                                 ("download", cmd_export_download, "download the bundle zip (registered)")):
        p = esub.add_parser(name, help=helptext)
        add_config_arg(p)
        p.add_argument("id", type=int)
        p.add_argument("--token", help="API token (default: $EDGE_TOKEN, else prompted)")
        p.add_argument("--url", help="API base URL (default: from the config's [api] section)")
        if name == "status":
            p.add_argument("--follow", action="store_true", help="poll with a progress bar until it ends")
            p.add_argument("--interval", type=float, default=1.0, help=argparse.SUPPRESS)
        else:
            p.add_argument("-o", "--output", metavar="FILE", help="default: export-ID.zip")
        p.set_defaults(func=func)


def cmd_key_show(ns: argparse.Namespace) -> int:
    cfg = load_or_report(ns.config)
    if cfg is None:
        return EXIT_CONFIG
    from edge.app.box import Box

    with Box(cfg) as box:
        key = box.device_key
    print(key.public_pem, end="")
    print(f"fingerprint: {key.fingerprint}")
    return EXIT_OK


def _time_us(text: str | None) -> int | None:
    if text is None:
        return None
    from storage.clock import datetime_to_us

    return datetime_to_us(datetime.fromisoformat(text.replace("Z", "+00:00")))


def cmd_audit_export(ns: argparse.Namespace) -> int:
    cfg = load_or_report(ns.config)
    if cfg is None:
        return EXIT_CONFIG
    from edge.app.box import Box
    from storage.register import ACTIONS, Actor, Query

    try:
        since, until = _time_us(ns.since), _time_us(ns.until)
    except ValueError as exc:
        print(f"error: --since/--until: {exc} (use e.g. 2026-11-28T00:00:00Z)", file=sys.stderr)
        return EXIT_CONFIG
    unknown = sorted(set(ns.action) - ACTIONS)
    if unknown:
        print(f"error: unknown action(s) {', '.join(unknown)}; known: {', '.join(sorted(ACTIONS))}", file=sys.stderr)
        return EXIT_CONFIG
    with Box(cfg) as box:
        reg = box.register
        out = open(ns.output, "w", encoding="utf-8") if ns.output else sys.stdout  # noqa: SIM115
        n, after = 0, 0
        try:
            while True:
                page = reg.query(Query(since_us=since, until_us=until, actions=ns.action, limit=1000, after_id=after))
                for e in page:
                    out.write(json.dumps(e.to_json(), ensure_ascii=False, sort_keys=True) + "\n")
                n += len(page)
                if len(page) < 1000:
                    break
                after = page[-1].id
        finally:
            if out is not sys.stdout:
                out.close()
        reg.append(Actor(getpass.getuser(), "admin", "", "cli"), "register_export",
                   detail={"entries": n, "output": ns.output or "<stdout>", "actions": ns.action})
    print(f"{n} register entries written", file=sys.stderr)
    return EXIT_OK


def cmd_verify_export(ns: argparse.Namespace) -> int:
    from edge.access.bundle import verify_bundle

    pem = Path(ns.public_key).read_bytes() if ns.public_key else None
    report = verify_bundle(Path(ns.bundle), pem, ns.fingerprint)
    for line in report.checked:
        print(f"ok: {line}")
    for line in report.problems:
        print(f"FAILED: {line}")
    if report.ok:
        how = "the given key" if ns.public_key else "a key with the confirmed fingerprint"
        print(f"BUNDLE INTACT: signed by {report.fingerprint} ({how})")
        return EXIT_OK
    print(f"BUNDLE NOT VERIFIED: {len(report.problems)} problem(s)")
    return EXIT_FAILED


# -- API client -------------------------------------------------------------------------------------
def _client(ns: argparse.Namespace) -> tuple[httpx.Client, EdgeConfig] | None:
    cfg = load_or_report(ns.config)
    if cfg is None:
        return None
    token = ns.token or os.environ.get("EDGE_TOKEN") or getpass.getpass("API token: ")
    host = "127.0.0.1" if cfg.api.host in ("0.0.0.0", "::") else cfg.api.host
    url = ns.url or f"http://{host}:{cfg.api.port}"
    return httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=30.0), cfg


def _bar(pct: float, width: int = 30) -> str:
    filled = int(width * pct / 100)
    return "[" + "#" * filled + "." * (width - filled) + f"] {pct:5.1f}%"


def cmd_export_status(ns: argparse.Namespace) -> int:
    opened = _client(ns)
    if opened is None:
        return EXIT_CONFIG
    client, _ = opened
    tty = sys.stdout.isatty()
    with client:
        while True:
            try:
                r = client.get(f"/api/v1/exports/{ns.id}")
            except httpx.HTTPError as exc:
                print(f"error: cannot reach the API: {exc}", file=sys.stderr)
                return EXIT_FAILED
            if r.status_code != 200:
                print(f"error: {r.status_code}: {r.json().get('detail', r.text)}", file=sys.stderr)
                return EXIT_FAILED
            e = r.json()
            line = f"export {e['id']}: {e['state']:<9} {_bar(e['progress'])}"
            if not ns.follow or e["state"] in TERMINAL or e["state"] == "pending":
                print(("\r" if tty and ns.follow else "") + line + (f"  {e['error']}" if e["error"] else ""))
                return EXIT_OK if e["state"] not in ("failed",) else EXIT_FAILED
            print(("\r" + line) if tty else line, end="" if tty else "\n", flush=True)
            time.sleep(ns.interval)


def cmd_export_download(ns: argparse.Namespace) -> int:
    opened = _client(ns)
    if opened is None:
        return EXIT_CONFIG
    client, _ = opened
    out = Path(ns.output or f"export-{ns.id}.zip")
    tmp = out.with_name(out.name + ".part")
    with client, client.stream("GET", f"/api/v1/exports/{ns.id}/download") as r:
        if r.status_code != 200:
            r.read()
            print(f"error: {r.status_code}: {r.json().get('detail', r.text)}", file=sys.stderr)
            return EXIT_FAILED
        with open(tmp, "wb") as f:
            for chunk in r.iter_bytes():
                f.write(chunk)
    os.replace(tmp, out)
    print(f"wrote {out} ({out.stat().st_size} bytes); check it with: edge verify-export {out}")
    return EXIT_OK
