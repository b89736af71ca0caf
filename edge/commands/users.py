"""user add/list/disable/enable and token rotate: administration at the box (the admin's CLI)."""

from __future__ import annotations

import argparse
import getpass
from typing import Any

from edge.commands import EXIT_CONFIG, EXIT_FAILED, EXIT_OK, add_config_arg, load_or_report
from edge.register import Actor
from edge.users import Role


def register(sub: Any) -> None:
    user = sub.add_parser("user", help="manage API users (roles, work credentials, tokens)")
    usub = user.add_subparsers(dest="user_command", required=True, metavar="ACTION")
    p = usub.add_parser("add", help="create a user; prints its API token alone on the last line (shown once)")
    add_config_arg(p)
    p.add_argument("name")
    p.add_argument("--role", required=True, choices=[r.value for r in Role])
    p.add_argument("--credential-id", required=True, metavar="WORK_ID", help="work credential number (Art. 18)")
    p.add_argument("--password", action="store_true", help="also set a password for the web login (prompted)")
    p.set_defaults(func=cmd_user_add)
    p = usub.add_parser("list", help="list users")
    add_config_arg(p)
    p.set_defaults(func=cmd_user_list)
    for action in ("disable", "enable"):
        p = usub.add_parser(action, help=f"{action} a user")
        add_config_arg(p)
        p.add_argument("name")
        p.set_defaults(func=cmd_user_disable, disable=action == "disable")

    token = sub.add_parser("token", help="API tokens")
    tsub = token.add_subparsers(dest="token_command", required=True, metavar="ACTION")
    p = tsub.add_parser("rotate", help="issue a new token for a user (the old one stops working)")
    add_config_arg(p)
    p.add_argument("name")
    p.set_defaults(func=cmd_token_rotate)


def _open(ns: argparse.Namespace) -> Any:
    cfg = load_or_report(ns.config)
    if cfg is None:
        return None
    from edge.clock import SystemClock
    from edge.register import AccessRegister
    from edge.users import UserStore
    from storage.store import SegmentStore

    store = SegmentStore(cfg.storage.root, SystemClock())
    users = UserStore(store.index, store.clock, cfg.access.auth_failures_per_minute)
    register_ = AccessRegister(store.index, store.clock)
    return store, users, register_


CLI_ADMIN = Actor(getpass.getuser(), "admin", "", "cli")


def cmd_user_add(ns: argparse.Namespace) -> int:
    opened = _open(ns)
    if opened is None:
        return EXIT_CONFIG
    store, users, reg = opened
    try:
        try:
            user, token = users.add(ns.name, Role(ns.role), ns.credential_id, created_by=CLI_ADMIN.name)
        except ValueError as exc:
            print(f"error: {exc}")
            return EXIT_FAILED
        if ns.password:
            users.set_password(ns.name, getpass.getpass(f"password for {ns.name}: "))
        reg.append(CLI_ADMIN, "user_add", subject=user.name,
                   detail={"role": user.role.value, "credential_id": user.credential_id})
        print(f"user '{user.name}' created with role {user.role.value} (credential {user.credential_id}).")
        print("API token (shown once, store it now):")
        print(token)
        return EXIT_OK
    finally:
        store.close()


def cmd_user_list(ns: argparse.Namespace) -> int:
    opened = _open(ns)
    if opened is None:
        return EXIT_CONFIG
    store, users, _ = opened
    try:
        for u in users.list():
            print(f"{u.name}\t{u.role.value}\t{u.credential_id}\t{'disabled' if u.disabled else 'active'}")
        return EXIT_OK
    finally:
        store.close()


def cmd_user_disable(ns: argparse.Namespace) -> int:
    opened = _open(ns)
    if opened is None:
        return EXIT_CONFIG
    store, users, reg = opened
    try:
        try:
            users.set_disabled(ns.name, ns.disable)
        except KeyError:
            print(f"error: no user '{ns.name}'")
            return EXIT_FAILED
        reg.append(CLI_ADMIN, "user_disable" if ns.disable else "user_enable", subject=ns.name)
        print(f"user '{ns.name}' {'disabled' if ns.disable else 'enabled'}")
        return EXIT_OK
    finally:
        store.close()


def cmd_token_rotate(ns: argparse.Namespace) -> int:
    opened = _open(ns)
    if opened is None:
        return EXIT_CONFIG
    store, users, reg = opened
    try:
        try:
            token = users.rotate_token(ns.name)
        except KeyError:
            print(f"error: no user '{ns.name}'")
            return EXIT_FAILED
        reg.append(CLI_ADMIN, "token_rotate", subject=ns.name)
        print(f"new token for '{ns.name}' (the old one no longer works):")
        print(token)
        return EXIT_OK
    finally:
        store.close()
