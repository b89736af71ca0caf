"""User administration at the box: tokens shown once, stored as hashes, disable and rotate registered."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from edge.access.users import UserStore, token_hash
from edge.cli.main import main
from storage.clock import SystemClock
from storage.register import AccessRegister, Query
from storage.store import SegmentStore


def token_of(capsys: pytest.CaptureFixture[str]) -> str:
    return capsys.readouterr().out.strip().splitlines()[-1]


def test_add_disable_rotate(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg = tmp_path / "edge.toml"
    cfg.write_text(f'[storage]\nroot = "{tmp_path / "store"}"\n', encoding="utf-8")
    c = str(cfg)
    assert main(["user", "add", "-c", c, "wang", "--role", "officer", "--credential-id", "PC-77"]) == 0
    first = token_of(capsys)
    assert first.startswith("edge_") and len(first) > 40
    assert main(["user", "add", "-c", c, "wang", "--role", "officer", "--credential-id", "PC-78"]) == 1
    capsys.readouterr()
    db = sqlite3.connect(tmp_path / "store" / "index.sqlite3")
    stored = db.execute("SELECT token_sha256 FROM users WHERE name='wang'").fetchone()[0]
    assert stored == token_hash(first) and first not in str(db.execute("SELECT * FROM users").fetchall())
    db.close()

    assert main(["token", "rotate", "-c", c, "wang"]) == 0
    second = token_of(capsys)
    assert main(["user", "disable", "-c", c, "wang"]) == 0
    assert main(["token", "rotate", "-c", c, "nobody"]) == 1
    capsys.readouterr()

    store = SegmentStore(tmp_path / "store", SystemClock())
    try:
        users = UserStore(store.index, store.clock)
        assert users.by_token(first) is None, "the rotated-out token no longer works"
        assert users.by_token(second) is None, "a disabled user's token does not work"
        users.set_disabled("wang", False)
        user = users.by_token(second)
        assert user is not None and user.credential_id == "PC-77"
        actions = [e.action for e in AccessRegister(store.index, store.clock).query(Query())]
        assert actions == ["user_add", "token_rotate", "user_disable"]
    finally:
        store.close()
