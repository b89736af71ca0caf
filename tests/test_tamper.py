"""An insider with root's means (sqlite3, dropped triggers, recomputed hashes) against a recorded
store: every tampering of issue 13's list is caught by `edge verify --checkpoints` against the
checkpoints archived before it; the untouched store verifies clean and verify leaves no trace."""

from __future__ import annotations

import base64
import contextlib
import json
import os
import shutil
import sqlite3
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from fmp4 import encode_fmp4
from helpers import run_edge, write_config
from tsa_fixture import TsaServer, tsa  # noqa: F401 (tsa: the fixture)

from edge.monitor.tsa_client import TsaClient
from storage import checkpoints
from storage.chain import GENESIS, canonical_json, record_link
from storage.chain_walk import gap_links, segment_link_any
from storage.clock import SystemClock
from storage.index import Segment
from storage.layout import Layout
from storage.register import SYSTEM, AccessRegister, Actor, _canonical
from storage.signing import load_or_create
from storage.store import SegmentStore, StreamInfo

S = 1_000_000
OFFICER = Actor("olga", "officer", "W-17", "127.0.0.1")


@dataclass
class Box:
    root: Path
    config: Path
    archive: Path
    segs: dict[str, list[Segment]]

    def conn(self) -> sqlite3.Connection:
        return sqlite3.connect(self.root / "index.sqlite3", isolation_level=None)

    def verify(self, *extra: str) -> tuple[int, list[str]]:
        r = run_edge("verify", "-c", str(self.config), *extra)
        return r.returncode, r.stdout.splitlines()


def _record(store: SegmentStore, camera: str, start_us: int, shade: int) -> Segment:
    f = store.open_segment(camera, start_us)
    encode_fmp4(f, frames=25, shade=shade)
    return store.commit(camera, f, start_us + S, 25, StreamInfo("h264", 160, 120))


def build_box(tmp: Path, tsa_server: TsaServer | None = None) -> Box:
    """gate-1: 6 segments with an outage between #2 and #3; gate-2: 3 segments; register entries
    (5 downloads among them); a signed checkpoint archived off the box as the API serves it."""
    root = tmp / "store"
    clock = SystemClock()
    store = SegmentStore(root, clock, sync_interval=0)
    t0 = (time.time_ns() // 1000 // S - 3600) * S
    segs: dict[str, list[Segment]] = {"gate-1": [], "gate-2": []}
    for i in range(3):
        segs["gate-1"].append(_record(store, "gate-1", t0 + i * S, i + 1))
    gap = store.index.open_gap("gate-1", t0 + 3 * S, "timeout", "no packets for 10 s")
    store.index.close_gap(gap, t0 + 20 * S)
    for i in range(3):
        segs["gate-1"].append(_record(store, "gate-1", t0 + (20 + i) * S, i + 4))
    for i in range(3):
        segs["gate-2"].append(_record(store, "gate-2", t0 + i * S, i + 7))
    register = AccessRegister(store.index, clock)
    register.append(SYSTEM, "config_reload", detail={"source": "test"})
    for n in range(6):
        register.append(OFFICER, "export_download", cameras=["gate-1"], case_number="C-2026-7",
                        subject=f"export-{n}", range_start_us=t0, range_end_us=t0 + 5 * S)
    register.append(SYSTEM, "maintenance", detail={"what": "fan check"})
    key = load_or_create(store.layout.keys_dir)
    cp = checkpoints.make_checkpoint(store.index, key, "box-7", clock.now_us())
    integrity: dict[str, object] = {}
    if tsa_server is not None:
        token, gen_us = TsaClient(tsa_server.url).stamp(cp.body.encode())
        checkpoints.set_token(store.index, cp.id, token, gen_us)
        cp = checkpoints.latest(store.index.reader()) or cp
        integrity = {"tsa_url": tsa_server.url, "tsa_ca_file": str(tsa_server.ca),
                     "tsa_cert_file": str(tsa_server.cert)}
    archive = tmp / "archive.json"
    archive.write_text(json.dumps({"box_id": "box-7", "public_key": key.public_pem,
                                   "checkpoints": [cp.to_json()]}))
    store.close()
    config = write_config(tmp / "edge.toml", {"box": {"id": "box-7"}, "storage": {"root": str(root)},
                                              "integrity": integrity}, [])
    return Box(root, config, archive, segs)


@pytest.fixture
def box(tmp_path: Path) -> Box:
    return build_box(tmp_path)


# -- the insider's tools ------------------------------------------------------------------------
def rechain_camera(conn: sqlite3.Connection, camera: str) -> None:
    """Recompute every link of a camera exactly as the box would (the algorithm is public)."""
    v2_from = dict(conn.execute("SELECT camera, seq FROM chain_v2_start").fetchall()).get(camera, 0)
    cols = ("id, camera, seq, start_us, end_us, path, bytes, packets, codec, width, height, sha256, chain, origin,"
            " state, created_us, deleted_us, delete_reason")
    items: list[tuple[int, object]] = [(r[2], Segment(*r)) for r in conn.execute(
        f"SELECT {cols} FROM segments WHERE camera=?", (camera,))]
    items += list(gap_links(conn, camera))
    prev = GENESIS
    for _seq, item in sorted(items, key=lambda t: t[0]):
        if isinstance(item, Segment):
            link = segment_link_any(prev, item, v2_from)
            conn.execute("UPDATE segments SET chain=? WHERE id=?", (link, item.id))
        else:
            link = item.expected(prev)  # type: ignore[attr-defined]
            column = "open_chain" if item.kind == "gap_open" else "close_chain"  # type: ignore[attr-defined]
            conn.execute(f"UPDATE gaps SET {column}=? WHERE id=?", (link, item.gap.id))  # type: ignore[attr-defined]
        prev = link


def drop_register_triggers(conn: sqlite3.Connection) -> None:
    conn.execute("DROP TRIGGER register_no_update")
    conn.execute("DROP TRIGGER register_no_delete")


def rechain_register(conn: sqlite3.Connection) -> None:
    cols = AccessRegister.COLUMNS
    prev = GENESIS
    for row in conn.execute(f"SELECT {cols} FROM register ORDER BY id").fetchall():
        e = AccessRegister._entry(row)
        fields = {k: v for k, v in e.to_json().items() if k != "chain"}
        link = record_link(prev, _canonical(fields))
        conn.execute("UPDATE register SET chain=? WHERE id=?", (link, e.id))
        prev = link


def tree(root: Path) -> dict[str, tuple[int, int]]:
    return {str(p.relative_to(root)): (p.stat().st_size, p.stat().st_mtime_ns)
            for p in root.rglob("*") if p.is_file()}


# -- the cases ----------------------------------------------------------------------------------
def delete_newest_segments(b: Box) -> None:
    with contextlib.closing(b.conn()) as c:
        for seg in b.segs["gate-1"][-3:]:
            c.execute("DELETE FROM segments WHERE id=?", (seg.id,))
            (b.root / seg.path).unlink()


def delete_newest_register_rows(b: Box) -> None:
    with contextlib.closing(b.conn()) as c:
        drop_register_triggers(c)
        c.execute("DELETE FROM register WHERE id > (SELECT max(id) - 5 FROM register)")


def replace_file_and_rechain(b: Box) -> None:
    victim, other = b.segs["gate-1"][1], b.segs["gate-2"][0]
    shutil.copyfile(b.root / other.path, b.root / victim.path)
    with contextlib.closing(b.conn()) as c:
        c.execute("UPDATE segments SET sha256=?, bytes=? WHERE id=?", (other.sha256, other.bytes, victim.id))
        rechain_camera(c, "gate-1")


def move_camera_one_hour_earlier(b: Box) -> None:
    layout = Layout(b.root)
    with contextlib.closing(b.conn()) as c:
        for seg in b.segs["gate-1"]:
            new_start = seg.start_us - 3600 * S
            new_path = layout.relative(layout.segment_path("gate-1", new_start))
            (b.root / new_path).parent.mkdir(parents=True, exist_ok=True)
            os.rename(b.root / seg.path, b.root / new_path)
            c.execute("UPDATE segments SET start_us=?, end_us=?, path=? WHERE id=?",
                      (new_start, seg.end_us - 3600 * S, new_path, seg.id))
        c.execute("UPDATE gaps SET start_us=start_us-?, end_us=end_us-? WHERE camera='gate-1'", (3600 * S, 3600 * S))
        rechain_camera(c, "gate-1")


def hand_delete_with_forged_register_row(b: Box) -> None:
    """Delete gate-2 #1 by hand, then slip a `retention_delete` entry naming it into the register
    at a plausible place (after entry 1), renumbering and re-chaining the rest."""
    seg = b.segs["gate-2"][1]
    (b.root / seg.path).unlink()
    with contextlib.closing(b.conn()) as c:
        drop_register_triggers(c)
        c.execute("UPDATE segments SET state='deleted', deleted_us=?, delete_reason='high_watermark' WHERE id=?",
                  (seg.end_us + S, seg.id))
        c.execute("UPDATE register SET id = -id WHERE id > 1")
        c.execute("UPDATE register SET id = 1 - id WHERE id < 0")
        t = c.execute("SELECT time_us FROM register WHERE id=1").fetchone()[0]
        c.execute(f"INSERT INTO register ({AccessRegister.COLUMNS}) VALUES ({', '.join('?' * 18)})",
                  (2, t + 1, "system", "system", "", "daemon", "retention_delete", '["gate-2"]', seg.start_us,
                   seg.end_us, "high_watermark", "", "{}", "{}", "retention", "ok",
                   json.dumps({"reason": "high_watermark", "segments": [["gate-2", seg.seq, seg.sha256, seg.chain]]},
                              sort_keys=True), ""))
        rechain_register(c)


def rewrite_downloads_to_another_actor(b: Box) -> None:
    with contextlib.closing(b.conn()) as c:
        drop_register_triggers(c)
        c.execute("UPDATE register SET actor='someone-else', credential_id='W-99' WHERE id IN"
                  " (SELECT id FROM register WHERE action='export_download' ORDER BY id LIMIT 5)")
        rechain_register(c)


def edit_field(column: str, value: object) -> Callable[[Box], None]:
    def edit(b: Box) -> None:
        with contextlib.closing(b.conn()) as c:
            c.execute(f"UPDATE segments SET {column}=? WHERE id=?", (value, b.segs["gate-1"][2].id))
            rechain_camera(c, "gate-1")
    edit.__name__ = f"edit_{column}"
    return edit


def delete_gap_rows(b: Box) -> None:
    """Remove the outage and close the hole it leaves in the sequence, then re-chain."""
    with contextlib.closing(b.conn()) as c:
        c.execute("DELETE FROM gaps WHERE camera='gate-1'")
        c.execute("UPDATE segments SET seq = -(seq - 2) WHERE camera='gate-1' AND seq > 3")
        c.execute("UPDATE segments SET seq = -seq WHERE camera='gate-1' AND seq < 0")
        rechain_camera(c, "gate-1")


def rewrite_gap_rows(b: Box) -> None:
    """Shrink the outage to nothing worth noticing, then re-chain."""
    with contextlib.closing(b.conn()) as c:
        c.execute("UPDATE gaps SET end_us = start_us + 1000, reason='maintenance', detail='' WHERE camera='gate-1'")
        rechain_camera(c, "gate-1")


CASES: list[tuple[Callable[[Box], None], list[str]]] = [
    (delete_newest_segments, ["TRUNCATED gate-1: checkpoint #1"]),
    (delete_newest_register_rows, ["TRUNCATED register: checkpoint #1"]),
    (replace_file_and_rechain, ["REWRITTEN gate-1 #"]),
    (move_camera_one_hour_earlier, ["REWRITTEN gate-1 #"]),
    (hand_delete_with_forged_register_row, ["REWRITTEN register #", "UNLAWFUL DELETE gate-2 #1"]),
    (rewrite_downloads_to_another_actor, ["REWRITTEN register #"]),
    (edit_field("codec", "hevc"), ["REWRITTEN gate-1 #"]),
    (edit_field("bytes", 1), ["REWRITTEN gate-1 #"]),
    (edit_field("origin", "recorded-twice"), ["REWRITTEN gate-1 #"]),
    (edit_field("packets", 24), ["REWRITTEN gate-1 #"]),
    (edit_field("created_us", 1), ["REWRITTEN gate-1 #"]),
    (delete_gap_rows, ["TRUNCATED gate-1: checkpoint #1"]),
    (rewrite_gap_rows, ["REWRITTEN gate-1 #"]),
]


def test_untouched_store_verifies_clean_and_verify_leaves_no_trace(box: Box) -> None:
    before = tree(box.root)

    rc, out = box.verify("--checkpoints", str(box.archive))

    assert rc == 0, out
    assert out[-1].startswith("INTACT: 2 camera(s), 11 chain link(s), 9 segment(s) re-hashed")
    assert not [line for line in out if line.startswith(("TRUNCATED", "REWRITTEN", "CHECKPOINT", "KEY"))]
    assert tree(box.root) == before  # read-only: not a byte, not a -wal or -shm file


@pytest.mark.parametrize(("tamper", "expected"), CASES, ids=[c[0].__name__ for c in CASES])
def test_tampering_is_detected_against_the_archive(box: Box, tamper: Callable[[Box], None],
                                                   expected: list[str]) -> None:
    tamper(box)

    rc, out = box.verify("--checkpoints", str(box.archive))

    print(f"\nTAMPER {tamper.__name__}: " + " | ".join(line for line in out if not line.startswith("note:")))
    assert rc != 0 and out[-1].startswith("FAILED")
    for prefix in expected:
        assert any(line.startswith(prefix) for line in out), (prefix, out)


def test_internal_checks_alone_miss_a_rechained_edit(box: Box) -> None:
    """Why the archive matters: an edit re-chained, the box's checkpoints deleted: inside the store
    only the missing checkpoints show; the archive names the chain that changed."""
    edit_field("codec", "hevc")(box)
    with contextlib.closing(box.conn()) as c:
        c.execute("DROP TRIGGER checkpoints_no_delete")
        c.execute("DELETE FROM checkpoints")  # the insider also removes the box's own checkpoints

    rc, out = box.verify()

    # Every chain inside the store is consistent; only the checkpoints' absence shows...
    problems = [line for line in out[:-1] if not line.startswith("note:")]
    assert rc != 0 and problems == ["CHECKPOINTS: none on the box, though it has chain v2 links (deleted?)"], out
    rc, out = box.verify("--checkpoints", str(box.archive))
    assert rc != 0  # ...the archived checkpoint names what was changed
    assert any(line.startswith("REWRITTEN gate-1 #7") for line in out), out  # the head it names
    assert any(line.startswith("CHECKPOINT #1: archived, but not on the box") for line in out), out


def test_box_checkpoint_alone_catches_an_edit_not_rechained(box: Box) -> None:
    with contextlib.closing(box.conn()) as c:
        c.execute("UPDATE segments SET origin='adopted' WHERE id=?", (box.segs["gate-2"][0].id,))

    rc, out = box.verify()

    assert rc != 0 and "CHAIN gate-2 #0: link does not match" in out


def test_box_timestamped_checkpoint_catches_a_resigned_rewrite(tmp_path: Path, tsa: TsaServer) -> None:  # noqa: F811
    """No archive: the insider re-chains an edit and re-signs the box's checkpoint with the device
    key (on the box, so theirs to use), but cannot get the TSA to vouch for the new body."""
    b = build_box(tmp_path, tsa)
    rc, out = b.verify()
    assert rc == 0 and any("newest with a TSA token #1" in line for line in out), out
    edit_field("codec", "hevc")(b)
    key = load_or_create(b.root / "keys")
    with contextlib.closing(b.conn()) as c:
        c.execute("DROP TRIGGER checkpoints_token_once")
        body = json.loads(c.execute("SELECT body FROM checkpoints WHERE id=1").fetchone()[0])
        body["cameras"] = checkpoints.heads(c)
        new = canonical_json(body)
        c.execute("UPDATE checkpoints SET body=?, signature=? WHERE id=1",
                  (new.decode(), base64.b64encode(key.sign(new)).decode()))

    rc, out = b.verify()

    assert rc != 0, out
    assert any(line.startswith("TIMESTAMP checkpoint #1") and "token does not verify" in line for line in out), out


def test_replaced_device_key_is_named(box: Box) -> None:
    """The insider makes a new device key to re-sign a rewrite: the archive keeps the old one."""
    edit_field("codec", "hevc")(box)
    shutil.rmtree(box.root / "keys")
    key = load_or_create(box.root / "keys")
    with contextlib.closing(box.conn()) as c:
        c.execute("DROP TRIGGER checkpoints_token_once")
        body = json.loads(c.execute("SELECT body FROM checkpoints WHERE id=1").fetchone()[0])
        body["cameras"], body["key"] = checkpoints.heads(c), key.fingerprint
        new = canonical_json(body)
        c.execute("UPDATE checkpoints SET body=?, signature=? WHERE id=1",
                  (new.decode(), base64.b64encode(key.sign(new)).decode()))
    assert box.verify()[0] == 0  # consistent inside the box, with the box's (new) key

    rc, out = box.verify("--checkpoints", str(box.archive))

    assert rc != 0
    assert any(line.startswith("KEY: the box's device key SHA256:") for line in out), out
    assert "CHECKPOINT #1 (box): signature does not verify with the device key" in out
    assert any(line.startswith("CHECKPOINT #1: the box's copy differs from the archived one") for line in out)
    assert any(line.startswith("REWRITTEN gate-1 #7") for line in out), out


def test_verify_of_a_missing_store_creates_nothing(tmp_path: Path) -> None:
    root = tmp_path / "nothing"
    config = write_config(tmp_path / "edge.toml", {"storage": {"root": str(root)}}, [])

    r = run_edge("verify", "-c", str(config))

    assert r.returncode != 0 and "cannot open the store read-only" in r.stdout
    assert not root.exists()


@pytest.fixture
def archive_url(box: Box) -> Iterator[str]:
    """The archive served over HTTP, as central monitoring would serve it back."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    data = box.archive.read_bytes()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *_args: object) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/api/v1/checkpoints"
    httpd.shutdown()
    httpd.server_close()


def test_archive_read_from_a_url(box: Box, archive_url: str) -> None:
    delete_newest_segments(box)

    rc, out = box.verify("--checkpoints", archive_url)

    assert rc != 0 and any(line.startswith("TRUNCATED gate-1: checkpoint #1") for line in out), out

