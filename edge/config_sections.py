"""The config's service sections: clock, API, retention, health, access, offload, integrity.

Split from `edge.config` (the box, storage and camera sections and the loader) by size; the same
rules hold: unknown keys are refused, values are checked at load with the key and the rule.
"""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from edge import legal


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ClockConfig(Strict):
    #: Raise `clock_unsynced` when chrony/systemd-timesyncd reports the clock unsynchronised.
    sync_check: bool = True


class ApiConfig(Strict):
    enabled: bool = True
    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=0, le=65535)
    #: Open connections at most (more are answered 503 and closed); lowered at start when the
    #: open-file limit would not leave capture and the store their descriptors.
    max_connections: int = Field(default=256, ge=8, le=16384)
    #: A connection must send a complete request head within this time, or it is closed.
    header_timeout_seconds: float = Field(default=10.0, gt=0.0, le=300.0)
    #: Idle keep-alive connections are closed after this long.
    keep_alive_seconds: int = Field(default=5, ge=1, le=300)
    #: Request bodies larger than this are refused with 413 before they are read.
    max_body_bytes: int = Field(default=64 * 1024, ge=1024, le=16 * 1024 * 1024)
    #: Proxies (IP addresses or networks) whose X-Forwarded-For is believed; empty: none is,
    #: the client address is always the TCP peer.
    trusted_proxies: list[str] = Field(default_factory=list, max_length=64)

    @field_validator("trusted_proxies")
    @classmethod
    def _proxies(cls, v: list[str]) -> list[str]:
        for i, entry in enumerate(v):
            try:
                ipaddress.ip_network(entry, strict=False)
            except ValueError:
                raise ValueError(f"[{i}] '{entry}' is not an IP address or network (e.g. 10.0.0.5 or "
                                 "10.0.0.0/24); wildcards are not allowed") from None
        return v


class RetentionConfig(Strict):
    min_days: float = Field(default=legal.MIN_RETENTION_DAYS)
    max_days: float | None = None
    hold_days: float = Field(default=legal.MIN_HOLD_DAYS)
    high_watermark: float = Field(default=0.90, gt=0.0, lt=1.0)
    low_watermark: float = Field(default=0.85, gt=0.0, lt=1.0)
    max_bytes: int | None = Field(default=None, gt=0)
    on_full: Literal["protect_floor", "overwrite_oldest"] = "protect_floor"
    sweep_interval: float = Field(default=60.0, gt=0.0, le=3600.0)
    #: Capacity alarm when the forecast is under min_days plus this margin.
    forecast_margin_days: float = Field(default=7.0, ge=0.0)
    #: Trailing window over which byte rates are measured for the forecast.
    rate_window_hours: float = Field(default=24.0, gt=0.0)
    #: A hold may reach at most this far past now (footage still to come); further is refused.
    max_hold_future_hours: float = Field(default=24.0, ge=0.0, le=24.0 * 31)

    @field_validator("min_days")
    @classmethod
    def _floor(cls, v: float) -> float:
        if v < legal.MIN_RETENTION_DAYS:
            raise ValueError(
                f"must be at least {legal.MIN_RETENTION_DAYS} days: Art. 19(8) requires footage "
                f"to be kept at least {legal.MIN_RETENTION_DAYS} days"
            )
        return v

    @field_validator("hold_days")
    @classmethod
    def _hold_floor(cls, v: float) -> float:
        if v < legal.MIN_HOLD_DAYS:
            raise ValueError(
                f"must be at least {legal.MIN_HOLD_DAYS} days: Art. 19(8) requires footage important "
                "to public safety to be kept at least 2 years"
            )
        return v

    @model_validator(mode="after")
    def _order(self) -> RetentionConfig:
        if self.max_days is not None and self.max_days < self.min_days:
            raise ValueError(f"max_days ({self.max_days}) must be >= min_days ({self.min_days})")
        if self.low_watermark >= self.high_watermark:
            raise ValueError("low_watermark must be below high_watermark")
        return self


class HealthThresholds(Strict):
    """Image-health limits (see capture/health.py and the README); grey levels are 0..255 on the
    320-wide analysis picture."""

    dark_mean: float = Field(default=30.0, ge=0.0, le=255.0, description="mean below: dark")
    overexposed_mean: float = Field(default=225.0, ge=0.0, le=255.0, description="mean above: overexposed")
    covered_std: float = Field(default=6.0, ge=0.0, le=128.0, description="contrast below: covered")
    blur_ratio: float = Field(default=0.35, gt=0.0, lt=1.0, description="detail below this share of the reference")
    blur_min_detail: float = Field(default=0.03, ge=0.0, le=10.0, description="absolute detail floor")
    frozen_diff: float = Field(default=0.1, ge=0.0, le=255.0, description="mean change at or below: unchanged")
    moved_min_matches: int = Field(default=20, ge=4, le=600, description="fewer matched features: moved")
    moved_min_coverage: float = Field(default=0.35, ge=0.0, le=1.0, description="share of feature areas matched")
    moved_shift: float = Field(default=0.06, gt=0.0, lt=1.0, description="view centre shift, share of width")
    moved_rotation_deg: float = Field(default=3.0, gt=0.0, le=180.0)

    @model_validator(mode="after")
    def _exposure(self) -> HealthThresholds:
        if self.dark_mean >= self.overexposed_mean:
            raise ValueError("dark_mean must be below overexposed_mean")
        return self


THRESHOLD_KEYS = frozenset(HealthThresholds.model_fields)


class HealthConfig(HealthThresholds):
    enabled: bool = True
    interval_seconds: float = Field(default=60.0, gt=0.0, le=3600.0)
    #: Consecutive bad samples before an image alarm is raised, good ones before it clears.
    raise_after: int = Field(default=2, ge=1, le=100)
    clear_after: int = Field(default=2, ge=1, le=100)
    #: Keep the newest sampled picture as `<root>/health/<camera>/latest.jpg` (maintenance page).
    snapshots: bool = True
    #: Per-camera overrides of the thresholds: `[health.cameras.ID]` tables.
    cameras: dict[str, dict[str, float]] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _overrides(self) -> HealthConfig:
        for cam_id, values in self.cameras.items():
            unknown = sorted(set(values) - THRESHOLD_KEYS)
            if unknown:
                raise ValueError(f"cameras.{cam_id}.{unknown[0]}: unknown key (thresholds are "
                                 f"{', '.join(sorted(THRESHOLD_KEYS))})")
            try:
                self.thresholds_for(cam_id)
            except ValidationError as err:
                e = err.errors(include_url=False)[0]
                where = ".".join(str(p) for p in e["loc"])
                raise ValueError(f"cameras.{cam_id}{'.' + where if where else ''}: "
                                 f"{e['msg'].removeprefix('Value error, ')}") from None
        return self

    def thresholds_for(self, camera_id: str) -> HealthThresholds:
        base = {k: getattr(self, k) for k in THRESHOLD_KEYS}
        return HealthThresholds.model_validate({**base, **self.cameras.get(camera_id, {})})


class AccessConfig(Strict):
    #: Pending export requests expire after this many hours.
    request_ttl_hours: float = Field(default=24.0, gt=0.0, le=24.0 * 30)
    #: Failed authentications allowed per source per minute before throttling.
    auth_failures_per_minute: int = Field(default=10, ge=1, le=1000)
    #: Longest time range one export request may cover (longer requests are split).
    max_export_hours: float = Field(default=24.0, gt=0.0, le=24.0 * 31)
    #: Anonymous refusals (no or a wrong token) are registered as one entry per source per window.
    refusal_window_seconds: float = Field(default=60.0, ge=1.0, le=3600.0)
    #: Pending requests (exports, hold releases) one user may have open at once.
    max_pending_per_user: int = Field(default=10, ge=1, le=1000)
    #: Pending review requests one user may have open at once (more are refused with 429).
    max_pending_reviews_per_user: int = Field(default=5, ge=1, le=1000)
    #: An approved review grant (playback on the box, never a download) lasts this many hours.
    review_hours: float = Field(default=4.0, gt=0.0, le=24.0 * 7)


class OffloadConfig(Strict):
    """`[offload]`: held evidence copied to an S3-compatible bucket with Object Lock (edge/offload/)."""

    enabled: bool = False
    #: S3 endpoint (MinIO, Ceph RGW, a cloud); empty: the AWS default for `region`.
    endpoint_url: str = ""
    region: str = "us-east-1"
    bucket: str = ""
    #: Key prefix; the box id and the kind follow (`PREFIX<box>/segments/...`).
    prefix: str = ""
    access_key_id: str = ""
    #: File holding the secret key (never the key itself in the config); both empty: boto3's chain.
    secret_access_key_file: Path | None = None
    addressing_style: Literal["path", "virtual", "auto"] = "path"
    #: Retain-until for what no hold dates (exports without a hold, checkpoints): now + this.
    retain_days: float = Field(default=legal.MIN_HOLD_DAYS, gt=0.0)
    #: "store": the store checks x-amz-checksum-sha256 and reports it back (S3, MinIO, Ceph RGW);
    #: "readback": also read each object back and hash it (for stores that do not check).
    verify: Literal["store", "readback"] = "store"
    interval_seconds: float = Field(default=10.0, gt=0.0, le=3600.0)
    behind_after_minutes: float = Field(default=60.0, gt=0.0)
    max_backoff_seconds: float = Field(default=600.0, gt=0.0)
    timeout_seconds: float = Field(default=30.0, gt=0.0, le=600.0)

    @model_validator(mode="after")
    def _bucket(self) -> OffloadConfig:
        if self.enabled and not self.bucket:
            raise ValueError("bucket: required when offload is enabled")
        if bool(self.access_key_id) != bool(self.secret_access_key_file):
            raise ValueError("access_key_id and secret_access_key_file go together (or neither: boto3's chain)")
        return self


class IntegrityConfig(Strict):
    """Signed checkpoints of every chain head, and RFC 3161 timestamps over them (issue 13)."""

    checkpoint_seconds: float = Field(default=300.0, ge=5.0, le=3600.0)
    #: RFC 3161 Time-Stamping Authority (HTTP POST of application/timestamp-query); none: no tokens.
    tsa_url: str | None = None
    #: PEM: the TSA's root CA first, then any intermediates; replies are checked against it.
    tsa_ca_file: Path | None = None
    #: PEM: the TSA's own certificate, pinned (optional).
    tsa_cert_file: Path | None = None
    tsa_timeout: float = Field(default=10.0, gt=0.0, le=120.0)
    #: Longest wait between retries after a TSA failure (the wait doubles from 5 s up to this).
    tsa_retry_max_seconds: float = Field(default=600.0, ge=5.0, le=86400.0)

    @field_validator("tsa_url")
    @classmethod
    def _tsa_url(cls, v: str | None) -> str | None:
        if v is not None and urlsplit(v).scheme not in ("http", "https"):
            raise ValueError("must be an http:// or https:// URL")
        return v
