"""The one schema: numbered migrations at open, and a store written by release 0.1 opens and migrates.

`fixtures/store-0.1.tar.gz` was made by round one's code (commit 829ad0a) with
`fixtures/make_store_0_1.py.txt`: three recorded segments, a gap, two users, an alarm, a hold, a
pending export and a pending hold release, no `user_version`.
"""

from __future__ import annotations

import sqlite3
import tarfile
from pathlib import Path

import pytest
from helpers import run_edge, write_config

import storage.schema as schema
from edge.access.exports import State
from edge.app.box import Box
from edge.config import load_config
from storage.index import Index
from storage.register import Actor

FIXTURE = Path(__file__).parent / "fixtures" / "store-0.1.tar.gz"


def legacy_store(tmp_path: Path) -> Path:
    with tarfile.open(FIXTURE) as tar:
        tar.extractall(tmp_path, filter="data")
    return tmp_path / "store"


def version(db: Path) -> int:
    with sqlite3.connect(db) as conn:
        return int(conn.execute("PRAGMA user_version").fetchone()[0])


def test_a_new_index_is_created_at_the_latest_version(tmp_path: Path) -> None:
    index = Index(tmp_path / "index.sqlite3")
    try:
        assert index.migrated == [m.version for m in schema.MIGRATIONS]
        tables = {r[0] for r in index.reader().execute("SELECT name FROM sqlite_master WHERE type='table'")}
        assert {"segments", "gaps", "register", "holds", "users", "exports", "hold_releases", "alarm_events",
                "web_sessions", "meta", "anomalies"} <= tables
    finally:
        index.close()
    assert version(tmp_path / "index.sqlite3") == schema.LATEST
    again = Index(tmp_path / "index.sqlite3")
    assert again.migrated == [], "a current store is not migrated again"
    again.close()


def test_a_store_written_by_release_0_1_opens_migrates_and_verifies(tmp_path: Path) -> None:
    root = legacy_store(tmp_path)
    db = root / "index.sqlite3"
    assert version(db) == 0
    cfg_path = write_config(tmp_path / "edge.toml", {"storage": {"root": str(root)}},
                            [{"id": "gate-1", "url": "rtsp://127.0.0.1:9/x", "site_category": "street"}])
    with Box(load_config(cfg_path)) as box:
        assert box.store.index.migrated == [m.version for m in schema.MIGRATIONS]
        segs = list(box.store.index.chain_of("gate-1"))
        assert [s.seq for s in segs] == [0, 1, 2] and all(s.state == "stored" for s in segs)
        assert [g.reason for g in box.store.index.gaps("gate-1")] == ["timeout"]
        assert {u.name for u in box.users.list()} == {"officer-1", "approver-1"}
        exp = box.exports.get(1)
        assert exp is not None and exp.state is State.PENDING and exp.requester.credential_id == "O-1"
        assert exp.spec.case_number == "CASE-1"
        hold = box.holds.get(1)
        assert hold is not None and hold.case_number == "CASE-1"
        rel = box.hold_releases.latest(1)
        assert rel is not None and rel.state == "pending" and rel.approval == {"number": "D-2"}
        events = box.store.index.reader().execute("SELECT code, event FROM alarm_events").fetchall()
        assert events == [("offline", "raise")]
        # The old requests go on through the one workflow: the second person approves the release.
        approver = box.users.get("approver-1")
        assert approver is not None
        released = box.hold_releases.approve(1, approver, Actor("approver-1", "approver", "A-1", "test"))
        assert released.released_by == "approver-1"
    assert version(db) == schema.LATEST
    out = run_edge("verify", "-c", str(cfg_path))
    assert out.returncode == 0, out.stdout + out.stderr
    assert "INTACT" in out.stdout


def test_a_store_from_a_newer_release_is_refused_with_the_reason(tmp_path: Path) -> None:
    db = tmp_path / "index.sqlite3"
    Index(db).close()
    with sqlite3.connect(db) as conn:
        conn.execute(f"PRAGMA user_version = {schema.LATEST + 1}")
    with pytest.raises(schema.SchemaError, match="newer than this release"):
        Index(db)


def test_a_failing_migration_leaves_the_store_at_its_last_whole_version(tmp_path: Path,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    db = tmp_path / "index.sqlite3"
    Index(db).close()
    broken = schema.Migration(schema.LATEST + 1, "broken", "CREATE TABLE half_made (x INTEGER);\nNOT SQL AT ALL;")
    monkeypatch.setattr(schema, "MIGRATIONS", (*schema.MIGRATIONS, broken))
    monkeypatch.setattr(schema, "LATEST", broken.version)
    with pytest.raises(sqlite3.OperationalError):
        Index(db)
    assert version(db) == broken.version - 1
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT count(*) FROM sqlite_master WHERE name='half_made'").fetchone()[0] == 0
