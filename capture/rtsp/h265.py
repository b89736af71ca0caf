"""H.265 RTP depacketization (RFC 7798 without DONL: single NAL, aggregation packets, FUs).

Same output and loss policy as the H.264 depacketizer: 4-byte length-prefixed NAL units per
access unit. Streams that carry DONL (sprop-max-don-diff > 0) are refused at setup (`Unsupported`),
since their NAL units may arrive out of decoding order.
"""

from __future__ import annotations

from capture.rtsp.rtp import LENGTH, AccessUnit, Depacketizer

AP, FU, PACI = 48, 49, 50
VPS, SPS, PPS = 32, 33, 34
IRAP = range(16, 24)  # BLA, IDR, CRA and reserved IRAP types


def nal_type(first_byte: int) -> int:
    return (first_byte >> 1) & 0x3F


class H265Depacketizer(Depacketizer):
    def __init__(self, stream: int, out: list[AccessUnit], params: tuple[bytes, ...] = ()) -> None:
        super().__init__(stream, out)
        self._au = bytearray()
        self._ts = -1
        self._key = False
        self._fu = -1
        self.sets: dict[int, bytes] = {}
        for p in params:
            if len(p) >= 2 and nal_type(p[0]) in (VPS, SPS, PPS):
                self.sets.setdefault(nal_type(p[0]), p)
        self.params_version = 0

    @property
    def params(self) -> tuple[bytes, ...]:
        return tuple(self.sets[t] for t in (VPS, SPS, PPS) if t in self.sets)

    def _discard(self) -> None:
        if self._au:
            self.dropped_units += 1
        self._au = bytearray()
        self._fu = -1
        self._key = False
        self._ts = -1

    def _emit(self) -> None:
        if self._fu >= 0:
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

    def _param(self, t: int, unit: bytes) -> None:
        old = self.sets.get(t)
        if old != unit:
            self.params_version += old is not None
            self.sets[t] = unit

    def _nal_done(self, t: int, mv: memoryview, start: int, end: int) -> None:
        if t in IRAP:
            self._key = True
        elif t in (VPS, SPS, PPS):
            self._param(t, bytes(mv[start:end]))

    def push(self, mv: memoryview, start: int, end: int) -> None:
        pos, seq, ts, marker, end = self.header(mv, start, end)
        self.packets += 1
        self.bytes += end - pos
        if not self._sequence(seq, ts):
            return
        if ts != self._ts:
            if self._au or self._fu >= 0:
                self._emit()
            self._ts = ts
        if pos + 2 > end:
            if pos < end:
                self._malformed(ts)
            return
        au = self._au
        h0 = mv[pos]
        t = (h0 >> 1) & 0x3F
        if t < AP:
            au += LENGTH.pack(end - pos)
            au += mv[pos:end]
            self._nal_done(t, mv, pos, end)
        elif t == FU:
            if pos + 3 > end:
                self._malformed(ts)
                return
            fu = mv[pos + 2]
            ft = fu & 0x3F
            if fu & 0x80:
                if self._fu >= 0:
                    self._after_loss = True
                    self._discard()
                    self._ts = ts
                    au = self._au
                self._fu = len(au)
                au += b"\0\0\0\0"
                au.append((h0 & 0x81) | (ft << 1))
                au.append(mv[pos + 1])
            elif self._fu < 0:
                return
            au += mv[pos + 3:end]
            if fu & 0x40:
                fu_start = self._fu
                LENGTH.pack_into(au, fu_start, len(au) - fu_start - 4)
                self._fu = -1
                if ft in IRAP:
                    self._key = True
                elif ft in (VPS, SPS, PPS):
                    self._param(ft, bytes(au[fu_start + 4:]))
        elif t == AP:
            i = pos + 2
            while i + 2 <= end:
                size = (mv[i] << 8) | mv[i + 1]
                i += 2
                if size < 2 or i + size > end:
                    self._malformed(ts)
                    return
                au += LENGTH.pack(size)
                au += mv[i:i + size]
                self._nal_done((mv[i] >> 1) & 0x3F, mv, i, i + size)
                i += size
        elif t != PACI:
            self._malformed(ts)
            return
        if marker:
            self._emit()


def to_annexb(au: bytearray) -> None:
    """Rewrite a unit of 4-byte length-prefixed NAL units as Annex-B, in place (same size): the MP4
    muxer builds hvcC from Annex-B extradata and then expects Annex-B samples."""
    i, n = 0, len(au)
    while i + 4 <= n:
        size = LENGTH.unpack_from(au, i)[0]
        au[i:i + 4] = b"\0\0\0\1"
        i += 4 + size
