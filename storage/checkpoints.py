"""Signed checkpoints: the box's statement, every few minutes, of every chain head it holds.

A checkpoint's body is canonical JSON (keys sorted, no spaces, UTF-8):

  {"format": "edge-checkpoint/1", "box_id": ..., "id": n, "time_us": ..., "time": ISO 8601,
   "key": device key fingerprint, "prev": SHA-256 of checkpoint n-1's body (64 zeros for the first),
   "cameras": {camera: {"seq": head seq, "link": head link, "v2_from": first chain-v2 seq}},
   "register": {"id": newest entry id, "link": its chain value} or null}

signed with the device key (Ed25519 over the exact body bytes). Central monitoring polls them
(`GET /api/v1/checkpoints`) and keeps them off the box: a rewrite of the store after a checkpoint
left the box cannot reproduce its heads. Where a Time-Stamping Authority is configured, the
SHA-256 of the body is also timestamped (RFC 3161) and the token kept with the checkpoint, so
even without an archive a re-made checkpoint shows by its later timestamp.

The table (storage/schema.py, migration 3) is append-only (triggers); the one update allowed
is setting the token once.
"""

from __future__ import annotations

import base64
import hashlib
import json
import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey as PublicKey

from storage.chain import GENESIS, canonical_json
from storage.chain_store import chain_head, has_chain_v2, v2_starts
from storage.index import Index
from storage.signing import DeviceKey, fingerprint, verify_signature

FORMAT = "edge-checkpoint/1"



def iso_us(time_us: int) -> str:
    return datetime.fromtimestamp(time_us / 1_000_000, UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


@dataclass(frozen=True)
class Checkpoint:
    id: int
    time_us: int
    body: str
    signature: str
    tsa_token: bytes | None = None
    tsa_time_us: int | None = None

    @property
    def content(self) -> dict[str, Any]:
        data: dict[str, Any] = json.loads(self.body)
        return data

    @property
    def digest(self) -> bytes:
        """SHA-256 of the body: what the TSA timestamps and the next checkpoint's `prev`."""
        return hashlib.sha256(self.body.encode("utf-8")).digest()

    def signature_ok(self, public: PublicKey) -> bool:
        try:
            sig = base64.b64decode(self.signature, validate=True)
        except ValueError:
            return False
        return verify_signature(public, self.body.encode("utf-8"), sig)

    def to_json(self) -> dict[str, Any]:
        """The form served by the API and kept in archives (and in export bundles)."""
        return {"id": self.id, "time": iso_us(self.time_us), "time_us": self.time_us, "body": self.body,
                "signature": self.signature, "sha256": self.digest.hex(),
                "tsa_token": base64.b64encode(self.tsa_token).decode() if self.tsa_token else None,
                "tsa_time": iso_us(self.tsa_time_us) if self.tsa_time_us is not None else None}

    @staticmethod
    def from_json(item: dict[str, Any]) -> Checkpoint:
        token = item.get("tsa_token")
        body = str(item["body"])
        content = json.loads(body)
        return Checkpoint(int(content["id"]), int(content["time_us"]), body, str(item["signature"]),
                          base64.b64decode(token) if token else None, None)


COLUMNS = "id, time_us, body, signature, tsa_token, tsa_time_us"


def _has_table(conn: sqlite3.Connection, name: str) -> bool:
    return conn.execute("SELECT 1 FROM sqlite_master WHERE type='table' AND name=?", (name,)).fetchone() is not None


def register_head(conn: sqlite3.Connection) -> tuple[int, str] | None:
    if not _has_table(conn, "register"):
        return None
    row = conn.execute("SELECT id, chain FROM register ORDER BY id DESC LIMIT 1").fetchone()
    return None if row is None else (int(row[0]), str(row[1]))


def heads(conn: sqlite3.Connection) -> dict[str, dict[str, Any]]:
    """Every camera's chain head (cameras with segments or gap links)."""
    cams = {str(r[0]) for r in conn.execute("SELECT DISTINCT camera FROM segments")}
    if has_chain_v2(conn):
        cams |= {str(r[0]) for r in conn.execute("SELECT DISTINCT camera FROM gaps WHERE open_seq IS NOT NULL")}
    starts = v2_starts(conn)
    out: dict[str, dict[str, Any]] = {}
    for cam in sorted(cams):
        head = chain_head(conn, cam)
        if head is not None:
            out[cam] = {"seq": head[0], "link": head[1], "v2_from": starts.get(cam, 0)}
    return out


def make_checkpoint(index: Index, key: DeviceKey, box_id: str, now_us: int) -> Checkpoint:
    """Read every head and append the signed checkpoint, in one transaction (a consistent cut)."""
    with index.write() as c:
        last = c.execute("SELECT id, body FROM checkpoints ORDER BY id DESC LIMIT 1").fetchone()
        cp_id = 1 if last is None else int(last[0]) + 1
        prev = GENESIS if last is None else hashlib.sha256(str(last[1]).encode("utf-8")).hexdigest()
        reg = register_head(c)
        content = {"format": FORMAT, "box_id": box_id, "id": cp_id, "time_us": now_us, "time": iso_us(now_us),
                   "key": fingerprint(key.public), "prev": prev, "cameras": heads(c),
                   "register": None if reg is None else {"id": reg[0], "link": reg[1]}}
        body = canonical_json(content).decode("utf-8")
        signature = base64.b64encode(key.sign(body.encode("utf-8"))).decode()
        c.execute("INSERT INTO checkpoints (id, time_us, body, signature) VALUES (?, ?, ?, ?)",
                  (cp_id, now_us, body, signature))
    return Checkpoint(cp_id, now_us, body, signature)


def set_token(index: Index, cp_id: int, token: bytes, tsa_time_us: int) -> None:
    with index.write() as c:
        c.execute("UPDATE checkpoints SET tsa_token=?, tsa_time_us=? WHERE id=? AND tsa_token IS NULL",
                  (token, tsa_time_us, cp_id))


def _rows(conn: sqlite3.Connection, sql: str, args: tuple[object, ...]) -> list[Checkpoint]:
    if not _has_table(conn, "checkpoints"):
        return []
    return [Checkpoint(int(r[0]), int(r[1]), str(r[2]), str(r[3]), bytes(r[4]) if r[4] is not None else None,
                       r[5]) for r in conn.execute(sql, args)]


def untimed(conn: sqlite3.Connection, limit: int) -> list[Checkpoint]:
    """Checkpoints still without a TSA token, newest first (the newest proves the most)."""
    return _rows(conn, f"SELECT {COLUMNS} FROM checkpoints WHERE tsa_token IS NULL ORDER BY id DESC LIMIT ?",
                 (limit,))


def since(conn: sqlite3.Connection, since_us: int = 0, after_id: int = 0, limit: int = 1000) -> list[Checkpoint]:
    return _rows(conn, f"SELECT {COLUMNS} FROM checkpoints WHERE time_us >= ? AND id > ? ORDER BY id LIMIT ?",
                 (since_us, after_id, limit))


def latest(conn: sqlite3.Connection) -> Checkpoint | None:
    rows = _rows(conn, f"SELECT {COLUMNS} FROM checkpoints ORDER BY id DESC LIMIT 1", ())
    return rows[0] if rows else None


def covering(conn: sqlite3.Connection, camera: str, seq: int) -> list[Checkpoint]:
    """The first checkpoint whose head for `camera` is at or past `seq` (it proves that link), or
    none. Heads only grow with the checkpoint id, so this is a binary search (a year of
    checkpoints at 300 s is ~105 000 rows of ~7 KB: never scanned)."""
    if not _has_table(conn, "checkpoints"):
        return []
    top = conn.execute("SELECT max(id) FROM checkpoints").fetchone()[0]
    if top is None:
        return []

    def head(cp_id: int) -> int:
        row = conn.execute("SELECT json_extract(body, '$.cameras.' || json_quote(?) || '.seq') FROM checkpoints"
                           " WHERE id=?", (camera, cp_id)).fetchone()
        return -1 if row is None or row[0] is None else int(row[0])

    lo, hi = 1, int(top)
    if head(hi) < seq:
        return []
    while lo < hi:
        mid = (lo + hi) // 2
        if head(mid) >= seq:
            hi = mid
        else:
            lo = mid + 1
    return _rows(conn, f"SELECT {COLUMNS} FROM checkpoints WHERE id=?", (lo,))


def parse_archive(data: bytes) -> tuple[list[Checkpoint], str | None]:
    """Checkpoints from an archive: the API's JSON answer, a JSON list, or JSON lines (one per
    checkpoint, as a poller appends them). Returns them by id, and the public key if included."""
    text = data.decode("utf-8").strip()
    public: str | None = None
    try:
        doc: Any = json.loads(text)
    except json.JSONDecodeError:
        doc = [json.loads(line) for line in text.splitlines() if line.strip()]
    if isinstance(doc, dict):
        public = doc.get("public_key")
        items: list[dict[str, Any]] = doc.get("checkpoints", [doc])
    else:
        items = doc
    by_id = {cp.id: cp for cp in (Checkpoint.from_json(i) for i in items)}
    return [by_id[k] for k in sorted(by_id)], public
