"""The SDP of a GB/T 28181 INVITE (2016 Annex F / 2022 Annex G) and the device's answer.

Offer: `s=Play|Playback|Download`, `u=channel:0` for recorded video, `c=` where to send, `t=start
end` (Unix seconds, 0 0 for live), `m=video PORT RTP/AVP 96 ...` (or `TCP/RTP/AVP` with
`a=setup:active|passive`), `a=rtpmap:96 PS/90000`, `a=downloadspeed:N`, `y=` the SSRC (10 digits).
"""

from __future__ import annotations

from dataclasses import dataclass

from edge.gb28181.sip import SipError


@dataclass(frozen=True)
class Offer:
    session: str            # Play | Playback | Download
    address: str
    port: int
    tcp: bool
    setup: str              # for TCP: the platform's role, "active" or "passive"
    start_s: int
    end_s: int
    ssrc: str
    speed: float
    channel_in_u: str
    payload_types: tuple[int, ...]


def parse_offer(body: bytes) -> Offer:
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        text = body.decode("gb18030", errors="replace")
    session = address = ssrc = u = ""
    port, tcp, setup, start, end, speed = -1, False, "", 0, 0, 1.0
    pts: tuple[int, ...] = ()
    for raw in text.splitlines():
        line = raw.strip()
        if len(line) < 2 or line[1] != "=":
            continue
        key, value = line[0], line[2:].strip()
        try:
            if key == "s":
                session = value
            elif key == "c":
                address = value.split()[2]
            elif key == "u":
                u = value.split(":")[0]
            elif key == "t":
                start, end = (int(x) for x in value.split()[:2])
            elif key == "y":
                ssrc = value
            elif key == "m" and value.startswith("video"):
                parts = value.split()
                port = int(parts[1])
                tcp = "TCP" in parts[2].upper()
                pts = tuple(int(p) for p in parts[3:])
            elif key == "a" and value.startswith("setup:"):
                setup = value.split(":", 1)[1].strip().lower()
            elif key == "a" and value.startswith("downloadspeed:"):
                speed = float(value.split(":", 1)[1])
        except (ValueError, IndexError):
            raise SipError(f"bad SDP line {line[:60]!r}", 488) from None
    if session not in ("Play", "Playback", "Download"):
        raise SipError(f"SDP s= must be Play, Playback or Download, not {session!r}", 488)
    if not address or not 0 <= port < 65536:
        raise SipError("SDP without c= address or m=video port", 488)
    if pts and 96 not in pts:
        raise SipError("SDP offers no PS payload type 96", 488)
    if not ssrc.isdigit() or len(ssrc) > 10 or int(ssrc) > 0xFFFFFFFF:
        raise SipError("SDP y= must be the decimal SSRC", 488)
    if tcp and setup not in ("active", "passive"):
        raise SipError("TCP media needs a=setup:active or passive", 488)
    if session != "Play" and (end <= start or start <= 0):
        raise SipError("recorded video needs t=start end (Unix seconds)", 488)
    if not 0.25 <= speed <= 32:
        raise SipError("downloadspeed out of range", 488)
    return Offer(session, address, port, tcp, setup, start, end, ssrc, speed, u, pts)


def answer(offer: Offer, device_id: str, host: str, port: int) -> bytes:
    proto = "TCP/RTP/AVP" if offer.tcp else "RTP/AVP"
    lines = ["v=0", f"o={device_id} 0 0 IN IP4 {host}", f"s={offer.session}", f"c=IN IP4 {host}",
             f"t={offer.start_s if offer.session != 'Play' else 0} {offer.end_s if offer.session != 'Play' else 0}",
             f"m=video {port} {proto} 96", "a=sendonly", "a=rtpmap:96 PS/90000"]
    if offer.tcp:
        # The device takes the other role: the platform listens (passive) -> the device connects.
        lines += [f"a=setup:{'active' if offer.setup == 'passive' else 'passive'}", "a=connection:new"]
    if offer.session == "Download":
        lines.append(f"a=downloadspeed:{offer.speed:g}")
    lines.append(f"y={offer.ssrc}")
    lines.append("f=")
    return ("\r\n".join(lines) + "\r\n").encode("ascii")
