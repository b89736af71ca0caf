"""`[gb28181]`: how the box joins the platform (off by default; Art. 16 needs the site's approval)."""

from __future__ import annotations

import ipaddress
import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from edge.gb28181.ids import DEVICE_TYPES, SERVER_TYPES, check_domain, check_id


def _host(v: str) -> str:
    try:
        ipaddress.ip_address(v)
    except ValueError:
        if not v or len(v) > 253 or any(c.isspace() for c in v):
            raise ValueError("must be an IP address or host name") from None
    return v


class Gb28181Config(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = False
    #: The platform's SIP server id (type 200) and domain (its first 10 digits unless told).
    server_id: str = "34020000002000000001"
    domain: str = ""
    server_address: str = "127.0.0.1"
    server_port: int = Field(default=5060, ge=1, le=65535)
    transport: Literal["udp", "tcp"] = "udp"
    #: This box as a device: a DVR (111) or NVR (118) code.
    device_id: str = "34020000001180000001"
    #: SIP digest password the platform gave this device (digest auth needs the secret itself).
    password: str = Field(default="", repr=False)
    #: Instead of the password: MD5(device_id:realm:password) in hex, the digest's HA1, so the
    #: config need not hold the password itself (works for MD5 challenges in this realm only).
    password_ha1: str = Field(default="", repr=False)
    #: Where the box listens for SIP; port 0 picks a free one (tests). The contact address is what
    #: the platform is told to reach (default: the address the socket uses towards the platform).
    local_address: str = "0.0.0.0"
    local_port: int = Field(default=5060, ge=0, le=65535)
    contact_address: str = ""
    #: Address media is sent from and that SDP answers carry (default: contact address).
    media_address: str = ""
    expires: int = Field(default=3600, ge=60, le=86400)
    keepalive_seconds: float = Field(default=60.0, gt=0.0, le=3600.0)
    #: Unanswered keepalives before the box registers again (the standard says 3).
    keepalive_misses: int = Field(default=3, ge=1, le=100)
    #: Art. 16: recorded footage is only played back or downloaded by the platform when the site
    #: approved the link; live video follows `enabled`.
    allow_playback: bool = False
    civil_code: str = ""
    manufacturer: str = "edge"
    model: str = "edge-nvr"
    #: Answers with more items than this are split into several messages (SumNum stays the total).
    max_items_per_message: int = Field(default=8, ge=1, le=64)
    #: Concurrent media sessions (live + recorded) the box serves.
    max_sessions: int = Field(default=8, ge=1, le=256)

    @field_validator("server_id")
    @classmethod
    def _server(cls, v: str) -> str:
        return check_id(v, SERVER_TYPES, "SIP server")

    @field_validator("device_id")
    @classmethod
    def _device(cls, v: str) -> str:
        return check_id(v, DEVICE_TYPES, "device")

    @field_validator("domain")
    @classmethod
    def _domain(cls, v: str) -> str:
        return check_domain(v) if v else v

    @field_validator("server_address", "local_address")
    @classmethod
    def _hosts(cls, v: str) -> str:
        return _host(v)

    @field_validator("contact_address", "media_address")
    @classmethod
    def _opt_hosts(cls, v: str) -> str:
        return _host(v) if v else v

    @field_validator("civil_code")
    @classmethod
    def _civil(cls, v: str) -> str:
        if v and not (v.isdigit() and len(v) in (2, 4, 6, 8)):
            raise ValueError("must be 2, 4, 6 or 8 digits (the administrative division code)")
        return v

    @field_validator("password_ha1")
    @classmethod
    def _ha1(cls, v: str) -> str:
        if v and not re.fullmatch(r"[0-9a-f]{32}", v):
            raise ValueError("must be 32 lower-case hex digits: MD5(device_id:realm:password)")
        return v

    @model_validator(mode="after")
    def _needs_password(self) -> Gb28181Config:
        if self.password and self.password_ha1:
            raise ValueError("password, password_ha1: give one of them, not both")
        if self.enabled and not (self.password or self.password_ha1):
            raise ValueError("password: required when gb28181 is enabled (the platform's digest password, "
                             "or password_ha1)")
        return self

    @property
    def realm(self) -> str:
        return self.domain or self.server_id[:10]

    @property
    def civil(self) -> str:
        return self.civil_code or self.device_id[:6]
