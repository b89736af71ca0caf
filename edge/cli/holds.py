"""hold add/list/release: flag footage important to public safety (Art. 19(8)) at the box.

`hold release` is the two-person early release (edge/access/hold_release.py), as the API and the
page do it: an officer asks (reason, approval document), then a different approver approves or
denies. Each person proves who they are with their own API token (prompted, or --token-file),
so the shell user is never the second person.
"""

from __future__ import annotations

import argparse
import getpass
from datetime import datetime
from typing import Any

from edge.cli.common import EXIT_CONFIG, EXIT_OK, add_config_arg, load_or_report
from storage.clock import datetime_to_us
from storage.register import Actor


def register(sub: Any) -> None:
    hold = sub.add_parser("hold", help="holds: keep flagged footage at least hold_days (Art. 19(8))")
    hsub = hold.add_subparsers(dest="hold_command", required=True, metavar="ACTION")
    p = hsub.add_parser("add", help="hold a time range of one camera (or all) for a case")
    add_config_arg(p)
    which = p.add_mutually_exclusive_group(required=True)
    which.add_argument("--camera", metavar="ID", help="the camera whose footage is held")
    which.add_argument("--all", action="store_true", help="hold the range on every camera")
    p.add_argument("--start", required=True, metavar="ISO", help="start, ISO 8601 with a timezone (…Z or +08:00)")
    p.add_argument("--end", required=True, metavar="ISO", help="end, ISO 8601 with a timezone")
    p.add_argument("--reason", required=True, metavar="TEXT", help="why the footage matters")
    p.add_argument("--case", required=True, metavar="NO", help="case number")
    p.set_defaults(func=cmd_hold_add)
    p = hsub.add_parser("list", help="list holds in force (--all: released and expired ones too)")
    add_config_arg(p)
    p.add_argument("--all", action="store_true", help="include released and expired holds")
    p.set_defaults(func=cmd_hold_list)
    p = hsub.add_parser("release", help="two-person early release: an officer asks, another approver decides")
    add_config_arg(p)
    p.add_argument("hold_id", type=int, metavar="HOLD", help="the hold's number")
    step = p.add_mutually_exclusive_group(required=True)
    step.add_argument("--request", action="store_true", help="ask for the release (officer's token)")
    step.add_argument("--approve", action="store_true", help="approve the pending release (approver's token)")
    step.add_argument("--deny", metavar="REASON", help="deny the pending release (approver's token)")
    p.add_argument("--reason", metavar="TEXT", help="why the hold may end early (with --request)")
    p.add_argument("--doc-number", metavar="NO", help="approval document number (with --request)")
    p.add_argument("--doc-issued-by", metavar="UNIT", help="who issued the approval document")
    p.add_argument("--doc-issued-on", metavar="YYYY-MM-DD", help="when it was issued")
    p.add_argument("--token-file", type=argparse.FileType("r"), metavar="PATH",
                   help="read your API token from this file (default: prompt)")
    p.set_defaults(func=cmd_hold_release)


def parse_time(text: str, what: str) -> int:
    try:
        dt = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"--{what}: '{text}' is not an ISO 8601 time (e.g. 2025-03-01T08:00:00+08:00)") from None
    if dt.tzinfo is None:
        raise ValueError(f"--{what}: '{text}' has no timezone; add Z (UTC) or an offset such as +08:00")
    return datetime_to_us(dt)


def cmd_hold_add(ns: argparse.Namespace) -> int:
    cfg = load_or_report(ns.config)
    if cfg is None:
        return EXIT_CONFIG
    try:
        start, end = parse_time(ns.start, "start"), parse_time(ns.end, "end")
    except ValueError as exc:
        print(f"error: {exc}")
        return EXIT_CONFIG
    from edge.access.workflow import WorkflowError
    from edge.app.box import Box
    from storage.clock import iso

    with Box(cfg) as box:
        known = box.known_cameras()
        if ns.camera is not None and ns.camera not in known:
            print(f"error: unknown camera '{ns.camera}' (known: {', '.join(sorted(known)) or 'none'})")
            return EXIT_CONFIG
        user = getpass.getuser()
        # The hold's creator is the box's shell user, marked as such (there is no work credential).
        actor = Actor(f"cli:{user}", "admin", "", "cli")
        try:
            hold = box.hold_placement.place(actor, None if ns.all else ns.camera, start, end, ns.reason, ns.case,
                                            source="cli")
        except WorkflowError as exc:
            print(f"error: {exc.reason}")
            return EXIT_CONFIG
        print(f"hold #{hold.id} created on {hold.camera or 'all cameras'} from {iso(hold.start_us)} to"
              f" {iso(hold.end_us)} (case {hold.case_number}); kept until {iso(hold.expires_us)}")
        return EXIT_OK


def cmd_hold_list(ns: argparse.Namespace) -> int:
    cfg = load_or_report(ns.config)
    if cfg is None:
        return EXIT_CONFIG
    from edge.app.box import Box
    from storage.clock import iso

    with Box(cfg) as box:
        now = box.clock.now_us()
        rows = box.holds.list(include_inactive=ns.all)
        for h in rows:
            state = ("released by " + (h.released_by or "?")) if not h.active else (
                "in force" if h.in_force(now) else "expired")
            print(f"#{h.id}\t{h.camera or '*'}\t{iso(h.start_us)}\t{iso(h.end_us)}\tcase {h.case_number}\t"
                  f"until {iso(h.expires_us)}\t{state}\t{h.source}\t{h.created_by}\t{h.reason}")
        print(f"{len(rows)} hold(s)")
        return EXIT_OK


def cmd_hold_release(ns: argparse.Namespace) -> int:
    cfg = load_or_report(ns.config)
    if cfg is None:
        return EXIT_CONFIG
    if ns.request and not (ns.reason and ns.doc_number and ns.doc_issued_by and ns.doc_issued_on):
        print("error: --request needs --reason, --doc-number, --doc-issued-by and --doc-issued-on")
        return EXIT_CONFIG
    token = (ns.token_file.read() if ns.token_file else getpass.getpass("your API token: ")).strip()
    from edge.access.users import Role
    from edge.access.workflow import WorkflowError
    from edge.app.box import Box
    from storage.clock import iso

    with Box(cfg) as box:
        user = box.users.by_token(token)
        if user is None:
            box.register.append(Actor("anonymous", "none", "", "cli"), "auth_failure", result="refused",
                                detail={"reason": "invalid token", "command": "hold release"})
            print("error: that token belongs to no enabled user")
            return EXIT_CONFIG
        actor = Actor(user.name, user.role.value, user.credential_id, "cli")
        try:
            if ns.request:
                if user.role is not Role.OFFICER:
                    print(f"error: asking for a release is for officers, not {user.role.value}")
                    return EXIT_CONFIG
                doc = {"number": ns.doc_number, "issued_by": ns.doc_issued_by, "issued_on": ns.doc_issued_on,
                       "sha256": None}
                rel = box.hold_releases.request(ns.hold_id, actor, ns.reason, doc)
                print(f"release of hold #{ns.hold_id} requested (request {rel.id}); it waits for a different "
                      f"approver until {iso(rel.expires_us)}")
            elif ns.approve:
                hold = box.hold_releases.approve(ns.hold_id, user, actor)
                print(f"hold #{hold.id} released by {user.name}")
            else:
                box.hold_releases.deny(ns.hold_id, user, actor, ns.deny)
                print(f"release of hold #{ns.hold_id} denied")
        except WorkflowError as exc:
            print(f"error: {exc.reason}")
            return EXIT_CONFIG
    return EXIT_OK
