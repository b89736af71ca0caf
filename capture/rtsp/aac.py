"""AAC RTP depacketization (RFC 3640, mpeg4-generic: AAC-hbr and AAC-lbr AU headers).

Each RTP payload starts with a 16-bit AU-headers-length (in bits) and that many bits of AU headers
(size, then index or index-delta); the access units follow back to back. One AU larger than a
packet is fragmented over packets of one timestamp, the marker on the last. Each AU is one raw
AAC frame; its timestamp is the packet's plus its position times the frame length (1024 or 960).
"""

from __future__ import annotations

from capture.rtsp.errors import Unsupported
from capture.rtsp.rtp import AccessUnit, Depacketizer
from capture.rtsp.sdp import Media


def frame_length(config: bytes) -> int:
    """Samples per AAC frame from an AudioSpecificConfig (GASpecificConfig frameLengthFlag)."""
    if len(config) < 2:
        return 1024
    bits = int.from_bytes(config[:4].ljust(4, b"\0"), "big")
    aot = bits >> 27
    pos = 5
    if aot == 31:
        return 1024  # escape object types: not AAC-LC/Main/SSR/LTP; assume the usual length
    freq_index = (bits >> (32 - pos - 4)) & 0xF
    pos += 4
    if freq_index == 15:
        return 1024  # explicit 24-bit sample rate: the flag lies past the 4 bytes read
    pos += 4  # channel configuration
    return 960 if (bits >> (32 - pos - 1)) & 1 else 1024


class AacDepacketizer(Depacketizer):
    def __init__(self, stream: int, out: list[AccessUnit], media: Media) -> None:
        super().__init__(stream, out)
        mode = media.fmtp.get("mode", "").lower()
        if mode not in ("aac-hbr", "aac-lbr"):
            raise Unsupported(f"mpeg4-generic mode {mode or 'unset'!r}")
        for key in ("ctsdeltalength", "dtsdeltalength", "randomaccessindication", "streamstateindication",
                    "auxiliarydatasizelength"):
            if media.fmtp_int(key, 0):
                raise Unsupported(f"mpeg4-generic {key}")
        self.size_bits = media.fmtp_int("sizelength", 13)
        self.index_bits = media.fmtp_int("indexlength", 3)
        self.delta_bits = media.fmtp_int("indexdeltalength", 3)
        if not 0 < self.size_bits <= 16 or self.index_bits > 8 or self.delta_bits > 8:
            raise Unsupported("mpeg4-generic AU header sizes out of range")
        self.config = media.aac_config()
        self.frame = frame_length(self.config)
        self._frag = bytearray()
        self._frag_size = 0
        self._frag_ts = -1

    def _discard(self) -> None:
        if self._frag:
            self.dropped_units += 1
        self._frag = bytearray()
        self._frag_size = 0

    def push(self, mv: memoryview, start: int, end: int) -> None:
        pos, seq, ts, marker, end = self.header(mv, start, end)
        self.packets += 1
        self.bytes += end - pos
        if not self._sequence(seq, ts):
            return
        if pos + 2 > end:
            self._malformed(ts)
            return
        hdr_bits = (mv[pos] << 8) | mv[pos + 1]
        hdr_bytes = (hdr_bits + 7) >> 3
        data = pos + 2 + hdr_bytes
        if data > end or hdr_bits == 0:
            self._malformed(ts)
            return
        headers = int.from_bytes(mv[pos + 2:data], "big")
        consumed, sizes = 0, []
        while consumed + self.size_bits <= hdr_bits:
            shift = hdr_bytes * 8 - consumed - self.size_bits
            sizes.append((headers >> shift) & ((1 << self.size_bits) - 1))
            consumed += self.size_bits + (self.index_bits if not sizes[1:] else self.delta_bits)
        if self._frag:
            # Continuing a fragmented AU: one header naming the whole AU's size, a piece of it.
            if ts != self._frag_ts or len(sizes) != 1 or sizes[0] != self._frag_size:
                self._malformed(ts)
                return
            self._frag += mv[data:end]
            self._finish_fragment(marker)
            return
        if len(sizes) == 1 and data + sizes[0] > end:
            self._frag = bytearray(mv[data:end])
            self._frag_size, self._frag_ts = sizes[0], ts
            self._finish_fragment(marker)
            return
        ext = self.unwrap.extend(ts)
        for i, size in enumerate(sizes):
            if data + size > end:
                self._malformed(ts)
                return
            self.out.append(AccessUnit(self.stream, ext + i * self.frame, bytes(mv[data:data + size]), True,
                                       self._after_loss))
            self._after_loss = False
            data += size

    def _finish_fragment(self, marker: bool) -> None:
        if len(self._frag) < self._frag_size and not marker:
            return
        if len(self._frag) != self._frag_size:
            self._malformed(self._frag_ts)
            return
        self.out.append(AccessUnit(self.stream, self.unwrap.extend(self._frag_ts), self._frag, True,
                                   self._after_loss))
        self._after_loss = False
        self._frag = bytearray()
        self._frag_size = 0
