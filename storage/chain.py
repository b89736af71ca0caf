"""The per-camera hash chain over segments (and the same construction for the access register).

chain_n = SHA-256(chain_{n-1} || sha256_n || camera || 0x00 || start_us || end_us || bytes)
with the two hashes as raw 32 bytes, the camera id in UTF-8 ended by a NUL, and the three integers
as signed 64-bit big-endian. The first link uses 32 zero bytes as chain_{-1}. Anyone can recompute
it with a few lines of any language; `VERIFY.txt` in export bundles spells it out.
"""

from __future__ import annotations

import hashlib
import json
import struct

GENESIS = "00" * 32


def segment_link(prev_chain: str, sha256: str, camera: str, start_us: int, end_us: int, size: int) -> str:
    h = hashlib.sha256()
    h.update(bytes.fromhex(prev_chain))
    h.update(bytes.fromhex(sha256))
    h.update(camera.encode("utf-8") + b"\x00")
    h.update(struct.pack(">qqq", start_us, end_us, size))
    return h.hexdigest()


def record_link(prev_chain: str, canonical: bytes) -> str:
    """A link over an arbitrary canonical record (the access register uses canonical JSON)."""
    return hashlib.sha256(bytes.fromhex(prev_chain) + canonical).hexdigest()


# -- chain v2 ----------------------------------------------------------------------------------
# v1 (above) leaves the path, packets, codec, origin and creation time out of the link, and an
# outage (a gap row) is no link at all, so both could be edited unseen. v2 links every field of a
# segment row that does not change after the close, and puts each gap into the same per-camera
# chain as two links (when it opens and when it closes; a gap's end and final reason are only
# known at the close). Segments and gap links share one `seq` counter per camera, so removing a
# gap leaves a hole in the sequence just like removing a segment.
#
#   link_n = SHA-256(link_{n-1} as 32 raw bytes || canonical JSON of the record)
#
# with canonical JSON = keys sorted, no spaces, UTF-8. The first v2 link of a camera that had v1
# links chains onto the last v1 link (the camera's row in `chain_v2_start` marks the position).
CHAIN_V2 = 2


def canonical_json(record: dict[str, object]) -> bytes:
    return json.dumps(record, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def segment_record_v2(camera: str, seq: int, start_us: int, end_us: int, path: str, size: int, packets: int,
                      codec: str, width: int, height: int, sha256: str, origin: str,
                      created_us: int) -> dict[str, object]:
    return {"v": CHAIN_V2, "kind": "segment", "camera": camera, "seq": seq, "start_us": start_us,
            "end_us": end_us, "path": path, "bytes": size, "packets": packets, "codec": codec, "width": width,
            "height": height, "sha256": sha256, "origin": origin, "created_us": created_us}


def gap_open_record(camera: str, seq: int, gap_id: int, start_us: int) -> dict[str, object]:
    return {"v": CHAIN_V2, "kind": "gap_open", "camera": camera, "seq": seq, "gap": gap_id, "start_us": start_us}


def gap_close_record(camera: str, seq: int, gap_id: int, open_seq: int | None, start_us: int, end_us: int,
                     reason: str, detail: str) -> dict[str, object]:
    return {"v": CHAIN_V2, "kind": "gap_close", "camera": camera, "seq": seq, "gap": gap_id, "open_seq": open_seq,
            "start_us": start_us, "end_us": end_us, "reason": reason, "detail": detail}


def link_v2(prev_chain: str, record: dict[str, object]) -> str:
    return record_link(prev_chain, canonical_json(record))
