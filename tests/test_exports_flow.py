"""The export workflow end to end: real cameras, a real `edge run`, real HTTP, real bundles.

request → refused self/same-credential approvals → approval → background production → download
by the requester → signature and every hash verified with `cryptography` → the clip decodes,
starts on a keyframe and covers the request within one GOP → every step registered.
"""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from collections.abc import Callable
from pathlib import Path

import av
import pytest
from access_fixtures import Api, add_users, export_body, iso, register_rows, segment_rows
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from helpers import DaemonProcess, base_sections, camera, new_daemon, run_edge, wait_for

from capture.sim.simulator import Simulator
from storage.chain import link_v2, segment_record_v2

SEG = 2.0
GOP_US = 1_000_000  # conftest CLIP: gop 25 at 25 fps
FRAME_US = 40_000


@pytest.fixture
def box(tmp_path: Path, clip: Callable[..., Path], simulator: Callable[..., Simulator],
        daemons: list[DaemonProcess]) -> tuple[DaemonProcess, Api, Path]:
    sim = simulator({"cam1": clip(seed=11), "cam2": clip(seed=12)})
    root = tmp_path / "store"
    d = new_daemon(tmp_path, base_sections(root, segment_seconds=SEG),
                   [camera("gate-1", sim.url("cam1")), camera("gate-2", sim.url("cam2"))])
    daemons.append(d)
    tokens = add_users(d.config)
    d.start()
    wait_for(lambda: len(segment_rows(root, "gate-1")) >= 4 and len(segment_rows(root, "gate-2")) >= 4, 40, 0.2,
             "4 segments per camera")
    return d, Api(d.url, tokens), root


def test_export_two_person_flow_signed_bundle(box: tuple[DaemonProcess, Api, Path], tmp_path: Path) -> None:
    d, api, root = box
    segs = segment_rows(root, "gate-1")
    # Mid-GOP start in segment 1, end in segment 2: the clip must span the boundary.
    start_us = segs[1]["start_us"] + 400_000
    end_us = segs[2]["start_us"] + 1_300_000

    r = api("officer-1", "POST", "/api/v1/exports", json=export_body(["gate-1", "gate-2"], start_us, end_us))
    assert r.status_code == 201, r.text
    exp = r.json()
    eid = exp["id"]
    assert exp["state"] == "pending" and exp["progress"] == 0
    assert not (root / "exports" / str(eid)).exists() and not list((root / "exports").glob(f".{eid}.*"))

    # Art. 18: the requester cannot approve (not an approver), nor can the same person's second account.
    r = api("officer-1", "POST", f"/api/v1/exports/{eid}/approve")
    assert r.status_code == 403
    r = api("approver-twin", "POST", f"/api/v1/exports/{eid}/approve")
    assert r.status_code == 403 and "credential" in r.json()["detail"]
    assert api("officer-1", "GET", f"/api/v1/exports/{eid}/download").status_code == 409, "nothing before approval"
    assert api("officer-1", "GET", f"/api/v1/exports/{eid}").json()["state"] == "pending"
    assert not (root / "exports" / str(eid)).exists()

    r = api("approver-1", "POST", f"/api/v1/exports/{eid}/approve", json={"note": "approved per YZ-APP-0042"})
    assert r.status_code == 200, r.text
    assert r.json()["state"] in ("approved", "producing", "ready")
    seen: set[str] = set()

    def ready() -> dict[str, object] | None:
        e = api("approver-1", "GET", f"/api/v1/exports/{eid}").json()
        seen.add(e["state"])
        assert e["state"] not in ("failed", "denied", "expired"), e
        return e if e["state"] == "ready" else None

    done = wait_for(ready, 30, 0.1, "the bundle")
    assert done["progress"] == 100.0 and done["download"] == f"/api/v1/exports/{eid}/download"
    assert (root / "exports" / str(eid) / "manifest.json").exists()
    assert (root / "exports" / str(eid)).stat().st_mode & 0o007 == 0, "bundles are not world-readable"

    # A third officer may not copy it.
    r = api("officer-2", "GET", f"/api/v1/exports/{eid}/download")
    assert r.status_code == 403
    r = api("officer-1", "GET", f"/api/v1/exports/{eid}/download")
    assert r.status_code == 200 and r.headers["content-type"] == "application/zip"
    zpath = tmp_path / "bundle.zip"
    zpath.write_bytes(r.content)
    files = {Path(n).name: zipfile.ZipFile(io.BytesIO(r.content)).read(n)
             for n in zipfile.ZipFile(io.BytesIO(r.content)).namelist()}
    assert {"manifest.json", "manifest.json.sig", "device_ed25519.pub.pem", "SHA256SUMS", "VERIFY.txt",
            "edge-box_CQ-2026-1234_gate-1.mp4", "edge-box_CQ-2026-1234_gate-2.mp4"} <= set(files)
    assert r.headers["content-disposition"] == f'attachment; filename="edge-box_CQ-2026-1234_export-{eid}.zip"'

    # Signature with cryptography, against the key `edge key show` prints for this box.
    shown = run_edge("key", "show", "-c", str(d.config))
    assert shown.returncode == 0, shown.stderr
    pem = shown.stdout[: shown.stdout.index("-----END PUBLIC KEY-----") + len("-----END PUBLIC KEY-----")] + "\n"
    assert pem.encode() == files["device_ed25519.pub.pem"]
    key = serialization.load_pem_public_key(pem.encode())
    assert isinstance(key, Ed25519PublicKey)
    key.verify(files["manifest.json.sig"], files["manifest.json"])  # raises if invalid
    manifest = json.loads(files["manifest.json"])
    assert manifest["device"]["public_key_fingerprint"] in shown.stdout
    assert manifest["request"]["case_number"] == "CQ-2026-1234"
    assert manifest["approval"]["approved_by"] == {"name": "approver-1", "credential_id": "PSB-2001"}
    assert manifest["request"]["requested_by"]["credential_id"] == "PSB-1001"
    assert {e["action"] for e in manifest["register_entries"]} >= {"export_request", "export_approve"}
    assert hashlib.sha256(files["manifest.json"]).hexdigest() == api("officer-1", "GET", f"/api/v1/exports/{eid}"
                                                                     ).json()["manifest_sha256"]

    for cam in manifest["cameras"]:
        blob = files[cam["file"]]
        assert hashlib.sha256(blob).hexdigest() == cam["sha256"] and len(blob) == cam["bytes"]
        assert f"{cam['sha256']}  {cam['file']}" in files["SHA256SUMS"].decode()
        assert manifest["files"][cam["file"]] == {"sha256": cam["sha256"], "bytes": cam["bytes"]}
        # Source segments: the index's own hashes and chain links, recomputable from the manifest.
        rows = {s["seq"]: s for s in segment_rows(root, cam["camera"])}
        assert len(cam["source_segments"]) >= 1
        for s in cam["source_segments"]:
            row = rows[s["seq"]]
            assert (s["sha256"], s["chain"], s["bytes"]) == (row["sha256"], row["chain"], row["bytes"])
            assert hashlib.sha256((root / row["path"]).read_bytes()).hexdigest() == s["sha256"]
            assert s["chain_version"] == 2 and link_v2(s["prev_chain"], segment_record_v2(
                cam["camera"], s["seq"], s["start_us"], s["end_us"], s["path"], s["bytes"], s["packets"], s["codec"],
                s["width"], s["height"], s["sha256"], s["origin"], s["created_us"])) == s["chain"]
        # The proof: a signed checkpoint whose head the source segments' links lead to.
        proof = manifest["proof"]["cameras"][cam["camera"]]
        assert f"checkpoint-{proof['checkpoint']}.json" in files and proof["chain_file"] in files
        check_clip(tmp_path / cam["file"], blob, cam, start_us, end_us)
    gate1 = next(c for c in manifest["cameras"] if c["camera"] == "gate-1")
    assert [s["seq"] for s in gate1["source_segments"]] == [segs[1]["seq"], segs[2]["seq"]]

    # The download is registered with who, when, what, for what use and to whom.
    entries = api("officer-1", "GET", f"/api/v1/exports/{eid}").json()["register_entries"]
    downloads = [e for e in entries if e["action"] == "export_download"]
    assert [(e["actor"], e["result"]) for e in downloads] == [
        ("officer-1", "refused"), ("officer-2", "refused"), ("officer-1", "ok")]  # before approval; third officer
    ok = downloads[-1]
    assert ok["credential_id"] == "PSB-1001" and ok["purpose"] == "robbery investigation"
    assert ok["recipient"] == {"name": "Wang Lei", "unit": "Yuzhong District PSB"}
    assert ok["approval"]["number"] == "YZ-APP-0042" and ok["cameras"] == ["gate-1", "gate-2"]
    assert ok["range_start_us"] == start_us and ok["range_end_us"] == end_us
    refused = [e for e in entries if e["action"] == "export_approve" and e["result"] == "refused"]
    assert [e["actor"] for e in refused] == ["approver-twin"]
    assert any(e["action"] == "access_denied" and e["actor"] == "officer-1"
               and "approve" in json.loads(e["detail"])["path"] for e in register_rows(root))
    assert any(e["action"] == "export_produce" and e["result"] == "ok" for e in entries)

    # The CLI client: status with a progress bar, and a download (registered like any other).
    out = run_edge("export", "status", "-c", str(d.config), str(eid), "--follow", "--token", api.tokens["officer-1"])
    assert out.returncode == 0 and "ready" in out.stdout and "100.0%" in out.stdout, out.stdout + out.stderr
    cli_zip = tmp_path / "cli.zip"
    out = run_edge("export", "download", "-c", str(d.config), str(eid), "-o", str(cli_zip),
                   "--token", api.tokens["approver-1"])
    assert out.returncode == 0 and cli_zip.exists(), out.stdout + out.stderr
    assert [e["actor"] for e in register_rows(root, "WHERE action='export_download' AND result='ok'")] == [
        "officer-1", "approver-1"]

    # `edge verify-export` accepts the zip, and names a clip altered after export.
    key_file = tmp_path / "device.pub.pem"
    key_file.write_text(pem)
    for bundle in (zpath, cli_zip):
        out = run_edge("verify-export", str(bundle), "--public-key", str(key_file))
        assert out.returncode == 0 and "BUNDLE INTACT" in out.stdout, out.stdout + out.stderr
        assert "gate-1: 2 source segment(s) chained to checkpoint #" in out.stdout, out.stdout
    unpacked = tmp_path / "unpacked"
    zipfile.ZipFile(zpath).extractall(unpacked)
    [bundle_dir] = list(unpacked.iterdir())
    clip = bundle_dir / "edge-box_CQ-2026-1234_gate-2.mp4"
    data = bytearray(clip.read_bytes())
    data[len(data) // 2] ^= 0xFF
    clip.write_bytes(bytes(data))
    out = run_edge("verify-export", str(bundle_dir), "--public-key", str(key_file))
    assert out.returncode == 1 and "edge-box_CQ-2026-1234_gate-2.mp4: ALTERED" in out.stdout, out.stdout

    # The register as JSON lines holds the whole story, and `edge verify` still finds it intact.
    audit = tmp_path / "audit.jsonl"
    out = run_edge("audit", "export", "-c", str(d.config), "-o", str(audit))
    assert out.returncode == 0, out.stderr
    lines = [json.loads(x) for x in audit.read_text().splitlines()]
    assert {"export_request", "export_approve", "export_produce", "export_download"} <= {x["action"] for x in lines}
    rc, _ = d.terminate()
    assert rc == 0
    out = run_edge("verify", "-c", str(d.config))
    assert out.returncode == 0, out.stdout


def check_clip(path: Path, blob: bytes, cam: dict[str, object], start_us: int, end_us: int) -> None:
    path.write_bytes(blob)
    actual_start, actual_end = cam["actual_start_us"], cam["actual_end_us"]
    assert isinstance(actual_start, int) and isinstance(actual_end, int)
    assert actual_start <= start_us < actual_start + GOP_US + FRAME_US, "starts at the keyframe at/before start"
    assert end_us - FRAME_US <= actual_end <= end_us + FRAME_US
    with av.open(str(path)) as c:
        # The wall-clock start in the header (mvhd keeps whole seconds).
        assert c.metadata["creation_time"][:19] == iso(actual_start)[:19]
        vs = c.streams.video[0]
        pkts = [p for p in c.demux(vs) if p.size]
    assert pkts[0].is_keyframe and pkts[0].pts == 0
    dts = [p.dts for p in pkts]
    assert dts == sorted(dts) and len(set(dts)) == len(dts)
    with av.open(str(path)) as c:
        frames = sum(1 for _ in c.decode(video=0))
    assert frames == len(pkts) == cam["packets"], "every packet decodes"
    # Continuous: the frame count matches the covered wall-clock span (no hole at the boundary).
    assert abs(frames * FRAME_US - (actual_end - actual_start)) <= 2 * FRAME_US
