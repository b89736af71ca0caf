"""In-band H.264/H.265 parameter sets, to notice a change of codec parameters mid-stream.

A camera that changes resolution or profile sends new SPS/PPS before its next IDR frame; the
SDP's extradata is not updated. Comparing the parameter-set NAL units of each keyframe with those
the segment was opened with is cheap (keyframes only, a scan for start codes) and needs no decode.
"""

from __future__ import annotations

H264_PARAM_TYPES = {7, 8}  # SPS, PPS
HEVC_PARAM_TYPES = {32, 33, 34}  # VPS, SPS, PPS


def _annexb_units(data: bytes) -> list[bytes]:
    units: list[bytes] = []
    i, n = 0, len(data)
    starts: list[int] = []
    while True:
        j = data.find(b"\x00\x00\x01", i)
        if j < 0:
            break
        starts.append(j + 3)
        i = j + 3
    for k, s in enumerate(starts):
        end = starts[k + 1] - 3 if k + 1 < len(starts) else n
        # A 4-byte start code leaves a zero byte at the end of the previous unit.
        while end > s and data[end - 1] == 0 and k + 1 < len(starts):
            end -= 1
        units.append(data[s:end])
    return units


def _avcc_units(data: bytes, length_size: int = 4) -> list[bytes] | None:
    units: list[bytes] = []
    i, n = 0, len(data)
    while i < n:
        if i + length_size > n:
            return None
        size = int.from_bytes(data[i : i + length_size], "big")
        i += length_size
        if size == 0 or i + size > n:
            return None
        units.append(data[i : i + size])
        i += size
    return units


def nal_units(data: bytes) -> list[bytes]:
    if data[:3] == b"\x00\x00\x01" or data[:4] == b"\x00\x00\x00\x01":
        return _annexb_units(data)
    return _avcc_units(data) or []


def parameter_sets(codec: str, data: bytes) -> tuple[bytes, ...]:
    """The parameter-set NAL units carried in one packet (empty for other codecs or none sent)."""
    if codec == "h264":
        return tuple(u for u in nal_units(data) if u and (u[0] & 0x1F) in H264_PARAM_TYPES)
    if codec in ("hevc", "h265"):
        return tuple(u for u in nal_units(data) if u and ((u[0] >> 1) & 0x3F) in HEVC_PARAM_TYPES)
    return ()


def as_annexb(units: tuple[bytes, ...]) -> bytes:
    return b"".join(b"\x00\x00\x00\x01" + u for u in units)
