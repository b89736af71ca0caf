"""A small RTP packetizer for tests (the sender side of RFC 6184 / 7798 / 3640), independent of
the depacketizers it checks: it chooses single NAL, aggregation or fragmentation per NAL unit as
a test strategy asks, so every packetization a camera could send is covered."""

from __future__ import annotations

import struct
from dataclasses import dataclass


@dataclass
class Packet:
    seq: int
    ts: int
    marker: bool
    payload: bytes
    unit: int  # index of the access unit it carries (a piece of)

    def wire(self, pt: int = 96, ssrc: int = 0x1234) -> bytes:
        return struct.pack(">BBHII", 0x80, (0x80 if self.marker else 0) | pt, self.seq & 0xFFFF,
                           self.ts & 0xFFFFFFFF, ssrc) + self.payload


def packetize_video(units: list[tuple[int, list[bytes]]], mtu: int, aggregate: list[bool], hevc: bool = False,
                    seq0: int = 0) -> list[Packet]:
    """`units`: (timestamp, NAL units). Small consecutive NALs are aggregated (STAP-A / AP) when the
    matching `aggregate` flag (cycled) says so; NALs over `mtu` are fragmented (FU-A / FU)."""
    out: list[Packet] = []
    seq = seq0
    k = 0
    hlen = 2 if hevc else 1
    for ui, (ts, nals) in enumerate(units):
        payloads: list[bytes] = []
        i = 0
        while i < len(nals):
            nal = nals[i]
            agg = aggregate[k % len(aggregate)] if aggregate else False
            k += 1
            if len(nal) > mtu:
                header, body = nal[:hlen], nal[hlen:]
                step = mtu - hlen - 1
                pieces = [body[j:j + step] for j in range(0, len(body), step)]
                for pi, piece in enumerate(pieces):
                    s, e = pi == 0, pi == len(pieces) - 1
                    if hevc:
                        t = (header[0] >> 1) & 0x3F
                        ph = bytes([(header[0] & 0x81) | (49 << 1), header[1]])
                        fu = bytes([(0x80 if s else 0) | (0x40 if e else 0) | t])
                    else:
                        ph = bytes([(header[0] & 0xE0) | 28])
                        fu = bytes([(0x80 if s else 0) | (0x40 if e else 0) | (header[0] & 0x1F)])
                    payloads.append(ph + fu + piece)
                i += 1
                continue
            group = [nal]
            size = hlen + 2 + len(nal)
            while agg and i + len(group) < len(nals) and size + 2 + len(nals[i + len(group)]) <= mtu:
                size += 2 + len(nals[i + len(group)])
                group.append(nals[i + len(group)])
            if len(group) == 1:
                payloads.append(nal)
            else:
                head = bytes([48 << 1, 1]) if hevc else bytes([24])
                payloads.append(head + b"".join(struct.pack(">H", len(n)) + n for n in group))
            i += len(group)
        for pi, p in enumerate(payloads):
            out.append(Packet(seq, ts, pi == len(payloads) - 1, p, ui))
            seq += 1
    return out


def packetize_aac(units: list[tuple[int, bytes]], mtu: int, per_packet: int, seq0: int = 0) -> list[Packet]:
    """AAC-hbr (13-bit size, 3-bit index): up to `per_packet` AUs a packet, big AUs fragmented.
    `units` timestamps must be consecutive frames (ts + 1024 each) within a packet."""
    out: list[Packet] = []
    seq = seq0
    i = 0
    while i < len(units):
        ts, au = units[i]
        if len(au) + 4 > mtu:
            pieces = [au[j:j + mtu - 4] for j in range(0, len(au), mtu - 4)]
            for pi, piece in enumerate(pieces):
                hdr = struct.pack(">HH", 16, len(au) << 3)
                out.append(Packet(seq, ts, pi == len(pieces) - 1, hdr + piece, i))
                seq += 1
            i += 1
            continue
        group = [au]
        while (len(group) < per_packet and i + len(group) < len(units)
               and 2 + 2 * (len(group) + 1) + sum(map(len, group)) + len(units[i + len(group)][1]) <= mtu
               and len(units[i + len(group)][1]) + 4 <= mtu):
            group.append(units[i + len(group)][1])
        hdr = struct.pack(">H", 16 * len(group)) + b"".join(struct.pack(">H", len(a) << 3) for a in group)
        out.append(Packet(seq, ts, True, hdr + b"".join(group), i))
        seq += 1
        i += len(group)
    return out
