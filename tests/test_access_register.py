"""The access register resists editing (hash chain, checked by `edge verify`), and token
brute-forcing is throttled per source address and registered."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import httpx
import pytest
from access_fixtures import add_users, register_rows
from helpers import DaemonProcess, base_sections, camera, new_daemon, run_edge, wait_for, write_config

from capture.sim.simulator import free_port
from storage.clock import SystemClock
from storage.register import AccessRegister, Actor
from storage.store import SegmentStore


@pytest.fixture
def registered(tmp_path: Path) -> tuple[Path, Path]:
    root = tmp_path / "store"
    store = SegmentStore(root, SystemClock())
    reg = AccessRegister(store.index, store.clock)
    officer = Actor("officer-1", "officer", "PSB-1001", "127.0.0.1")
    for i in range(4):
        reg.append(officer, "export_request", cameras=["gate-1"], range_start_us=i, range_end_us=i + 10,
                   purpose="robbery investigation", case_number=f"CQ-{i}", recipient={"name": "Wang Lei"},
                   subject=f"export:{i + 1}")
    store.close()
    cfg = write_config(tmp_path / "edge.toml", {"storage": {"root": str(root)}}, [])
    assert run_edge("verify", "-c", str(cfg)).returncode == 0
    return root, cfg


def tamper(root: Path, *sql: str) -> None:
    con = sqlite3.connect(root / "index.sqlite3")
    try:
        for stmt in sql:
            con.execute(stmt)
        con.commit()
    finally:
        con.close()


def test_register_is_append_only_without_dropping_triggers(registered: tuple[Path, Path]) -> None:
    root, _ = registered
    for stmt in ("UPDATE register SET purpose='x' WHERE id=2", "DELETE FROM register WHERE id=2"):
        with pytest.raises(sqlite3.IntegrityError, match="append-only"):
            tamper(root, stmt)


def test_editing_one_register_row_fails_edge_verify(registered: tuple[Path, Path]) -> None:
    root, cfg = registered
    # An attacker with file access drops the trigger and rewrites who the copy went to.
    tamper(root, "DROP TRIGGER register_no_update",
           """UPDATE register SET recipient='{"name": "Someone Else"}' WHERE id=2""")
    out = run_edge("verify", "-c", str(cfg))
    assert out.returncode == 1
    assert "REGISTER #2: entry altered" in out.stdout
    assert "REGISTER #1" not in out.stdout and "REGISTER #3" not in out.stdout


def test_removing_a_register_row_fails_edge_verify(registered: tuple[Path, Path]) -> None:
    root, cfg = registered
    tamper(root, "DROP TRIGGER register_no_delete", "DELETE FROM register WHERE id=3")
    out = run_edge("verify", "-c", str(cfg))
    assert out.returncode == 1 and "REGISTER #3..#3: entries missing" in out.stdout


def _client(source: str) -> httpx.Client:
    return httpx.Client(transport=httpx.HTTPTransport(local_address=source), timeout=10.0)


def test_token_brute_force_is_throttled_per_source_and_registered(
        tmp_path: Path, daemons: list[DaemonProcess]) -> None:
    root = tmp_path / "store"
    d = new_daemon(tmp_path, base_sections(root, access={"auth_failures_per_minute": 5, "refusal_window_seconds": 1.0}),
                   [camera("gate-1", f"rtsp://127.0.0.1:{free_port()}/none")])
    daemons.append(d)
    tokens = add_users(d.config, {"officer-1": ("officer", "PSB-1001")})
    d.start()
    url = d.url + "/api/v1/exports"
    valid = {"Authorization": f"Bearer {tokens['officer-1']}"}
    with _client("127.0.0.1") as attacker, _client("127.0.0.2") as colleague:
        assert attacker.get(url, headers=valid).status_code == 200
        codes = [attacker.get(url, headers={"Authorization": f"Bearer edge_guess{i}"}).status_code
                 for i in range(8)]
        assert codes == [401] * 5 + [429] * 3
        # While throttled even the right token is refused from that address...
        r = attacker.get(url, headers=valid)
        assert r.status_code == 429 and r.headers["retry-after"] == "60"
        # ...but not from another one.
        assert colleague.get(url, headers=valid).status_code == 200
    # Anonymous refusals are aggregated: one entry per source and window, with a count and the reasons.
    def counted() -> list[dict[str, object]]:
        rows = [json.loads(r["detail"]) | {"source": r["source"]}
                for r in register_rows(root, "WHERE action='auth_failure'")]
        return rows if sum(int(str(r["count"])) for r in rows) == 9 else []

    rows = wait_for(counted, 10, 0.2, "the aggregated refusals")
    assert {r["source"] for r in rows} == {"127.0.0.1"}
    reasons: dict[str, int] = {}
    for r in rows:
        for k, v in r["reasons"].items():  # type: ignore[attr-defined]
            reasons[k] = reasons.get(k, 0) + v
    assert reasons["invalid or revoked token"] == 5
    assert sum(v for k, v in reasons.items() if "too many failed authentications" in k) == 4
