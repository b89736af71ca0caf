"""`edge verify --checkpoints FILE_OR_URL`: fetch the archive, pick the trusted key, and run the
checkpoint comparison after the store walk (storage/checkpoint_verify.py)."""

from __future__ import annotations

import os
from pathlib import Path

import httpx
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from edge.config import EdgeConfig
from storage.chain_store import has_chain_v2, v2_starts
from storage.checkpoint_verify import CheckpointFindings, check_checkpoints
from storage.checkpoints import Checkpoint, iso_us, parse_archive
from storage.signing import PUBLIC_NAME, fingerprint, load_public_pem
from storage.store import SegmentStore
from storage.tsa import TsaVerifier
from storage.verify import VerifyReport

TOKEN_ENV = "EDGE_API_TOKEN"
#: An untimed checkpoint this much older than the newest timed one is a finding, not a backlog.
UNTIMED_TOLERANCE_US = 86_400_000_000


class ArchiveError(Exception):
    pass


def load_archive(source: str) -> tuple[list[Checkpoint], str | None]:
    """Checkpoints from a file or from a box's (or the central archive's) URL; a URL is read with
    the bearer token in $EDGE_API_TOKEN, following `next_after_id` pages."""
    if source.startswith(("http://", "https://")):
        token = os.environ.get(TOKEN_ENV, "")
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        items: list[Checkpoint] = []
        public: str | None = None
        after = 0
        while True:
            try:
                resp = httpx.get(source, params={"after_id": after}, headers=headers, timeout=30.0)
            except httpx.HTTPError as exc:
                raise ArchiveError(f"{source}: {exc}") from None
            if resp.status_code != 200:
                raise ArchiveError(f"{source}: HTTP {resp.status_code}")
            page, key = parse_archive(resp.content)
            items += page
            public = public or key
            nxt = resp.json().get("next_after_id")
            if not nxt:
                return items, public
            after = int(nxt)
    try:
        return parse_archive(Path(source).read_bytes())
    except (OSError, ValueError, KeyError) as exc:
        raise ArchiveError(f"{source}: {exc}") from None


def tsa_verifier(cfg: EdgeConfig) -> TsaVerifier | None:
    ic = cfg.integrity
    return TsaVerifier(ic.tsa_ca_file, ic.tsa_cert_file) if ic.tsa_ca_file is not None else None


def trusted_key(store: SegmentStore, archived: str | None, explicit: Path | None,
                report: VerifyReport) -> Ed25519PublicKey | None:
    """The key checkpoints must be signed with: --public-key, else the archive's, else the box's.
    A box key that differs from the trusted one is a finding (the key was replaced)."""
    box_pem = store.layout.keys_dir / PUBLIC_NAME
    box = load_public_pem(box_pem.read_bytes()) if box_pem.exists() else None
    trusted = load_public_pem(explicit.read_bytes()) if explicit is not None else (
        load_public_pem(archived) if archived else box)
    if trusted is not None and box is not None and fingerprint(box) != fingerprint(trusted):
        report.problems.append(f"KEY: the box's device key {fingerprint(box)} is not the trusted"
                               f" {fingerprint(trusted)}")
    return trusted


def check_integrity(cfg: EdgeConfig, store: SegmentStore, report: VerifyReport, archive: list[Checkpoint] | None,
                    own: list[Checkpoint], public: Ed25519PublicKey | None,
                    camera: str | None = None) -> list[CheckpointFindings]:
    """`own`: the box's checkpoints as read BEFORE the walk (one made during it may name heads the
    walk has not seen). `camera`: the walk covered only this camera (`edge verify --camera`)."""
    conn = store.index.reader()
    tsa = tsa_verifier(cfg)
    out: list[CheckpointFindings] = []
    uses_v2 = has_chain_v2(conn) and any(
        walk.head >= v2_starts(conn).get(cam, 0) for cam, walk in report.walks.items() if walk.head >= 0)
    if public is None:
        if uses_v2:
            # The daemon makes its key and a first checkpoint at start, before any chain-v2 link.
            report.problems.append("KEY: no device public key on the box, though it has chain v2 links (deleted?)")
        else:
            report.notes.append("no device public key: checkpoints not checked")
        return out
    if archive is not None:
        out.append(check_checkpoints(report, conn, archive, public, cfg.box.id, "archive", tsa,
                                     {cp.id: cp for cp in own}, camera=camera))
    out.append(check_checkpoints(report, conn, own, public, cfg.box.id, "box", tsa, camera=camera))
    for f in out:
        report.problems += f.problems
        report.notes += f.notes
    stamped = [cp for cp in own if cp.tsa_token is not None]
    if own:
        newest = own[-1]
        line = f"box checkpoints: {len(own)}, newest #{newest.id} at {iso_us(newest.time_us)}"
        if stamped and tsa is not None:
            line += (f"; newest with a TSA token #{stamped[-1].id}: the chains up to its heads are proven to"
                     f" have existed at {iso_us(stamped[-1].time_us)}")
        elif cfg.integrity.tsa_url and tsa is None:
            line += "; TSA tokens present but not checked (no [integrity] tsa_ca_file)"
        report.notes.append(line)
        if tsa is not None and len(stamped) < len(own):
            report.notes.append(f"{len(own) - len(stamped)} box checkpoint(s) without a TSA token")
        if stamped and cfg.integrity.tsa_url:
            # The service stamps the backlog soon after the TSA answers again: an old untimed
            # checkpoint next to newer timed ones lost its token (removed to re-sign a rewrite?).
            cutoff = stamped[-1].time_us - UNTIMED_TOLERANCE_US
            for cp in own:
                if cp.tsa_token is None and cp.time_us < cutoff:
                    report.problems.append(f"TIMESTAMP checkpoint #{cp.id} ({iso_us(cp.time_us)}, box): no TSA token,"
                                           f" though checkpoint #{stamped[-1].id} has one (token removed?)")
    elif uses_v2:
        # The daemon signs a checkpoint as soon as it starts, before its first chain-v2 link.
        report.problems.append("CHECKPOINTS: none on the box, though it has chain v2 links (deleted?)")
    else:
        report.notes.append("the box has no checkpoints")
    return out
