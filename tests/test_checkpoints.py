"""Signed checkpoints: content and signature, append-only table, the service's TSA retries and
alarm, and the daemon serving them to a monitor, timestamped by a real TSA."""

from __future__ import annotations

import base64
import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from access_fixtures import add_users
from helpers import base_sections, camera, new_daemon, run_edge, wait_for
from tsa_fixture import TsaServer, tsa  # noqa: F401 (tsa: the fixture)

from capture.sim.simulator import free_port
from edge.config_sections import IntegrityConfig
from edge.monitor.alarms import AlarmCenter
from edge.monitor.integrity import IntegrityService
from edge.monitor.tsa_client import TsaClient
from storage import checkpoints
from storage.clock import OffsetClock
from storage.index import Index
from storage.signing import DeviceKey, load_or_create
from storage.tsa import TsaVerifier

S = 1_000_000


@pytest.fixture
def index(tmp_path: Path) -> Iterator[Index]:
    idx = Index(tmp_path / "index.sqlite3")
    yield idx
    idx.close()


@pytest.fixture
def key(tmp_path: Path) -> DeviceKey:
    return load_or_create(tmp_path / "keys")


def test_checkpoint_names_every_head_and_is_signed(index: Index, key: DeviceKey) -> None:
    from storage.index import NewSegment

    seg = index.add_segment(NewSegment("gate-1", 0, S, "segments/gate-1/x.mp4", 10, 25, "h264", 160, 120,
                                       "ab" * 32), 5)
    gap = index.open_gap("gate-1", S, "timeout")
    index.close_gap(gap, 3 * S)
    first = checkpoints.make_checkpoint(index, key, "box-7", 10 * S)
    second = checkpoints.make_checkpoint(index, key, "box-7", 20 * S)

    body = second.content
    assert body["cameras"] == {"gate-1": {"seq": 2, "link": checkpoints.chain_head(index.reader(), "gate-1")[1],
                                          "v2_from": 0}}
    assert seg.seq == 0 and body["register"] is None and body["box_id"] == "box-7"
    assert body["prev"] == first.digest.hex() and first.content["prev"] == "00" * 32
    assert second.signature_ok(key.public)
    forged = checkpoints.Checkpoint(second.id, second.time_us, second.body.replace("box-7", "box-8"), second.signature)
    assert not forged.signature_ok(key.public)


def test_checkpoints_are_append_only(index: Index, key: DeviceKey) -> None:
    cp = checkpoints.make_checkpoint(index, key, "box-7", 10 * S)
    with pytest.raises(sqlite3.IntegrityError, match="append-only"), index.write() as c:
        c.execute("DELETE FROM checkpoints")
    with pytest.raises(sqlite3.IntegrityError, match="append-only"), index.write() as c:
        c.execute("UPDATE checkpoints SET body='{}'")
    checkpoints.set_token(index, cp.id, b"token", 11 * S)
    with pytest.raises(sqlite3.IntegrityError, match="append-only"), index.write() as c:
        c.execute("UPDATE checkpoints SET tsa_token=x'00'")
    assert checkpoints.latest(index.reader()) == checkpoints.Checkpoint(cp.id, cp.time_us, cp.body, cp.signature,
                                                                        b"token", 11 * S)


def test_tsa_outage_retries_with_backoff_and_raises_an_alarm(index: Index, key: DeviceKey,
                                                             tsa: TsaServer) -> None:  # noqa: F811
    clock = OffsetClock()
    alarms = AlarmCenter(index, clock)
    svc = IntegrityService(IntegrityConfig(checkpoint_seconds=300, tsa_url=tsa.url), "box-7", index, key, alarms,
                           clock, TsaClient(tsa.url, 10.0, TsaVerifier(tsa.ca, tsa.cert)))
    tsa.failing = True

    svc.tick()  # a checkpoint all the same; the token is missing and the alarm up

    assert svc.made == 1 and alarms.is_active("timestamp_failed")
    assert checkpoints.untimed(index.reader(), 10)[0].id == 1
    requests = tsa.requests
    svc.tick()  # within the 5 s wait: no request
    assert tsa.requests == requests
    clock.advance(6 * S)
    svc.tick()  # retried, failed again: the wait doubles
    assert tsa.requests == requests + 1 and svc._retry_wait == 20.0
    tsa.failing = False
    clock.advance(11 * S)
    svc.tick()

    assert not alarms.is_active("timestamp_failed") and svc.stamped == 1
    cp = checkpoints.latest(index.reader())
    assert cp is not None and cp.tsa_token is not None
    assert TsaVerifier(tsa.ca, tsa.cert).verify(cp.tsa_token, cp.body.encode()) == cp.tsa_time_us


def test_daemon_serves_timestamped_checkpoints_to_a_monitor(tmp_path: Path, tsa: TsaServer) -> None:  # noqa: F811
    root = tmp_path / "store"
    # A camera that never answers: its outage is what the chain records (gap links).
    d = new_daemon(tmp_path, base_sections(root, box={"id": "box-7"}, integrity={
        "checkpoint_seconds": 5.0, "tsa_url": tsa.url, "tsa_ca_file": str(tsa.ca), "tsa_cert_file": str(tsa.cert)}),
        [camera("gate-1", f"rtsp://127.0.0.1:{free_port()}/none")])
    token = add_users(d.config, {"monitor-1": ("monitor", "M-1")})["monitor-1"]
    headers = {"Authorization": f"Bearer {token}"}
    d.start()
    try:
        assert httpx.get(d.url + "/api/v1/checkpoints", timeout=10).status_code == 401

        def stamped() -> dict[str, object] | None:
            page = httpx.get(d.url + "/api/v1/checkpoints", headers=headers, timeout=10).json()
            cps = [c for c in page["checkpoints"] if c["tsa_token"] and "gate-1" in json.loads(c["body"])["cameras"]]
            return page if cps else None

        page = wait_for(stamped, 60, 0.5, "a timestamped checkpoint naming gate-1")
        metrics = httpx.get(d.url + "/metrics", headers=headers, timeout=10).text
        assert 'edge_chain_head_seq{camera="gate-1"}' in metrics
        assert "edge_checkpoint_last_timestamp_seconds " in metrics
        rc, _ = d.terminate()
        assert rc == 0
    finally:
        d.cleanup()
    assert page["box_id"] == "box-7"
    cp = next(c for c in page["checkpoints"] if c["tsa_token"])  # type: ignore[attr-defined]
    TsaVerifier(tsa.ca, tsa.cert).verify(base64.b64decode(cp["tsa_token"]), cp["body"].encode())
    with sqlite3.connect(root / "index.sqlite3") as conn:
        last = json.loads(conn.execute("SELECT body FROM checkpoints ORDER BY id DESC LIMIT 1").fetchone()[0])
    polled = max(int(c["id"]) for c in page["checkpoints"])  # type: ignore[attr-defined]
    assert last["id"] > polled  # the checkpoint made at shutdown
    archive = tmp_path / "archive.json"
    archive.write_text(json.dumps(page))

    r = run_edge("verify", "-c", str(d.config), "--checkpoints", str(archive))

    assert r.returncode == 0, r.stdout + r.stderr
    assert "INTACT" in r.stdout.splitlines()[-1]


def test_covering_finds_the_first_checkpoint_past_a_link(index: Index, key: DeviceKey) -> None:
    from storage.index import NewSegment

    def seg(cam: str, i: int) -> None:
        index.add_segment(NewSegment(cam, i * S, (i + 1) * S, f"segments/{cam}/{i}.mp4", 10, 25, "h264", 160, 120,
                                     "ab" * 32), i)

    seg("gate-1", 0)
    checkpoints.make_checkpoint(index, key, "box-7", 1 * S)  # #1: gate-1 at 0, no gate-2 yet
    for i in (1, 2):
        seg("gate-1", i)
    seg("gate-2", 0)
    checkpoints.make_checkpoint(index, key, "box-7", 2 * S)  # #2: gate-1 at 2, gate-2 at 0
    checkpoints.make_checkpoint(index, key, "box-7", 3 * S)  # #3: the same heads
    seg("gate-2", 1)
    checkpoints.make_checkpoint(index, key, "box-7", 4 * S)  # #4: gate-2 at 1

    found = {(cam, seq): [c.id for c in checkpoints.covering(index.reader(), cam, seq)]
             for cam, seq in (("gate-1", 0), ("gate-1", 1), ("gate-1", 2), ("gate-1", 3), ("gate-2", 0),
                              ("gate-2", 1), ("gate-2", 2), ("gate-9", 0))}
    assert found == {("gate-1", 0): [1], ("gate-1", 1): [2], ("gate-1", 2): [2], ("gate-1", 3): [],
                     ("gate-2", 0): [2], ("gate-2", 1): [4], ("gate-2", 2): [], ("gate-9", 0): []}


def test_integrity_config_is_checked() -> None:
    from edge.config import ConfigError, parse_config

    cfg = parse_config({})
    assert cfg.integrity.checkpoint_seconds == 300 and cfg.integrity.tsa_url is None
    with pytest.raises(ConfigError) as err:
        parse_config({"integrity": {"tsa_url": "ftp://tsa.example/", "checkpoint_seconds": 1}})
    text = str(err.value) + " ".join(err.value.problems)
    assert "integrity.tsa_url" in text and "integrity.checkpoint_seconds" in text
