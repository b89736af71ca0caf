"""Evidence offload against a real S3 endpoint on loopback (moto's server mode, its own process).

What moto enforces and these tests rely on: Object Lock in compliance mode (a locked version
cannot be deleted by VersionId, not even with the governance bypass), versioning (a PUT on the
same key adds a version, the locked one stays). What moto does NOT enforce: it stores whatever
`x-amz-checksum-sha256` it is sent without checking the body (S3, MinIO and Ceph RGW refuse a
mismatch with BadDigest), and it accepts a shorter retain-until on a compliance-locked version
(S3 refuses it). So the corrupted-upload test runs with
`verify = "readback"`, which reads each new version back and hashes it; it also checks that the
header sent is the index's own SHA-256 of the segment.
"""

from __future__ import annotations

import base64
import json
import sqlite3
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError
from retention_helpers import add_segment
from s3_engines import ACCESS_KEY, BUCKET, SECRET, MotoServer, TamperProxy

from edge.config import EdgeConfig, parse_config
from edge.monitor.alarms import AlarmCenter
from edge.monitor.fleet_metrics import offload_metrics
from edge.offload.service import OffloadService
from edge.offload.sources import ReadyExport, TableCheckpoints
from storage.clock import DAY_US, OffsetClock
from storage.holds import HoldStore
from storage.index import Segment
from storage.register import AccessRegister, Query
from storage.store import SegmentStore

MIN = 60_000_000


@pytest.fixture(scope="module")
def moto(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MotoServer]:
    server = MotoServer(tmp_path_factory.mktemp("moto") / "moto.log").start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def proxy(moto: MotoServer) -> Iterator[TamperProxy]:
    p = TamperProxy(moto.url).start()
    try:
        yield p
    finally:
        p.stop()


_buckets = iter(range(1000))


@pytest.fixture
def bucket(moto: MotoServer) -> str:
    name = f"{BUCKET}-{next(_buckets)}"
    moto.make_locked_bucket(name)
    return name


def offload_config(root: Path, endpoint: str, bucket: str, **extra: object) -> EdgeConfig:
    secret = root.parent / f"{root.name}.secret"
    secret.write_text(SECRET + "\n", encoding="utf-8")
    return parse_config({
        "box": {"id": "box-7"}, "storage": {"root": str(root), "reserve_bytes": 0}, "api": {"enabled": False},
        "offload": {"enabled": True, "endpoint_url": endpoint, "bucket": bucket, "access_key_id": ACCESS_KEY,
                    "secret_access_key_file": str(secret), "interval_seconds": 0.2, "max_backoff_seconds": 1.0,
                    **extra},
        "cameras": [{"id": "gate", "url": "rtsp://127.0.0.1:1/gate", "site_category": "street"}],
    })


class Box:
    """A store with holds, register, alarms and the offload service wired as the daemon wires them."""

    def __init__(self, root: Path, cfg: EdgeConfig, clock: OffsetClock | None = None) -> None:
        self.clock = clock or OffsetClock()
        self.cfg = cfg
        self.store = SegmentStore(root, self.clock)
        self.register = AccessRegister(self.store.index, self.clock)
        self.alarms = AlarmCenter(self.store.index, self.clock)
        self.holds = HoldStore(self.store.index, self.clock, cfg.retention.hold_days)
        self.exports: list[ReadyExport] = []
        self.offload = OffloadService(cfg, self.store.index, root, self.clock, self.register, self.alarms,
                                      self.holds.list, lambda: list(self.exports), TableCheckpoints(self.store.index),
                                      self.store.pinned)

    def close(self) -> None:
        self.store.close()


def versions(client: Any, bucket: str, key: str) -> list[dict[str, Any]]:
    out = client.list_object_versions(Bucket=bucket, Prefix=key).get("Versions", [])
    return [v for v in out if v["Key"] == key]


def recorded(box: Box, n: int = 3) -> list[Segment]:
    start = box.clock.now_us() - 10 * MIN
    return [add_segment(box.store, "gate", start + i * MIN, size=20_000 + i) for i in range(n)]


def test_held_segments_exports_and_checkpoints_are_locked_and_cannot_be_removed(
        tmp_path: Path, moto: MotoServer, bucket: str) -> None:
    box = Box(tmp_path / "store", offload_config(tmp_path / "store", moto.url, bucket))
    try:
        segs = recorded(box, 3)
        unheld = add_segment(box.store, "gate", box.clock.now_us() - 60 * MIN)
        hold = box.holds.create("gate", segs[0].start_us, segs[-1].end_us, "assault at the gate", "C-1", "wang")
        bundle = tmp_path / "store" / "exports" / "5"
        bundle.mkdir(parents=True)
        (bundle / "manifest.json").write_text('{"export": 5}', encoding="utf-8")
        box.exports.append(ReadyExport(5, bundle))
        # A row of the integrity feature's table (storage/checkpoints.py signs real ones; the
        # offload copies whatever the row holds, the TSA token once it is there).
        with box.store.index.write() as c:
            c.execute("INSERT INTO checkpoints (id, time_us, body, signature, tsa_token)"
                      " VALUES (1, ?, ?, 'AP8=', x'00ff')", (box.clock.now_us(), '{"gate": 2}'))
        box.offload.tick()

        s3 = moto.client()
        summary = box.offload.status()
        assert summary["pending_objects"] == 0 and summary["uploaded_objects"] == 5, summary
        assert box.offload.queue.by_source(f"segment:{unheld.id}") is None, "footage under no hold stays on the box"
        for seg in segs:
            item = box.offload.queue.by_source(f"segment:{seg.id}")
            assert item is not None and item.state == "done" and item.sha256 == seg.sha256
            key = f"box-7/{seg.path}"
            assert item.key == key
            head = s3.head_object(Bucket=bucket, Key=key, VersionId=item.version_id, ChecksumMode="ENABLED")
            assert head["ObjectLockMode"] == "COMPLIANCE"
            assert abs(head["ObjectLockRetainUntilDate"].timestamp() * 1e6 - hold.expires_us) < 2e6
            assert base64.b64decode(head["ChecksumSHA256"]).hex() == seg.sha256
            assert head["Metadata"]["edge-chain"] == seg.chain
        ck = box.offload.queue.by_source("checkpoint:1")
        assert ck is not None and ck.state == "done"
        body = s3.get_object(Bucket=bucket, Key=ck.key)["Body"].read()
        record = json.loads(body)
        assert record["body"] == '{"gate": 2}' and record["signature"] == "AP8="
        assert record["tsa_token"] == {"base64": "AP8="}
        exp = box.offload.queue.by_source("export:5/manifest.json")
        assert exp is not None and exp.key == "box-7/exports/5/manifest.json"
        assert exp.retain_until_us >= box.clock.now_us() + 729 * DAY_US, "no hold: the configured period"

        # Every upload is in the access register, with where it went and what was verified.
        entries = box.register.query(Query(actions=["offload_upload"]))
        assert sorted(e.subject for e in entries) == sorted(
            [f"segment:{s.id}" for s in segs] + ["checkpoint:1", "export:5/manifest.json"])
        assert all(e.result == "ok" and e.detail["bucket"] == bucket and e.detail["version_id"] for e in entries)

        # Compliance mode: the locked version cannot be deleted by VersionId, bypass or not; a plain
        # delete only adds a delete marker; an overwrite adds a version. (moto accepts a shorter
        # retain-until on a compliance-locked version, which S3 refuses: not tested here.)
        item = box.offload.queue.by_source(f"segment:{segs[0].id}")
        assert item is not None and item.version_id
        for kwargs in ({}, {"BypassGovernanceRetention": True}):
            with pytest.raises(ClientError) as err:
                s3.delete_object(Bucket=bucket, Key=item.key, VersionId=item.version_id, **kwargs)
            assert err.value.response["Error"]["Code"] == "AccessDenied"
        s3.delete_object(Bucket=bucket, Key=item.key)
        s3.put_object(Bucket=bucket, Key=item.key, Body=b"forged")
        kept = s3.get_object(Bucket=bucket, Key=item.key, VersionId=item.version_id, ChecksumMode="ENABLED")
        assert base64.b64decode(kept["ChecksumSHA256"]).hex() == segs[0].sha256
        assert kept["Body"].read() == box.store.path_of(segs[0]).read_bytes()
        assert len(versions(s3, bucket, item.key)) == 2

        # Releasing the hold changes nothing in the bucket.
        box.holds.release(hold.id, "li")
        box.offload.tick()
        head = s3.head_object(Bucket=bucket, Key=item.key, VersionId=item.version_id)
        assert abs(head["ObjectLockRetainUntilDate"].timestamp() * 1e6 - hold.expires_us) < 2e6
        figures = {m.name: m for m in offload_metrics(box.offload.figures())}
        assert figures["edge_offload_uploaded_objects"].samples[0].value == 5
    finally:
        box.close()


def test_a_corrupted_upload_is_caught_by_the_checksum_and_sent_again(
        tmp_path: Path, moto: MotoServer, proxy: TamperProxy, bucket: str) -> None:
    box = Box(tmp_path / "store", offload_config(tmp_path / "store", proxy.url, bucket, verify="readback"))
    try:
        seg = recorded(box, 1)[0]
        box.holds.create("gate", seg.start_us, seg.end_us, "theft", "C-2", "wang")
        proxy.corrupt_puts = True
        box.offload.tick()
        item = box.offload.queue.by_source(f"segment:{seg.id}")
        assert item is not None and item.state == "pending" and item.attempts == 1
        assert "read back" in item.last_error and seg.sha256 in item.last_error
        assert proxy.corrupted == 1
        # What the box sent with the body is the index's own hash of the segment.
        assert proxy.put_checksums[-1][1] == base64.b64encode(bytes.fromhex(seg.sha256)).decode()
        refused = box.register.query(Query(actions=["offload_upload"]))
        assert [(e.subject, e.result) for e in refused] == [(f"segment:{seg.id}", "failed")]

        proxy.corrupt_puts = False
        box.clock.advance(5_000_000)  # past the backoff
        box.offload.tick()
        item = box.offload.queue.by_source(f"segment:{seg.id}")
        assert item is not None and item.state == "done" and item.sha256 == seg.sha256
        s3 = moto.client()
        good = s3.get_object(Bucket=bucket, Key=item.key, VersionId=item.version_id)["Body"].read()
        assert good == box.store.path_of(seg).read_bytes()
        # The damaged copy is locked too (compliance mode spares nothing), but the register names the good one.
        assert len(versions(s3, bucket, item.key)) == 2
        ok = [e for e in box.register.query(Query(actions=["offload_upload"])) if e.result == "ok"]
        assert [e.detail["version_id"] for e in ok] == [item.version_id]
    finally:
        box.close()


def test_failures_back_off_and_raise_offload_behind(tmp_path: Path, moto: MotoServer, bucket: str) -> None:
    # Nothing listens on the endpoint: every attempt fails; past the threshold the alarm is raised.
    from capture.sim.simulator import free_port

    cfg = offload_config(tmp_path / "store", f"http://127.0.0.1:{free_port()}", bucket, behind_after_minutes=1.0,
                         timeout_seconds=1.0)
    box = Box(tmp_path / "store", cfg)
    try:
        seg = recorded(box, 1)[0]
        box.holds.create("gate", seg.start_us, seg.end_us, "theft", "C-3", "wang")
        box.offload.tick()
        assert not box.alarms.is_active("offload_behind")
        assert box.offload.failures >= 1 and "Object Lock" in box.offload.last_error
        box.clock.advance(2 * MIN)
        box.offload.tick()
        assert box.alarms.is_active("offload_behind")
        f = box.offload.figures()
        assert f.pending == {"segment": 1} and f.lag_seconds >= 120 and f.uploaded_objects == 0
    finally:
        box.close()


def test_queue_rows_survive_in_the_index(tmp_path: Path, moto: MotoServer, bucket: str) -> None:
    """A queued object is a row in the index: a new service on the same store finds it pending."""
    root = tmp_path / "store"
    box = Box(root, offload_config(root, "http://127.0.0.1:9", bucket, timeout_seconds=1.0))
    seg = recorded(box, 1)[0]
    box.holds.create("gate", seg.start_us, seg.end_us, "theft", "C-4", "wang")
    box.offload.planner.plan(box.clock.now_us())
    box.close()
    conn = sqlite3.connect(root / "index.sqlite3")
    assert conn.execute("SELECT state FROM offload_queue").fetchall() == [("pending",)]
    conn.close()
    box = Box(root, offload_config(root, moto.url, bucket))
    try:
        box.offload.tick()
        item = box.offload.queue.by_source(f"segment:{seg.id}")
        assert item is not None and item.state == "done"
        assert item.retain_until_us > box.clock.now_us() + timedelta(days=729).total_seconds() * 1e6
    finally:
        box.close()


def test_a_later_hold_extends_the_lock_of_the_stored_version(tmp_path: Path, moto: MotoServer, bucket: str) -> None:
    box = Box(tmp_path / "store", offload_config(tmp_path / "store", moto.url, bucket))
    try:
        seg = recorded(box, 1)[0]
        box.holds.create("gate", seg.start_us, seg.end_us, "theft", "C-5", "wang")
        box.offload.tick()
        first = box.offload.queue.by_source(f"segment:{seg.id}")
        assert first is not None and first.state == "done" and first.locked_until_us is not None
        box.clock.advance(3 * DAY_US)
        later = box.holds.create(None, seg.start_us, seg.end_us, "appeal", "C-6", "li")
        box.offload.tick()
        item = box.offload.queue.by_source(f"segment:{seg.id}")
        assert item is not None and item.state == "done" and item.version_id == first.version_id
        assert item.locked_until_us is not None and item.locked_until_us >= later.expires_us - 1_000_000
        head = moto.client().head_object(Bucket=bucket, Key=item.key, VersionId=item.version_id)
        assert head["ObjectLockRetainUntilDate"].timestamp() * 1e6 >= later.expires_us - 1_000_000
        assert len(versions(moto.client(), bucket, item.key)) == 1, "extended in place, not uploaded again"
    finally:
        box.close()


@pytest.mark.parametrize(("offload", "message"), [
    ({"enabled": True}, "bucket: required when offload is enabled"),
    ({"bucket": "b", "access_key_id": "k"}, "access_key_id and secret_access_key_file go together"),
    ({"verify": "trust"}, "offload.verify"),
])
def test_offload_config_is_checked(tmp_path: Path, offload: dict[str, object], message: str) -> None:
    from edge.config import ConfigError

    with pytest.raises(ConfigError) as err:
        parse_config({"storage": {"root": str(tmp_path)}, "offload": offload, "cameras": []})
    assert message in str(err.value)
    assert parse_config({"storage": {"root": str(tmp_path)}, "cameras": []}).offload.enabled is False


def test_a_put_cut_off_by_a_crash_is_registered_and_kept_not_sent_twice(
        tmp_path: Path, moto: MotoServer, bucket: str) -> None:
    box = Box(tmp_path / "store", offload_config(tmp_path / "store", moto.url, bucket))
    try:
        seg = recorded(box, 1)[0]
        box.holds.create("gate", seg.start_us, seg.end_us, "theft", "C-8", "wang")
        box.offload.planner.plan(box.clock.now_us())
        item = box.offload.queue.by_source(f"segment:{seg.id}")
        assert item is not None
        # The crash: the queue marked the PUT as under way, the store kept the object, nothing else happened.
        box.offload.queue.sending(item)
        b = box.offload._ready_bucket()
        assert b is not None
        with open(box.store.path_of(seg), "rb") as f:
            stored = b.put(item.key, f, seg.sha256, seg.bytes, item.retain_until_us, {})
        assert box.register.query(Query(actions=["offload_upload"])) == []

        box.offload.tick()
        item = box.offload.queue.by_source(f"segment:{seg.id}")
        assert item is not None and item.state == "done" and item.version_id == stored.version_id
        assert len(versions(moto.client(), bucket, item.key)) == 1, "not sent again"
        [entry] = box.register.query(Query(actions=["offload_upload"]))
        assert entry.result == "ok" and entry.detail["recovered"] is True
        assert entry.detail["version_id"] == stored.version_id
    finally:
        box.close()
