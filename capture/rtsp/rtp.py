"""RTP packets (RFC 3550) as they come off an interleaved channel, and the shared depacketizer state.

A depacketizer is fed whole RTP packets as (memoryview, start, end) into the reader's buffer, so
no per-packet object is made before the payload is copied once into the access unit being built.
Loss handling is the same for every codec: the first timestamp of a stream is dropped (it may
have been joined mid-unit) unless its first packet is the one the PLAY answer's RTP-Info names as
the stream's first (`first_seq`: a camera that starts each session with a keyframe then loses
nothing, where dropping it cost a whole GOP at every start), a sequence gap discards the access unit being built
and every packet of the timestamp the gap was seen on (the lost packets may have been its head),
and the next complete unit carries `after_loss`. A late or duplicate packet (behind the expected
sequence number) is dropped: over TCP it cannot be a reordering the sender meant.
"""

from __future__ import annotations

import struct

HEADER = struct.Struct(">BBHI")  # V/P/X/CC, M/PT, sequence, timestamp
LENGTH = struct.Struct(">I")  # a NAL unit's 4-byte length prefix (avcC/hvcC samples)


class RtpError(ValueError):
    pass


class AccessUnit:
    """One access unit: video as length-prefixed NAL units, audio as one raw AAC frame."""

    __slots__ = ("after_loss", "data", "keyframe", "stream", "ts")

    def __init__(self, stream: int, ts: int, data: bytearray | bytes, keyframe: bool, after_loss: bool) -> None:
        self.stream = stream
        #: RTP timestamp, extended past 32-bit wraps (not yet relative to the stream's origin).
        self.ts = ts
        self.data = data
        self.keyframe = keyframe
        self.after_loss = after_loss


class Unwrapper:
    """Extends 32-bit RTP timestamps to a monotonic-ish 64-bit count (wraps every ~13 h at 90 kHz)."""

    __slots__ = ("_high", "_last")

    def __init__(self) -> None:
        self._last: int | None = None
        self._high = 0

    def extend(self, ts: int) -> int:
        last = self._last
        if last is not None:
            if ts < last and last - ts > 0x80000000:
                self._high += 1 << 32
            elif ts > last and ts - last > 0x80000000 and self._high:
                # A timestamp from just before the wrap, seen after it: keep the state.
                return ts + self._high - (1 << 32)
        self._last = ts
        return ts + self._high


class Depacketizer:
    """Sequence tracking, loss policy and the output list shared by the codec depacketizers."""

    def __init__(self, stream: int, out: list[AccessUnit]) -> None:
        self.stream = stream
        self.out = out
        self.next_seq = -1
        #: The sequence number of the stream's first packet (RTP-Info `seq`), when the server said.
        self.first_seq: int | None = None
        self.unwrap = Unwrapper()
        self.lost = 0  # RTP packets missing from the sequence
        self.late = 0  # packets behind the expected sequence number (dropped)
        self.dropped_units = 0  # access units discarded because a packet of theirs was lost
        self.malformed = 0  # payloads that break the packetization rules (their unit is dropped)
        self.packets = 0
        self.bytes = 0
        self._broken_ts = -1
        self._after_loss = False

    def _sequence(self, seq: int, ts: int) -> bool:
        """False when the packet is to be dropped (late, duplicate, or part of a broken unit)."""
        expected = self.next_seq
        if expected < 0:
            # The first packet may be the middle of a unit (joined mid-stream): drop its timestamp,
            # unless it is the first packet of the stream by the server's word.
            if seq != self.first_seq:
                self._broken_ts = ts
        elif seq != expected:
            gap = (seq - expected) & 0xFFFF
            if gap >= 0x8000:
                self.late += 1
                return False
            self.lost += gap
            self._discard()
            self._broken_ts = ts
            self._after_loss = True
        self.next_seq = (seq + 1) & 0xFFFF
        if ts == self._broken_ts:
            return False
        self._broken_ts = -1
        return True

    def _malformed(self, ts: int) -> None:
        self.malformed += 1
        self._discard()
        self._broken_ts = ts
        self._after_loss = True

    def _discard(self) -> None:
        """Drop the access unit being built (overridden by the codecs)."""
        raise NotImplementedError

    def push(self, mv: memoryview, start: int, end: int) -> None:
        raise NotImplementedError

    def consume(self, buf: bytearray, mv: memoryview, start: int, fill: int) -> int:
        """Every complete interleaved frame (`$`, channel, length, RTP packet) in a row from
        `buf[start:fill]` on the channel of the frame at `start`; returns where it stopped: at a
        frame of another channel, at anything but a frame, or at an incomplete frame (then
        nothing more can be done until more bytes come). One call for a run of packets instead
        of one per packet; the codecs override it with their fast paths."""
        ch = buf[start + 1]
        push = self.push
        while fill - start >= 4 and buf[start] == 0x24 and buf[start + 1] == ch:
            end = start + 4 + ((buf[start + 2] << 8) | buf[start + 3])
            if end > fill:
                break
            push(mv, start + 4, end)
            start = end
        return start

    @staticmethod
    def header(mv: memoryview, start: int, end: int) -> tuple[int, int, int, bool, int]:
        """(payload start, sequence, timestamp, marker, payload end) of the RTP packet at mv[start:end]."""
        if end - start < 12:
            raise RtpError("RTP packet shorter than its header")
        b0, b1, seq, ts = HEADER.unpack_from(mv, start)
        if b0 & 0xC0 != 0x80:
            raise RtpError("not an RTP version 2 packet")
        pos = start + 12 + 4 * (b0 & 0x0F)
        if b0 & 0x10:  # header extension: 16-bit profile, 16-bit length in words
            if pos + 4 > end:
                raise RtpError("truncated RTP header extension")
            pos += 4 + 4 * ((mv[pos + 2] << 8) | mv[pos + 3])
        if b0 & 0x20:  # padding: the last byte counts the padding bytes
            end -= mv[end - 1]
        if pos > end:
            raise RtpError("RTP header longer than the packet")
        return pos, seq, ts, bool(b1 & 0x80), end
