"""Helpers of the GB/T 28181 SIPp tests (their fixtures are in tests/gb28181/conftest.py): the
cameras, waiting for registration, queries, and comparing what the device sent with the store."""


from __future__ import annotations

import io
import socket
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import av
import numpy as np
from gb28181_helpers import (
    DEVICE_ID,
    Platform,
    RtpReceiver,
    annexb_nals,
    avcc_nals,
    channel_id,
    uac,
)
from helpers import wait_for

from capture.segmenter import MOVFLAGS
from edge.gb28181.interfaces import Channel
from edge.gb28181.media import crc32_mpeg2
from edge.gb28181.service import Gb28181Service
from storage.layout import datetime_to_us
from storage.store import SegmentStore

#: VPS, SPS, PPS, AUD and the header SEI: the hvcC arrays the Annex B rewrite puts before keyframes.
HEVC_PARAMS = {32, 33, 34, 35, 39}


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



def raw_request(port: int, data: bytes) -> bytes:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(5)
        s.sendto(data, ("127.0.0.1", port))
        return s.recv(65_535)

def stored_frames(store: SegmentStore, camera: str, start_us: int,
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


def invite(tmp: Path, svc: Gb28181Service, session: str, rx: RtpReceiver, start_us: int, end_us: int,
            scenario: str = "invite.xml", tcp: bool = False, hold_ms: int = 3000, speed: str = "",
            channel: int = 1) -> None:
    assert svc.transport is not None
    r = uac(tmp, scenario, svc.transport.port, {
        "channel": channel_id(channel), "session": session, "rtp_ip": "127.0.0.1", "rtp_port": str(rx.port),
        "t_start": str(start_us // S), "t_end": str(end_us // S), "ssrc": "1100000001",
        "media_proto": "TCP/RTP/AVP" if tcp else "RTP/AVP", "setup": "a=setup:passive" if tcp else "",
        "speed": speed}, pause_ms=hold_ms)
    assert r.returncode == 0, r.stderr.decode(errors="replace")


