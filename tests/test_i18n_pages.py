"""Every page in Simplified Chinese, over real HTTP on a daemon recording a real simulated camera.

Each role opens every page it may (and some it may not) with `Accept-Language: zh-CN`; the text a
person sees (HTML text nodes, `title`, placeholders, button labels) must hold no English sentence.
What may stay as written is explicit: names the operator or the users typed (camera names, user
names, case numbers), units and codes (`UTC+08:00`, `Mbit/s`, `SHA-256`, `edge verify` ...), and
anything the page itself marks `translate="no"` (camera ids, field paths, technical detail).

A refusal (an approver holding the requester's work credential approves an export) shows its
reason in Chinese on the page, and the API answers with the stable `code` and the Chinese
`message` beside the English `detail`.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path

import httpx
import pytest
from helpers import CLIP, wait_for
from playwright.sync_api import Browser
from test_browser import browser  # noqa: F401 - the fixture
from web_fixtures import WebClient

from capture.sim.simulator import Simulator, make_clip
from edge.access.users import Role
from edge.app.daemon import Daemon
from edge.cli.wiring import api_port, build_daemon
from edge.config import parse_config
from storage.clock import OffsetClock

ZH = {"Accept-Language": "zh-CN,zh;q=0.9"}
STAFF = {"maint": (Role.MAINTAINER, "MNT-1"), "monitor": (Role.MONITOR, "MON-1"),
         "officer": (Role.OFFICER, "PSB-1"), "approver": (Role.APPROVER, "PSB-2"),
         "approver-twin": (Role.APPROVER, "PSB-1"), "auditor": (Role.AUDITOR, "AUD-1")}
#: Written as typed or as a unit/code, in any language (whole words, case-sensitive).
ALLOWED = {
    # names typed by the operator and the users
    "edge", "North", "gate", "Test", "PSB", "I18n", "box", "maint", "monitor", "officer", "approver", "twin",
    "auditor", "system", "anonymous", "YZ", "CQ", "nowhere",
    # units and codes
    "UTC", "Asia", "Shanghai", "fps", "Mbit", "KB", "MB", "GB", "TB", "SHA", "PDF", "CSV", "JSON", "API",
    "Ed25519", "Art", "baseline_set", "verify", "user", "add", "password", "hold", "release", "GB28181",
    "RTSP", "H.264", "h264", "h265", "AAC", "ok", "max_export_hours", "max_pending_per_user", "access",
    "retention", "max_hold_future_hours", "POST", "api", "v1", "hold-requests", "edge_",
    # configuration values named in sentences ([retention] on_full)
    "protect_floor", "overwrite_oldest", "signage", "true", "location", "expected_bitrate",
}
#: Identifiers and units: `PSB-1`, `320x180`, `h`, `s`, hex digests.
UNIT_OR_CODE = r"[A-Z]{1,3}(-?\d+)*|x?\d+x?\d*|[hs]|[0-9a-f]{16,}"
WORD = re.compile(r"[A-Za-z][A-Za-z0-9_.\-]*[A-Za-z0-9_]|[A-Za-z]")


class VisibleText(HTMLParser):
    """Text nodes and the attributes people read, outside <script>, <style> and translate="no"."""

    SKIP = {"script", "style"}
    VOID = {"input", "img", "meta", "link", "br", "hr", "source", "rect", "line"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[bool] = []  # per open element: is its content skipped?
        self.texts: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        skipped = (bool(self.stack) and self.stack[-1]) or tag in self.SKIP or a.get("translate") == "no"
        if not skipped:
            for name in ("title", "placeholder", "alt", "aria-label"):
                if a.get(name):
                    self.texts.append(str(a[name]))
            if tag == "input" and a.get("type") in ("submit", "button") and a.get("value"):
                self.texts.append(str(a["value"]))
        if tag not in self.VOID:
            self.stack.append(skipped)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)
        if tag not in self.VOID:
            self.stack.pop()

    def handle_endtag(self, tag: str) -> None:
        if tag not in self.VOID and self.stack:
            self.stack.pop()

    def handle_data(self, data: str) -> None:
        if not (self.stack and self.stack[-1]) and data.strip():
            self.texts.append(data.strip())


def english_in(html: str) -> list[str]:
    parser = VisibleText()
    parser.feed(html)
    found = []
    for text in parser.texts:
        words = [w for w in WORD.findall(text) if w not in ALLOWED and not re.fullmatch(UNIT_OR_CODE, w)]
        if words:
            found.append(f"{' '.join(words)!s}  ⟵  {text[:120]}")
    return found


@dataclass
class Box:
    daemon: Daemon
    url: str
    tokens: dict[str, str]


@pytest.fixture(scope="module")
def box(tmp_path_factory: pytest.TempPathFactory, require_simulator: None, clip_dir: Path) -> Iterator[Box]:
    sim = Simulator({"cam1": make_clip(clip_dir, "normal", seed=41, **CLIP)})  # type: ignore[arg-type]
    sim.start()
    root = tmp_path_factory.mktemp("i18n") / "store"
    cfg = parse_config({
        # the defaults: zh-CN, Asia/Shanghai
        "box": {"id": "i18n-box", "name": "I18n box", "operator": "重庆市公安局"},
        "storage": {"root": str(root), "segment_seconds": 2.0, "sync_interval": 0.5},
        "api": {"host": "127.0.0.1", "port": 0}, "health": {"interval_seconds": 1.0},
        "access": {"auth_failures_per_minute": 1000},
        "cameras": [{"id": "gate-1", "name": "North gate", "url": sim.url("cam1"), "site_category": "street",
                     "signage": True, "location": "北门入口"}]})
    d = build_daemon(cfg, OffsetClock())
    tokens = {}
    for name, (role, cred) in STAFF.items():
        _, tokens[name] = d.box.users.add(name, role, cred)
    d.start()
    try:
        wait_for(lambda: api_port(d), 20, what="the API port")
        wait_for(lambda: len(list(d.box.store.index.chain_of("gate-1"))) >= 3, 40, 0.2, "3 segments")
        yield Box(d, f"http://127.0.0.1:{api_port(d)}", tokens)
    finally:
        d.request_stop()
        d.shutdown()
        sim.stop()


def client(box: Box, user: str) -> WebClient:
    c = WebClient(box.url)
    c.http.headers.update(ZH)
    c.login(box.tokens[user])
    return c


def api(box: Box, user: str, method: str, path: str, **kw: object) -> httpx.Response:
    return httpx.request(method, box.url + path, headers={"Authorization": f"Bearer {box.tokens[user]}", **ZH},
                         timeout=30, **kw)  # type: ignore[arg-type]


def _range(box: Box) -> tuple[str, str]:
    segs = list(box.daemon.box.store.index.chain_of("gate-1"))
    from storage.clock import iso
    return iso(segs[0].start_us), iso(segs[-1].end_us)


DOC = {"number": "YZ-2026-18", "issued_by": "重庆市公安局", "issued_on": "2026-11-28"}


def test_every_page_is_chinese_and_a_refusal_gives_its_reason_in_chinese(box: Box) -> None:
    start, end = _range(box)
    # Something on every page: an export waiting, a hold, a review granted, a refused step.
    exp = api(box, "officer", "POST", "/api/v1/exports", json={
        "cameras": ["gate-1"], "start": start, "end": end, "purpose": "核查北门", "case_number": "CQ-1",
        "recipient": {"name": "张三", "unit": "刑侦支队"}, "approval_document": DOC})
    assert exp.status_code == 201, exp.text
    export_id = exp.json()["id"]
    hold = api(box, "officer", "POST", "/api/v1/holds", json={"camera": "gate-1", "start": start, "end": end,
                                                              "reason": "证据保全", "case_number": "CQ-1"})
    assert hold.status_code == 201, hold.text
    rev = api(box, "officer", "POST", "/api/v1/reviews", json={
        "cameras": ["gate-1"], "start": start, "end": end, "purpose": "核查", "case_number": "CQ-2",
        "approval_document": DOC})
    assert rev.status_code == 201, rev.text
    review_id = rev.json()["id"]
    assert api(box, "approver", "POST", f"/api/v1/reviews/{review_id}/approve", json={}).status_code == 200

    # The refusal, by the API: a stable code, the English detail, the Chinese message.
    r = api(box, "approver-twin", "POST", f"/api/v1/exports/{export_id}/approve", json={})
    body = r.json()
    assert r.status_code == 403 and body["code"] == "same_credential", body
    assert "same work credential" in body["detail"]
    assert "工作证件" in body["message"] and not english_in(f"<p>{body['message']}</p>"), body["message"]
    en = httpx.post(box.url + f"/api/v1/exports/{export_id}/approve", json={}, timeout=30,
                    headers={"Authorization": f"Bearer {box.tokens['approver-twin']}", "Accept-Language": "en"})
    assert en.json()["code"] == "same_credential" and "same work credential" in en.json()["message"]
    # The API's own refusals too: no token, a role that may not, an id that does not exist.
    anon_api = httpx.get(box.url + "/api/v1/exports", headers=ZH, timeout=30)
    assert anon_api.status_code == 401 and anon_api.json()["code"] == "no_token"
    assert "认证" in anon_api.json()["message"]
    assert anon_api.headers["www-authenticate"] == "Bearer"
    role = api(box, "monitor", "GET", "/api/v1/exports").json()
    assert role["code"] == "role_refused" and role["params"] == {"role": "monitor"} and "无权" in role["message"]
    missing = api(box, "officer", "GET", "/api/v1/exports/999").json()
    assert missing["code"] == "not_found" and missing["params"] == {"noun": "export", "id": 999}, missing
    assert missing["detail"] == "no export 999" and "999" in missing["message"] and not english_in(missing["message"])
    # ... and on the page.
    twin = client(box, "approver-twin")
    page = twin.post(f"/exports/{export_id}/approve", {"note": ""})
    assert page.status_code == 403 and "工作证件" in page.text, page.text[-2000:]
    problems: dict[str, list[str]] = {}
    if found := english_in(page.text):
        problems["refusal page"] = found
    twin.close()
    # A form with a broken rule: the field path stays, the rule is in Chinese.
    officer = client(box, "officer")
    bad = officer.post("/exports", {"cameras": "gate-1", "start": "2026-11-28T10:00:00",
                                    "end": "2026-11-28T09:00:00", "purpose": "", "case_number": "x",
                                    "recipient_name": "a", "recipient_unit": "b", "doc_number": "1",
                                    "doc_issued_by": "c", "doc_issued_on": "2026-11-28"})
    assert bad.status_code == 422, bad.status_code
    if found := english_in(bad.text):
        problems["refused form"] = found

    pages = {
        "officer": ["/", "/cameras/gate-1", "/exports", "/exports?msg=requested", "/holds", "/holds?all=true",
                    "/holds?msg=held", "/review", "/review?msg=requested", f"/review/{review_id}",
                    "/report/filing", "/register"],
        "approver": ["/", "/exports", "/exports?msg=approved", "/holds", "/review", "/review?msg=approved"],
        "maint": ["/", "/cameras/gate-1", "/cameras/gate-1?msg=baseline", "/report/filing", "/exports"],
        "monitor": ["/", "/cameras/gate-1", "/cameras/nowhere"],
        "auditor": ["/", "/register", "/holds", "/report/filing"],
    }
    for user, paths in pages.items():
        c = client(box, user)
        for path in paths:
            resp = c.get(path)
            assert resp.status_code in (200, 403, 404), (user, path, resp.status_code)
            assert '<html lang="zh-CN">' in resp.text, (user, path)
            if found := english_in(resp.text):
                problems[f"{user} {path}"] = found
        c.close()
    anon = WebClient(box.url)
    anon.http.headers.update(ZH)
    if found := english_in(anon.get("/login").text):
        problems["/login"] = found
    anon.close()
    assert not problems, "\n".join(f"{k}:\n  " + "\n  ".join(v) for k, v in problems.items())
    # Times are Beijing times, with the offset.
    assert "UTC+08:00" in officer.get("/exports").text and "UTC+08:00" in officer.get("/holds").text
    officer.close()


def test_screenshots_of_the_exports_page_and_a_refusal_in_chinese(box: Box, browser: Browser) -> None:  # noqa: F811
    """Headless Chromium with a zh-CN locale: the exports page and a refused approval, saved for a person to look at."""
    from helpers import ARTIFACTS

    shots = ARTIFACTS / "review"
    shots.mkdir(parents=True, exist_ok=True)
    start, end = _range(box)
    exp = api(box, "officer", "POST", "/api/v1/exports", json={
        "cameras": ["gate-1"], "start": start, "end": end, "purpose": "核查北门", "case_number": "CQ-9",
        "recipient": {"name": "张三", "unit": "刑侦支队"}, "approval_document": DOC})
    assert exp.status_code == 201, exp.text
    for user, name in (("officer", "8-zh-exports-officer"), ("approver-twin", "9-zh-refusal-same-credential")):
        ctx = browser.new_context(locale="zh-CN", viewport={"width": 1280, "height": 900})
        try:
            page = ctx.new_page()
            page.goto(box.url + "/login")
            page.fill("input[name=token]", box.tokens[user])
            page.click("button[type=submit]")
            page.goto(box.url + "/exports")
            if user == "approver-twin":
                # Not in the twin's queue (they may not decide it): the form is posted as a forged page would.
                page.evaluate("""id => { const f = document.createElement('form'); f.method = 'post';
                    f.action = '/exports/' + id + '/approve'; const c = document.createElement('input');
                    c.name = 'csrf'; c.value = document.querySelector('input[name=csrf]').value; f.appendChild(c);
                    document.body.appendChild(f); f.submit(); }""", exp.json()["id"])
                page.wait_for_selector("[role=alert]")
                assert "工作证件" in page.inner_text("[role=alert]")
            else:
                assert "申请导出" in page.inner_text("#request")
            page.screenshot(path=str(shots / f"{name}.png"), full_page=True)
        finally:
            ctx.close()
