"""The SDP of a DESCRIBE answer: the media sections this path can depacketize, and their parameters.

Only what RTP depacketization and the MP4 muxer need is parsed: payload type, clock rate, control
URL, and the codec configuration carried out of band (H.264 sprop-parameter-sets, H.265
sprop-vps/sps/pps, AAC `config` and AU-header sizes). Anything else is ignored, never guessed.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass, field
from urllib.parse import urljoin

#: Codec names (rtpmap encoding names, upper-cased) mapped to FFmpeg's codec names.
CODECS = {"H264": "h264", "H265": "hevc", "MPEG4-GENERIC": "aac"}


class SdpError(ValueError):
    pass


@dataclass
class Media:
    kind: str  # "video" | "audio" | other m= types
    payload_type: int
    encoding: str  # rtpmap encoding name, upper-case ("H264", "PCMA", ...)
    clock_rate: int
    channels: int
    control: str  # absolute URL for SETUP
    fmtp: dict[str, str] = field(default_factory=dict)

    @property
    def codec(self) -> str | None:
        """FFmpeg's name for the codec, or None when this path cannot depacketize it."""
        return CODECS.get(self.encoding)

    def parameter_sets(self) -> tuple[bytes, ...]:
        """Out-of-band parameter sets in NAL order (VPS, SPS, PPS for H.265; SPS, PPS for H.264)."""
        keys = ("sprop-vps", "sprop-sps", "sprop-pps") if self.encoding == "H265" else ("sprop-parameter-sets",)
        units: list[bytes] = []
        for key in keys:
            for part in self.fmtp.get(key, "").split(","):
                part = part.strip()
                if not part:
                    continue
                try:
                    units.append(base64.b64decode(part + "=" * (-len(part) % 4), validate=True))
                except binascii.Error as exc:
                    raise SdpError(f"bad base64 in {key}") from exc
        return tuple(u for u in units if u)

    def fmtp_int(self, key: str, default: int) -> int:
        raw = self.fmtp.get(key)
        if raw is None or raw == "":
            return default
        try:
            return int(raw)
        except ValueError:
            raise SdpError(f"fmtp {key}={raw!r} is not an integer") from None

    def aac_config(self) -> bytes:
        raw = self.fmtp.get("config", "")
        try:
            return bytes.fromhex(raw)
        except ValueError:
            raise SdpError(f"fmtp config={raw!r} is not hex") from None


@dataclass
class Session:
    media: list[Media]

    def first(self, kind: str) -> Media | None:
        return next((m for m in self.media if m.kind == kind), None)


def parse(text: str, base_url: str) -> Session:
    """Parse an SDP body. `base_url` is Content-Base (or the request URL) for relative controls."""
    session_control: str | None = None
    media: list[Media] = []
    current: Media | None = None
    rtpmaps: dict[int, tuple[str, int, int]] = {}
    fmtps: dict[int, str] = {}

    def finish() -> None:
        if current is None:
            return
        if current.payload_type in rtpmaps:
            current.encoding, current.clock_rate, current.channels = rtpmaps[current.payload_type]
        elif current.payload_type < 96:
            current.encoding, current.clock_rate, current.channels = _STATIC.get(current.payload_type,
                                                                                 ("", 90000, 1))
        current.fmtp = _fmtp(fmtps.get(current.payload_type, ""))
        media.append(current)

    for raw_line in text.splitlines():
        line = raw_line.strip()
        if len(line) < 2 or line[1] != "=":
            continue
        kind, value = line[0], line[2:]
        if kind == "m":
            finish()
            rtpmaps, fmtps = {}, {}
            parts = value.split()
            if len(parts) < 4:
                raise SdpError(f"bad m= line {value!r}")
            try:
                pt = int(parts[3])
            except ValueError:
                raise SdpError(f"bad payload type in m= line {value!r}") from None
            current = Media(parts[0], pt, "", 90000, 1, "")
        elif kind == "a":
            name, _, attr = value.partition(":")
            if name == "control":
                if current is None:
                    session_control = attr.strip()
                else:
                    current.control = attr.strip()
            elif name == "rtpmap" and current is not None:
                pt_s, _, enc = attr.partition(" ")
                bits = enc.strip().split("/")
                try:
                    rtpmaps[int(pt_s)] = (bits[0].upper(), int(bits[1]) if len(bits) > 1 else 90000,
                                          int(bits[2]) if len(bits) > 2 and bits[2] else 1)
                except ValueError:
                    raise SdpError(f"bad rtpmap {attr!r}") from None
            elif name == "fmtp" and current is not None:
                pt_s, _, params = attr.partition(" ")
                if pt_s.isdigit():
                    fmtps[int(pt_s)] = params
    finish()
    base = base_url if base_url.endswith("/") else base_url + "/"
    if session_control and session_control != "*":
        base = urljoin(base, session_control)
        base = base if base.endswith("/") else base + "/"
    for m in media:
        m.control = _control_url(base, m.control)
    return Session(media)


def _control_url(base: str, control: str) -> str:
    if not control or control == "*":
        return base.rstrip("/")
    if "://" in control:
        return control
    return urljoin(base, control)


def _fmtp(params: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in params.split(";"):
        key, sep, val = item.strip().partition("=")
        if key:
            out[key.strip().lower()] = val.strip() if sep else ""
    return out


_STATIC = {0: ("PCMU", 8000, 1), 8: ("PCMA", 8000, 1), 14: ("MPA", 90000, 1), 26: ("JPEG", 90000, 1)}
