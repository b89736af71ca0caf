"""The maintenance page end to end in a real headless browser (Debian's chromium via Playwright)
against a real `edge run` process recording real simulated cameras.

maintainer signs in with a password and sees every camera's tile (state, no pictures); officer
files an export request through the form; approver approves it; officer downloads the bundle;
auditor finds every step in the access register. Screenshots go to test-artifacts/browser/.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from helpers import ARTIFACTS, DaemonProcess, base_sections, camera, new_daemon, wait_for
from playwright.sync_api import Browser, Page, sync_playwright

from capture.sim.simulator import Simulator
from edge.access.users import Role, UserStore
from storage.clock import SystemClock
from storage.store import SegmentStore

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
SHOTS = ARTIFACTS / "browser"
PASSWORD = "maintenance-password"
STAFF = {"maint": (Role.MAINTAINER, "MNT-1"), "officer": (Role.OFFICER, "PSB-1001"),
         "approver": (Role.APPROVER, "PSB-2001"), "auditor": (Role.AUDITOR, "AUD-1")}


@pytest.fixture
def browser() -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        pytest.fail("chromium is not installed; `make test` installs it as root (scripts/sysdeps.sh)")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            yield b
        finally:
            b.close()


def _users(root: Path) -> dict[str, str]:
    """Users straight into the box's index before the daemon starts (as `edge user add` does)."""
    store = SegmentStore(root, SystemClock())
    try:
        users = UserStore(store.index, store.clock)
        tokens = {name: users.add(name, role, cred)[1] for name, (role, cred) in STAFF.items()}
        users.set_password("maint", PASSWORD)
    finally:
        store.close()
    return tokens


class Session:
    """One person at one browser; fails the test on any Content-Security-Policy violation."""

    def __init__(self, browser: Browser, url: str, who: str, phone: bool = False) -> None:
        size = {"width": 390, "height": 844} if phone else {"width": 1280, "height": 900}
        self.context = browser.new_context(viewport=size, accept_downloads=True)
        self.page: Page = self.context.new_page()
        self.url = url
        self.who = who
        self.csp_errors: list[str] = []
        self.page.on("console", lambda m: self.csp_errors.append(m.text) if "Content Security Policy" in m.text
                     else None)

    def login(self, token: str = "", name: str = "", password: str = "") -> None:
        self.page.goto(self.url + "/")
        assert "/login" in self.page.url, "an anonymous visitor is sent to the login page"
        if token:
            self.page.fill("input[name=token]", token)
        else:
            self.page.fill("input[name=name]", name)
            self.page.fill("input[name=password]", password)
        self.page.click("button[type=submit]")
        self.page.wait_for_selector("header nav")

    def shot(self, name: str) -> Path:
        SHOTS.mkdir(parents=True, exist_ok=True)
        path = SHOTS / f"{name}.png"
        self.page.screenshot(path=str(path), full_page=True)
        return path

    def close(self) -> None:
        assert not self.csp_errors, self.csp_errors
        self.context.close()


def test_maintenance_page_end_to_end(tmp_path: Path, clip: Callable[..., Path],
                                     simulator: Callable[..., Simulator], daemons: list[DaemonProcess],
                                     browser: Browser) -> None:
    sim = simulator({"cam1": clip(seed=41), "cam2": clip(seed=42)})
    root = tmp_path / "store"
    cams = [camera("gate-1", sim.url("cam1"), name="North gate", signage=True),
            camera("square-1", sim.url("cam2"), name="Main square", site_category="square")]
    d = new_daemon(tmp_path, base_sections(root, health={"interval_seconds": 1.0},
                                           access={"auth_failures_per_minute": 100}), cams)
    daemons.append(d)
    root.mkdir(parents=True)
    tokens = _users(root)
    d.start()
    wait_for(lambda: all((root / "health" / c / "latest.jpg").is_file() for c in ("gate-1", "square-1")),
             40, 0.2, "a snapshot of each camera")

    # -- maintainer: every camera's tile with its state, and no pictures ------------------------
    maint = Session(browser, d.url, "maint")
    maint.login(name="maint", password=PASSWORD)
    page = maint.page
    page.wait_for_selector("#tile-gate-1 .state-recording")
    page.wait_for_selector("#tile-square-1 .badge")
    assert page.locator(".tile").count() == 2
    for cam_id in ("gate-1", "square-1"):
        tile = page.locator(f"#tile-{cam_id}")
        assert tile.locator(".badge").inner_text() in ("recording", "reconnecting", "offline")
        assert tile.locator("img").count() == 0
        assert "snapshot hidden" in tile.inner_text()
    assert "Footage held:" in page.inner_text("#storage") and "floor 30 days" in page.inner_text("#storage")
    maint.shot("maintainer-overview")
    page.click("#tile-gate-1 h2 a")
    page.wait_for_selector("svg.timeline rect.span")
    assert page.locator("#view img").count() == 0
    assert page.locator("text=Re-commission the reference").count() == 1
    maint.shot("maintainer-camera")
    maint.close()
    phone = Session(browser, d.url, "maint", phone=True)
    phone.login(name="maint", password=PASSWORD)
    phone.shot("maintainer-overview-phone")
    phone.close()

    # -- officer: sees pictures; requests an export through the form ---------------------------
    officer = Session(browser, d.url, "officer")
    officer.login(token=tokens["officer"])
    page = officer.page
    img = page.locator("#tile-gate-1 img.snapshot")
    img.wait_for()
    wait_for(lambda: page.evaluate("(i) => i.complete && i.naturalWidth > 0", img.element_handle()), 10,
             what="the snapshot to load")
    officer.shot("officer-overview")
    page.click("header nav >> text=Exports")
    page.check("input[name=cameras][value=gate-1]")
    page.fill("input[name=purpose]", "robbery investigation at the north gate")
    page.fill("input[name=case_number]", "CQ-2026-0815")
    page.fill("input[name=recipient_name]", "Wang Lei")
    page.fill("input[name=recipient_unit]", "Yuzhong District PSB")
    page.fill("input[name=doc_number]", "YZ-APP-0815")
    page.fill("input[name=doc_issued_by]", "Yuzhong District PSB chief")
    officer.shot("officer-request-form")
    page.click("#request button[type=submit]")
    page.wait_for_selector("text=Export requested")
    row = page.locator("#all tbody tr").first
    export_id = row.get_attribute("id").removeprefix("export-")  # type: ignore[union-attr]
    assert "pending" in row.inner_text()

    # -- approver: the queue, approve ------------------------------------------------------------
    approver = Session(browser, d.url, "approver")
    approver.login(token=tokens["approver"])
    approver.page.click("header nav >> text=Exports")
    pending = approver.page.locator(f"#pending-{export_id}")
    assert "YZ-APP-0815" in pending.inner_text() and "officer (PSB-1001)" in pending.inner_text()
    approver.shot("approver-queue")
    pending.locator("text=Approve #" + export_id).click()
    approver.page.wait_for_selector("text=Export approved")
    approver.close()

    # -- officer: download the bundle once it is ready -----------------------------------------
    link = page.locator(f"#export-{export_id} a.download")

    def bundle_ready() -> bool:
        page.reload()
        assert "failed" not in page.locator(f"#export-{export_id}").inner_text()
        return link.count() == 1

    wait_for(bundle_ready, 40, 0.5, "the bundle's download link")
    officer.shot("officer-download")
    with page.expect_download() as dl:
        link.click()
    data = Path(dl.value.path()).read_bytes()
    names = zipfile.ZipFile(io.BytesIO(data)).namelist()
    assert any(n.endswith("manifest.json") for n in names) and any(n.endswith(".mp4") for n in names)
    officer.close()

    # -- auditor: every step in the register -----------------------------------------------------
    auditor = Session(browser, d.url, "auditor")
    auditor.login(token=tokens["auditor"])
    page = auditor.page
    page.click("header nav >> text=Access register")
    subject = f"export:{export_id}"
    rows = page.locator("table.register tbody tr", has_text=subject)
    actions = {rows.nth(i).get_attribute("data-action") for i in range(rows.count())}
    assert {"export_request", "export_approve", "export_download"} <= actions, actions
    page.select_option("select[name=action]", "export_download")
    page.click("form.filters button")
    page.wait_for_url("**action=export_download**")
    filtered = page.locator("table.register tbody tr")
    assert filtered.count() == 1 and subject in filtered.inner_text() and "officer" in filtered.inner_text()
    auditor.shot("auditor-register")
    auditor.close()
