"""Review on the box end to end in headless Chromium against a real `edge run`.

officer requests a review, approver approves, officer plays the camera: the video's time advances,
seeking to a chosen wall-clock time lands within one GOP of it, the register shows the view; a
range typed as 10:00 local (Asia/Shanghai) is stored as 02:00 UTC; the maintainer's live view
shows a picture and no recorded footage is reachable from that role (API and page); a page in
zh-CN shows Chinese text and Beijing times. Screenshots go to test-artifacts/review/.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
from helpers import ARTIFACTS, DaemonProcess, base_sections, camera, new_daemon, wait_for
from playwright.sync_api import Browser
from test_browser import PASSWORD, Session, _users, browser  # noqa: F401 - the fixture

from capture.sim.simulator import Simulator

SHOTS = ARTIFACTS / "review"
ZONE = ZoneInfo("Asia/Shanghai")
GOP_S = 1.0  # the simulator's clips: 25 fps, a keyframe every 25 frames
FIGURES = ARTIFACTS / "review" / "figures.json"


def shot(s: Session, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    s.page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def local_input(us: int) -> str:
    return datetime.fromtimestamp(us / 1e6, tz=ZONE).strftime("%Y-%m-%dT%H:%M:%S")


def segments(root: Path) -> list[tuple[int, int]]:
    with sqlite3.connect(root / "index.sqlite3") as c:
        return [(int(a), int(b)) for a, b in c.execute(
            "SELECT start_us, end_us FROM segments WHERE camera='gate-1' AND state='stored' ORDER BY seq")]


def test_review_playback_live_view_and_chinese(tmp_path: Path, clip: Callable[..., Path],
                                                simulator: Callable[..., Simulator], daemons: list[DaemonProcess],
                                                browser: Browser) -> None:  # noqa: F811
    sim = simulator({"cam1": clip(seed=51)})
    root = tmp_path / "store"
    d = new_daemon(tmp_path, base_sections(root, health={"interval_seconds": 1.0},
                                           access={"auth_failures_per_minute": 100}),
                   [camera("gate-1", sim.url("cam1"), name="North gate")])
    daemons.append(d)
    root.mkdir(parents=True)
    tokens = _users(root)
    d.start()
    wait_for(lambda: len(segments(root)) >= 5, 60, 0.3, "five closed segments")
    segs = segments(root)
    start_us, end_us = segs[0][0] + 500_000, segs[-1][1]

    # -- officer asks for a review of the recorded range, typed in Beijing time ----------------
    officer = Session(browser, d.url, "officer")
    officer.login(token=tokens["officer"])
    page = officer.page
    for _ in range(3):  # the overview's tile picture, loaded three times: one snapshot_view
        page.goto(d.url + "/")
        page.locator("#tile-gate-1 img.snapshot").wait_for()
    page.goto(d.url + "/review")
    assert "Asia/Shanghai, UTC+08:00" in page.inner_text("#request")

    def request(start: str, end: str, case: str) -> None:
        page.goto(d.url + "/review")
        page.check("input[name=cameras][value=gate-1]")
        page.fill("input[name=start]", start)
        page.fill("input[name=end]", end)
        page.fill("input[name=purpose]", "check the north gate before asking for an export")
        page.fill("input[name=case_number]", case)
        page.fill("input[name=doc_number]", "YZ-REV-0815")
        page.fill("input[name=doc_issued_by]", "Yuzhong District PSB chief")
        page.click("#request button[type=submit]")
        page.wait_for_selector("text=Review requested")

    # 10:00 local yesterday is 02:00 UTC: converted once, on the way in.
    yesterday = datetime.now(ZONE).date().toordinal() - 1
    day = datetime.fromordinal(yesterday).strftime("%Y-%m-%d")
    request(f"{day}T10:00:00", f"{day}T10:05:00", "CQ-2026-TZ")
    with sqlite3.connect(root / "index.sqlite3") as c:
        spec = json.loads(c.execute("SELECT spec FROM review_grants ORDER BY id DESC LIMIT 1").fetchone()[0])
    assert datetime.fromtimestamp(spec["start_us"] / 1e6, tz=UTC) == datetime.fromisoformat(f"{day}T02:00:00+00:00")
    request(local_input(start_us), local_input(end_us), "CQ-2026-0815")
    shot(officer, "1-officer-requests-review")
    grant_id = page.locator("#all tbody tr").first.get_attribute("id").removeprefix("review-")  # type: ignore[union-attr]

    # -- approver approves -------------------------------------------------------------------------
    approver = Session(browser, d.url, "approver")
    approver.login(token=tokens["approver"])
    approver.page.goto(d.url + "/review")
    assert "officer (PSB-1001)" in approver.page.inner_text(f"#pending-{grant_id}")
    shot(approver, "2-approver-queue")
    approver.page.click(f"#pending-{grant_id} >> text=Approve #{grant_id}")
    approver.page.wait_for_selector("text=Review approved")
    approver.close()

    # -- officer plays, sees the wall clock, seeks by wall-clock time ---------------------------
    page.goto(d.url + "/review")
    page.click(f"#review-{grant_id} a.play")
    video = page.locator("#player-gate-1 video")
    video.wait_for()
    assert page.evaluate("(v) => v.canPlayType('video/mp4; codecs=\"avc1.42E01E\"')", video.element_handle())
    wait_for(lambda: page.evaluate("(v) => v.readyState >= 2", video.element_handle()), 20, what="metadata")
    first_frame_ms = page.evaluate("""(v) => new Promise((done) => {
        const t0 = performance.now();
        v.requestVideoFrameCallback(() => done(performance.now() - t0));
        v.play();
    })""", video.element_handle())
    t1 = page.evaluate("(v) => v.currentTime", video.element_handle())
    wait_for(lambda: page.evaluate("(v) => v.currentTime", video.element_handle()) > t1 + 0.5, 10,
             what="the video's time to advance")
    wall = page.locator("#player-gate-1 .wall")
    shown = datetime.strptime(wall.inner_text(), "%Y-%m-%d %H:%M:%S").replace(tzinfo=ZONE)
    assert start_us / 1e6 - 2 <= shown.timestamp() <= end_us / 1e6 + 1
    shot(officer, "3-officer-playing")
    page.evaluate("(v) => v.pause()", video.element_handle())
    target_us = start_us + 4_300_000
    target = local_input(target_us)
    page.fill("#player-gate-1 input[name=at]", target)
    page.click("#player-gate-1 form.seek button")
    wait_for(lambda: page.evaluate("(v) => !v.seeking && v.readyState >= 2", video.element_handle()), 10,
             what="the seek")
    page.wait_for_timeout(200)
    landed_ms = int(wall.get_attribute("data-ms") or 0)
    typed_ms = datetime.fromisoformat(target).replace(tzinfo=ZONE).timestamp() * 1000
    assert abs(landed_ms - typed_ms) <= GOP_S * 1000, (landed_ms, typed_ms)
    shown_after = datetime.strptime(wall.inner_text(), "%Y-%m-%d %H:%M:%S").replace(tzinfo=ZONE)
    assert abs(shown_after.timestamp() * 1000 - typed_ms) <= GOP_S * 1000 + 1000  # shown to the second
    seek_error_ms = landed_ms - typed_ms
    shot(officer, "4-officer-seeked")
    page.click("#player-gate-1 svg.review-tl", position={"x": 5, "y": 12})
    page.wait_for_timeout(300)
    export_href = page.locator("#player-gate-1 a.export-span").get_attribute("href") or ""
    page.click("#player-gate-1 a.export-span")
    page.wait_for_selector("#request")
    assert page.locator("input[name=cameras][value=gate-1]").is_checked()
    assert page.input_value("input[name=case_number]") == "CQ-2026-0815"
    assert page.input_value("input[name=start]") == local_input(start_us)
    shot(officer, "5-export-this-span")
    assert "review=" in export_href

    # -- a hold, released early from the page by two persons -------------------------------------
    page.goto(d.url + "/holds")
    page.fill("#new-hold input[name=start]", local_input(start_us))
    page.fill("#new-hold input[name=end]", local_input(end_us))
    page.fill("#new-hold input[name=case_number]", "CQ-2026-0815")
    page.fill("#new-hold input[name=reason]", "north gate incident")
    page.click("#new-hold button[type=submit]")
    page.wait_for_selector("text=Hold created")
    hold = page.locator("#holds tbody tr").first
    hold_id = (hold.get_attribute("id") or "").removeprefix("hold-")
    hold.locator("summary").click()
    hold.locator("input[name=reason]").fill("case closed by the prosecutor")
    hold.locator("input[name=doc_number]").fill("YZ-REL-1")
    hold.locator("input[name=doc_issued_by]").fill("Yuzhong District PSB chief")
    hold.locator("button[type=submit]").click()
    page.wait_for_selector("text=Release requested")
    rel = Session(browser, d.url, "approver")
    rel.login(token=tokens["approver"])
    rel.page.goto(d.url + "/holds")
    rel.page.click(f"text=Approve release #{hold_id}")
    rel.page.wait_for_selector("text=Hold released.")
    assert rel.page.locator(f"#hold-{hold_id}").count() == 0, "no longer in force"
    rel.close()
    page.click("header form.who button")
    page.wait_for_url("**/login**")
    officer.close()

    # -- maintainer: live picture; no recorded footage by page or API ---------------------------
    maint = Session(browser, d.url, "maint")
    maint.login(name="maint", password=PASSWORD)
    mp = maint.page
    mp.goto(d.url + "/cameras/gate-1")
    live = mp.locator("#live")
    wait_for(lambda: int(live.get_attribute("data-frames") or 0) >= 2, 20, 0.2, "two live pictures")
    assert mp.evaluate("() => document.querySelector('#live video').videoWidth") > 0
    assert mp.locator("#live form.commission button").is_visible()
    assert mp.locator("#view img").count() == 0
    shot(maint, "6-maintainer-live-view")
    for path in ("/review", f"/review/{grant_id}", f"/review/{grant_id}/gate-1.mp4", "/cameras/gate-1/snapshot.jpg",
                 "/exports"):
        resp = mp.request.get(d.url + path)
        assert resp.status == 403, (path, resp.status)
    maint.close()
    api = {"Authorization": f"Bearer {tokens['maint']}"}
    for path in ("/api/v1/exports", f"/api/v1/exports/{grant_id}/download", "/api/v1/holds", "/api/v1/reviews",
                 f"/api/v1/reviews/{grant_id}"):
        assert httpx.get(d.url + path, headers=api).status_code == 403, path

    # -- auditor, in Chinese: the register shows the views, in Beijing time ---------------------
    aud = Session(browser, d.url, "auditor")
    aud.context.close()
    aud.context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN")
    aud.page = aud.context.new_page()
    aud.login(token=tokens["auditor"])
    ap = aud.page
    ap.goto(d.url + "/register?action=review_view")
    assert "访问登记" in ap.inner_text("h1")
    rows = ap.locator("table.register tbody tr")
    assert rows.count() >= 1 and f"review:{grant_id}" in rows.first.inner_text()
    assert "UTC+08:00" in rows.first.inner_text()
    shot(aud, "7-auditor-register-zh")
    actions = ap.request.get(d.url + "/register.csv?action=review_view")
    assert actions.status == 200 and f"review:{grant_id}" in actions.text()
    aud.close()
    with sqlite3.connect(root / "index.sqlite3") as c:
        count = dict(c.execute("SELECT action || ':' || actor, COUNT(*) FROM register GROUP BY action, actor"))
    assert count["snapshot_view:officer"] == 1, count
    assert count["sign_in:officer"] == 1 and count["sign_in:maint"] == 1 and count["sign_out:officer"] == 1
    assert count["live_view:maint"] == 1, "one live session, however many refreshes"
    FIGURES.write_text(json.dumps({"play_to_first_frame_ms": round(first_frame_ms, 1),
                                   "seek_error_ms": round(seek_error_ms, 1)}))
