"""user add/list/disable/enable and token rotate: administration at the box (the admin's CLI)."""

from __future__ import annotations

import argparse
import getpass
import sqlite3
from collections.abc import Callable
from typing import Any

from edge.access.users import Role, User
from edge.app.box import Box
from edge.cli.common import EXIT_CONFIG, EXIT_FAILED, EXIT_OK, add_config_arg, load_or_report
from storage.register import Actor


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


def _admin_command(body: Callable[[argparse.Namespace, Box], int]) -> Callable[[argparse.Namespace], int]:
    """Load the config (exit 2 when refused), open the stores, run `body`, always close."""

    def run(ns: argparse.Namespace) -> int:
        cfg = load_or_report(ns.config)
        if cfg is None:
            return EXIT_CONFIG
        with Box(cfg) as box:
            return body(ns, box)

    return run


CLI_ADMIN = Actor(getpass.getuser(), "admin", "", "cli")


@_admin_command
def cmd_user_add(ns: argparse.Namespace, admin: Box) -> int:
    password = getpass.getpass(f"password for {ns.name}: ") if ns.password else None

    def registered(c: sqlite3.Connection, user: User) -> None:
        # In the user's own transaction: a user exists only with its register entry.
        admin.register.append_in(c, CLI_ADMIN, "user_add", subject=user.name,
                                 detail={"role": user.role.value, "credential_id": user.credential_id,
                                         "password": password is not None})

    try:
        user, token = admin.users.add(ns.name, Role(ns.role), ns.credential_id, created_by=CLI_ADMIN.name,
                                      password=password, on_created=registered)
    except ValueError as exc:
        print(f"error: {exc} (nothing was created)")
        return EXIT_FAILED
    print(f"user '{user.name}' created with role {user.role.value} (credential {user.credential_id}).")
    print("API token (shown once, store it now):")
    print(token)
    return EXIT_OK


@_admin_command
def cmd_user_list(ns: argparse.Namespace, admin: Box) -> int:
    for u in admin.users.list():
        print(f"{u.name}\t{u.role.value}\t{u.credential_id}\t{'disabled' if u.disabled else 'active'}")
    return EXIT_OK


@_admin_command
def cmd_user_disable(ns: argparse.Namespace, admin: Box) -> int:
    try:
        admin.users.set_disabled(ns.name, ns.disable)
    except KeyError:
        print(f"error: no user '{ns.name}'")
        return EXIT_FAILED
    admin.register.append(CLI_ADMIN, "user_disable" if ns.disable else "user_enable", subject=ns.name)
    print(f"user '{ns.name}' {'disabled' if ns.disable else 'enabled'}")
    return EXIT_OK


@_admin_command
def cmd_token_rotate(ns: argparse.Namespace, admin: Box) -> int:
    try:
        token = admin.users.rotate_token(ns.name)
    except KeyError:
        print(f"error: no user '{ns.name}'")
        return EXIT_FAILED
    admin.register.append(CLI_ADMIN, "token_rotate", subject=ns.name)
    print(f"new token for '{ns.name}' (the old one no longer works; its web sessions have ended):")
    print(token)
    return EXIT_OK
