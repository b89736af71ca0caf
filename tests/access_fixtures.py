"""Helpers for the access tests: users made with the real CLI, an HTTP client per role, request bodies."""

from __future__ import annotations

import sqlite3
import subprocess
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from helpers import ROOT, edge_cmd

#: name -> (role, work credential). `approver-twin` holds officer-1's credential: one person, two accounts.
STAFF: dict[str, tuple[str, str]] = {
    "officer-1": ("officer", "PSB-1001"),
    "officer-2": ("officer", "PSB-1002"),
    "approver-1": ("approver", "PSB-2001"),
    "approver-twin": ("approver", "PSB-1001"),
    "monitor-1": ("monitor", "MON-1"),
    "maint-1": ("maintainer", "MNT-1"),
    "auditor-1": ("auditor", "AUD-1"),
}


def add_users(config: Path, users: dict[str, tuple[str, str]] | None = None) -> dict[str, str]:
    """Create users with `edge user add` (in parallel); returns name -> token (the CLI's last line)."""
    users = users or STAFF
    procs = {name: subprocess.Popen(edge_cmd("user", "add", "-c", str(config), name, "--role", role,
                                             "--credential-id", cred),
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT)
             for name, (role, cred) in users.items()}
    tokens = {}
    for name, p in procs.items():
        out, err = p.communicate(timeout=60)
        assert p.returncode == 0, f"user add {name}: {out}{err}"
        tokens[name] = out.strip().splitlines()[-1]
    return tokens


def iso(us: int) -> str:
    return datetime.fromtimestamp(us / 1e6, tz=UTC).isoformat().replace("+00:00", "Z")


def export_body(cameras: list[str], start_us: int, end_us: int, **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "cameras": cameras, "start": iso(start_us), "end": iso(end_us),
        "purpose": "robbery investigation", "case_number": "CQ-2026-1234",
        "recipient": {"name": "Wang Lei", "unit": "Yuzhong District PSB"},
        "approval_document": {"number": "YZ-APP-0042", "issued_by": "Yuzhong District PSB chief",
                              "issued_on": "2026-11-28", "sha256": None},
        "hold": False,
    }
    body.update(extra)
    return body


@dataclass
class Api:
    url: str
    tokens: dict[str, str]

    def __call__(self, user: str | None, method: str, path: str, **kw: Any) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self.tokens[user]}"} if user else {}
        return httpx.request(method, self.url + path, headers=headers, timeout=30.0, **kw)


def register_rows(root: Path, sql: str = "", args: tuple[object, ...] = ()) -> list[sqlite3.Row]:
    con = sqlite3.connect(f"file:{root / 'index.sqlite3'}?mode=ro", uri=True)
    con.row_factory = sqlite3.Row
    try:
        return list(con.execute("SELECT * FROM register " + sql + " ORDER BY id", args))
    finally:
        con.close()


def segment_rows(root: Path, camera: str) -> list[sqlite3.Row]:
    con = sqlite3.connect(f"file:{root / 'index.sqlite3'}?mode=ro", uri=True)
    con.row_factory = sqlite3.Row
    try:
        return list(con.execute("SELECT * FROM segments WHERE camera=? AND state='stored' ORDER BY seq", (camera,)))
    finally:
        con.close()
