"""The maintenance page over real HTTP on an in-process daemon recording a real simulated camera.

Sessions (cookie flags, only a hash stored, logout), the role rules (no snapshot, picture or
download for roles that may not see footage), CSRF on every form, security headers, the camera
timeline with a real gap, re-commissioning registered as baseline_set, the export forms
following the API's two-person rules, and the filing pack page.
"""

from __future__ import annotations

import hashlib
import io
import sqlite3
import subprocess
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from helpers import CLIP, wait_for
from web_fixtures import WebClient

from capture.sim.simulator import Simulator, make_clip
from edge.access.users import Role
from edge.app.daemon import Daemon
from edge.cli.wiring import api_port, build_daemon
from edge.config import parse_config
from storage.clock import OffsetClock

PASSWORD = "correct horse battery"
STAFF = {"maint": (Role.MAINTAINER, "MNT-1"), "monitor": (Role.MONITOR, "MON-1"),
         "officer": (Role.OFFICER, "PSB-1"), "officer-2": (Role.OFFICER, "PSB-3"),
         "approver": (Role.APPROVER, "PSB-2"), "approver-twin": (Role.APPROVER, "PSB-1"),
         "auditor": (Role.AUDITOR, "AUD-1")}
NON_FOOTAGE = ("maint", "monitor", "auditor")


@dataclass
class Box:
    daemon: Daemon
    url: str
    tokens: dict[str, str]
    root: Path
    clients: list[WebClient] = field(default_factory=list)

    def anonymous(self) -> WebClient:
        c = WebClient(self.url)
        self.clients.append(c)
        return c

    def client(self, user: str) -> WebClient:
        c = self.anonymous()
        c.login(self.tokens[user])
        return c

    def register(self, sql: str = "", args: tuple[object, ...] = ()) -> list[sqlite3.Row]:
        con = sqlite3.connect(f"file:{self.root / 'index.sqlite3'}?mode=ro", uri=True)
        con.row_factory = sqlite3.Row
        try:
            return list(con.execute("SELECT * FROM register " + sql + " ORDER BY id", args))
        finally:
            con.close()


@pytest.fixture(scope="module")
def box(tmp_path_factory: pytest.TempPathFactory, require_simulator: None, clip_dir: Path) -> Iterator[Box]:
    sim = Simulator({"cam1": make_clip(clip_dir, "normal", seed=31, **CLIP)})  # type: ignore[arg-type]
    sim.start()
    root = tmp_path_factory.mktemp("web") / "store"
    cfg = parse_config({
        # The forms below type UTC times: this box shows and reads times in UTC, in English.
        "box": {"id": "web-box", "name": "Web test box", "operator": "Test PSB", "language": "en", "timezone": "UTC"},
        "storage": {"root": str(root), "segment_seconds": 2.0, "sync_interval": 0.5},
        "api": {"host": "127.0.0.1", "port": 0}, "health": {"interval_seconds": 1.0},
        # Every test signs in from 127.0.0.1: the throttle has its own test (test_web_session.py).
        "access": {"auth_failures_per_minute": 1000},
        "cameras": [
            {"id": "gate-1", "name": "North gate", "url": sim.url("cam1"), "site_category": "street",
             "signage": True, "location": "north gate, entrance"},
            # A mount the simulator does not serve: a real outage, recorded as a gap with its reason.
            {"id": "dead-1", "name": "Dead camera", "url": sim.url("cam1").rsplit("/", 1)[0] + "/missing",
             "site_category": "square", "reconnect_initial": 0.2, "reconnect_max": 1.0},
        ]})
    d = build_daemon(cfg, OffsetClock())
    tokens = {}
    for name, (role, cred) in STAFF.items():
        _, tokens[name] = d.box.users.add(name, role, cred)
    d.box.users.set_password("maint", PASSWORD)
    d.start()
    try:
        wait_for(lambda: api_port(d), 20, what="the API port")
        wait_for(lambda: (root / "health" / "gate-1" / "latest.jpg").is_file()
                 and (root / "health" / "gate-1" / "reference.png").is_file()
                 and len(list(d.box.store.index.chain_of("gate-1"))) >= 2, 40, 0.2, "snapshots and 2 segments")
        yield Box(d, f"http://127.0.0.1:{api_port(d)}", tokens, root)
    finally:
        d.request_stop()
        d.shutdown()
        sim.stop()


@pytest.fixture(autouse=True)
def _close_clients(box: Box) -> Iterator[None]:
    yield
    while box.clients:
        box.clients.pop().close()


def test_anonymous_visitors_are_sent_to_login(box: Box) -> None:
    c = box.anonymous()
    for path in ("/", "/cameras/gate-1", "/exports", "/register", "/report/filing", "/cameras/gate-1/snapshot.jpg"):
        r = c.get(path)
        assert r.status_code == 303, path
        assert r.headers["location"].startswith("/login?next=" + path.split("?")[0]), r.headers["location"]
        assert not r.content.startswith(b"\xff\xd8")
    assert c.get("/login").status_code == 200


def test_session_cookie_holds_only_a_random_id_and_logout_ends_it(box: Box) -> None:
    c = box.anonymous()
    r = c.login(box.tokens["officer"], next_path="/exports")
    assert r.headers["location"] == "/exports"
    set_cookie = r.headers.get_list("set-cookie")
    session = next(h for h in set_cookie if h.startswith("edge_session="))
    assert "HttpOnly" in session and "samesite=strict" in session.lower() and "Path=/" in session
    value = session.split(";")[0].split("=", 1)[1]
    assert value and box.tokens["officer"] not in session and not value.startswith("edge_")
    con = sqlite3.connect(f"file:{box.root / 'index.sqlite3'}?mode=ro", uri=True)
    rows = con.execute("SELECT * FROM web_sessions").fetchall()
    con.close()
    flat = repr(rows)
    assert hashlib.sha256(value.encode()).hexdigest() in flat
    assert value not in flat and box.tokens["officer"] not in flat
    assert c.get("/exports").status_code == 200
    assert c.post("/logout").status_code == 303
    r = c.get("/exports")
    assert r.status_code == 303 and r.headers["location"].startswith("/login")
    # The old cookie value is dead on the server, not just deleted in this browser.
    r = httpx.get(box.url + "/exports", cookies={"edge_session": value}, follow_redirects=False)
    assert r.status_code == 303


def test_password_login_and_a_wrong_password_is_registered(box: Box) -> None:
    c = box.anonymous()
    before = len(box.register("WHERE action='auth_failure'"))
    r = c.login(name="maint", password="not the password", expect=401)
    assert "Sign-in failed" in r.text
    rows = box.register("WHERE action='auth_failure'")
    assert len(rows) == before + 1 and '"user": "maint"' in rows[-1]["detail"]
    assert "not the password" not in repr([tuple(r) for r in rows])
    c.login(name="maint", password=PASSWORD)
    assert "maint" in c.get("/").text


def test_security_headers_on_pages_and_pictures(box: Box) -> None:
    officer = box.client("officer")
    login = box.anonymous().get("/login")
    assert login.headers["x-frame-options"] == "DENY"
    assert "default-src 'self'" in login.headers["content-security-policy"]
    for path in ("/", "/cameras/gate-1", "/cameras/gate-1/snapshot.jpg", "/cameras/gate-1/reference.png"):
        r = officer.get(path)
        assert r.status_code == 200, path
        csp = r.headers["content-security-policy"]
        assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp and "unsafe-inline" not in csp
        assert r.headers["x-frame-options"] == "DENY"
        assert r.headers["referrer-policy"] == "no-referrer"
        assert r.headers["cache-control"] == "no-store", path
    css = officer.get("/static/edge.css")
    assert css.status_code == 200 and "text/css" in css.headers["content-type"]
    assert "http" not in css.text, "no external fonts or resources"


def test_tiles_show_every_camera_and_pictures_only_to_footage_roles(box: Box) -> None:
    for user in NON_FOOTAGE:
        c = box.client(user)
        page = c.get("/").text
        for cam in ("gate-1", "dead-1"):
            assert f'id="tile-{cam}"' in page
        assert "snapshot.jpg" not in page and "reference.png" not in page and "/download" not in page
        assert "snapshot hidden" in page
        cam_page = c.get("/cameras/gate-1").text
        assert "snapshot.jpg" not in cam_page and "reference.png" not in cam_page
        before = len(box.register("WHERE action='access_denied'"))
        for kind in ("snapshot.jpg", "reference.png"):
            r = c.get(f"/cameras/gate-1/{kind}")
            assert r.status_code == 403 and "not for your role" in r.text.lower()
            assert not r.content.startswith(b"\xff\xd8") and not r.content.startswith(b"\x89PNG")
        assert len(box.register("WHERE action='access_denied'")) == before + 2
    officer = box.client("officer")
    page = officer.get("/").text
    assert "/cameras/gate-1/snapshot.jpg" in page
    r = officer.get("/cameras/gate-1/snapshot.jpg")
    assert r.status_code == 200 and r.content.startswith(b"\xff\xd8") and r.headers["content-type"] == "image/jpeg"
    views = box.register("WHERE action='snapshot_view' AND actor='officer'")
    assert views and views[-1]["cameras"] == '["gate-1"]'


def test_tile_states_and_the_storage_gauge(box: Box) -> None:
    maint = box.client("maint")
    # dead-1 is offline once its first attempts failed: run alone (or first on an xdist worker) the
    # test can come before that, so wait for the overview to say so rather than assume it.
    wait_for(lambda: "Art. 19(7)" in maint.get("/").text, 30, 0.2, "dead-1 offline on the overview")
    page = maint.get("/").text
    tile = page.split('id="tile-gate-1"')[1].split("</article>")[0]
    assert "state-recording" in tile and "Mbit/s" in tile
    dead = page.split('id="tile-dead-1"')[1].split("</article>")[0]
    assert "state-recording" not in dead and ("offline" in dead or "reconnecting" in dead)
    assert "Footage held:" in page and "floor <strong>30 days</strong>" in page and "forecast <strong>" in page
    assert "Attention needed" in page  # dead-1 is offline: Art. 19(7) at risk, in plain words
    assert "Art. 19(7)" in page


def test_forms_without_csrf_token_are_refused(box: Box) -> None:
    officer, approver, maint = box.client("officer"), box.client("approver"), box.client("maint")
    n_exports = len(box.daemon.box.exports.list(1000))
    n_holds = len(box.daemon.box.holds.list(include_inactive=True))
    ref_before = (box.root / "health" / "gate-1" / "reference.json").read_bytes()
    cases = [(officer, "/exports", {"cameras": "gate-1", "purpose": "x"}),
             (officer, "/holds", {"start": "2026-01-01T00:00:00", "end": "2026-01-01T00:01:00", "reason": "r",
                                  "case_number": "c"}),
             (approver, "/exports/1/approve", {}), (approver, "/exports/1/deny", {"reason": "no"}),
             (maint, "/cameras/gate-1/baseline", {}), (maint, "/logout", {})]
    for client, path, data in cases:
        for csrf in (None, "wrong"):
            body = {**data, **({"csrf": csrf} if csrf else {})}
            r = client.post(path, body, csrf=False)
            assert r.status_code == 403, (path, csrf, r.status_code)
            assert "CSRF" in r.text
    # Login form too.
    r = httpx.post(box.url + "/login", data={"token": box.tokens["officer"]}, follow_redirects=False)
    assert r.status_code == 403 and "edge_session" not in r.headers.get("set-cookie", "")
    assert len(box.daemon.box.exports.list(1000)) == n_exports
    assert len(box.daemon.box.holds.list(include_inactive=True)) == n_holds
    assert (box.root / "health" / "gate-1" / "reference.json").read_bytes() == ref_before
    assert maint.get("/").status_code == 200, "logout without the token did not end the session"
    refused = box.register("WHERE action='access_denied' AND detail LIKE '%CSRF%'")
    assert len(refused) >= 2 * len(cases)
    # The JSON API takes a session cookie for reads, but a write needs the CSRF header too.
    cookies = {"edge_session": officer.http.cookies["edge_session"]}
    assert httpx.get(box.url + "/api/v1/exports", cookies=cookies).status_code == 200
    r = httpx.post(box.url + "/api/v1/holds", cookies=cookies, json={})
    assert r.status_code == 401


def test_camera_timeline_shows_spans_and_gaps_with_reasons(box: Box) -> None:
    c = box.client("maint")
    page = c.get("/cameras/gate-1").text
    assert 'class="span"' in page and "<svg" in page
    wait_for(lambda: box.daemon.box.store.index.gaps("dead-1"), 20, 0.2, "a gap on dead-1")
    dead = c.get("/cameras/dead-1").text
    assert 'class="gap"' in dead and "not_found" in dead
    assert c.get("/cameras/nope-9").status_code == 404


def test_recommission_reference_by_maintainer_is_registered(box: Box) -> None:
    officer = box.client("officer")
    r = officer.post("/cameras/gate-1/baseline")
    assert r.status_code == 403 and "not for your role" in r.text.lower()
    maint = box.client("maint")
    assert "Re-commission" in maint.get("/cameras/gate-1").text
    before = box.daemon.box.store.layout.root / "health" / "gate-1" / "reference.json"
    old = before.read_text()
    r = maint.post("/cameras/gate-1/baseline")
    assert r.status_code == 303 and r.headers["location"] == "/cameras/gate-1?msg=baseline"
    assert before.read_text() != old and '"set_by": "maint"' in before.read_text()
    rows = box.register("WHERE action='baseline_set' AND actor='maint'")
    assert len(rows) == 1 and rows[0]["role"] == "maintainer" and rows[0]["credential_id"] == "MNT-1"
    assert "re-commissioned" in maint.get(r.headers["location"]).text
    # A camera that is not recording has no current view to commission.
    r = maint.post("/cameras/dead-1/baseline")
    assert r.status_code == 409


def _export_form(now_us: int, **extra: object) -> dict[str, object]:
    from datetime import UTC, datetime

    def local(us: int) -> str:
        return datetime.fromtimestamp(us / 1e6, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S")

    form: dict[str, object] = {
        "cameras": ["gate-1"], "start": local(now_us - 8_000_000), "end": local(now_us - 2_000_000),
        "purpose": "robbery investigation", "case_number": "CQ-2026-77", "recipient_name": "Wang Lei",
        "recipient_unit": "Yuzhong District PSB", "doc_number": "YZ-APP-7", "doc_issued_by": "Yuzhong PSB chief",
        "doc_issued_on": "2026-11-28"}
    form.update(extra)
    return form


def test_export_forms_follow_the_api_rules(box: Box) -> None:
    d = box.daemon
    officer, officer2, twin, approver = (box.client(u) for u in ("officer", "officer-2", "approver-twin", "approver"))
    now = d.box.clock.now_us()
    before = len(d.box.exports.list(1000))
    r = officer.post("/exports", _export_form(now, doc_number=""))
    assert r.status_code == 422 and "approval_document.number" in r.text
    r = officer.post("/exports", _export_form(now, start="2020-01-01T00:00:00"))
    assert r.status_code == 422 and "max_export_hours" in r.text
    assert len(d.box.exports.list(1000)) == before, "a refused form creates nothing"
    r = officer.post("/exports", _export_form(now))
    assert r.status_code == 303
    exp = d.box.exports.list(1)[0]
    assert exp.state.value == "pending" and exp.requester.name == "officer"
    assert approver.post("/exports", _export_form(now)).status_code == 403
    # The same person under a second account may not approve (Art. 18): shown, registered, nothing changes.
    r = twin.post(f"/exports/{exp.id}/approve", {"note": "mine"})
    assert r.status_code == 403 and "credential" in r.text
    assert d.box.exports.get(exp.id).state.value == "pending"  # type: ignore[union-attr]
    assert approver.post(f"/exports/{exp.id}/approve", {"note": "ok per YZ-APP-7"}).status_code == 303

    def ready() -> bool:
        e = d.box.exports.get(exp.id)
        assert e is not None and e.state.value not in ("failed", "denied"), e
        return e.state.value == "ready"

    wait_for(ready, 40, 0.2, "the bundle")
    link = f"/api/v1/exports/{exp.id}/download"
    assert link in officer.get("/exports").text and link in approver.get("/exports").text
    other = officer2.get("/exports").text
    # Art. 18(5): another officer does not even see the export (purpose, case, recipient are confidential).
    assert link not in other and "CQ-2026-77" not in other and "Wang Lei" not in other
    for user in NON_FOOTAGE:
        c = box.client(user)
        assert link not in c.get("/").text
        assert c.get("/exports").status_code == 403
        assert c.get(link).status_code == 403
    r = officer.get(link)
    assert r.status_code == 200 and r.headers["content-type"] == "application/zip"
    names = zipfile.ZipFile(io.BytesIO(r.content)).namelist()
    assert any(n.endswith("manifest.json") for n in names) and any(n.endswith(".mp4") for n in names)
    subject = f"export:{exp.id}"
    acts = [(row["action"], row["actor"], row["result"]) for row in box.register("WHERE subject=?", (subject,))]
    assert ("export_request", "officer", "ok") in acts and ("export_approve", "approver-twin", "refused") in acts
    assert ("export_approve", "approver", "ok") in acts and ("export_download", "officer", "ok") in acts
    auditor = box.client("auditor")
    page = auditor.get("/register", params={"action": "export_download"}).text
    assert subject in page and "officer" in page and "export_request" not in page.split("<tbody>")[1]
    assert auditor.get("/register", params={"since": "bad"}).status_code == 422


def test_holds_page_creates_holds_through_the_api_rules(box: Box) -> None:
    officer = box.client("officer")
    now = box.daemon.box.clock.now_us()
    form = {"camera": "gate-1", "start": "2026-01-01T00:00:00", "end": "2025-01-01T00:00:00", "reason": "case",
            "case_number": "CQ-1"}
    r = officer.post("/holds", form)
    assert r.status_code == 422 and "start must be before end" in r.text
    from datetime import UTC, datetime

    form["start"] = datetime.fromtimestamp(now / 1e6 - 60, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S")
    form["end"] = datetime.fromtimestamp(now / 1e6, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S")
    assert officer.post("/holds", form).status_code == 303
    page = box.client("auditor").get("/holds").text
    assert "CQ-1" in page and "in force" in page
    assert box.register("WHERE action='hold_create' AND actor='officer'")
    assert box.client("maint").get("/holds").status_code == 403


def test_filing_pack_page_pdf_and_json(box: Box, tmp_path: Path) -> None:
    maint = box.client("maint")
    page = maint.get("/report/filing").text
    assert "North gate" in page and "Dead camera" in page and "Forecast:" in page
    assert "reference.png" not in page, "reference pictures are footage: not for the maintainer"
    pack = maint.get("/report/filing.json").json()
    assert [c["id"] for c in pack["cameras"]] == ["gate-1", "dead-1"]
    gate = pack["cameras"][0]
    assert gate["bitrate_source"] == "measured" and gate["resolution"] == "320x180" and gate["codec"] == "h264"
    assert pack["cameras"][1]["bitrate_source"].startswith("expected_bitrate")
    assert pack["storage"]["forecast_days"] > 0
    assert pack["signing_key"]["fingerprint"] == box.daemon.box.device_key.fingerprint
    pdf = tmp_path / "f.pdf"
    pdf.write_bytes(maint.get("/report/filing.pdf").content)
    text = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    assert "North gate" in text and "Dead camera" in text and "Forecast" in text
    assert "/cameras/gate-1/reference.png" in box.client("officer").get("/report/filing").text
