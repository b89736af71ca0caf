"""Bad input against the access rules, over real HTTP on an in-process daemon: confusable
credentials, oversized bodies, holds over all of time, confidential exports, capped pending
requests, web pages fed huge ids, sessions that outlive a token, anonymous register floods."""

from __future__ import annotations

import json
import socket
import sqlite3
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from access_fixtures import export_body, iso
from helpers import wait_for
from web_fixtures import WebClient

from capture.sim.simulator import free_port
from edge.access.identity import IdentityError
from edge.access.users import Role, token_hash
from edge.app.daemon import Daemon
from edge.cli.wiring import api_port, build_daemon
from edge.config import parse_config
from storage.clock import OffsetClock

STAFF = {"officer-1": (Role.OFFICER, "O-1"), "officer-2": (Role.OFFICER, "O-2"),
         "officer-3": (Role.OFFICER, "O-3"), "approver-1": (Role.APPROVER, "A-1"),
         "approver-twin": (Role.APPROVER, "O-1"), "auditor-1": (Role.AUDITOR, "AUD-1")}
MiB = 1024 * 1024


@dataclass
class Box:
    daemon: Daemon
    url: str
    tokens: dict[str, str]
    root: Path

    def __call__(self, user: str | None, method: str, path: str, **kw: object) -> httpx.Response:
        extra = kw.pop("headers", {})
        headers = {**({"Authorization": f"Bearer {self.tokens[user]}"} if user else {}), **extra}  # type: ignore[dict-item]
        return httpx.request(method, self.url + path, headers=headers, timeout=30.0, **kw)  # type: ignore[arg-type]

    def register(self, sql: str = "", args: tuple[object, ...] = ()) -> list[sqlite3.Row]:
        con = sqlite3.connect(f"file:{self.root / 'index.sqlite3'}?mode=ro", uri=True)
        con.row_factory = sqlite3.Row
        try:
            return list(con.execute("SELECT * FROM register " + sql + " ORDER BY id", args))
        finally:
            con.close()


@pytest.fixture(scope="module")
def box(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Box]:
    root = tmp_path_factory.mktemp("hardening") / "store"
    cfg = parse_config({
        "storage": {"root": str(root), "segment_seconds": 2.0},
        "api": {"host": "127.0.0.1", "port": 0},
        "health": {"enabled": False},
        "retention": {"max_hold_future_hours": 2.0},
        "access": {"auth_failures_per_minute": 1000, "refusal_window_seconds": 1.0, "max_pending_per_user": 2},
        # A camera that never answers: these tests need configured cameras, not footage.
        "cameras": [{"id": "gate-1", "url": f"rtsp://127.0.0.1:{free_port()}/none", "site_category": "street"}],
    })
    d = build_daemon(cfg, OffsetClock())
    tokens = {name: d.box.users.add(name, role, cred)[1] for name, (role, cred) in STAFF.items()}
    d.start()
    try:
        wait_for(lambda: api_port(d), 20, what="the API port")
        yield Box(d, f"http://127.0.0.1:{api_port(d)}", tokens, root)
    finally:
        d.request_stop()
        d.shutdown()


def now_us() -> int:
    return int(time.time() * 1e6)


# -- 4. confusable credentials ------------------------------------------------------------------
def test_confusable_names_and_credentials_are_refused_at_creation(box: Box) -> None:
    users = box.daemon.box.users
    with pytest.raises(IdentityError, match="invisible"):
        users.add("approver-zw", Role.APPROVER, "O\u200b-1")
    with pytest.raises(ValueError, match="collides"):
        users.add("approver-fw", Role.APPROVER, "\uff2f-1")  # full-width O: NFKC makes it "O-1"
    with pytest.raises(ValueError, match="collides"):
        users.add("approver-lc", Role.APPROVER, "o-1")
    with pytest.raises(ValueError, match="already exists"):
        users.add("Officer-1", Role.APPROVER, "X-1")
    with pytest.raises(IdentityError, match="invisible"):
        users.add("officer\u200b-1", Role.APPROVER, "X-1")
    with pytest.raises(IdentityError, match="not allowed"):
        users.add("officer 1", Role.APPROVER, "X-1")
    assert users.get("approver-zw") is None and users.get("approver-fw") is None
    # The same person's second account gives exactly the same credential: allowed (and caught later).
    user, _ = users.add("\uff41pprover-caps", Role.APPROVER, "X-9")
    assert user.name == "approver-caps"


def test_a_confusable_credential_already_stored_cannot_approve(box: Box) -> None:
    """A row from before normalisation (written by hand here) still counts as the same person."""
    token = "edge_legacy_confusable_approver_token"
    with box.daemon.box.store.index.write() as c:
        c.execute("INSERT INTO users (name, role, credential_id, token_sha256, created_us, created_by)"
                  " VALUES (?, 'approver', ?, ?, 0, 'legacy')", ("legacy-approver", "O\u200b-1", token_hash(token)))
    box.tokens["legacy-approver"] = token
    eid = box("officer-1", "POST", "/api/v1/exports",
              json=export_body(["gate-1"], now_us() - 120_000_000, now_us() - 60_000_000)).json()["id"]
    r = box("legacy-approver", "POST", f"/api/v1/exports/{eid}/approve")
    assert r.status_code == 403 and "same work credential" in r.json()["detail"]
    assert box("legacy-approver", "GET", f"/api/v1/exports/{eid}").status_code == 404, "not theirs to see"
    assert box("approver-1", "POST", f"/api/v1/exports/{eid}/deny", json={"reason": "test"}).status_code == 200


# -- Also: confidential exports; 5: pending requests capped ---------------------------------------
def test_exports_are_seen_only_by_their_persons_and_pending_requests_are_capped(box: Box) -> None:
    body = export_body(["gate-1"], now_us() - 120_000_000, now_us() - 60_000_000)
    first = box("officer-2", "POST", "/api/v1/exports", json=body)
    assert first.status_code == 201, first.text
    eid = first.json()["id"]
    assert box("officer-2", "POST", "/api/v1/exports", json=body).status_code == 201
    r = box("officer-2", "POST", "/api/v1/exports", json=body)
    assert r.status_code == 429 and "max_pending_per_user" in r.json()["detail"]
    assert any(x["result"] == "refused" and "max_pending_per_user" in x["detail"]
               for x in box.register("WHERE action='export_request' AND actor='officer-2'"))

    assert box("officer-3", "GET", f"/api/v1/exports/{eid}").status_code == 404
    assert eid not in [e["id"] for e in box("officer-3", "GET", "/api/v1/exports").json()]
    assert eid in [e["id"] for e in box("officer-2", "GET", "/api/v1/exports").json()]
    assert eid in [e["id"] for e in box("approver-1", "GET", "/api/v1/exports").json()], "may approve it"
    twin_view = [e["id"] for e in box("approver-twin", "GET", "/api/v1/exports").json()]
    officer1 = [e["id"] for e in box("officer-1", "GET", "/api/v1/exports").json()]
    assert not set(twin_view) & set(officer1), "the requester's second account cannot approve, so cannot see"
    assert box("approver-1", "POST", f"/api/v1/exports/{eid}/deny", json={"reason": "no"}).status_code == 200
    assert eid in [e["id"] for e in box("approver-1", "GET", "/api/v1/exports").json()], "decided by them"
    assert box("approver-twin", "GET", f"/api/v1/exports/{eid}").status_code == 404
    # One decision later, officer-2 may ask again.
    assert box("officer-2", "POST", "/api/v1/exports", json=body).status_code == 201


# -- 6. holds over all of time --------------------------------------------------------------------
def test_holds_are_bounded_and_open_ended_all_camera_holds_need_two_persons(box: Box) -> None:
    base = {"reason": "incident", "case_number": "CQ-1"}
    r = box("officer-1", "POST", "/api/v1/holds",
            json={**base, "camera": None, "start": "0001-01-01T00:00:00Z", "end": "9999-12-31T23:59:59Z"})
    assert r.status_code == 422 and "max_hold_future_hours" in str(r.json()["detail"]), r.text
    r = box("officer-1", "POST", "/api/v1/holds",
            json={**base, "camera": None, "start": iso(now_us() - 3_600_000_000), "end": iso(now_us() + 3_600_000_000)})
    assert r.status_code == 403 and "two-person" in r.json()["detail"]
    r = box("officer-1", "POST", "/api/v1/holds",
            json={**base, "camera": "gate-1", "start": iso(now_us()), "end": iso(now_us() + 3 * 3_600_000_000)})
    assert r.status_code == 422
    r = box("officer-1", "POST", "/api/v1/holds",
            json={**base, "camera": "gate-1", "start": iso(now_us()), "end": iso(now_us() + 3_600_000_000)})
    assert r.status_code == 201, "a bounded window of footage still to come"
    r = box("officer-1", "POST", "/api/v1/holds",
            json={**base, "camera": None, "start": iso(now_us() - 3_600_000_000), "end": iso(now_us())})
    assert r.status_code == 201, "every camera, recorded footage only"
    assert [x["result"] for x in box.register("WHERE action='hold_create' AND actor='officer-1'")] == [
        "refused", "refused", "refused", "ok", "ok"]


def test_an_open_ended_all_camera_hold_is_made_by_two_persons(box: Box) -> None:
    doc = export_body([], 0, 1)["approval_document"]
    body = {"camera": None, "start": iso(now_us() - 3_600_000_000), "end": iso(now_us() + 3_600_000_000),
            "reason": "riot expected tonight", "case_number": "CQ-9", "approval_document": doc}
    too_far = {**body, "end": iso(now_us() + 3 * 3_600_000_000)}
    r = box("officer-1", "POST", "/api/v1/hold-requests", json=too_far)
    assert r.status_code == 422 and "max_hold_future_hours" in str(r.json()["detail"]), "two persons, still bounded"
    r = box("officer-1", "POST", "/api/v1/hold-requests", json=body)
    assert r.status_code == 201 and r.json()["state"] == "pending", r.text
    rid = r.json()["id"]
    assert box("officer-1", "POST", f"/api/v1/hold-requests/{rid}/approve").status_code == 403
    r = box("approver-twin", "POST", f"/api/v1/hold-requests/{rid}/approve")
    assert r.status_code == 403 and "credential" in r.json()["detail"]
    r = box("approver-1", "POST", f"/api/v1/hold-requests/{rid}/approve")
    assert r.status_code == 200, r.text
    hold = r.json()
    assert hold["camera"] is None and hold["active"] and hold["source"] == f"hold-request:{rid}"
    assert box("approver-1", "POST", f"/api/v1/hold-requests/{rid}/approve").status_code == 409
    listed = box("auditor-1", "GET", "/api/v1/hold-requests").json()
    assert [x["state"] for x in listed if x["id"] == rid] == ["approved"]
    actions = [(x["action"], x["result"]) for x in box.register("WHERE subject=?", (f"hold-request:{rid}",))]
    assert actions == [("wide_hold_request", "ok"), ("wide_hold_approve", "refused"), ("wide_hold_approve", "ok"),
                       ("wide_hold_approve", "refused")]


# -- 5. unbounded requests ------------------------------------------------------------------------
def rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


def raw_post(url: str, headers: dict[str, str], total: int, chunked: bool = False) -> tuple[int, int]:
    """Send a POST with a `total`-byte body as fast as the server takes it; (status, bytes sent)."""
    host, port = url.removeprefix("http://").split(":")
    s = socket.create_connection((host, int(port)), timeout=30)
    head = "POST /api/v1/exports HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
    head += "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    head += "Transfer-Encoding: chunked\r\n\r\n" if chunked else f"Content-Length: {total}\r\n\r\n"
    s.sendall(head.encode())
    block = b"[" + b" " * (MiB - 1)
    sent = 0
    try:
        while sent < total:
            s.sendall(b"%x\r\n%s\r\n" % (len(block), block) if chunked else block)
            sent += len(block)
    except OSError:
        pass  # the server answered and closed: it will not read the rest
    s.settimeout(10)
    data = b""
    try:
        while b"\r\n" not in data:
            more = s.recv(4096)
            if not more:
                break
            data += more
    except OSError:
        pass
    s.close()
    return (int(data.split()[1]) if data.startswith(b"HTTP/1.1") else 0), sent


def test_large_bodies_are_refused_before_parsing_and_after_authentication(box: Box) -> None:
    before = rss_mib()
    status, _ = raw_post(box.url, {}, 300 * MiB)
    assert status == 401, "authentication first: an anonymous body is never read"
    token = {"Authorization": f"Bearer {box.tokens['officer-3']}"}
    status, _ = raw_post(box.url, token, 300 * MiB)
    assert status == 413
    status, _ = raw_post(box.url, token, 300 * MiB, chunked=True)
    assert status == 413, "a body without a length is counted as it arrives"
    grown = rss_mib() - before
    print(f"BODY rss_before_mib={before:.0f} rss_after_mib={before + grown:.0f}")
    assert grown < 64, f"RSS grew {grown:.0f} MiB"
    r = box("officer-3", "POST", "/api/v1/exports", content=b"{" + b" " * 70_000 + b"}",
            headers={"Content-Type": "application/json"})
    assert r.status_code == 413 and "max_body_bytes" in r.json()["detail"]
    assert box("officer-3", "GET", "/api/v1/exports").status_code == 200, "the API is fine afterwards"


# -- 10. web pages with huge ids --------------------------------------------------------------------
def test_web_pages_validate_ids_like_the_api(box: Box) -> None:
    approver = WebClient(box.url)
    auditor = WebClient(box.url)
    try:
        approver.login(box.tokens["approver-1"])
        r = approver.post("/exports/99999999999999999999/approve", {"note": ""})
        assert r.status_code == 422, r.status_code
        assert approver.post("/exports/99999999/deny", {"reason": "x"}).status_code == 404
        auditor.login(box.tokens["auditor-1"])
        assert auditor.get("/register?after_id=99999999999999999999").status_code == 422
        assert auditor.get("/register?after_id=5").status_code == 200
    finally:
        approver.close()
        auditor.close()


# -- 9. sessions end with the token or the account ----------------------------------------------
def test_rotating_a_token_or_disabling_a_user_ends_their_sessions(box: Box) -> None:
    users = box.daemon.box.users
    _, token = users.add("maint-s", Role.MAINTAINER, "M-77")
    _, token2 = users.add("maint-t", Role.MAINTAINER, "M-78")
    a, b = WebClient(box.url), WebClient(box.url)
    try:
        a.login(token)
        b.login(token2)
        assert a.get("/").status_code == 200 and b.get("/").status_code == 200
        users.rotate_token("maint-s")
        assert a.get("/").status_code == 303, "the session made with the old token ended"
        users.set_disabled("maint-t", True)
        users.set_disabled("maint-t", False)
        assert b.get("/").status_code == 303, "disabling ended the session; enabling does not revive it"
    finally:
        a.close()
        b.close()


# -- 8. sign-in time says nothing about which names exist ------------------------------------------
def test_sign_in_costs_one_argon2_verification_whoever_is_named(box: Box) -> None:
    users = box.daemon.box.users
    users.add("pw-user", Role.MAINTAINER, "M-90", password="a good long password")
    calls: list[str] = []
    real = users._hasher

    class Counting:
        def hash(self, password: str) -> str:
            calls.append("hash")
            return real.hash(password)

        def verify(self, hashed: str, password: str) -> bool:
            calls.append("verify")
            return real.verify(hashed, password)

        def check_needs_rehash(self, hashed: str) -> bool:
            return real.check_needs_rehash(hashed)

    users._hasher = Counting()  # type: ignore[assignment]
    try:
        timings = {}
        for name in ("pw-user", "no-such-user", "officer-1", "bad name!"):
            calls.clear()
            t0 = time.perf_counter()
            assert users.by_password(name, "wrong password here") is None
            timings[name] = round(time.perf_counter() - t0, 3)
            assert calls == ["verify"], (name, calls)
        calls.clear()
        assert users.by_password("pw-user", "a good long password") is not None and calls == ["verify"]
        print("SIGNIN " + json.dumps(timings))
    finally:
        users._hasher = real


# -- 3. the register under an anonymous flood ------------------------------------------------------
def test_an_anonymous_flood_adds_one_register_entry_per_source_and_window(box: Box) -> None:
    before = len(box.register())
    t0 = time.monotonic()
    with httpx.Client(timeout=10) as c:
        for i in range(2000):
            c.get(box.url + "/metrics", headers={"X-Forwarded-For": f"10.{i % 250}.{i // 250}.1"})
    wait_for(lambda: box.daemon.box.refusals.pending() == 0, 10, 0.2, "the windows to be registered")
    rows = box.register("WHERE id > ?", (box.register()[before - 1]["id"] if before else 0,))
    flood = [r for r in rows if r["action"] == "auth_failure"]
    print(f"REGISTER rows_before={before} rows_after={len(box.register())} flood_requests=2000")
    assert {r["source"] for r in flood} == {"127.0.0.1"}
    assert sum(json.loads(r["detail"])["count"] for r in flood) >= 2000
    windows = (time.monotonic() - t0) / 1.0 + 2  # refusal_window_seconds = 1 here (a minute by default)
    assert len(rows) <= windows + 5, f"{len(rows)} rows for 2000 anonymous requests in {windows:.0f} windows"
    detail = json.loads(flood[0]["detail"])
    assert detail["path"] == "/metrics" and "GET /metrics" in detail["requests"]


def test_the_cli_holds_by_the_same_bounds(tmp_path: Path) -> None:
    from helpers import run_edge, write_config

    cfg = write_config(tmp_path / "edge.toml", {"storage": {"root": str(tmp_path / "s")},
                                                "retention": {"max_hold_future_hours": 1.0}},
                       [{"id": "gate-1", "url": "rtsp://127.0.0.1:1/x", "site_category": "street"}])
    common = ["--reason", "incident", "--case", "CQ-1", "-c", str(cfg)]
    out = run_edge("hold", "add", "--all", "--start", iso(now_us()), "--end", iso(now_us() + 1_800_000_000), *common)
    assert out.returncode == 2 and "two-person" in out.stdout, out.stdout
    out = run_edge("hold", "add", "--camera", "gate-1", "--start", "0001-01-01T00:00:00Z",
                   "--end", "9999-12-31T23:59:59Z", *common)
    assert out.returncode == 2 and "max_hold_future_hours" in out.stdout, out.stdout
    out = run_edge("hold", "add", "--camera", "gate-1", "--start", iso(now_us()), "--end",
                   iso(now_us() + 1_800_000_000), *common)
    assert out.returncode == 0, out.stdout
