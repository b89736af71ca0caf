"""The access register (Art. 19(4)): append-only, hash-chained, in the index database.

Every access to footage and every act that changes what is kept is registered: who (user, role,
work credential), when, what (cameras, time range), for what use (purpose, case), handed to whom
(recipient), under which approval document, with what result. Each entry's chain value covers
its canonical JSON and the previous chain value, so editing or deleting any row is detected by
`edge verify` (see `verify_register`).
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from typing import Any

from storage.chain import GENESIS, record_link
from storage.clock import Clock
from storage.index import Index

#: The actions the register knows; an unknown action is a programming error, not a new kind.
ACTIONS = frozenset({
    "auth_failure", "access_denied",
    "export_request", "export_approve", "export_deny", "export_expire", "export_produce", "export_download",
    "export_view",
    "hold_create", "hold_release_request", "hold_release_approve", "hold_release_deny", "hold_expire",
    "wide_hold_request", "wide_hold_approve", "wide_hold_deny",
    "user_add", "user_disable", "user_enable", "token_rotate",
    "config_reload", "retention_delete", "floor_breach",
    "baseline_set", "maintenance", "snapshot_view", "register_export",
    "gb28181_live", "gb28181_playback", "gb28181_download", "offload_upload",
    # review on the box (edge/access/review.py): a two-person grant, then playback and live views
    "review_request", "review_approve", "review_deny", "review_expire", "review_revoke", "review_view",
    "live_view", "sign_in", "sign_out",
})


@dataclass(frozen=True)
class Actor:
    name: str
    role: str
    credential_id: str = ""
    source: str = "daemon"


SYSTEM = Actor("system", "system", "", "daemon")


@dataclass(frozen=True)
class Entry:
    id: int
    time_us: int
    actor: str
    role: str
    credential_id: str
    source: str
    action: str
    cameras: list[str]
    range_start_us: int | None
    range_end_us: int | None
    purpose: str
    case_number: str
    recipient: dict[str, Any]
    approval: dict[str, Any]
    subject: str
    result: str
    detail: dict[str, Any]
    chain: str

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def _canonical(fields: dict[str, Any]) -> bytes:
    return json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


@dataclass
class Query:
    since_us: int | None = None
    until_us: int | None = None
    actions: list[str] = field(default_factory=list)
    actor: str | None = None
    camera: str | None = None
    limit: int = 1000
    after_id: int = 0


class AccessRegister:
    COLUMNS = ("id, time_us, actor, role, credential_id, source, action, cameras, range_start_us, "
               "range_end_us, purpose, case_number, recipient, approval, subject, result, detail, chain")

    def __init__(self, index: Index, clock: Clock) -> None:
        self.index = index
        self.clock = clock
        self._lock = threading.Lock()

    def append(self, actor: Actor, action: str, *, result: str = "ok", cameras: list[str] | None = None,
               range_start_us: int | None = None, range_end_us: int | None = None, purpose: str = "",
               case_number: str = "", recipient: dict[str, Any] | None = None,
               approval: dict[str, Any] | None = None, subject: str = "",
               detail: dict[str, Any] | None = None) -> Entry:
        with self._lock, self.index.write() as c:
            return self.append_in(c, actor, action, result=result, cameras=cameras, range_start_us=range_start_us,
                                  range_end_us=range_end_us, purpose=purpose, case_number=case_number,
                                  recipient=recipient, approval=approval, subject=subject, detail=detail)

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One index transaction holding the register's lock (taken first, as `append` does): for
        an entry and the rows it records committed together (`append_in`), e.g. retention's marks."""
        with self._lock, self.index.write() as c:
            yield c

    def append_in(self, c: sqlite3.Connection, actor: Actor, action: str, *, result: str = "ok",
                  cameras: list[str] | None = None, range_start_us: int | None = None,
                  range_end_us: int | None = None, purpose: str = "", case_number: str = "",
                  recipient: dict[str, Any] | None = None, approval: dict[str, Any] | None = None,
                  subject: str = "", detail: dict[str, Any] | None = None) -> Entry:
        """`append` inside a `transaction()` the caller holds."""
        if action not in ACTIONS:
            raise ValueError(f"unknown register action {action!r}")
        row = c.execute("SELECT id, chain FROM register ORDER BY id DESC LIMIT 1").fetchone()
        prev_id, prev = (0, GENESIS) if row is None else (int(row[0]), str(row[1]))
        fields: dict[str, Any] = {
            "id": prev_id + 1, "time_us": self.clock.now_us(), "actor": actor.name, "role": actor.role,
            "credential_id": actor.credential_id, "source": actor.source, "action": action,
            "cameras": sorted(cameras or []), "range_start_us": range_start_us,
            "range_end_us": range_end_us, "purpose": purpose, "case_number": case_number,
            "recipient": recipient or {}, "approval": approval or {}, "subject": subject,
            "result": result, "detail": detail or {},
        }
        chain = record_link(prev, _canonical(fields))
        c.execute(
            f"INSERT INTO register ({self.COLUMNS}) VALUES ({', '.join('?' * 18)})",
            (fields["id"], fields["time_us"], actor.name, actor.role, actor.credential_id, actor.source,
             action, json.dumps(fields["cameras"]), range_start_us, range_end_us, purpose, case_number,
             json.dumps(fields["recipient"], sort_keys=True), json.dumps(fields["approval"], sort_keys=True),
             subject, result, json.dumps(fields["detail"], sort_keys=True), chain),
        )
        return Entry(chain=chain, **fields)

    @staticmethod
    def _entry(row: tuple[Any, ...]) -> Entry:
        (id_, t, actor, role, cred, source, action, cams, rs, re_, purpose, case, recip, appr, subject,
         result, detail, chain) = row
        return Entry(id_, t, actor, role, cred, source, action, json.loads(cams), rs, re_, purpose, case,
                     json.loads(recip), json.loads(appr), subject, result, json.loads(detail), chain)

    def query(self, q: Query) -> list[Entry]:
        sql = f"SELECT {self.COLUMNS} FROM register WHERE id > ?"
        args: list[Any] = [q.after_id]
        if q.since_us is not None:
            sql += " AND time_us >= ?"
            args.append(q.since_us)
        if q.until_us is not None:
            sql += " AND time_us < ?"
            args.append(q.until_us)
        if q.actions:
            sql += f" AND action IN ({', '.join('?' * len(q.actions))})"
            args += q.actions
        if q.actor is not None:
            sql += " AND actor = ?"
            args.append(q.actor)
        if q.camera is not None:
            sql += " AND EXISTS (SELECT 1 FROM json_each(register.cameras) WHERE value = ?)"
            args.append(q.camera)
        sql += " ORDER BY id LIMIT ?"
        args.append(q.limit)
        return [self._entry(r) for r in self.index.reader().execute(sql, args)]

    def entries_for_subject(self, subject: str) -> list[Entry]:
        rows = self.index.reader().execute(f"SELECT {self.COLUMNS} FROM register WHERE subject=? ORDER BY id",
                                           (subject,))
        return [self._entry(r) for r in rows]


def verify_register(index: Index) -> list[str]:
    """One problem line per register row whose chain does not match (edited, inserted or removed)."""
    problems: list[str] = []
    prev, expected_id = GENESIS, 1
    for row in index.reader().execute(f"SELECT {AccessRegister.COLUMNS} FROM register ORDER BY id"):
        e = AccessRegister._entry(row)
        if e.id != expected_id:
            problems.append(f"REGISTER #{expected_id}..#{e.id - 1}: entries missing")
        fields = {k: v for k, v in e.to_json().items() if k != "chain"}
        link = record_link(prev, _canonical(fields))
        if link != e.chain:
            problems.append(f"REGISTER #{e.id}: entry altered (chain does not match)")
        prev, expected_id = e.chain, e.id + 1
    return problems
