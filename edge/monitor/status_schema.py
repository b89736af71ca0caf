"""The status document's schema (`GET /api/v1/status`, `edge status --json`): a stable contract
with central monitoring, documented in the README ("Status API"). Fields are only ever added."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

#: "unknown": no recorder is running, so nobody knows what the camera does (it is not being recorded).
State = Literal["recording", "reconnecting", "offline", "paused", "disabled", "unknown"]


class AlarmOut(BaseModel):
    code: str
    severity: Literal["info", "warning", "critical"]
    since: str = Field(description="UTC, ISO 8601")
    message: str
    camera: str | None = None


class GapsOut(BaseModel):
    count: int
    seconds: float


class StorageOut(BaseModel):
    root: str
    volume_total_bytes: int | None
    volume_used_bytes: int | None
    volume_free_bytes: int | None
    store_bytes: int = Field(description="bytes of stored segments (index)")
    store_segments: int
    forecast_days: float | None = Field(description="days of footage the store can hold (retention)")


class BoxOut(BaseModel):
    id: str
    name: str
    site: str
    version: str
    time: str
    uptime_seconds: float | None
    source: Literal["daemon", "index"]
    storage: StorageOut
    recorder_running: bool | None = Field(default=None, description="a recorder holds the store's lock")
    recorder_pid: int | None = None
    warming_up: bool = Field(default=False, description="store totals still loading: counts are partial")
    clock: dict[str, Any] | None = Field(default=None, description="time sync state and recent clock steps")


class CameraOut(BaseModel):
    id: str
    name: str
    enabled: bool
    state: State
    worker_state: str | None = Field(description="the capture worker's own state (connecting, ...)")
    fps: float | None
    bitrate: float | None = Field(description="bit/s of the last closed segment")
    last_segment_end: str | None
    last_segment_age_seconds: float | None
    segments: int = Field(description="stored segments in the index")
    bytes: int = Field(description="bytes of stored segments")
    oldest: str | None
    reconnects: int | None
    last_error: str | None
    gaps_24h: GapsOut
    alarms: list[AlarmOut]
    health: dict[str, Any] | None = Field(description="image health: last sample's metrics, reference")


class RiskOut(BaseModel):
    article: str
    rule: str
    code: str
    severity: Literal["info", "warning", "critical"]
    camera: str | None
    since: str | None
    message: str


class ComplianceOut(BaseModel):
    ok: bool
    summary: str
    at_risk: list[str] = Field(description="articles at risk, e.g. ['Art. 19(7)']")
    risks: list[RiskOut]
    floor_respected: bool | None
    capacity_ok: bool | None
    forecast_days: float | None
    min_days: float
    holds_active: int | None
    alarms: dict[str, int] = Field(description="active alarms by severity")


class StatusDoc(BaseModel):
    box: BoxOut
    compliance: ComplianceOut
    cameras: list[CameraOut]
    retention: dict[str, Any] | None = None
    exports: dict[str, Any] | None = None
    offload: dict[str, Any] | None = Field(default=None, description="evidence offload to object storage")
