"""RTP depacketizers, property-tested: whatever packetization a sender picks, the access units come
back byte for byte with their timestamps; with loss or reordering only complete units come out."""

from __future__ import annotations

import struct

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rtp_packetizer import Packet, packetize_aac, packetize_video

from capture.rtsp.aac import AacDepacketizer, frame_length
from capture.rtsp.h264 import H264Depacketizer, avcc
from capture.rtsp.h265 import H265Depacketizer, to_annexb
from capture.rtsp.rtcp import CameraClock, sender_reports
from capture.rtsp.rtp import AccessUnit, Unwrapper
from capture.rtsp.sdp import Media, parse

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def h264_nal(kind: int, body: bytes) -> bytes:
    return bytes([0x60 | kind]) + body


def h265_nal(kind: int, body: bytes) -> bytes:
    return bytes([kind << 1, 1]) + body


@st.composite
def video_units(draw: st.DrawFn, hevc: bool = False) -> list[tuple[int, list[bytes]]]:
    n = draw(st.integers(2, 12))
    ts = draw(st.integers(0, 2**32 - 1))
    units = []
    for i in range(n):
        kinds = ([32, 33, 34, 19] if hevc else [7, 8, 5]) if i % 5 == 0 else [1]
        kinds = kinds + draw(st.lists(st.just(1), max_size=2))  # extra slices
        make = h265_nal if hevc else h264_nal
        nals = [make(k, draw(st.binary(min_size=1, max_size=3000))) for k in kinds]
        units.append((ts & 0xFFFFFFFF, nals))
        ts += 3600
    return units


def length_prefixed(nals: list[bytes]) -> bytes:
    return b"".join(struct.pack(">I", len(n)) + n for n in nals)


def feed(dep: H264Depacketizer | H265Depacketizer | AacDepacketizer, packets: list[Packet]) -> None:
    for p in packets:
        wire = p.wire()
        buf = memoryview(b"$\0" + struct.pack(">H", len(wire)) + wire)
        dep.push(buf, 4, len(buf))


def run_video(units: list[tuple[int, list[bytes]]], packets: list[Packet], hevc: bool,
              first_seq: int | None = None) -> list[AccessUnit]:
    out: list[AccessUnit] = []
    dep: H264Depacketizer | H265Depacketizer = H265Depacketizer(0, out) if hevc else H264Depacketizer(0, out)
    # A leading packet of another timestamp: the first timestamp of a stream is always dropped.
    first = units[0][0] - 3600
    lead_seq = (packets[0].seq if first_seq is None else first_seq) - 1
    lead = Packet(lead_seq, first, True, h265_nal(1, b"x") if hevc else h264_nal(1, b"x"), -1)
    feed(dep, [lead, *packets])
    return out


def expected_after(units: list[tuple[int, list[bytes]]], packets: list[Packet],
                   arrived: list[Packet]) -> list[int]:
    """Indexes of the units that must come out: every packet arrived, and so did the one before."""
    got = {p.seq for p in arrived}
    ok = []
    for ui in range(len(units)):
        mine = [i for i, p in enumerate(packets) if p.unit == ui]
        before = mine[0] - 1
        if all(packets[i].seq in got for i in mine) and (before < 0 or packets[before].seq in got):
            ok.append(ui)
    return ok


@SETTINGS
@given(st.booleans(), st.data())
def test_video_round_trip(hevc: bool, data: st.DataObject) -> None:
    units = data.draw(video_units(hevc))
    mtu = data.draw(st.integers(200, 1500))
    packets = packetize_video(units, mtu, data.draw(st.lists(st.booleans(), min_size=1, max_size=5)), hevc,
                              seq0=data.draw(st.integers(1, 65535)))
    out = run_video(units, packets, hevc)
    assert [bytes(u.data) for u in out] == [length_prefixed(n) for _, n in units]
    base = out[0].ts - units[0][0]
    assert [u.ts - base for u in out] == [units[0][0] + 3600 * i for i in range(len(units))]
    assert [u.keyframe for u in out] == [i % 5 == 0 for i in range(len(units))]


@SETTINGS
@given(st.booleans(), st.data())
def test_video_loss_and_reordering_only_drop_whole_units(hevc: bool, data: st.DataObject) -> None:
    units = data.draw(video_units(hevc))
    packets = packetize_video(units, data.draw(st.integers(200, 1500)), [True, False], hevc)
    keep = data.draw(st.lists(st.booleans(), min_size=len(packets), max_size=len(packets)))
    arrived = [p for p, k in zip(packets, keep, strict=True) if k or p is packets[0]]
    swap = data.draw(st.integers(0, len(arrived)))
    reorder = data.draw(st.booleans()) and 0 < swap < len(arrived)
    if reorder:
        arrived[swap - 1], arrived[swap] = arrived[swap], arrived[swap - 1]
    out = run_video(units, arrived, hevc, packets[0].seq)
    by_ts = {t: length_prefixed(n) for t, n in units}
    for u in out:  # never a torn or mixed unit
        assert bytes(u.data) == by_ts[u.ts & 0xFFFFFFFF]
    if not reorder:
        assert [u.ts & 0xFFFFFFFF for u in out] == [units[i][0] for i in expected_after(units, packets, arrived)]
    if len(out) < len(units):
        assert any(u.after_loss for u in out) or not out or len(arrived) < len(packets) or reorder


def test_parameter_set_change_is_noticed() -> None:
    out: list[AccessUnit] = []
    sps1, pps = h264_nal(7, b"\x64\x00\x1f\xaa"), h264_nal(8, b"\xce")
    dep = H264Depacketizer(0, out, (sps1, pps))
    units = [(9000 * i, [sps1 if i < 3 else h264_nal(7, b"\x64\x00\x28\xbb"), pps, h264_nal(5, b"k")])
             for i in range(6)]
    feed(dep, packetize_video(units, 1400, [False]))
    assert dep.params_version == 1 and dep.sps == h264_nal(7, b"\x64\x00\x28\xbb")
    assert avcc(dep.params)[:4] == b"\x01\x64\x00\x28"


def test_h265_units_convert_to_annexb_in_place() -> None:
    au = bytearray(length_prefixed([h265_nal(32, b"v"), h265_nal(19, b"idr" * 10)]))
    to_annexb(au)
    assert au == b"\0\0\0\1" + h265_nal(32, b"v") + b"\0\0\0\1" + h265_nal(19, b"idr" * 10)


def aac_media() -> Media:
    sdp = ("v=0\r\nm=audio 0 RTP/AVP 97\r\na=rtpmap:97 MPEG4-GENERIC/16000/1\r\n"
           "a=fmtp:97 streamtype=5;profile-level-id=15;mode=AAC-hbr;config=1408;sizeLength=13;"
           "indexLength=3;indexDeltaLength=3\r\na=control:stream=1\r\n")
    m = parse(sdp, "rtsp://h/cam").media[0]
    assert m.codec == "aac" and m.control == "rtsp://h/cam/stream=1" and m.clock_rate == 16000
    return m


@SETTINGS
@given(st.lists(st.binary(min_size=1, max_size=2500), min_size=1, max_size=20), st.integers(300, 1500),
       st.integers(1, 6))
def test_aac_round_trip(frames: list[bytes], mtu: int, per_packet: int) -> None:
    units = [(5000 + 1024 * i, f) for i, f in enumerate(frames)]
    out: list[AccessUnit] = []
    dep = AacDepacketizer(1, out, aac_media())
    lead = Packet(0, 1000, True, struct.pack(">HH", 16, 8) + b"x", -1)
    feed(dep, [lead, *packetize_aac(units, mtu, per_packet, seq0=1)])
    assert [(u.ts, bytes(u.data)) for u in out] == units


def test_aac_frame_length_from_config() -> None:
    assert frame_length(bytes.fromhex("1408")) == 1024  # AAC-LC 16 kHz mono
    assert frame_length(bytes.fromhex("1214")) == 960  # frameLengthFlag set


def test_sdp_parameter_sets_and_controls() -> None:
    sdp = ("v=0\r\na=control:*\r\nm=video 0 RTP/AVP 96\r\na=rtpmap:96 H264/90000\r\n"
           "a=fmtp:96 packetization-mode=1;sprop-parameter-sets=Z2QAH6w=,aO4G8g==\r\n"
           "a=control:rtsp://h/cam/track1\r\nm=video 0 RTP/AVP 98\r\na=rtpmap:98 H265/90000\r\n"
           "a=fmtp:98 sprop-vps=QAE=;sprop-sps=QgE=;sprop-pps=RAE=\r\na=control:t2\r\n")
    s = parse(sdp, "rtsp://h/cam/")
    v, h = s.media
    assert v.parameter_sets() == (b"gd\x00\x1f\xac", b"h\xee\x06\xf2") and v.control == "rtsp://h/cam/track1"
    assert h.codec == "hevc" and h.parameter_sets() == (b"@\x01", b"B\x01", b"D\x01")
    assert h.control == "rtsp://h/cam/t2"


def test_rtcp_sender_report_maps_rtp_time_to_camera_clock() -> None:
    unwrap = Unwrapper()
    clock = CameraClock(90000, unwrap)
    ntp_sec = 2_208_988_800 + 1_700_000_000
    sr = struct.pack(">BBHIIII", 0x80, 200, 6, 0xAB, ntp_sec, 1 << 31, 90000) + b"\0" * 8
    rr = struct.pack(">BBHI", 0x80, 201, 1, 0xAB)
    [report] = sender_reports(sr + rr)
    assert report.wall_us == 1_700_000_000_500_000
    clock.on_report(report, box_now_us=1_700_000_000_000_000)
    assert clock.drift_us == 500_000
    assert clock.wall_us(90000 + 45000) == 1_700_000_001_000_000


def test_timestamps_unwrap_past_32_bits() -> None:
    u = Unwrapper()
    assert [u.extend(t) for t in (2**32 - 3600, 100, 2**32 - 10, 7300)] == [2**32 - 3600, 2**32 + 100,
                                                                           2**32 - 10, 2**32 + 7300]


@SETTINGS
@given(st.booleans(), st.booleans(), st.data())
def test_the_first_unit_is_kept_only_when_rtp_info_names_its_first_packet(hevc: bool, named: bool,
                                                                          data: st.DataObject) -> None:
    """A session that starts on a keyframe keeps it when the PLAY answer's RTP-Info `seq` is the
    first packet's (dropping it cost a GOP at every start); joined elsewhere, or without the
    server's word, the first timestamp may be a torn unit and is dropped."""
    units = data.draw(video_units(hevc))
    packets = packetize_video(units, data.draw(st.integers(200, 1500)), [True, False], hevc,
                              seq0=data.draw(st.integers(1, 65535)))
    out: list[AccessUnit] = []
    dep: H264Depacketizer | H265Depacketizer = H265Depacketizer(0, out) if hevc else H264Depacketizer(0, out)
    if named:
        dep.first_seq = packets[0].seq
    else:
        dep.first_seq = None if data.draw(st.booleans()) else (packets[0].seq + 7) & 0xFFFF
    feed(dep, packets)
    want = [length_prefixed(n) for _, n in units]
    assert [bytes(u.data) for u in out] == (want if named else want[1:])
    assert out[0].keyframe is named
