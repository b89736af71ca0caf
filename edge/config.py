"""Configuration: TOML validated by pydantic at load, failing fast with the key and the rule.

Legal numbers are floors from `edge.legal`; a setting may be stricter than the law, never laxer.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, ValidationError, field_validator, model_validator

from capture.redact import redact_text
from edge import legal
from edge.config_sections import (
    AccessConfig,
    ApiConfig,
    ClockConfig,
    HealthConfig,
    IntegrityConfig,
    OffloadConfig,
    RetentionConfig,
    Strict,
)
from edge.gb28181.config import Gb28181Config
from edge.gb28181.ids import CHANNEL_TYPES, check_id

CAMERA_ID = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")


class BoxConfig(Strict):
    id: str = Field(default="edge-box", min_length=1, max_length=64, description="Box identity in reports.")
    name: str = "edge recorder"
    site: str = ""
    operator: str = Field(default="", description="Unit that operates the system (filing pack).")
    #: Language of the pages and the filing pack when the browser states no supported preference.
    language: Literal["zh-CN", "en"] = "zh-CN"
    #: Every time shown, and every time typed into a form, is in this zone (IANA name, zoneinfo).
    timezone: str = "Asia/Shanghai"

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, v: str) -> str:
        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown timezone '{v}' (an IANA name such as Asia/Shanghai)") from None
        return v


class StorageConfig(Strict):
    root: Path = Path("/var/lib/edge")
    segment_seconds: float = Field(default=60.0, ge=1.0, le=3600.0)
    #: Bytes kept free for the index and logs; recording pauses before eating into them.
    reserve_bytes: int = Field(default=256 * 1024 * 1024, ge=0)
    #: fdatasync the active segment at most this often, so a power cut loses at most this much.
    sync_interval: float = Field(default=2.0, ge=0.0, le=60.0)
    #: fMP4 fragment length (also cut inside a GOP): a crash or power cut loses at most about this.
    fragment_seconds: float = Field(default=1.0, ge=0.1, le=60.0)


class CameraConfig(Strict):
    id: str = Field(min_length=1, max_length=64)
    name: str = ""
    url: str
    site_category: str
    enabled: bool = True
    location: str = Field(default="", description="Where the camera is and what it covers.")
    signage: bool = Field(default=False, description="Art. 10: a sign marks the camera and its coverage.")
    expected_bitrate: int = Field(default=4_000_000, gt=0, description="bit/s, for the forecast.")
    reconnect_initial: float = Field(default=0.5, gt=0.0, le=60.0)
    reconnect_max: float = Field(default=5.0, gt=0.0, le=600.0)
    stall_timeout: float = Field(default=10.0, gt=0.0, le=600.0)
    #: Overall deadline for connect + RTSP handshake + stream probe: a camera that keeps sending
    #: (an endless header line, a huge SDP then junk) never trips the socket timeout.
    handshake_timeout: float = Field(default=15.0, gt=0.0, le=600.0)
    record_audio: bool = True
    #: How packets come off the camera: "native" (own RTSP/TCP client and RTP depacketizers, H.264/
    #: H.265 + AAC), "pyav" (FFmpeg's RTSP demuxer), or "auto" (native, falling back to PyAV with one
    #: log line for what it does not handle: other codecs, UDP-only cameras, rtsps://).
    ingest: Literal["auto", "native", "pyav"] = "auto"
    #: Who writes the native path's segment files: "python" (own fMP4 fragment writer, one write
    #: call per fragment) or "pyav" (FFmpeg's MP4 muxer, one call per packet; the fallback).
    native_writer: Literal["python", "pyav"] = "python"
    #: GB/T 28181 channel code (20 digits, type 131/132) under which the platform sees this camera.
    gb28181_channel_id: str = ""

    @field_validator("gb28181_channel_id")
    @classmethod
    def _gb_channel(cls, v: str) -> str:
        return check_id(v, CHANNEL_TYPES, "camera channel") if v else v

    @field_validator("id")
    @classmethod
    def _id(cls, v: str) -> str:
        if not CAMERA_ID.match(v):
            raise ValueError("must match [a-z0-9-]+ (lower-case letters, digits, single dashes)")
        return v

    @field_validator("url")
    @classmethod
    def _url(cls, v: str) -> str:
        try:
            parts = urlsplit(v)
            _ = parts.port
        except ValueError:
            raise ValueError("is not a valid URL") from None
        if parts.scheme not in ("rtsp", "rtsps"):
            raise ValueError("must be an rtsp:// or rtsps:// URL")
        if not parts.hostname:
            raise ValueError("must name a host (rtsp://HOST[:PORT]/PATH)")
        return v

    @field_validator("site_category")
    @classmethod
    def _category(cls, v: str) -> str:
        if v in legal.PROHIBITED_SITE_CATEGORIES:
            raise ValueError(
                f"'{v}' is a place where cameras are prohibited ({legal.PROHIBITED_SITE_CATEGORIES[v]})"
            )
        if v not in legal.ALLOWED_SITE_CATEGORIES:
            raise ValueError(
                f"'{v}' is not a known Art. 9 site category (see `edge categories` or the README)"
            )
        return v

    @model_validator(mode="after")
    def _backoff(self) -> CameraConfig:
        if self.reconnect_max < self.reconnect_initial:
            raise ValueError("reconnect_max must be >= reconnect_initial")
        return self


class EdgeConfig(Strict):
    box: BoxConfig = BoxConfig()
    storage: StorageConfig = StorageConfig()
    api: ApiConfig = ApiConfig()
    clock: ClockConfig = ClockConfig()
    retention: RetentionConfig = RetentionConfig()
    health: HealthConfig = HealthConfig()
    access: AccessConfig = AccessConfig()
    integrity: IntegrityConfig = IntegrityConfig()
    offload: OffloadConfig = OffloadConfig()
    gb28181: Gb28181Config = Gb28181Config()
    cameras: Annotated[list[CameraConfig], Field(default_factory=list)]

    @model_validator(mode="after")
    def _unique_ids(self) -> EdgeConfig:
        seen: set[str] = set()
        for i, cam in enumerate(self.cameras):
            if cam.id in seen:
                raise ValueError(f"cameras[{i}].id: duplicate camera id '{cam.id}'")
            seen.add(cam.id)
        return self

    @model_validator(mode="after")
    def _health_cameras(self) -> EdgeConfig:
        ids = {c.id for c in self.cameras}
        for cam_id in self.health.cameras:
            if cam_id not in ids:
                raise ValueError(f"health.cameras.{cam_id}: no camera with this id")
        return self

    @model_validator(mode="after")
    def _gb_channels(self) -> EdgeConfig:
        if not self.gb28181.enabled:
            return self
        seen = {self.gb28181.device_id: "gb28181.device_id"}
        for i, cam in enumerate(self.cameras):
            if not cam.enabled:
                continue
            if not cam.gb28181_channel_id:
                raise ValueError(f"cameras[{i}].gb28181_channel_id: required for every enabled camera "
                                 "when gb28181 is enabled")
            if cam.gb28181_channel_id in seen:
                raise ValueError(f"cameras[{i}].gb28181_channel_id: same code as {seen[cam.gb28181_channel_id]}")
            seen[cam.gb28181_channel_id] = f"cameras[{i}].gb28181_channel_id"
        return self

    def camera(self, camera_id: str) -> CameraConfig:
        for cam in self.cameras:
            if cam.id == camera_id:
                return cam
        raise KeyError(camera_id)


class ConfigError(Exception):
    """A config that cannot be used; `problems` holds one readable line per problem."""

    def __init__(self, source: str, problems: list[str]) -> None:
        self.source = source
        self.problems = problems
        super().__init__(f"{source}: " + "; ".join(problems))


def _loc(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + part
    return out


def _problems(err: ValidationError, data: dict[str, object]) -> list[str]:
    lines = []
    for e in err.errors(include_input=False, include_url=False):
        loc = tuple(p for p in e["loc"])
        path = _loc(loc)
        msg = e["msg"].removeprefix("Value error, ")
        if e["type"] == "extra_forbidden":
            msg = "unknown key (not part of the configuration schema)"
        # Name the camera too, since operators think in camera ids rather than list indexes.
        if len(loc) >= 2 and loc[0] == "cameras" and isinstance(loc[1], int):
            cams = data.get("cameras")
            if isinstance(cams, list) and loc[1] < len(cams) and isinstance(cams[loc[1]], dict):
                cam_id = cams[loc[1]].get("id")
                if isinstance(cam_id, str):
                    path = f"{path} (camera '{cam_id}')"
        if not path and msg.startswith(("cameras[", "health.cameras.")):
            path, _, msg = msg.partition(": ")
        lines.append(redact_text(f"{path or '<root>'}: {msg}"))
    return lines


def parse_config(data: dict[str, object], source: str = "<config>") -> EdgeConfig:
    try:
        return EdgeConfig.model_validate(data)
    except ValidationError as err:
        raise ConfigError(source, _problems(err, data)) from None


def load_config(path: str | Path) -> EdgeConfig:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(str(path), [f"cannot read: {exc.strerror}"]) from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(str(path), [f"not valid TOML: {exc}"]) from None
    cfg = parse_config(data, str(path))
    if not cfg.storage.root.is_absolute():
        # Relative roots are relative to the config file, so `edge run -c` works from any cwd.
        root = (path.parent / cfg.storage.root).resolve()
        cfg = cfg.model_copy(update={"storage": cfg.storage.model_copy(update={"root": root})})
    return cfg
