"""Deny by default, over real HTTP: every route but /healthz and /readyz needs a token; footage
routes refuse monitor, maintainer and auditor; every refusal is registered. Plus the request
contract (422 with reasons) and the refusals of the workflow (denied, not approved, no footage)."""

from __future__ import annotations

import json
import re
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from access_fixtures import Api, add_users, export_body, iso, register_rows
from fastapi import routing
from fastapi.routing import APIRoute
from helpers import DaemonProcess, base_sections, camera, new_daemon, wait_for

from api.app import create_app
from capture.sim.simulator import free_port
from edge.cli.wiring import build_daemon
from edge.config import load_config

OPEN = {"/healthz", "/readyz"}
#: The web page's sign-in and sign-out: reachable without a session by necessity, and serving no data.
SIGN_IN = {"/login", "/logout"}
WRONG_ROLES = ("monitor-1", "maint-1", "auditor-1")


@pytest.fixture(scope="module")
def box(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[DaemonProcess, Api, Path]]:
    tmp = tmp_path_factory.mktemp("access")
    root = tmp / "store"
    # A camera that never answers: these tests need configured cameras, not footage.
    d = new_daemon(tmp, base_sections(root, access={"auth_failures_per_minute": 1000, "refusal_window_seconds": 1.0}),
                   [camera("gate-1", f"rtsp://127.0.0.1:{free_port()}/none")])
    tokens = add_users(d.config)
    d.start()
    try:
        yield d, Api(d.url, tokens), root
    finally:
        d.cleanup()
        shutil.rmtree(tmp, ignore_errors=True)


def app_routes(config: Path) -> list[tuple[str, str]]:
    """(method, path) of every route the app serves, read from the app itself (not only the schema)."""
    d = build_daemon(load_config(config))
    try:
        app = create_app(d.runtime)
        out = []
        # FastAPI includes routers lazily; iter_route_contexts yields every effective route with its full path.
        for ctx in routing.iter_route_contexts(app.routes):
            r = ctx.original_route
            if isinstance(r, APIRoute):
                assert ctx.path is not None
                out += [(m, ctx.path) for m in sorted(r.methods)]
        return out
    finally:
        d.box.store.close()


def concrete(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "1", path)


def refusals(root: Path, path: str) -> list[dict[str, object]]:
    rows = [dict(r) for r in register_rows(root, "WHERE action IN ('auth_failure', 'access_denied')")]
    for r in rows:
        r["detail"] = json.loads(str(r["detail"]))
    return [r for r in rows if r["detail"]["path"] == path]  # type: ignore[index]


def test_every_route_but_health_requires_a_token(box: tuple[DaemonProcess, Api, Path]) -> None:
    d, api, root = box
    routes = app_routes(d.config)
    schema = api("monitor-1", "GET", "/api/v1/openapi.json")
    assert schema.status_code == 200
    documented = {(m.upper(), p) for p, ops in schema.json()["paths"].items() for m in ops}
    assert documented <= set(routes), "the schema documents only routes the app serves"
    assert {p for _, p in routes} >= {"/api/v1/exports", "/api/v1/holds", "/api/v1/audit", "/api/v1/openapi.json"}
    refused: list[str] = []
    for method, path in routes:
        url = concrete(path)
        r = api(None, method, url)
        if path in OPEN:
            assert r.status_code in (200, 503), (method, path)
            continue
        if path in SIGN_IN:
            assert r.status_code < 500 and "footage" not in r.text.lower(), (method, path)
            continue
        if not (path.startswith("/api/") or path == "/metrics"):
            # A page of the web UI: without a session it only sends the browser to the sign-in form.
            assert r.status_code in (401, 403) or (r.status_code == 303 and r.headers["location"].startswith(
                "/login")), f"page {method} {path} answered {r.status_code} without a session"
            continue
        assert r.status_code == 401, f"{method} {path} answered {r.status_code} without a token"
        assert r.headers.get("www-authenticate") == "Bearer"
        refused.append(f"{method} {url}")
    # Anonymous refusals are registered aggregated (one entry per source and window), each request counted.
    def registered() -> set[str]:
        rows = [dict(r) for r in register_rows(root, "WHERE action='auth_failure'")]
        return {k for r in rows for k in json.loads(str(r["detail"])).get("requests", {})}

    wait_for(lambda: set(refused) <= registered(), 10, 0.2, "every refusal counted in the register")


def test_footage_routes_refuse_other_roles_and_register_it(box: tuple[DaemonProcess, Api, Path]) -> None:
    d, api, root = box
    routes = app_routes(d.config)
    footage = [(m, p) for m, p in routes if p.startswith("/api/v1/exports")]
    footage += [(m, p) for m, p in routes if p.startswith("/api/v1/holds") and m == "POST"]
    assert len(footage) >= 9
    for method, path in footage:
        url = concrete(path)
        before = len(refusals(root, url))
        for user in WRONG_ROLES:
            r = api(user, method, url, json={})
            assert r.status_code == 403, f"{user}: {method} {path} answered {r.status_code}"
        after = refusals(root, url)[before:]
        assert sorted(str(x["actor"]) for x in after) == sorted(WRONG_ROLES)
        assert {x["action"] for x in after} == {"access_denied"} and {x["result"] for x in after} == {"refused"}
        assert {x["credential_id"] for x in after} == {"MON-1", "MNT-1", "AUD-1"}
    # Holds can be read by auditors (inspection), never by monitor or maintainer.
    for user, code in (("monitor-1", 403), ("maint-1", 403), ("auditor-1", 200), ("approver-1", 200)):
        assert api(user, "GET", "/api/v1/holds").status_code == code
    # The register is for auditors only.
    for user in ("officer-1", "approver-1", "monitor-1", "maint-1"):
        assert api(user, "GET", "/api/v1/audit").status_code == 403
    page = api("auditor-1", "GET", "/api/v1/audit", params={"action": "access_denied", "limit": 5})
    assert page.status_code == 200
    body = page.json()
    assert len(body["entries"]) == 5 and body["next_after_id"] == body["entries"][-1]["id"]
    assert {e["action"] for e in body["entries"]} == {"access_denied"}
    nxt = api("auditor-1", "GET", "/api/v1/audit", params={"action": "access_denied", "after_id": body["next_after_id"],
                                                           "actor": "auditor-1"}).json()
    assert nxt["entries"] and all(e["id"] > body["next_after_id"] and e["actor"] == "auditor-1"
                                  for e in nxt["entries"])
    assert api("auditor-1", "GET", "/api/v1/audit", params={"action": "nonsense"}).status_code == 422


def test_request_contract_is_validated_with_reasons(box: tuple[DaemonProcess, Api, Path]) -> None:
    _, api, _ = box
    now = int(time.time() * 1e6)
    good = export_body(["gate-1"], now - 600_000_000, now - 540_000_000)

    def problem(body: dict[str, object]) -> str:
        r = api("officer-1", "POST", "/api/v1/exports", json=body)
        assert r.status_code == 422, r.text
        return json.dumps(r.json()["detail"])

    assert "unknown camera 'gate-9'" in problem({**good, "cameras": ["gate-9"]})
    assert "start must be before end" in problem({**good, "end": good["start"]})
    assert "maximum of 24 h" in problem({**good, "start": "2020-01-01T00:00:00Z"})
    assert "future" in problem({**good, "end": "2099-01-01T00:00:00Z"})
    assert "purpose" in problem({**good, "purpose": "   "})
    assert "approval_document" in problem({k: v for k, v in good.items() if k != "approval_document"})
    doc = dict(good["approval_document"])  # type: ignore[arg-type]
    assert "sha256" in problem({**good, "approval_document": {**doc, "sha256": "abc"}})
    assert "issued_by" in problem({**good, "approval_document": {**doc, "issued_by": ""}})
    assert "unit" in problem({**good, "recipient": {"name": "Wang Lei"}})
    assert "extra" in problem({**good, "priority": "urgent"}).lower()
    assert "timezone" in problem({**good, "start": "2026-11-28T10:00:00"}).lower()
    r = api("officer-1", "POST", "/api/v1/exports",
            json={**good, "approval_document": {**doc, "sha256": "AB" * 32}})
    assert r.status_code == 201 and r.json()["approval_document"]["sha256"] == "ab" * 32


def test_denied_and_unapproved_exports_cannot_be_downloaded(box: tuple[DaemonProcess, Api, Path]) -> None:
    _, api, root = box
    now = int(time.time() * 1e6)
    eid = api("officer-1", "POST", "/api/v1/exports",
              json=export_body(["gate-1"], now - 600_000_000, now - 540_000_000)).json()["id"]
    assert api("officer-1", "GET", f"/api/v1/exports/{eid}/download").status_code == 409
    r = api("approver-1", "POST", f"/api/v1/exports/{eid}/deny", json={"reason": "no approval on file"})
    assert r.status_code == 200 and r.json()["state"] == "denied"
    assert r.json()["decision_reason"] == "no approval on file"
    assert api("officer-1", "GET", f"/api/v1/exports/{eid}/download").status_code == 409
    assert api("approver-1", "GET", f"/api/v1/exports/{eid}/download").status_code == 403
    assert api("officer-2", "GET", f"/api/v1/exports/{eid}/download").status_code == 403
    assert api("approver-1", "POST", f"/api/v1/exports/{eid}/approve").status_code == 409, "a denial is final"
    assert not (root / "exports" / str(eid)).exists()
    actions = [(e["action"], e["result"], e["actor"])
               for e in api("officer-1", "GET", f"/api/v1/exports/{eid}").json()["register_entries"]]
    assert actions == [("export_request", "ok", "officer-1"), ("export_download", "refused", "officer-1"),
                       ("export_deny", "ok", "approver-1"), ("export_download", "refused", "officer-1"),
                       ("export_download", "refused", "approver-1"), ("export_download", "refused", "officer-2"),
                       ("export_approve", "refused", "approver-1")]
    assert api("officer-1", "GET", "/api/v1/exports/999999").status_code == 404


def test_export_without_footage_fails_with_the_gaps_reason(box: tuple[DaemonProcess, Api, Path]) -> None:
    _, api, _ = box
    now = int(time.time() * 1e6)
    eid = api("officer-2", "POST", "/api/v1/exports",
              json=export_body(["gate-1"], now - 300_000_000, now - 240_000_000)).json()["id"]
    assert api("approver-1", "POST", f"/api/v1/exports/{eid}/approve").status_code == 200
    done = wait_for(lambda: (e := api("officer-2", "GET", f"/api/v1/exports/{eid}").json())["state"] == "failed" and e,
                    20, 0.1, "the export to fail")
    assert "no recorded footage" in done["error"]
    assert [e["result"] for e in done["register_entries"] if e["action"] == "export_produce"] == ["failed"]
    assert api("officer-2", "GET", f"/api/v1/exports/{eid}/download").status_code == 409


def test_holds_over_the_api_need_two_persons_to_release(box: tuple[DaemonProcess, Api, Path]) -> None:
    _, api, root = box
    now = int(time.time() * 1e6)
    body = {"camera": "gate-1", "start": iso(now - 3_600_000_000), "end": iso(now), "reason": "hit and run",
            "case_number": "CQ-2026-77"}
    assert api("officer-1", "POST", "/api/v1/holds", json={**body, "camera": "gate-9"}).status_code == 422
    r = api("officer-1", "POST", "/api/v1/holds", json=body)
    assert r.status_code == 201, r.text
    hold = r.json()
    hid = hold["id"]
    assert hold["active"] and hold["created_by"] == "officer-1" and hold["source"] == "manual"
    assert hold["expires"] > iso(now + 729 * 86_400_000_000), "held for the statutory period"
    assert hid in [h["id"] for h in api("auditor-1", "GET", "/api/v1/holds").json()]

    doc = export_body([], 0, 1)["approval_document"]
    release = {"reason": "case closed", "approval_document": doc}
    assert api("approver-1", "POST", f"/api/v1/holds/{hid}/release/approve").status_code == 409, "nothing pending"
    r = api("officer-1", "POST", f"/api/v1/holds/{hid}/release", json=release)
    assert r.status_code == 201 and r.json()["state"] == "pending"
    assert api("officer-2", "POST", f"/api/v1/holds/{hid}/release", json=release).status_code == 409
    assert api("officer-1", "POST", f"/api/v1/holds/{hid}/release/approve").status_code == 403
    r = api("approver-twin", "POST", f"/api/v1/holds/{hid}/release/approve")
    assert r.status_code == 403 and "credential" in r.json()["detail"]
    assert api("officer-1", "GET", f"/api/v1/holds/{hid}").json()["active"], "still held"
    r = api("approver-1", "POST", f"/api/v1/holds/{hid}/release/approve")
    assert r.status_code == 200, r.text
    released = r.json()
    assert not released["active"] and released["released_by"] == "approver-1"
    assert released["release_request"]["state"] == "approved"
    assert hid not in [h["id"] for h in api("officer-1", "GET", "/api/v1/holds").json()]
    assert hid in [h["id"] for h in api("officer-1", "GET", "/api/v1/holds?include_inactive=true").json()]
    rows = register_rows(root, "WHERE subject=?", (f"hold:{hid}",))
    assert [(r["action"], r["result"], r["actor"]) for r in rows] == [
        ("hold_create", "ok", "officer-1"), ("hold_release_approve", "refused", "approver-1"),
        ("hold_release_request", "ok", "officer-1"), ("hold_release_request", "refused", "officer-2"),
        ("hold_release_approve", "refused", "approver-twin"), ("hold_release_approve", "ok", "approver-1")]

    # A denied release leaves the hold in force.
    hid2 = api("officer-2", "POST", "/api/v1/holds", json={**body, "camera": None}).json()["id"]
    assert api("officer-2", "POST", f"/api/v1/holds/{hid2}/release", json=release).status_code == 201
    r = api("approver-1", "POST", f"/api/v1/holds/{hid2}/release/deny", json={"reason": "case still open"})
    assert r.status_code == 200 and r.json()["state"] == "denied"
    assert api("auditor-1", "GET", f"/api/v1/holds/{hid2}").json()["active"]

    # "Handed to police": an approved export with hold=true holds its range for the statutory period.
    eid = api("officer-1", "POST", "/api/v1/exports",
              json=export_body(["gate-1"], now - 120_000_000, now - 60_000_000, hold=True)).json()["id"]
    assert api("approver-1", "POST", f"/api/v1/exports/{eid}/approve").status_code == 200
    held = [h for h in api("officer-1", "GET", "/api/v1/holds").json() if h["source"] == f"export:{eid}"]
    assert len(held) == 1 and held[0]["camera"] == "gate-1" and held[0]["case_number"] == "CQ-2026-1234"
    assert held[0]["created_by"] == "approver-1"
