"""Offload in a real `edge run`: a hold made while recording is copied to a real S3 endpoint
(moto's server, its own process); the daemon is killed half-way and a restart finishes the job.
Metrics, the status document and `edge offload status` show the same figures.
"""

from __future__ import annotations

import base64
import json
import sqlite3
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from helpers import DaemonProcess, base_sections, camera, new_daemon, run_edge, wait_for
from s3_engines import ACCESS_KEY, BUCKET, SECRET, MotoServer, TamperProxy

from capture.sim.simulator import Simulator


@pytest.fixture(scope="module")
def moto(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MotoServer]:
    server = MotoServer(tmp_path_factory.mktemp("moto") / "moto.log").start()
    try:
        yield server
    finally:
        server.stop()


def rows(root: Path, sql: str, args: tuple[object, ...] = ()) -> list[tuple[Any, ...]]:
    conn = sqlite3.connect(f"file:{root / 'index.sqlite3'}?mode=ro", uri=True, timeout=10)
    try:
        return conn.execute(sql, args).fetchall()
    except sqlite3.OperationalError:
        return []  # the table is made at the daemon's start
    finally:
        conn.close()


def iso(us: int) -> str:
    return datetime.fromtimestamp(us / 1e6, UTC).isoformat()


def test_offload_resumes_after_a_kill_and_shows_everywhere(
        tmp_path: Path, clip: Callable[..., Path], simulator: Callable[..., Simulator],
        daemons: list[DaemonProcess], moto: MotoServer) -> None:
    moto.make_locked_bucket(BUCKET)
    proxy = TamperProxy(moto.url).start()
    try:
        sim = simulator({"gate": clip(seed=51)})
        root = tmp_path / "store"
        secret = tmp_path / "s3.secret"
        secret.write_text(SECRET, encoding="utf-8")
        sections = base_sections(root, segment_seconds=1.0, box={"id": "box-9"}, offload={
            "enabled": True, "endpoint_url": proxy.url, "bucket": BUCKET, "access_key_id": ACCESS_KEY,
            "secret_access_key_file": str(secret), "interval_seconds": 0.5, "max_backoff_seconds": 2.0},
            integrity={"checkpoint_seconds": 3600})
        cams = [camera("gate", sim.url("gate"))]
        first = new_daemon(tmp_path, sections, cams, name="first")
        daemons.append(first)
        first.start()
        wait_for(lambda: len(rows(root, "SELECT id FROM segments WHERE camera='gate'")) >= 6, 60, 0.2,
                 "six segments")
        segs = rows(root, "SELECT id, start_us, end_us, sha256 FROM segments WHERE camera='gate' ORDER BY seq LIMIT 6")
        start_us, end_us = int(segs[0][1]), int(segs[-1][2])
        held = {int(r[0]) for r in rows(root, "SELECT id FROM segments WHERE camera='gate' AND start_us < ?"
                                        " AND end_us > ?", (end_us, start_us))}

        proxy.put_delay = 0.7  # a slow uplink, so the kill lands half-way
        out = run_edge("hold", "add", "-c", str(first.config), "--camera", "gate", "--start", iso(start_us),
                       "--end", iso(end_us), "--reason", "fight at the gate", "--case", "C-77")
        assert out.returncode == 0, out.stderr

        def done() -> list[tuple[Any, ...]]:
            # Segments only: the daemon's own signed checkpoints (issue 13) are offloaded beside them.
            return rows(root, "SELECT source, key, version_id, sha256 FROM offload_queue WHERE state='done'"
                              " AND source LIKE 'segment:%'")

        wait_for(lambda: len(done()) >= 2, 60, 0.1, "two objects offloaded")
        first.kill()
        half = len(done())
        assert 2 <= half < len(held), "the kill must land half-way"

        proxy.put_delay = 0.0
        second = new_daemon(tmp_path, sections, cams, name="second")
        daemons.append(second)
        second.start()
        wait_for(lambda: len(done()) == len(held), 60, 0.2, "every held segment offloaded after the restart")

        s3 = moto.client()
        sha_of = {f"segment:{r[0]}": r[3] for r in segs}
        for source, key, version, sha in done():
            assert source in {f"segment:{i}" for i in held}
            assert sha == sha_of.get(source, sha)
            # Every version of the key (a kill between PUT and the queue update leaves two) holds the same bytes.
            for v in s3.list_object_versions(Bucket=BUCKET, Prefix=str(key)).get("Versions", []):
                head = s3.head_object(Bucket=BUCKET, Key=key, VersionId=v["VersionId"], ChecksumMode="ENABLED")
                assert head["ObjectLockMode"] == "COMPLIANCE"
                assert base64.b64decode(head["ChecksumSHA256"]).hex() == sha
            registered = rows(root, "SELECT detail FROM register WHERE action='offload_upload' AND subject=?"
                                    " AND result='ok'", (source,))
            ids = {json.loads(str(d[0]))["version_id"] for d in registered}
            assert version in ids
            stored = {v["VersionId"] for v in s3.list_object_versions(Bucket=BUCKET, Prefix=str(key))["Versions"]}
            assert stored <= ids, "every version in the bucket is in the access register"

        user = run_edge("user", "add", "-c", str(second.config), "central", "--role", "monitor",
                        "--credential-id", "M-1")
        auth = {"Authorization": f"Bearer {user.stdout.strip().splitlines()[-1]}"}
        # The held segments and the checkpoints the daemons signed (at most one or two: an hour apart).
        uploaded = len(rows(root, "SELECT id FROM offload_queue WHERE state='done'"))
        assert uploaded >= len(held)
        metrics = httpx.get(second.url + "/metrics", headers=auth, timeout=10).text
        assert f"edge_offload_uploaded_objects_total {float(uploaded)}" in metrics
        assert 'edge_offload_pending_objects{kind="segment"} 0.0' in metrics
        assert "edge_ready 1.0" in metrics
        doc = httpx.get(second.url + "/api/v1/status", headers=auth, timeout=10).json()
        assert doc["offload"]["uploaded_objects"] == uploaded and doc["offload"]["bucket"] == BUCKET
        cli = run_edge("offload", "status", "-c", str(second.config), "--json")
        assert cli.returncode == 0, cli.stderr
        assert json.loads(cli.stdout)["uploaded_objects"] == uploaded
        text = run_edge("offload", "status", "-c", str(second.config))
        assert f"in the bucket (verified, locked): {uploaded} object(s)" in text.stdout
    finally:
        proxy.stop()
