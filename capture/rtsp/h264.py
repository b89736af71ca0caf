"""H.264 RTP depacketization (RFC 6184, packetization modes 0 and 1: single NAL, STAP-A, FU-A).

Access units are built as 4-byte length-prefixed NAL units (the MP4 sample format), so the muxer
copies them as they are: no start codes to add, none to scan for. An access unit ends at the RTP
marker bit or, when the marker is lost, when the timestamp changes. Parameter sets (SPS/PPS) stay
in the samples and are also tracked, so a change can start a new segment with new extradata.
"""

from __future__ import annotations

import struct

from capture.rtsp.rtp import HEADER, LENGTH, AccessUnit, Depacketizer, RtpError

STAP_A, FU_A = 24, 28
#: An interleaved frame's head, the RTP header and the two FU-A bytes, in one unpack: length,
#: V/P/X/CC, M/PT, sequence, timestamp, FU indicator, FU header (SSRC skipped).
_FRAME_FU = struct.Struct(">2xHBBHI4xBB")
IDR, SPS, PPS = 5, 7, 8


def avcc(params: tuple[bytes, ...]) -> bytes:
    """AVCDecoderConfigurationRecord (ISO 14496-15 5.3.3.1) from SPS and PPS NAL units."""
    sps = [p for p in params if p and p[0] & 0x1F == SPS]
    pps = [p for p in params if p and p[0] & 0x1F == PPS]
    if not sps or not pps or len(sps[0]) < 4:
        raise RtpError("H.264 needs an SPS and a PPS for its decoder configuration")
    out = bytearray([1, sps[0][1], sps[0][2], sps[0][3], 0xFF, 0xE0 | len(sps)])
    for unit in sps:
        out += len(unit).to_bytes(2, "big") + unit
    out.append(len(pps))
    for unit in pps:
        out += len(unit).to_bytes(2, "big") + unit
    return bytes(out)


class H264Depacketizer(Depacketizer):
    def __init__(self, stream: int, out: list[AccessUnit], params: tuple[bytes, ...] = ()) -> None:
        super().__init__(stream, out)
        self._au = bytearray()
        self._ts = -1
        self._key = False
        self._fu = -1  # offset of the length prefix of the FU-A NAL being reassembled
        self.sps = next((p for p in params if p and p[0] & 0x1F == SPS), b"")
        self.pps = next((p for p in params if p and p[0] & 0x1F == PPS), b"")
        #: Bumped whenever an in-band SPS/PPS differs from the one before.
        self.params_version = 0

    @property
    def params(self) -> tuple[bytes, ...]:
        return tuple(p for p in (self.sps, self.pps) if p)

    def _discard(self) -> None:
        if self._au:
            self.dropped_units += 1
        self._au = bytearray()
        self._fu = -1
        self._key = False
        self._ts = -1

    def _emit(self) -> None:
        if self._fu >= 0:  # the last FU-A never ended: the unit is incomplete
            self._after_loss = True
            self._discard()
            return
        if self._au:
            self.out.append(AccessUnit(self.stream, self.unwrap.extend(self._ts), self._au, self._key,
                                       self._after_loss))
            self._after_loss = False
            self._au = bytearray()
        self._key = False
        self._ts = -1

    def _nal_done(self, t: int, mv: memoryview, start: int, end: int) -> None:
        if t == IDR:
            self._key = True
        elif t in (SPS, PPS):
            self._param(t, bytes(mv[start:end]))

    def _param(self, t: int, unit: bytes) -> None:
        if t == SPS and unit != self.sps:
            self.params_version += self.sps != b""
            self.sps = unit
        elif t == PPS and unit != self.pps:
            self.params_version += self.pps != b""
            self.pps = unit


    def consume(self, buf: bytearray, mv: memoryview, start: int, fill: int) -> int:
        # Most packets of a 1080p stream (~9 of 10) are the middle of an FU-A: in sequence, same
        # timestamp, no marker, plain header. Those are appended here with the state in locals;
        # anything else goes through `push` (the general path, and the reference for this one).
        ch = buf[start + 1]
        unpack = _FRAME_FU.unpack_from
        push = self.push
        nseq, cur_ts, au, in_fu = self.next_seq, self._ts, self._au, self._fu >= 0
        packets = payload = 0
        while fill - start >= 4 and buf[start] == 0x24 and buf[start + 1] == ch:
            size = (buf[start + 2] << 8) | buf[start + 3]
            end = start + 4 + size
            if end > fill:
                break
            if in_fu and size > 14:
                _, b0, b1, seq, ts, ind, fu = unpack(buf, start)
                if b0 == 0x80 and b1 < 0x80 and seq == nseq and ts == cur_ts and ind & 0x1F == FU_A and not fu & 0xC0:
                    nseq = (seq + 1) & 0xFFFF
                    packets += 1
                    payload += size - 12
                    au += mv[start + 18:end]
                    start = end
                    continue
            self.next_seq = nseq
            push(mv, start + 4, end)
            nseq, cur_ts, au, in_fu = self.next_seq, self._ts, self._au, self._fu >= 0
            start = end
        self.next_seq = nseq
        self.packets += packets
        self.bytes += payload
        return start

    def push(self, mv: memoryview, start: int, end: int) -> None:
        # The general path, one packet (the reference `consume`'s fast path is tested against).
        # The RTP header, as `Depacketizer.header` reads it, inlined for a plain header.
        if end - start < 12:
            raise RtpError("RTP packet shorter than its header")
        b0, b1, seq, ts = HEADER.unpack_from(mv, start)
        if b0 != 0x80:  # anything but a plain version-2 header (CSRCs, extension, padding)
            pos, seq, ts, marker, end = self.header(mv, start, end)
        else:
            pos, marker = start + 12, b1 >= 0x80
        self.packets += 1
        self.bytes += end - pos
        if not self._sequence(seq, ts):
            return
        if ts != self._ts:
            if self._au or self._fu >= 0:
                self._emit()
            self._ts = ts
        if pos >= end:
            return
        au = self._au
        nal = mv[pos]
        t = nal & 0x1F
        if 0 < t < 24:
            au += LENGTH.pack(end - pos)
            au += mv[pos:end]
            self._nal_done(t, mv, pos, end)
        elif t == FU_A:
            if pos + 2 > end:
                self._malformed(ts)
                return
            fu = mv[pos + 1]
            ft = fu & 0x1F
            if fu & 0x80:
                if self._fu >= 0:  # a new start before the previous end: the previous NAL is torn
                    self._after_loss = True
                    self._discard()
                    self._ts = ts
                    au = self._au
                self._fu = len(au)
                au += b"\0\0\0\0"
                au.append((nal & 0xE0) | ft)
            elif self._fu < 0:
                return  # a middle or end fragment whose start we never saw
            au += mv[pos + 2:end]
            if fu & 0x40:
                fu_start = self._fu
                LENGTH.pack_into(au, fu_start, len(au) - fu_start - 4)
                self._fu = -1
                if ft == IDR:
                    self._key = True
                elif ft in (SPS, PPS):
                    self._param(ft, bytes(au[fu_start + 4:]))
        elif t == STAP_A:
            i = pos + 1
            while i + 2 <= end:
                size = (mv[i] << 8) | mv[i + 1]
                i += 2
                if size == 0 or i + size > end:
                    self._malformed(ts)
                    return
                au += LENGTH.pack(size)
                au += mv[i:i + size]
                self._nal_done(mv[i] & 0x1F, mv, i, i + size)
                i += size
        else:
            # STAP-B, MTAP, FU-B (interleaved mode) or reserved types: not in modes 0/1.
            self._malformed(ts)
            return
        if marker:
            self._emit()
