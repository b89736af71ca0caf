"""Web sessions on a daemon without cameras: idle expiry (time moved on the daemon's clock),
sign-in throttling shared with the API's token throttle, and no open redirect after login."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from helpers import wait_for
from web_fixtures import WebClient

from edge.access.users import Role
from edge.app.daemon import Daemon
from edge.cli.wiring import api_port, build_daemon
from edge.config import parse_config
from storage.clock import OffsetClock

HOUR_US = 3_600_000_000


@pytest.fixture
def bare(tmp_path: Path) -> Iterator[tuple[Daemon, OffsetClock, str, dict[str, str]]]:
    clock = OffsetClock()
    cfg = parse_config({"storage": {"root": str(tmp_path / "store")}, "api": {"host": "127.0.0.1", "port": 0},
                        "access": {"auth_failures_per_minute": 3}})
    d = build_daemon(cfg, clock)
    tokens = {name: d.box.users.add(name, role, f"C-{name}")[1]
              for name, role in (("maint", Role.MAINTAINER), ("officer", Role.OFFICER))}
    d.start()
    try:
        wait_for(lambda: api_port(d), 20, what="the API port")
        yield d, clock, f"http://127.0.0.1:{api_port(d)}", tokens
    finally:
        d.request_stop()
        d.shutdown()


def _auth_failures(d: Daemon) -> list[sqlite3.Row]:
    con = sqlite3.connect(f"file:{d.box.store.layout.index_path}?mode=ro", uri=True)
    con.row_factory = sqlite3.Row
    try:
        return list(con.execute("SELECT * FROM register WHERE action='auth_failure' ORDER BY id"))
    finally:
        con.close()


def test_idle_session_expires_and_is_deleted(bare: tuple[Daemon, OffsetClock, str, dict[str, str]]) -> None:
    d, clock, url, tokens = bare
    c = WebClient(url)
    try:
        c.login(tokens["maint"])
        assert c.get("/").status_code == 200
        clock.advance(7 * HOUR_US)  # still within the 8 h idle limit; this visit slides it
        assert c.get("/").status_code == 200
        clock.advance(7 * HOUR_US)
        assert c.get("/").status_code == 200
        clock.advance(8 * HOUR_US + 1_000_000)
        r = c.get("/")
        assert r.status_code == 303 and r.headers["location"].startswith("/login")
        count = d.box.store.index.reader().execute("SELECT count(*) FROM web_sessions").fetchone()[0]
        assert count == 0
    finally:
        c.close()


def test_absolute_lifetime_ends_even_a_busy_session(bare: tuple[Daemon, OffsetClock, str, dict[str, str]]) -> None:
    d, clock, url, tokens = bare
    c = WebClient(url)
    try:
        c.login(tokens["maint"])
        for _ in range(4):
            clock.advance(6 * HOUR_US)
            r = c.get("/")
        assert r.status_code == 303, "24 h after sign-in the session ends however busy it was"
    finally:
        c.close()


def test_failed_sign_ins_are_throttled_and_registered(bare: tuple[Daemon, OffsetClock, str, dict[str, str]]) -> None:
    d, _, url, tokens = bare
    c = WebClient(url)
    try:
        for _ in range(3):
            r = c.login("edge_wrong", expect=401)
            assert "登录失败" in r.text  # the box's default language: zh-CN
        r = c.login(tokens["maint"], expect=429)
        assert "登录失败次数过多" in r.text and r.headers["retry-after"] == "60"
        c.login(tokens["maint"], expect=429)
        rows = _auth_failures(d)
        # Three failures, and the throttled attempts registered once per window (not a flood).
        assert [r["result"] for r in rows] == ["refused"] * 4
        assert sum("too many" in r["detail"] for r in rows) == 1
        # The same throttle guards the API: the source is blocked there too.
        api = httpx.get(url + "/api/v1/status", headers={"Authorization": f"Bearer {tokens['maint']}"})
        assert api.status_code == 429
    finally:
        c.close()


def test_login_redirects_only_to_this_box(bare: tuple[Daemon, OffsetClock, str, dict[str, str]]) -> None:
    _, _, url, tokens = bare
    for target, expected in (("//evil.example/x", "/"), ("https://evil.example/", "/"), ("/exports", "/exports"),
                             ("/\\evil.example", "/")):
        c = WebClient(url)
        try:
            r = c.login(tokens["officer"], next_path=target)
            assert r.headers["location"] == expected, target
        finally:
            c.close()


def test_demo_users_one_per_role_with_the_documented_password(tmp_path: Path) -> None:
    from edge.cli.simulate import DEMO_PASSWORD, DEMO_USERS, demo_users

    cfg = parse_config({"storage": {"root": str(tmp_path / "store")}, "api": {"enabled": False}})
    d = build_daemon(cfg, OffsetClock())
    try:
        path = demo_users(d.box, tmp_path)
        assert path.stat().st_mode & 0o777 == 0o600
        text = path.read_text()
        assert DEMO_PASSWORD in text and "edge-demo-password" in text
        first = {}
        for name, role, _ in DEMO_USERS:
            token = next(line.split()[-1] for line in text.splitlines() if line.startswith(name + " "))
            user = d.box.users.by_token(token)
            assert user is not None and user.name == name and user.role.value == role
            first[name] = token
        # argon2 is slow by design: one password check per role kind is enough.
        assert d.box.users.by_password("maintainer", DEMO_PASSWORD) is not None
        assert d.box.users.by_password("officer", DEMO_PASSWORD + "x") is None
        assert {u.role.value for u in d.box.users.list()} == {r.value for r in Role} - {"admin"}
        # A second demo run issues new tokens (the old ones were shown once) and keeps the password.
        text2 = demo_users(d.box, tmp_path).read_text()
        for name, _, _ in DEMO_USERS:
            assert d.box.users.by_token(first[name]) is None and first[name] not in text2
        assert d.box.users.by_password("auditor", DEMO_PASSWORD) is not None
    finally:
        d.box.store.close()
