"""An export bundle's proof of origin: the signed checkpoint (and its RFC 3161 token) that covers
each camera's source segments, and the run of chain links from the first source segment up to
that checkpoint's head, so a court can recompute: clip (hash in the signed manifest) → source
segments → chain links → the checkpoint head → its signature and its timestamp.

Files, all ordinary bundle files (flat, listed with their hashes in the signed manifest):
  checkpoint-N.json       the checkpoint as the API serves it (body, signature, token)
  checkpoint-N.body.json  the exact signed and timestamped bytes
  checkpoint-N.sig        its raw Ed25519 signature (openssl pkeyutl -verify ... -sigfile)
  checkpoint-N.tsr        the TSA's reply (openssl ts -verify -data checkpoint-N.body.json -in ...)
  chain-CAMERA.jsonl      one link a line: {"seq", "link", "record"}; link = SHA-256(previous link ||
                          record) for v2 records (canonical JSON); v1 records are recomputed as
                          storage/chain.py's segment_link
  tsa-ca.pem              the TSA's CA certificate(s), when the box has them
"""

from __future__ import annotations

import base64
import hashlib
import json
import shutil
from pathlib import Path
from typing import Any

from edge.config import EdgeConfig
from storage import checkpoints
from storage.chain import (
    canonical_json,
    gap_close_record,
    gap_open_record,
    link_v2,
    segment_link,
    segment_record_v2,
)
from storage.chain_store import v2_starts
from storage.chain_walk import gap_links
from storage.checkpoints import Checkpoint
from storage.index import SEGMENT_COLUMNS, Index, Segment
from storage.signing import DeviceKey, load_public_pem

TSA_CA = "tsa-ca.pem"


def _record(seg: Segment, v2_from: int) -> dict[str, Any]:
    if seg.seq < v2_from:
        return {"v": 1, "kind": "segment", "camera": seg.camera, "seq": seg.seq, "sha256": seg.sha256,
                "start_us": seg.start_us, "end_us": seg.end_us, "bytes": seg.bytes}
    return segment_record_v2(seg.camera, seg.seq, seg.start_us, seg.end_us, seg.path, seg.bytes, seg.packets,
                             seg.codec, seg.width, seg.height, seg.sha256, seg.origin, seg.created_us)


def link_of(prev: str, record: dict[str, Any]) -> str:
    if record.get("v") == 1:
        return segment_link(prev, record["sha256"], record["camera"], record["start_us"], record["end_us"],
                            record["bytes"])
    return link_v2(prev, record)


def chain_run(index: Index, camera: str, first: int, last: int) -> list[dict[str, Any]]:
    """Links first..last of a camera (segments and gaps) with their records."""
    conn = index.reader()
    v2_from = v2_starts(conn).get(camera, 0)
    items: dict[int, dict[str, Any]] = {}
    for row in conn.execute(f"SELECT {SEGMENT_COLUMNS} FROM segments WHERE camera=? AND seq BETWEEN ? AND ?",
                            (camera, first, last)):
        seg = Segment(*row)
        items[seg.seq] = {"seq": seg.seq, "link": seg.chain, "record": _record(seg, v2_from)}
    for seq, g in gap_links(conn, camera):
        if first <= seq <= last:
            gap = g.gap
            rec = (gap_open_record(camera, seq, gap.id, gap.start_us) if g.kind == "gap_open" else
                   gap_close_record(camera, seq, gap.id, g.open_seq, gap.start_us, gap.end_us or 0, gap.reason,
                                    gap.detail))
            items[seq] = {"seq": seq, "link": g.link, "record": rec}
    return [items[k] for k in sorted(items)]


def add_proof(directory: Path, cfg: EdgeConfig, index: Index, key: DeviceKey, sources: dict[str, list[Segment]],
              now_us: int) -> dict[str, Any]:
    """Write the proof files for `sources` (per camera, in seq order); returns the manifest's `proof`."""
    proof: dict[str, Any] = {"cameras": {}, "files": {}}
    made: Checkpoint | None = None
    files: dict[str, bytes] = {}
    for cam, segs in sources.items():
        if not segs:
            continue
        top = max(s.seq for s in segs)
        found = checkpoints.covering(index.reader(), cam, top)
        if found:
            cp = found[0]
        else:
            # Footage newer than the last checkpoint: sign one now (its TSA token follows later on
            # the box; the bundle then proves the heads by the device signature alone).
            made = made or checkpoints.make_checkpoint(index, key, cfg.box.id, now_us)
            cp = made
        head = cp.content["cameras"][cam]
        run = chain_run(index, cam, min(s.seq for s in segs), int(head["seq"]))
        chain_name = f"chain-{cam}.jsonl"
        files[chain_name] = b"".join(canonical_json(item) + b"\n" for item in run)
        files[f"checkpoint-{cp.id}.json"] = json.dumps(cp.to_json(), indent=2, sort_keys=True).encode() + b"\n"
        files[f"checkpoint-{cp.id}.body.json"] = cp.body.encode("utf-8")
        files[f"checkpoint-{cp.id}.sig"] = base64.b64decode(cp.signature)
        if cp.tsa_token is not None:
            files[f"checkpoint-{cp.id}.tsr"] = cp.tsa_token
        proof["cameras"][cam] = {"checkpoint": cp.id, "checkpoint_time": cp.content["time"],
                                 "timestamped": cp.tsa_token is not None, "chain_file": chain_name,
                                 "head_seq": int(head["seq"]), "head_link": head["link"]}
    for name, data in files.items():
        (directory / name).write_bytes(data)
        proof["files"][name] = hashlib.sha256(data).hexdigest()
    ca = cfg.integrity.tsa_ca_file
    if ca is not None and ca.is_file():
        shutil.copyfile(ca, directory / TSA_CA)
        proof["files"][TSA_CA] = hashlib.sha256((directory / TSA_CA).read_bytes()).hexdigest()
    return proof


def check_proof(read: Any, manifest: dict[str, Any], public_pem: bytes) -> tuple[list[str], list[str]]:
    """(problems, checked) for a bundle's proof; `read(name)` returns a file's bytes or None."""
    proof = manifest.get("proof")
    if not proof:
        return [], []
    problems: list[str] = []
    checked: list[str] = []
    for name, digest in proof.get("files", {}).items():
        data = read(name)
        if data is None or hashlib.sha256(data).hexdigest() != digest:
            problems.append(f"{name}: {'MISSING' if data is None else 'ALTERED'} (proof file)")
    public = load_public_pem(public_pem)
    for cam in manifest.get("cameras", []):
        entry = proof["cameras"].get(cam["camera"])
        sources = cam.get("source_segments", [])
        if entry is None or not sources:
            continue
        raw = read(f"checkpoint-{entry['checkpoint']}.json")
        if raw is None:
            continue
        cp = Checkpoint.from_json(json.loads(raw))
        if not cp.signature_ok(public):
            problems.append(f"checkpoint #{cp.id}: signature does not verify with the device key")
            continue
        head = cp.content["cameras"].get(cam["camera"])
        run = [json.loads(line) for line in (read(entry["chain_file"]) or b"").splitlines() if line.strip()]
        prev = sources[0]["prev_chain"]
        by_seq: dict[int, str] = {}
        for item in run:
            if link_of(prev, item["record"]) != item["link"]:
                problems.append(f"{cam['camera']} link #{item['seq']}: does not match its record")
            by_seq[int(item["seq"])] = item["link"]
            prev = item["link"]
        for s in sources:
            if by_seq.get(int(s["seq"])) != s["chain"]:
                problems.append(f"{cam['camera']} segment #{s['seq']}: not in the chain up to checkpoint #{cp.id}")
        if head is None or not run or (run[-1]["seq"], run[-1]["link"]) != (head["seq"], head["link"]):
            problems.append(f"{cam['camera']}: the chain does not reach checkpoint #{cp.id}'s head")
        else:
            checked.append(f"{cam['camera']}: {len(sources)} source segment(s) chained to checkpoint #{cp.id}"
                           f" ({cp.content['time']}, signed{', timestamped' if cp.tsa_token else ''})")
    return problems, checked
