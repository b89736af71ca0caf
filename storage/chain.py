"""The per-camera hash chain over segments (and the same construction for the access register).

chain_n = SHA-256(chain_{n-1} || sha256_n || camera || 0x00 || start_us || end_us || bytes)
with the two hashes as raw 32 bytes, the camera id in UTF-8 ended by a NUL, and the three integers
as signed 64-bit big-endian. The first link uses 32 zero bytes as chain_{-1}. Anyone can recompute
it with a few lines of any language; `VERIFY.txt` in export bundles spells it out.
"""

from __future__ import annotations

import hashlib
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
