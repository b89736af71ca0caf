"""Every table of the index, as numbered migrations applied when the index opens.

`PRAGMA user_version` holds the number of the last migration applied. A migration is appended,
never edited once released: a store written by any earlier release opens and is brought up to
date, in order, each step in its own transaction (like Moonfire NVR's numbered upgrades). Every
table of every layer lives in this one file, so the schema can be read in one place.

Migration 1 is the schema of release 0.1 (round one), written with CREATE ... IF NOT EXISTS so a
0.1 store, which carries those tables but no user_version, opens as version 1 unchanged.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from dataclasses import dataclass


def request_table_ddl(table: str, own_columns: str) -> str:
    """A two-person request table: the columns every request has, then the use's own."""
    return f"""
CREATE TABLE IF NOT EXISTS {table} (
    id INTEGER PRIMARY KEY,
    state TEXT NOT NULL,
    {own_columns.strip().rstrip(',')},
    requested_by TEXT NOT NULL,
    requester_credential TEXT NOT NULL,
    requested_us INTEGER NOT NULL,
    expires_us INTEGER NOT NULL,
    decided_by TEXT,
    decider_credential TEXT,
    decided_us INTEGER,
    decision_reason TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS {table}_state ON {table} (state);
"""


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    #: DDL run as one script, or a function given the connection inside the migration's transaction.
    apply: str | Callable[[sqlite3.Connection], None]


V1_BASE = """
-- segments, gaps and anomalies: the index proper
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS segments (
    id INTEGER PRIMARY KEY,
    camera TEXT NOT NULL,
    seq INTEGER NOT NULL,            -- position in the camera's chain, from 0
    start_us INTEGER NOT NULL,       -- wall-clock UTC, microseconds since the epoch
    end_us INTEGER NOT NULL,
    path TEXT NOT NULL,              -- relative to the storage root
    bytes INTEGER NOT NULL,
    packets INTEGER NOT NULL,
    codec TEXT NOT NULL,
    width INTEGER NOT NULL,
    height INTEGER NOT NULL,
    sha256 TEXT NOT NULL,
    chain TEXT NOT NULL,
    origin TEXT NOT NULL DEFAULT 'recorded',   -- recorded | recovered | adopted
    state TEXT NOT NULL DEFAULT 'stored',      -- stored | deleting | deleted | missing
    created_us INTEGER NOT NULL,
    deleted_us INTEGER,
    delete_reason TEXT,
    UNIQUE (camera, seq)
);
CREATE INDEX IF NOT EXISTS segments_camera_start ON segments (camera, start_us);
CREATE INDEX IF NOT EXISTS segments_stored_end ON segments (end_us) WHERE state = 'stored';
CREATE TABLE IF NOT EXISTS gaps (
    id INTEGER PRIMARY KEY,
    camera TEXT NOT NULL,
    start_us INTEGER NOT NULL,
    end_us INTEGER,                  -- NULL while the outage lasts
    reason TEXT NOT NULL,            -- refused | timeout | stream_ended | bad_data | stalled | ...
    detail TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS gaps_camera_start ON gaps (camera, start_us);
CREATE TABLE IF NOT EXISTS anomalies (
    id INTEGER PRIMARY KEY,
    time_us INTEGER NOT NULL,
    camera TEXT,
    kind TEXT NOT NULL,              -- unindexed_file | missing_file | salvaged | quarantined | ...
    path TEXT,
    detail TEXT NOT NULL DEFAULT ''
);
-- the access register (append-only by trigger)
CREATE TABLE IF NOT EXISTS register (
    id INTEGER PRIMARY KEY,
    time_us INTEGER NOT NULL,
    actor TEXT NOT NULL,             -- user name, or 'system'
    role TEXT NOT NULL,
    credential_id TEXT NOT NULL,     -- work credential number ('' for the system)
    source TEXT NOT NULL,            -- client address, 'cli' or 'daemon'
    action TEXT NOT NULL,
    cameras TEXT NOT NULL,           -- JSON list
    range_start_us INTEGER,
    range_end_us INTEGER,
    purpose TEXT NOT NULL,
    case_number TEXT NOT NULL,
    recipient TEXT NOT NULL,         -- JSON object {name, unit} or {}
    approval TEXT NOT NULL,          -- JSON object (approval document) or {}
    subject TEXT NOT NULL,           -- what was acted on: export id, hold id, user name, ...
    result TEXT NOT NULL,            -- ok | refused | failed | ...
    detail TEXT NOT NULL,            -- JSON object
    chain TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS register_time ON register (time_us);
CREATE INDEX IF NOT EXISTS register_action ON register (action, time_us);
CREATE TRIGGER IF NOT EXISTS register_no_update BEFORE UPDATE ON register
    BEGIN SELECT RAISE(ABORT, 'the access register is append-only'); END;
CREATE TRIGGER IF NOT EXISTS register_no_delete BEFORE DELETE ON register
    BEGIN SELECT RAISE(ABORT, 'the access register is append-only'); END;
-- holds (never deleted, never shortened: triggers)
CREATE TABLE IF NOT EXISTS holds (
    id INTEGER PRIMARY KEY,
    camera TEXT,                     -- NULL: every camera
    start_us INTEGER NOT NULL,
    end_us INTEGER NOT NULL,
    reason TEXT NOT NULL,
    case_number TEXT NOT NULL,
    created_by TEXT NOT NULL,
    created_us INTEGER NOT NULL,
    expires_us INTEGER NOT NULL,
    released_us INTEGER,
    released_by TEXT,
    source TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS holds_expires ON holds (expires_us) WHERE released_us IS NULL;
CREATE TRIGGER IF NOT EXISTS holds_no_delete BEFORE DELETE ON holds
    BEGIN SELECT RAISE(ABORT, 'holds cannot be deleted'); END;
CREATE TRIGGER IF NOT EXISTS holds_no_shorten BEFORE UPDATE ON holds
    WHEN NEW.camera IS NOT OLD.camera OR NEW.start_us != OLD.start_us OR NEW.end_us != OLD.end_us
      OR NEW.created_us != OLD.created_us OR NEW.expires_us < OLD.expires_us
      OR NEW.reason != OLD.reason OR NEW.case_number != OLD.case_number
      OR NEW.created_by != OLD.created_by OR NEW.source != OLD.source
      OR (OLD.released_us IS NOT NULL AND NEW.released_us IS NOT OLD.released_us)
    BEGIN SELECT RAISE(ABORT, 'a hold cannot be shortened or rewritten'); END;
-- indexes the retention sweep and startup totals read
-- Covering: the startup aggregate and "oldest stored of a camera" read the index alone.
CREATE INDEX IF NOT EXISTS segments_stored_camera ON segments (camera, start_us, end_us, bytes) WHERE state = 'stored';
CREATE INDEX IF NOT EXISTS segments_deleting ON segments (id) WHERE state = 'deleting';
-- indexes recovery and the status document seek on
CREATE INDEX IF NOT EXISTS segments_deleting ON segments (id) WHERE state = 'deleting';
CREATE INDEX IF NOT EXISTS gaps_open ON gaps (id) WHERE end_us IS NULL;
-- Also what the status document's "gaps in the last 24 h" seeks on (edge/status.py).
CREATE INDEX IF NOT EXISTS gaps_camera_end ON gaps (camera, end_us);
-- users and tokens
CREATE TABLE IF NOT EXISTS users (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    role TEXT NOT NULL,
    credential_id TEXT NOT NULL,     -- work credential number (Art. 18)
    token_sha256 TEXT UNIQUE,        -- NULL once revoked
    password_argon2 TEXT,            -- optional, for the web login
    disabled INTEGER NOT NULL DEFAULT 0,
    created_us INTEGER NOT NULL,
    created_by TEXT NOT NULL
);
-- alarm events
CREATE TABLE IF NOT EXISTS alarm_events (
    id INTEGER PRIMARY KEY,
    time_us INTEGER NOT NULL,
    code TEXT NOT NULL,
    camera TEXT,                     -- NULL for box-wide alarms
    severity TEXT NOT NULL,
    event TEXT NOT NULL,             -- raise | clear
    message TEXT NOT NULL,
    details TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS alarm_events_time ON alarm_events (time_us);
-- web sessions (only the hash of a session id is stored)
CREATE TABLE IF NOT EXISTS web_sessions (
    id_sha256 TEXT PRIMARY KEY,
    user_id INTEGER NOT NULL,
    csrf TEXT NOT NULL,
    source TEXT NOT NULL,
    created_us INTEGER NOT NULL,
    last_seen_us INTEGER NOT NULL,
    idle_expires_us INTEGER NOT NULL,
    expires_us INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS web_sessions_expiry ON web_sessions (idle_expires_us);
"""

V1_REQUESTS = (
    "-- two-person requests (edge/access/workflow.py): exports and early hold releases\n"
    + request_table_ddl("exports", """spec TEXT NOT NULL,   -- JSON: cameras, range, purpose, case, recipient, approval
    error TEXT NOT NULL DEFAULT '',
    completed_us INTEGER,
    manifest_sha256 TEXT""")
    + request_table_ddl("hold_releases", """hold_id INTEGER NOT NULL,
    reason TEXT NOT NULL,   -- approval: the JSON approval document
    approval TEXT NOT NULL""")
    + "CREATE INDEX IF NOT EXISTS hold_releases_hold ON hold_releases (hold_id, state);\n"
)

V2_OFFLOAD = """
-- evidence offload (edge/offload/): one row per object to copy to the Object Lock bucket; a row
-- goes pending -> done (or gone: its source vanished first); done -> extend when a longer hold
-- needs the stored version's lock lengthened.
CREATE TABLE IF NOT EXISTS offload_queue (
    id INTEGER PRIMARY KEY,
    kind TEXT NOT NULL,                  -- segment | export | checkpoint
    source TEXT NOT NULL UNIQUE,         -- segment:<id> | export:<id>/<file> | checkpoint:<id>
    key TEXT NOT NULL,                   -- object key in the bucket
    path TEXT,                           -- file relative to the store root (NULL: body below)
    body BLOB,                           -- checkpoint records, copied from the index
    bytes INTEGER NOT NULL,
    expected_sha256 TEXT,                -- hex; for segments the index's own hash
    retain_until_us INTEGER NOT NULL,
    queued_us INTEGER NOT NULL,
    state TEXT NOT NULL DEFAULT 'pending',   -- pending | done | extend | gone
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_us INTEGER NOT NULL,
    last_error TEXT NOT NULL DEFAULT '',
    done_us INTEGER,
    sha256 TEXT,                         -- hex, as the store verified it
    version_id TEXT,                     -- the locked version
    locked_until_us INTEGER,             -- retain-until the store reported
    in_flight INTEGER NOT NULL DEFAULT 0 -- 1 from just before a PUT until its outcome is recorded
);
CREATE INDEX IF NOT EXISTS offload_queue_due ON offload_queue (next_attempt_us)
    WHERE state IN ('pending', 'extend');
"""

V3_HOLD_REQUESTS = (
    "-- open-ended all-camera holds, decided by two persons (edge/access/hold_requests.py)\n"
    + request_table_ddl("hold_requests", """camera TEXT,   -- NULL: every camera
    start_us INTEGER NOT NULL,
    end_us INTEGER NOT NULL,
    reason TEXT NOT NULL,
    case_number TEXT NOT NULL,
    approval TEXT NOT NULL,   -- JSON approval document; hold_id: the hold made on approval
    hold_id INTEGER""")
)

V4_CLOCK_EVENTS = """
-- steps of the wall clock and time-sync changes (storage/clock_events.py, edge/monitor/clock_watch.py)
CREATE TABLE IF NOT EXISTS clock_events (
    id INTEGER PRIMARY KEY,
    time_us INTEGER NOT NULL,        -- wall clock after the event
    kind TEXT NOT NULL,              -- step | unsynced | synced
    step_us INTEGER NOT NULL DEFAULT 0,
    detail TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS clock_events_time ON clock_events (time_us);
"""


#: Signed checkpoints of every chain head (storage/checkpoints.py), append-only: the one update
#: allowed is adding the RFC 3161 token once.
V6_CHECKPOINTS = """
CREATE TABLE IF NOT EXISTS checkpoints (
    id INTEGER PRIMARY KEY,
    time_us INTEGER NOT NULL,
    body TEXT NOT NULL,              -- canonical JSON: exactly the signed bytes
    signature TEXT NOT NULL,         -- base64 Ed25519 signature over body
    tsa_token BLOB,                  -- RFC 3161 TimeStampResp (DER) over SHA-256(body), once obtained
    tsa_time_us INTEGER              -- its genTime
);
CREATE INDEX IF NOT EXISTS checkpoints_time ON checkpoints (time_us);
CREATE INDEX IF NOT EXISTS checkpoints_untimed ON checkpoints (id) WHERE tsa_token IS NULL;
CREATE TRIGGER IF NOT EXISTS checkpoints_no_delete BEFORE DELETE ON checkpoints
    BEGIN SELECT RAISE(ABORT, 'checkpoints are append-only'); END;
CREATE TRIGGER IF NOT EXISTS checkpoints_token_once BEFORE UPDATE ON checkpoints
    WHEN OLD.tsa_token IS NOT NULL OR NEW.id IS NOT OLD.id OR NEW.time_us IS NOT OLD.time_us
      OR NEW.body IS NOT OLD.body OR NEW.signature IS NOT OLD.signature
    BEGIN SELECT RAISE(ABORT, 'checkpoints are append-only (only a missing TSA token may be added)'); END;
"""


def _chain_v2(conn: sqlite3.Connection) -> None:
    from storage.chain_store import migrate_chain_v2  # the v2 DDL lives beside the code that uses it

    migrate_chain_v2(conn)


V7_REVIEW_GRANTS = (
    "-- review grants (edge/access/review.py): two-person playback on the box, never a download\n"
    + request_table_ddl("review_grants", """spec TEXT NOT NULL,   -- JSON: cameras, range, purpose, case, approval
    granted_until_us INTEGER,        -- set at approval: now + [access] review_hours
    revoked_by TEXT,
    revoked_us INTEGER""")
)

MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "release 0.1 schema", V1_BASE + V1_REQUESTS),
    Migration(2, "evidence offload queue", V2_OFFLOAD),
    Migration(3, "two-person hold requests", V3_HOLD_REQUESTS),
    Migration(4, "clock events", V4_CLOCK_EVENTS),
    # Issue 13: every field of a segment row and each gap in the camera's chain; v1 links stay.
    Migration(5, "chain v2 (gap links, chain_v2_start)", _chain_v2),
    Migration(6, "signed checkpoints", V6_CHECKPOINTS),
    Migration(7, "review grants", V7_REVIEW_GRANTS),
)

LATEST = MIGRATIONS[-1].version


class SchemaError(Exception):
    """The store was written by a newer release than this one."""


def version_of(conn: sqlite3.Connection) -> int:
    return int(conn.execute("PRAGMA user_version").fetchone()[0])


def migrate(conn: sqlite3.Connection) -> list[int]:
    """Apply every migration newer than the store; the versions applied, in order.

    `conn` must be in autocommit mode (isolation_level=None); each migration and its
    `user_version` bump commit together, so a crash leaves the store at a whole version."""
    current = version_of(conn)
    if current > LATEST:
        raise SchemaError(f"the index is at schema version {current}, newer than this release's {LATEST}: "
                          "upgrade edge before opening this store")
    applied = []
    for m in MIGRATIONS:
        if m.version <= current:
            continue
        conn.execute("BEGIN IMMEDIATE")
        try:
            if isinstance(m.apply, str):
                for statement in _statements(m.apply):
                    conn.execute(statement)
            else:
                m.apply(conn)
            conn.execute(f"PRAGMA user_version = {int(m.version)}")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")
        applied.append(m.version)
    return applied


def _statements(script: str) -> list[str]:
    """Split a DDL script into statements (executescript would commit our transaction)."""
    out, buf = [], ""
    for line in script.splitlines(keepends=True):
        buf += line
        if sqlite3.complete_statement(buf):
            out.append(buf.strip())
            buf = ""
    if buf.strip() and not all(ln.strip().startswith("--") or not ln.strip() for ln in buf.splitlines()):
        raise ValueError(f"incomplete statement in a migration: {buf.strip()[:80]}")
    return [s for s in out if s]
