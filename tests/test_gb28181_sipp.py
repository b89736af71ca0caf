"""GB/T 28181 device side against SIPp playing the platform, with a real store of fMP4 segments.

SIPp challenges REGISTER and accepts only a correct digest (verifyauth), receives keepalives and
the device's answers (its message log is parsed here), sends queries, SUBSCRIBE and INVITEs; RTP
is received on a port the test listens on and the MPEG-PS demuxed with PyAV.
"""

from __future__ import annotations

import io
import re
import socket
import struct
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import av
import numpy as np
import pytest
from fmp4 import encode_fmp4
from gb28181_helpers import (
    DEVICE_ID,
    PASSWORD,
    SERVER_ID,
    SIPP,
    Platform,
    RtpReceiver,
    annexb_nals,
    avcc_nals,
    channel_id,
    uac,
)
from helpers import wait_for

from capture.segmenter import MOVFLAGS
from edge.alarms import AlarmCenter
from edge.clock import SystemClock
from edge.gb28181.answers import gb_time
from edge.gb28181.config import Gb28181Config
from edge.gb28181.interfaces import Channel, Sources
from edge.gb28181.media import crc32_mpeg2
from edge.gb28181.service import Gb28181Service
from edge.register import AccessRegister, Query
from storage.layout import datetime_to_us
from storage.store import SegmentStore, StreamInfo

#: VPS, SPS, PPS, AUD and the header SEI: the hvcC arrays the Annex B rewrite puts before keyframes.
HEVC_PARAMS = {32, 33, 34, 35, 39}


@pytest.fixture(autouse=True)
def _sipp_installed() -> None:
    # Fail, not skip: a CI without SIPp must not pass these silently.
    if SIPP is None:
        pytest.fail("sipp (Debian sip-tester) is not installed; `make test` installs it as root (scripts/sysdeps.sh)")

T0 = datetime_to_us(datetime(2026, 11, 28, 10, 0, tzinfo=UTC))
S = 1_000_000


class Cameras:
    def __init__(self) -> None:
        self.list = [Channel("cam1", channel_id(1), "Gate 1", "rtsp://127.0.0.1:9/none", True, True, True, "gate"),
                     Channel("cam2", channel_id(2), "Gate 2", "rtsp://127.0.0.1:9/none", True, False, False),
                     Channel("cam3", channel_id(3), "Yard", "rtsp://127.0.0.1:9/none", True, True, True)]

    def channels(self) -> list[Channel]:
        return list(self.list)

    def set_online(self, cam: str, online: bool) -> None:
        self.list = [replace(c, online=online, recording=online) if c.camera_id == cam else c for c in self.list]


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SegmentStore]:
    s = SegmentStore(tmp_path / "store", SystemClock(), sync_interval=0)
    # cam1: two abutting 2 s segments, a 6 s gap, one more; cam3: nothing recorded.
    for i, start in enumerate((T0, T0 + 2 * S, T0 + 10 * S)):
        f = s.open_segment("cam1", start)
        encode_fmp4(f, 50, shade=3 + i)
        s.commit("cam1", f, start + 2 * S, 50, StreamInfo("h264", 160, 120))
    yield s
    s.close()


@pytest.fixture
def platform(tmp_path: Path) -> Iterator[Platform]:
    p = Platform(tmp_path).start()
    yield p
    p.stop()


@pytest.fixture
def make_service(store: SegmentStore, platform: Platform) -> Iterator[Callable[..., Gb28181Service]]:
    started: list[Gb28181Service] = []

    def make(**overrides: object) -> Gb28181Service:
        cams = overrides.pop("cameras", Cameras())
        clock = SystemClock()
        values: dict[str, object] = dict(enabled=True, password=PASSWORD, server_address="127.0.0.1",
                                         server_port=platform.port, local_address="127.0.0.1", local_port=0,
                                         keepalive_seconds=0.5, allow_playback=True, max_items_per_message=2)
        values.update(overrides)
        cfg = Gb28181Config.model_validate(values)
        sources = Sources(cams, store.index, store.layout.root, AlarmCenter(store.index, clock),  # type: ignore[arg-type]
                          AccessRegister(store.index, clock))
        svc = Gb28181Service(cfg, sources, clock.now_us, tz=UTC)
        svc.start()
        started.append(svc)
        return svc

    yield make
    for svc in started:
        svc.stop()
        svc.join(10)


def registered(svc: Gb28181Service) -> Gb28181Service:
    wait_for(svc.registrar.registered.is_set, 15, what="registration")
    return svc


def query(tmp: Path, svc: Gb28181Service, cmd: str, sn: int, target: str = DEVICE_ID, extra: str = "") -> None:
    assert svc.transport is not None
    r = uac(tmp, "query.xml", svc.transport.port, {"cmd": cmd, "sn": str(sn), "target": target, "extra": extra})
    assert r.returncode == 0, r.stderr.decode(errors="replace")


def with_sn(platform: Platform, cmd: str, sn: int, count: int = 1) -> list:  # type: ignore[type-arg]
    return wait_for(lambda: (lambda got: got if len(got) >= count else None)(
        [e for e in platform.manscdp(cmd, "Response") if e.findtext("SN") == str(sn)]), 15, what=f"{cmd} answer")


def test_registers_with_digest_then_keeps_alive(make_service: Callable[..., Gb28181Service],
                                                 platform: Platform) -> None:
    svc = registered(make_service())
    regs = platform.received("REGISTER")
    assert not regs[0].header("Authorization"), "the first REGISTER goes unauthenticated and is challenged"
    auth = regs[1].header("Authorization")
    assert auth.startswith("Digest ") and f'username="{DEVICE_ID}"' in auth and 'realm="3402000000"' in auth
    assert regs[1].header("Call-ID") == regs[0].header("Call-ID")
    keepalives = wait_for(lambda: (lambda k: k if len(k) >= 2 else None)(platform.manscdp("Keepalive", "Notify")),
                          10, what="two keepalives")
    assert all(k.findtext("DeviceID") == DEVICE_ID and k.findtext("Status") == "OK" for k in keepalives)
    assert svc.keepalive_misses == 0


def test_refreshes_the_registration_before_it_expires(make_service: Callable[..., Gb28181Service],
                                                       platform: Platform) -> None:
    svc = registered(make_service())
    first = platform.received("REGISTER")
    assert len(first) == 2
    # As if 90% of the granted 3600 s had passed (the refresh is due at 80%).
    svc.registrar.registered_at -= svc.registrar.granted * 0.9
    regs = wait_for(lambda: (lambda r: r if len(r) >= 4 else None)(platform.received("REGISTER")), 10,
                    what="the refresh")
    assert {r.header("Call-ID") for r in regs} == {first[0].header("Call-ID")}, "a refresh keeps the Call-ID"
    assert [int(r.header("CSeq").split()[0]) for r in regs] == [1, 2, 3, 4]
    assert regs[3].header("Authorization") and regs[3].header("Expires") == "3600"
    assert svc.registrar.registered.is_set()


def test_registers_with_the_ha1_instead_of_the_password(make_service: Callable[..., Gb28181Service]) -> None:
    from edge.gb28181.digest import ha1_md5

    registered(make_service(password="", password_ha1=ha1_md5(DEVICE_ID, "3402000000", PASSWORD)))


def test_wrong_password_is_never_registered(make_service: Callable[..., Gb28181Service],
                                            platform: Platform) -> None:
    svc = make_service(password="not-the-password")
    wait_for(lambda: len([r for r in platform.received("REGISTER") if r.header("Authorization")]) >= 1, 10,
             what="an authenticated REGISTER")
    time.sleep(1.0)
    assert not svc.registrar.registered.is_set()
    assert platform.manscdp("Keepalive") == []


def test_catalog_lists_every_camera_split_with_sumnum(make_service: Callable[..., Gb28181Service],
                                                      platform: Platform, tmp_path: Path) -> None:
    svc = registered(make_service())
    query(tmp_path, svc, "Catalog", 101)
    answers = with_sn(platform, "Catalog", 101, 2)
    assert [a.findtext("SumNum") for a in answers] == ["3", "3"]
    assert sorted(a.find("DeviceList").get("Num") for a in answers) == ["1", "2"]  # type: ignore[union-attr]
    items = {i.findtext("DeviceID"): i for a in answers for i in a.iter("Item")}
    assert set(items) == {channel_id(1), channel_id(2), channel_id(3)}
    assert items[channel_id(1)].findtext("Status") == "ON" and items[channel_id(2)].findtext("Status") == "OFF"
    assert items[channel_id(1)].findtext("Name") == "Gate 1"
    assert all(i.findtext("ParentID") == DEVICE_ID and i.findtext("CivilCode") == "340200" for i in items.values())


def test_device_info_and_status_with_alarms(make_service: Callable[..., Gb28181Service], platform: Platform,
                                            tmp_path: Path) -> None:
    svc = registered(make_service())
    svc.sources.alarms.raise_("covered", "warning", "lens covered", camera="cam1")  # type: ignore[attr-defined]
    query(tmp_path, svc, "DeviceInfo", 201)
    info = with_sn(platform, "DeviceInfo", 201)[0]
    assert info.findtext("Result") == "OK" and info.findtext("Channel") == "3"
    assert info.findtext("DeviceID") == DEVICE_ID
    query(tmp_path, svc, "DeviceStatus", 202)
    status = with_sn(platform, "DeviceStatus", 202)[0]
    assert status.findtext("Online") == "ONLINE" and status.findtext("Record") == "ON"
    duty = {i.findtext("DeviceID"): i.findtext("DutyStatus") for i in status.iter("Item")}
    assert duty == {channel_id(1): "ALARM", channel_id(2): "ONDUTY", channel_id(3): "ONDUTY"}
    # The alarm also went out as a Notify with the standard's codes (video alarm, abnormal video).
    alarm = wait_for(lambda: platform.manscdp("Alarm", "Notify"), 10, what="alarm notify")[0]
    assert alarm.findtext("DeviceID") == channel_id(1)
    assert (alarm.findtext("AlarmPriority"), alarm.findtext("AlarmMethod"), alarm.findtext("Info/AlarmType")) == \
        ("2", "5", "11")


def test_record_info_spans_equal_the_index(make_service: Callable[..., Gb28181Service], platform: Platform,
                                           store: SegmentStore, tmp_path: Path) -> None:
    svc = registered(make_service())
    start, end = T0 - 10 * S, T0 + 60 * S
    query(tmp_path, svc, "RecordInfo", 301, channel_id(1),
          f"<StartTime>{gb_time(start, UTC)}</StartTime><EndTime>{gb_time(end, UTC)}</EndTime><Type>all</Type>")
    answer = with_sn(platform, "RecordInfo", 301)[0]
    got = [(i.findtext("StartTime"), i.findtext("EndTime")) for i in answer.iter("Item")]
    # Expected, straight from the index: abutting segments are one span, the gap splits them.
    segs = store.index.segments_in_range("cam1", start, end)
    spans: list[list[int]] = []
    for seg in segs:
        if spans and seg.start_us <= spans[-1][1]:
            spans[-1][1] = seg.end_us
        else:
            spans.append([seg.start_us, seg.end_us])
    assert got == [(gb_time(s, UTC), gb_time(e, UTC)) for s, e in spans]
    assert len(got) == 2 and answer.findtext("SumNum") == "2"
    # A channel with nothing recorded answers SumNum 0.
    query(tmp_path, svc, "RecordInfo", 302, channel_id(3),
          f"<StartTime>{gb_time(start, UTC)}</StartTime><EndTime>{gb_time(end, UTC)}</EndTime>")
    assert with_sn(platform, "RecordInfo", 302)[0].findtext("SumNum") == "0"


def test_remote_control_is_refused(make_service: Callable[..., Gb28181Service], platform: Platform,
                                   tmp_path: Path) -> None:
    svc = registered(make_service())
    assert svc.transport is not None
    r = uac(tmp_path, "query.xml", svc.transport.port, {"root": "Control", "cmd": "DeviceControl", "sn": "701",
                                                        "target": DEVICE_ID,
                                                        "extra": "<RecordCmd>StopRecord</RecordCmd>"})
    assert r.returncode == 0, r.stderr.decode(errors="replace")
    answer = with_sn(platform, "DeviceControl", 701)[0]
    assert answer.findtext("Result") == "ERROR"


def _raw_request(port: int, data: bytes) -> bytes:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(5)
        s.sendto(data, ("127.0.0.1", port))
        return s.recv(65_535)


def test_malformed_sip_and_xml_get_4xx(make_service: Callable[..., Gb28181Service], platform: Platform,
                                       tmp_path: Path) -> None:
    svc = registered(make_service())
    assert svc.transport is not None
    port = svc.transport.port
    head = (f"MESSAGE sip:{DEVICE_ID}@3402000000 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:9;branch=z9hG4bKx1\r\n"
            f"From: <sip:{SERVER_ID}@3402000000>;tag=a\r\nTo: <sip:{DEVICE_ID}@3402000000>\r\nCall-ID: bad1\r\n")
    assert _raw_request(port, (head + "CSeq: one MESSAGE\r\nContent-Length: 0\r\n\r\n").encode()).startswith(
        b"SIP/2.0 400 ")
    assert _raw_request(port, (head + "CSeq: 1 MESSAGE\r\nContent-Length: 99\r\n\r\n<x/>").encode()).startswith(
        b"SIP/2.0 400 ")
    stranger = head.replace(f"sip:{SERVER_ID}@", "sip:34020000002000000099@")
    assert _raw_request(port, (stranger + "CSeq: 1 MESSAGE\r\nContent-Length: 0\r\n\r\n").encode()).startswith(
        b"SIP/2.0 403 ")
    # Broken XML through SIPp: 400 (query_bad.xml fails unless it gets exactly that).
    r = uac(tmp_path, "query_bad.xml", port, {"cmd": "Catalog</CmdType><", "sn": "1", "target": DEVICE_ID,
                                              "extra": "<Unclosed>"})
    assert r.returncode == 0, r.stderr.decode(errors="replace")
    assert svc.rejected >= 4
    # The device is still fine.
    query(tmp_path, svc, "DeviceInfo", 401)
    assert with_sn(platform, "DeviceInfo", 401)


def _stored_frames(store: SegmentStore, camera: str, start_us: int,
                   end_us: int) -> tuple[list[list[bytes]], list[float]]:
    """NAL units (without parameter sets) of every stored video packet in the range, and each
    packet's time in seconds from the first segment's start."""
    frames, times = [], []
    segs = store.index.segments_in_range(camera, start_us, end_us)
    for seg in segs:
        with av.open(str(store.path_of(seg))) as c:
            first = None
            for pkt in c.demux(c.streams.video[0]):
                if pkt.size and pkt.pts is not None:
                    first = pkt.pts if first is None else first
                    frames.append([n for n in avcc_nals(bytes(pkt)) if n[0] & 0x1F not in (7, 8, 9)])
                    times.append((seg.start_us - segs[0].start_us) / S + float((pkt.pts - first) * pkt.time_base))
    return frames, times


def received_frames(ps: bytes) -> tuple[list[list[bytes]], list[float | None], str]:
    """Demux the reassembled PS: NAL units per packet, pts in seconds from the first (None where
    the PES carried none), codec name."""
    frames: list[list[bytes]] = []
    times: list[float | None] = []
    with av.open(io.BytesIO(ps), format="mpeg") as c:
        st = c.streams.video[0]
        codec = st.codec_context.name
        first = None
        for pkt in c.demux(st):
            if pkt.size:
                frames.append([n for n in annexb_nals(bytes(pkt)) if n[0] & 0x1F not in (7, 8, 9)])
                if pkt.pts is not None:
                    first = pkt.pts if first is None else first
                times.append(None if pkt.pts is None or first is None else float((pkt.pts - first) * pkt.time_base))
    return frames, times, codec


def psm_stream_types(ps: bytes) -> list[int]:
    """stream_type of each program stream map in the PS, each checked against its CRC."""
    out = []
    pos = ps.find(b"\x00\x00\x01\xbc")
    while pos >= 0:
        n = int.from_bytes(ps[pos + 4:pos + 6], "big")
        psm = ps[pos:pos + 6 + n]
        assert crc32_mpeg2(psm) == 0, "PSM CRC"
        info = int.from_bytes(psm[8:10], "big")
        out.append(psm[12 + info])
        pos = ps.find(b"\x00\x00\x01\xbc", pos + 6 + n)
    return out


def encode_hevc_fmp4(sink: object, frames: int) -> None:
    """An H.265 fMP4 segment as the recorder would store one from an H.265 camera."""
    with av.open(sink, mode="w", format="mp4", options={"movflags": MOVFLAGS}) as out:
        vs = out.add_stream("libx265", rate=25)
        vs.width, vs.height, vs.pix_fmt = 160, 120, "yuv420p"
        vs.codec_context.options = {"x265-params": "log-level=none:keyint=25:min-keyint=25:scenecut=0:bframes=0",
                                    "preset": "ultrafast"}
        for i in range(frames):
            frame = av.VideoFrame.from_ndarray(np.full((120, 160, 3), i * 5 % 256, np.uint8), format="rgb24")
            frame.pts = i
            out.mux(vs.encode(frame))
        out.mux(vs.encode(None))


def _invite(tmp: Path, svc: Gb28181Service, session: str, rx: RtpReceiver, start_us: int, end_us: int,
            scenario: str = "invite.xml", tcp: bool = False, hold_ms: int = 3000, speed: str = "",
            channel: int = 1) -> None:
    assert svc.transport is not None
    r = uac(tmp, scenario, svc.transport.port, {
        "channel": channel_id(channel), "session": session, "rtp_ip": "127.0.0.1", "rtp_port": str(rx.port),
        "t_start": str(start_us // S), "t_end": str(end_us // S), "ssrc": "1100000001",
        "media_proto": "TCP/RTP/AVP" if tcp else "RTP/AVP", "setup": "a=setup:passive" if tcp else "",
        "speed": speed}, pause_ms=hold_ms)
    assert r.returncode == 0, r.stderr.decode(errors="replace")


@pytest.mark.parametrize("tcp", [False, True], ids=["udp", "tcp-device-connects"])
def test_download_sends_the_stored_packets_as_ps_over_rtp(make_service: Callable[..., Gb28181Service],
                                                          platform: Platform, store: SegmentStore,
                                                          tmp_path: Path, tcp: bool) -> None:
    svc = registered(make_service())
    rx = RtpReceiver(tcp=tcp)
    try:
        _invite(tmp_path, svc, "Download", rx, T0, T0 + 4 * S, tcp=tcp, hold_ms=2500, speed="a=downloadspeed:4")
        wait_for(lambda: platform.manscdp("MediaStatus", "Notify"), 10, what="MediaStatus 121")
    finally:
        rx.close()
    headers = rx.headers()
    assert headers and {h[0] for h in headers} == {96} and {h[3] for h in headers} == {1100000001}
    seqs = [h[1] for h in headers]
    assert seqs == list(range(seqs[0], seqs[0] + len(seqs)))
    frames, times, codec = received_frames(rx.ps_bytes())
    assert codec == "h264"
    expected, expected_times = _stored_frames(store, "cam1", T0, T0 + 4 * S)
    assert len(expected) == 100
    assert frames == expected, "the stored packets, copied: same NAL units, same order"
    # Timing: every PES time stamp the muxer wrote is the stored packet's time (4 s of video).
    # FFmpeg's muxer packs these tiny test frames several to a PES, so only some carry one.
    timed = [(t, e) for t, e in zip(times, expected_times, strict=True) if t is not None]
    assert len(timed) >= 5 and all(abs(t - e) < 0.002 for t, e in timed)
    assert max(t for t, _ in timed) > 3.0 and expected_times[-1] == pytest.approx(3.96)
    assert psm_stream_types(rx.ps_bytes()) == [0x1B] * 4, "a PSM naming H.264 before each of the 4 keyframes"
    entries = svc.sources.register.query(Query(actions=["gb28181_download"]))  # type: ignore[attr-defined]
    assert [e.result for e in entries] == ["ok", "ended"]
    assert entries[0].actor == f"gb28181:{SERVER_ID}" and entries[0].cameras == ["cam1"]
    assert (entries[0].range_start_us, entries[0].range_end_us) == (T0, T0 + 4 * S)
    assert entries[1].detail["frames"] == 100


def test_playback_is_refused_without_the_sites_approval(make_service: Callable[..., Gb28181Service],
                                                        tmp_path: Path) -> None:
    svc = registered(make_service(allow_playback=False))
    rx = RtpReceiver()
    try:
        _invite(tmp_path, svc, "Playback", rx, T0, T0 + 4 * S, scenario="invite_refused.xml")
        time.sleep(0.5)
    finally:
        rx.close()
    assert rx.packets == []
    entries = svc.sources.register.query(Query(actions=["gb28181_playback"]))  # type: ignore[attr-defined]
    assert [e.result for e in entries] == ["refused"]
    assert entries[0].detail["why"] == "allow_playback is off"


def test_catalog_subscription_notifies_status_changes(make_service: Callable[..., Gb28181Service],
                                                      platform: Platform, tmp_path: Path) -> None:
    cams = Cameras()
    svc = registered(make_service(cameras=cams))
    assert svc.transport is not None
    r = uac(tmp_path, "subscribe.xml", svc.transport.port, {"sn": "501", "notify_port": str(platform.port)})
    assert r.returncode == 0, r.stderr.decode(errors="replace")
    cams.set_online("cam2", True)
    note = wait_for(lambda: platform.manscdp("Catalog", "Notify"), 10, what="catalog NOTIFY")[0]
    items = list(note.iter("Item"))
    assert [(i.findtext("DeviceID"), i.findtext("Event"), i.findtext("Status")) for i in items] == \
        [(channel_id(2), "ON", "ON")]
    notify = platform.received("NOTIFY")[0]
    assert notify.header("Event") == "Catalog" and notify.header("Subscription-State").startswith("active")


def test_registers_again_after_three_missed_keepalives(make_service: Callable[..., Gb28181Service],
                                                       platform: Platform, tmp_path: Path) -> None:
    svc = registered(make_service(keepalive_seconds=0.3))
    platform.stop()
    wait_for(lambda: not svc.registrar.registered.is_set(), 30, what="the device noticing the platform is gone")
    again = Platform(tmp_path)
    again.port = platform.port
    again.log_path = tmp_path / "platform-again.log"
    again.start()
    try:
        registered(svc)
        assert len(again.received("REGISTER")) >= 2
    finally:
        again.stop()


def test_signalling_over_tcp(store: SegmentStore, tmp_path: Path) -> None:
    """REGISTER, keepalive and answers on the device's connection to the platform; a query on a
    connection the platform opens to the device's SIP port."""
    tcp_platform = Platform(tmp_path, transport="tcp").start()
    clock = SystemClock()
    cfg = Gb28181Config(enabled=True, password=PASSWORD, server_address="127.0.0.1", server_port=tcp_platform.port,
                        local_address="127.0.0.1", local_port=0, transport="tcp", keepalive_seconds=0.5)
    svc = Gb28181Service(cfg, Sources(Cameras(), store.index, store.layout.root, AlarmCenter(store.index, clock),
                                      AccessRegister(store.index, clock)), clock.now_us, tz=UTC)
    svc.start()
    try:
        registered(svc)
        assert tcp_platform.received("REGISTER")[0].header("Via").startswith("SIP/2.0/TCP")
        assert svc.transport is not None
        r = uac(tmp_path, "query.xml", svc.transport.port, {"cmd": "Catalog", "sn": "601", "target": DEVICE_ID,
                                                            "extra": ""}, transport="tcp")
        assert r.returncode == 0, r.stderr.decode(errors="replace")
        answers = with_sn(tcp_platform, "Catalog", 601)
        assert {i.findtext("DeviceID") for a in answers for i in a.iter("Item")} == {channel_id(n) for n in (1, 2, 3)}
        wait_for(lambda: tcp_platform.manscdp("Keepalive"), 10, what="a keepalive over TCP")
    finally:
        svc.stop()
        svc.join(10)
        tcp_platform.stop()


def test_h265_footage_is_sent_as_h265_ps(make_service: Callable[..., Gb28181Service], store: SegmentStore,
                                         tmp_path: Path) -> None:
    f = store.open_segment("cam2", T0)
    encode_hevc_fmp4(f, 50)
    store.commit("cam2", f, T0 + 2 * S, 50, StreamInfo("hevc", 160, 120))
    svc = registered(make_service())
    rx = RtpReceiver()
    try:
        _invite(tmp_path, svc, "Download", rx, T0, T0 + 2 * S, hold_ms=1500, speed="a=downloadspeed:4", channel=2)
    finally:
        rx.close()
    ps = rx.ps_bytes()
    with av.open(io.BytesIO(ps), format="mpeg") as c:
        assert c.streams.video[0].codec_context.name == "hevc"
        got = [[n for n in annexb_nals(bytes(p)) if (n[0] >> 1) & 0x3F not in HEVC_PARAMS]
               for p in c.demux() if p.size]
    with av.open(str(store.path_of(store.index.segments_in_range("cam2", T0, T0 + 2 * S)[0]))) as c:
        stored = [[n for n in avcc_nals(bytes(p)) if (n[0] >> 1) & 0x3F not in HEVC_PARAMS]
                  for p in c.demux() if p.size]
    assert len(stored) == 50 and got == stored
    assert psm_stream_types(ps) == [0x24] * 2, "a PSM naming H.265 before each keyframe"


def test_tcp_active_platform_connects_to_the_device(make_service: Callable[..., Gb28181Service],
                                                   store: SegmentStore, tmp_path: Path) -> None:
    """a=setup:active: the platform connects to the port in the device's SDP answer (RFC 4571)."""
    svc = registered(make_service())
    assert svc.transport is not None
    log = tmp_path / "uac-active.log"
    done: dict[str, object] = {}
    keys = {"channel": channel_id(1), "session": "Download", "rtp_ip": "127.0.0.1", "rtp_port": "9",
            "t_start": str(T0 // S), "t_end": str((T0 + 2 * S) // S), "ssrc": "1100000009",
            "media_proto": "TCP/RTP/AVP", "setup": "a=setup:active", "speed": "a=downloadspeed:4"}
    port = svc.transport.port
    caller = threading.Thread(target=lambda: done.update(r=uac(tmp_path, "invite.xml", port, keys, pause_ms=3000,
                                                                log_path=log)))
    caller.start()
    try:
        m = wait_for(lambda: re.search(r"SIP/2.0 200 OK.*?m=video (\d+) TCP/RTP/AVP", log.read_text(errors="replace"),
                                       re.S) if log.exists() else None, 10, what="the device's SDP answer")
        assert "a=setup:passive" in log.read_text(errors="replace")
        data = b""
        with socket.create_connection(("127.0.0.1", int(m.group(1))), timeout=10) as conn:
            while chunk := conn.recv(65_536):
                data += chunk
    finally:
        caller.join(30)
    r = done["r"]
    assert r.returncode == 0, r.stderr.decode(errors="replace")  # type: ignore[attr-defined]
    packets, pos = [], 0
    while pos + 2 <= len(data):
        n = struct.unpack("!H", data[pos:pos + 2])[0]
        packets.append(data[pos + 2:pos + 2 + n])
        pos += 2 + n
    assert pos == len(data) and packets
    assert {struct.unpack("!I", p[8:12])[0] for p in packets} == {1100000009}
    frames, _, codec = received_frames(b"".join(p[12:] for p in packets))
    expected, _ = _stored_frames(store, "cam1", T0, T0 + 2 * S)
    assert codec == "h264" and frames == expected and len(frames) == 50


def test_mansrtsp_info_changes_the_playback_speed(make_service: Callable[..., Gb28181Service],
                                                  tmp_path: Path) -> None:
    svc = registered(make_service())
    assert svc.transport is not None
    rx = RtpReceiver()
    log = tmp_path / "uac-scale.log"
    done: dict[str, object] = {}
    keys = {"channel": channel_id(1), "session": "Playback", "rtp_ip": "127.0.0.1", "rtp_port": str(rx.port),
            "t_start": str(T0 // S), "t_end": str((T0 + 4 * S) // S), "ssrc": "1100000010",
            "media_proto": "RTP/AVP", "setup": "", "speed": ""}
    port = svc.transport.port
    caller = threading.Thread(target=lambda: done.update(r=uac(tmp_path, "invite_scale.xml", port, keys,
                                                                pause_ms=1500, log_path=log)))
    caller.start()
    try:
        text = wait_for(lambda: (lambda t: t if re.search(r"CSeq: 3 INFO.*SIP/2.0 200 OK.*CSeq: 3 INFO", t, re.S)
                                 else None)(log.read_text(errors="replace") if log.exists() else ""), 10,
                        what="the INFO's 200")
        call_id = re.search(r"Call-ID: (\S+)", text).group(1)  # type: ignore[union-attr]
        session = svc.sessions.get(call_id)
        assert session is not None and session.speed.value == 4.0 and not session.speed.paused.is_set()
    finally:
        caller.join(30)
        rx.close()
    assert done["r"].returncode == 0  # type: ignore[attr-defined]
    assert rx.packets, "video was sent"


def test_invites_that_cannot_be_served_are_refused(make_service: Callable[..., Gb28181Service]) -> None:
    from edge.gb28181 import sip

    svc = registered(make_service(max_sessions=1))
    assert svc.transport is not None
    local = sip.Local(SERVER_ID, "127.0.0.1", 9, "UDP")
    offer = ("v=0\r\no=x 0 0 IN IP4 127.0.0.1\r\ns={s}\r\nc=IN IP4 127.0.0.1\r\nt={t}\r\n"
             "m=video 9 RTP/AVP 96\r\na=rtpmap:96 PS/90000\r\ny={y}\r\n")

    def invite(channel: str, session: str, t: str, y: str = "1100000001") -> int:
        req = sip.request("INVITE", f"sip:{channel}@3402000000", local, from_uri=f"sip:{SERVER_ID}@3402000000",
                          from_tag="p", to_uri=f"sip:{channel}@3402000000", call_id=sip.new_call_id("t"), cseq=1,
                          body=offer.format(s=session, t=t, y=y).encode(), content_type="APPLICATION/SDP")
        return int(_raw_request(svc.transport.port, req.to_bytes()).split(b" ", 2)[1])  # type: ignore[union-attr]

    assert invite("34020000001320000099", "Play", "0 0") == 404, "unknown channel"
    assert invite(channel_id(2), "Play", "0 0") == 480, "camera offline"
    assert invite(channel_id(3), "Playback", f"{T0 // S} {T0 // S + 4}") == 404, "nothing recorded"
    assert invite(channel_id(1), "Playback", f"{T0 // S} {T0 // S + 4}", y="ssrc") == 488, "bad y="
    assert invite(channel_id(1), "Download", f"{T0 // S} {T0 // S + 4}") == 200
    assert invite(channel_id(1), "Download", f"{T0 // S} {T0 // S + 4}") == 486, "max_sessions reached"
    assert svc.status()["media_sessions"] == 1 and svc.status()["registered"] is True
