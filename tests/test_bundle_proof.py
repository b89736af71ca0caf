"""A bundle's clip checks against its checkpoint: manifest → source segments → chain run →
signed checkpoint head → RFC 3161 token (checked with OpenSSL as VERIFY.txt says)."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

from fmp4 import encode_fmp4
from tsa_fixture import TsaServer, tsa  # noqa: F401 (tsa: the fixture)

from edge.access.bundle import VERIFY, verify_bundle, write_bundle
from edge.access.bundle_proof import add_proof
from edge.config import parse_config
from edge.monitor.tsa_client import TsaClient
from storage import checkpoints
from storage.clip_mux import write_clip
from storage.clock import SystemClock
from storage.index import Segment
from storage.signing import load_or_create
from storage.store import SegmentStore, StreamInfo

S = 1_000_000


def _bundle(tmp: Path, tsa_server: TsaServer | None, checkpoint_first: bool) -> Path:
    store = SegmentStore(tmp / "store", SystemClock(), sync_interval=0)
    t0 = (time.time_ns() // 1000 // S - 600) * S
    segs: list[Segment] = []
    for i in range(3):
        f = store.open_segment("gate-1", t0 + 3 * i * S)
        encode_fmp4(f, frames=75, shade=i + 1)
        segs.append(store.commit("gate-1", f, t0 + 3 * (i + 1) * S, 75, StreamInfo("h264", 160, 120)))
        if i == 0:  # an outage between the segments: a gap link inside the chain run
            g = store.index.open_gap("gate-1", t0 + 3 * S + 1, "timeout")
            store.index.close_gap(g, t0 + 3 * S + 2)
    key = load_or_create(store.layout.keys_dir)
    integrity: dict[str, object] = {}
    if checkpoint_first:
        cp = checkpoints.make_checkpoint(store.index, key, "box-7", t0 + 20 * S)
        if tsa_server is not None:
            token, gen = TsaClient(tsa_server.url).stamp(cp.body.encode())
            checkpoints.set_token(store.index, cp.id, token, gen)
            integrity = {"tsa_url": tsa_server.url, "tsa_ca_file": str(tsa_server.ca)}
    cfg = parse_config({"box": {"id": "box-7"}, "integrity": integrity})
    out = tmp / "bundle"
    out.mkdir()
    clip = write_clip(store.index, store.layout.root, "gate-1", segs[:2], t0 + S, t0 + 5 * S, out / "c.mp4")
    manifest = {"format": "edge-export/1", "export_id": 1, "device": {
        "box_id": "box-7", "public_key_fingerprint": key.fingerprint}, "cameras": [clip.to_json()]}
    manifest["proof"] = add_proof(out, cfg, store.index, key, {"gate-1": segs[:2]}, t0 + 30 * S)
    write_bundle(out, manifest, key)
    store.close()
    return out


def test_clip_checks_against_a_timestamped_checkpoint(tmp_path: Path, tsa: TsaServer) -> None:  # noqa: F811
    bundle = _bundle(tmp_path, tsa, checkpoint_first=True)

    report = verify_bundle(bundle, (bundle / "device_ed25519.pub.pem").read_bytes())  # the registered key

    assert report.ok, report.problems
    assert "gate-1: 2 source segment(s) chained to checkpoint #1 (" in " ".join(report.checked)
    manifest = json.loads((bundle / "manifest.json").read_text())
    assert manifest["proof"]["cameras"]["gate-1"]["timestamped"] is True
    run = [json.loads(x) for x in (bundle / "chain-gate-1.jsonl").read_text().splitlines()]
    assert [r["record"]["kind"] for r in run] == ["segment", "gap_open", "gap_close", "segment", "segment"]
    # The court's path, OpenSSL only: the token covers the exact checkpoint body.
    r = subprocess.run(["openssl", "ts", "-verify", "-data", "checkpoint-1.body.json", "-in", "checkpoint-1.tsr",
                        "-CAfile", "tsa-ca.pem"], cwd=bundle, capture_output=True, text=True, timeout=30)
    assert r.returncode == 0 and "Verification: OK" in r.stdout, r.stdout + r.stderr
    assert "openssl ts -verify -data checkpoint-N.body.json" in (bundle / VERIFY).read_text()
    r = subprocess.run(["openssl", "pkeyutl", "-verify", "-pubin", "-inkey", "device_ed25519.pub.pem", "-rawin",
                        "-in", "checkpoint-1.body.json", "-sigfile", "checkpoint-1.sig"], cwd=bundle,
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 0 and "Signature Verified Successfully" in r.stdout, r.stdout + r.stderr


def test_footage_newer_than_the_last_checkpoint_gets_one_signed_for_the_bundle(tmp_path: Path) -> None:
    bundle = _bundle(tmp_path, None, checkpoint_first=False)

    report = verify_bundle(bundle, (bundle / "device_ed25519.pub.pem").read_bytes())  # the registered key

    assert report.ok, report.problems
    assert not (bundle / "checkpoint-1.tsr").exists()
    assert "chained to checkpoint #1 (" in " ".join(report.checked)


def test_altered_chain_run_or_checkpoint_is_found(tmp_path: Path) -> None:
    bundle = _bundle(tmp_path, None, checkpoint_first=True)
    chain = bundle / "chain-gate-1.jsonl"
    lines = chain.read_text().splitlines()
    rec = json.loads(lines[1])
    rec["record"]["start_us"] += 1
    chain.write_text("\n".join([lines[0], json.dumps(rec), *lines[2:]]) + "\n")

    report = verify_bundle(bundle, (bundle / "device_ed25519.pub.pem").read_bytes())  # the registered key

    assert "chain-gate-1.jsonl: ALTERED (proof file)" in report.problems
    assert "gate-1 link #1: does not match its record" in report.problems
