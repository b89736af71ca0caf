"""The bucket side of the offload: one verified, locked PUT per object (boto3).

Each object goes up with `x-amz-checksum-sha256` (`ChecksumSHA256`), Object Lock in COMPLIANCE
mode and its retain-until date. The store checks the checksum against the body it received (S3,
MinIO and Ceph RGW refuse a mismatch); the answer and a HEAD of the new version must then report
the same SHA-256, the lock mode and a retain-until no earlier than asked. With `verify =
"readback"` the object is also read back and hashed, for stores that do not check checksums.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from edge.config_sections import OffloadConfig

CHUNK = 1024 * 1024
#: The largest object one PUT may carry (S3's limit); larger ones would need a multipart upload.
MAX_PUT_BYTES = 5 * 1024**3


class OffloadError(Exception):
    """An upload that did not end with a verified, locked copy (retried later)."""


class ChecksumMismatch(OffloadError):
    """The store holds (or answered with) other bytes than the box sent."""


@dataclass(frozen=True)
class Stored:
    version_id: str
    sha256_hex: str
    locked_until_us: int


def b64_of_hex(hex_digest: str) -> str:
    return base64.b64encode(bytes.fromhex(hex_digest)).decode("ascii")


def hex_of_b64(b64: str) -> str:
    return base64.b64decode(b64).hex()


def sha256_of_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(CHUNK):
            h.update(chunk)
    return h.hexdigest()


def lock_date(retain_until_us: int) -> datetime:
    """Whole seconds (the header's precision), rounded up so the lock never ends early."""
    return datetime.fromtimestamp(-(-retain_until_us // 1_000_000), UTC)


def make_client(cfg: OffloadConfig) -> Any:
    import boto3
    from botocore.config import Config

    secret = None
    if cfg.secret_access_key_file is not None:
        secret = cfg.secret_access_key_file.read_text(encoding="utf-8").strip()
    session = boto3.session.Session(aws_access_key_id=cfg.access_key_id or None, aws_secret_access_key=secret,
                                    region_name=cfg.region)
    # Retries are the offload queue's (with its backoff, across restarts), not botocore's.
    conf = Config(retries={"max_attempts": 1, "mode": "standard"}, connect_timeout=cfg.timeout_seconds,
                  read_timeout=cfg.timeout_seconds, s3={"addressing_style": cfg.addressing_style},
                  request_checksum_calculation="when_required", response_checksum_validation="when_required")
    return session.client("s3", endpoint_url=cfg.endpoint_url or None, config=conf)


class Bucket:
    def __init__(self, client: Any, cfg: OffloadConfig) -> None:
        self.client = client
        self.name = cfg.bucket
        self.readback = cfg.verify == "readback"

    def check(self) -> str | None:
        """Why this bucket cannot keep evidence (missing, no Object Lock), or None."""
        try:
            conf = self.client.get_object_lock_configuration(Bucket=self.name)
        except Exception as exc:  # noqa: BLE001 - any failure is reported, the queue retries
            return f"bucket {self.name}: no Object Lock configuration ({_reason(exc)})"
        if conf.get("ObjectLockConfiguration", {}).get("ObjectLockEnabled") != "Enabled":
            return f"bucket {self.name}: Object Lock is not enabled"
        return None

    def put(self, key: str, body: IO[bytes], sha256_hex: str, size: int, retain_until_us: int,
            metadata: dict[str, str]) -> Stored:
        if size > MAX_PUT_BYTES:
            raise OffloadError(f"{key}: {size} bytes is over the 5 GiB a single PUT may carry (multipart upload"
                               " is not supported yet)")
        until = lock_date(retain_until_us)
        want = b64_of_hex(sha256_hex)
        try:
            r = self.client.put_object(
                Bucket=self.name, Key=key, Body=body, ContentLength=size, ChecksumAlgorithm="SHA256",
                ChecksumSHA256=want, ObjectLockMode="COMPLIANCE", ObjectLockRetainUntilDate=until,
                Metadata=metadata, ContentType="application/octet-stream")
        except Exception as exc:  # noqa: BLE001 - classified below, retried by the queue
            reason = _reason(exc)
            if any(code in reason for code in ("BadDigest", "XAmzContentChecksumMismatch", "InvalidDigest")):
                raise ChecksumMismatch(f"the store refused the body: {reason}") from None
            raise OffloadError(f"PUT {key}: {reason}") from None
        version = r.get("VersionId")
        if not version:
            raise OffloadError(f"PUT {key}: no version id (the bucket is not versioned: no Object Lock)")
        if r.get("ChecksumSHA256") not in (None, want):
            raise ChecksumMismatch(f"PUT {key}: the store computed {hex_of_b64(r['ChecksumSHA256'])}")
        return self.verify(key, version, sha256_hex, size, retain_until_us)

    def verify(self, key: str, version: str, sha256_hex: str, size: int, retain_until_us: int) -> Stored:
        """The version as stored: same checksum and size, locked in compliance mode long enough."""
        want = b64_of_hex(sha256_hex)
        try:
            h = self.client.head_object(Bucket=self.name, Key=key, VersionId=version, ChecksumMode="ENABLED")
        except Exception as exc:  # noqa: BLE001
            raise OffloadError(f"HEAD {key}: {_reason(exc)}") from None
        got = h.get("ChecksumSHA256")
        if got is None and not self.readback:
            raise OffloadError(f"{key} v{version}: the store keeps no SHA-256 checksum (no flexible checksum"
                               " support): set [offload] verify = \"readback\"")
        if got is not None and got != want:
            raise ChecksumMismatch(f"{key} v{version}: stored checksum {hex_of_b64(got)} is not {sha256_hex}")
        if int(h.get("ContentLength", -1)) != size:
            raise ChecksumMismatch(f"{key} v{version}: stored {h.get('ContentLength')} bytes, sent {size}")
        locked = _locked_until_us(h)
        if h.get("ObjectLockMode") != "COMPLIANCE" or locked is None or locked < retain_until_us:
            raise OffloadError(f"{key} v{version}: not locked in compliance mode until the retain-until date"
                               f" (mode {h.get('ObjectLockMode')}, until {h.get('ObjectLockRetainUntilDate')})")
        if self.readback:
            got = self._read_sha256(key, version)
            if got != sha256_hex:
                raise ChecksumMismatch(f"{key} v{version}: read back {got}, sent {sha256_hex}")
        return Stored(version, sha256_hex, locked)

    def versions(self, key: str) -> list[str]:
        """Version ids stored under exactly this key, newest first."""
        try:
            r = self.client.list_object_versions(Bucket=self.name, Prefix=key)
        except Exception as exc:  # noqa: BLE001
            raise OffloadError(f"list versions of {key}: {_reason(exc)}") from None
        found = [v for v in r.get("Versions", []) if v.get("Key") == key]
        found.sort(key=lambda v: v.get("LastModified") or datetime.min.replace(tzinfo=UTC), reverse=True)
        return [str(v["VersionId"]) for v in found]

    def extend(self, key: str, version: str, retain_until_us: int) -> int:
        """Lengthen the lock of a stored version (compliance mode allows only that)."""
        until = lock_date(retain_until_us)
        try:
            self.client.put_object_retention(Bucket=self.name, Key=key, VersionId=version,
                                             Retention={"Mode": "COMPLIANCE", "RetainUntilDate": until})
            h = self.client.head_object(Bucket=self.name, Key=key, VersionId=version)
        except Exception as exc:  # noqa: BLE001
            raise OffloadError(f"retention of {key}: {_reason(exc)}") from None
        locked = _locked_until_us(h)
        if locked is None or locked < retain_until_us:
            raise OffloadError(f"{key} v{version}: retention not extended")
        return locked

    def _read_sha256(self, key: str, version: str) -> str:
        try:
            r = self.client.get_object(Bucket=self.name, Key=key, VersionId=version)
        except Exception as exc:  # noqa: BLE001
            raise OffloadError(f"GET {key}: {_reason(exc)}") from None
        h = hashlib.sha256()
        body = r["Body"]
        try:
            for chunk in iter(lambda: body.read(CHUNK), b""):
                h.update(chunk)
        finally:
            body.close()
        return h.hexdigest()


def _locked_until_us(head: dict[str, Any]) -> int | None:
    until = head.get("ObjectLockRetainUntilDate")
    return int(until.timestamp() * 1_000_000) if isinstance(until, datetime) else None


def _reason(exc: Exception) -> str:
    err = getattr(exc, "response", None)
    if isinstance(err, dict) and "Error" in err:
        e = err["Error"]
        return f"{e.get('Code', '?')}: {e.get('Message', '')}".strip()
    return f"{type(exc).__name__}: {exc}"


BucketFactory = Callable[[OffloadConfig], Bucket]


def default_bucket(cfg: OffloadConfig) -> Bucket:
    return Bucket(make_client(cfg), cfg)
