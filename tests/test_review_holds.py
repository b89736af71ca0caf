"""`edge hold release`: the two-person early release at the box's shell, each person by their own token."""

from __future__ import annotations

from pathlib import Path

from helpers import run_edge, write_config

from edge.access.users import Role, UserStore
from storage.clock import SystemClock
from storage.register import AccessRegister, Query
from storage.store import SegmentStore


def test_cli_hold_release_needs_an_officer_then_a_different_approver(tmp_path: Path) -> None:
    cfg = str(write_config(tmp_path / "edge.toml", {"storage": {"root": str(tmp_path / "s")}},
                           [{"id": "gate-1", "url": "rtsp://127.0.0.1:1/x", "site_category": "street"}]))
    assert run_edge("hold", "add", "-c", cfg, "--camera", "gate-1", "--start", "2025-03-01T08:00:00+08:00",
                    "--end", "2025-03-01T09:00:00+08:00", "--reason", "theft", "--case", "CQ-1").returncode == 0
    store = SegmentStore(tmp_path / "s", SystemClock())
    try:
        users = UserStore(store.index, store.clock)
        tokens = {n: users.add(n, r, c)[1] for n, r, c in (("officer", Role.OFFICER, "PSB-1"),
                                                           ("twin", Role.APPROVER, "PSB-1"),
                                                           ("approver", Role.APPROVER, "PSB-2"))}
    finally:
        store.close()
    files = {}
    for name, token in tokens.items():
        files[name] = tmp_path / f"{name}.token"
        files[name].write_text(token + "\n")
    doc = ["--reason", "case closed", "--doc-number", "YZ-9", "--doc-issued-by", "PSB", "--doc-issued-on",
           "2026-11-28"]

    wrong = tmp_path / "wrong.token"
    wrong.write_text("not-a-token")
    out = run_edge("hold", "release", "-c", cfg, "1", "--request", *doc, "--token-file", str(wrong))
    assert out.returncode == 2 and "no enabled user" in out.stdout
    out = run_edge("hold", "release", "-c", cfg, "1", "--request", *doc, "--token-file", str(files["approver"]))
    assert out.returncode == 2 and "for officers" in out.stdout
    out = run_edge("hold", "release", "-c", cfg, "1", "--request", "--token-file", str(files["officer"]))
    assert out.returncode == 2 and "--doc-number" in out.stdout
    out = run_edge("hold", "release", "-c", cfg, "1", "--request", *doc, "--token-file", str(files["officer"]))
    assert out.returncode == 0 and "requested" in out.stdout, out.stdout + out.stderr
    out = run_edge("hold", "release", "-c", cfg, "1", "--approve", "--token-file", str(files["twin"]))
    assert out.returncode == 2 and "same work credential" in out.stdout
    listed = run_edge("hold", "list", "-c", cfg)
    assert "CQ-1" in listed.stdout, "still in force after the refused approval"
    out = run_edge("hold", "release", "-c", cfg, "1", "--approve", "--token-file", str(files["approver"]))
    assert out.returncode == 0 and "released by approver" in out.stdout, out.stdout
    assert "CQ-1" not in run_edge("hold", "list", "-c", cfg).stdout

    store = SegmentStore(tmp_path / "s", SystemClock())
    try:
        got = [(e.action, e.result, e.actor, e.source) for e in AccessRegister(store.index, store.clock).query(
            Query(actions=["hold_release_request", "hold_release_approve", "auth_failure"]))]
    finally:
        store.close()
    assert got == [("auth_failure", "refused", "anonymous", "cli"),
                   ("hold_release_request", "ok", "officer", "cli"),
                   ("hold_release_approve", "refused", "twin", "cli"),
                   ("hold_release_approve", "ok", "approver", "cli")]
