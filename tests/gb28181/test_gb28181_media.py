"""GB/T 28181 media against SIPp playing the platform: INVITE for recorded video, MPEG-PS over RTP
(UDP, TCP both ways), reassembled and demuxed here and compared with the stored packets; H.265;
MANSRTSP speed; refusals."""


from __future__ import annotations

import io
import re
import socket
import struct
import threading
import time
from collections.abc import Callable
from pathlib import Path

import av
import pytest
from gb28181_fixtures import (
    HEVC_PARAMS,
    T0,
    S,
    encode_hevc_fmp4,
    invite,
    psm_stream_types,
    raw_request,
    received_frames,
    registered,
    stored_frames,
)
from gb28181_helpers import (
    SERVER_ID,
    Platform,
    RtpReceiver,
    annexb_nals,
    avcc_nals,
    channel_id,
    uac,
)
from helpers import wait_for

from edge.gb28181.service import Gb28181Service
from storage.register import Query
from storage.store import SegmentStore, StreamInfo


#: VPS, SPS, PPS, AUD and the header SEI: the hvcC arrays the Annex B rewrite puts before keyframes.
@pytest.mark.parametrize("tcp", [False, True], ids=["udp", "tcp-device-connects"])
def test_download_sends_the_stored_packets_as_ps_over_rtp(make_service: Callable[..., Gb28181Service],
                                                          platform: Platform, store: SegmentStore,
                                                          tmp_path: Path, tcp: bool) -> None:
    svc = registered(make_service())
    rx = RtpReceiver(tcp=tcp)
    try:
        invite(tmp_path, svc, "Download", rx, T0, T0 + 4 * S, tcp=tcp, hold_ms=2500, speed="a=downloadspeed:4")
        wait_for(lambda: platform.manscdp("MediaStatus", "Notify"), 10, what="MediaStatus 121")
    finally:
        rx.close()
    headers = rx.headers()
    assert headers and {h[0] for h in headers} == {96} and {h[3] for h in headers} == {1100000001}
    seqs = [h[1] for h in headers]
    assert seqs == list(range(seqs[0], seqs[0] + len(seqs)))
    frames, times, codec = received_frames(rx.ps_bytes())
    assert codec == "h264"
    expected, expected_times = stored_frames(store, "cam1", T0, T0 + 4 * S)
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
        invite(tmp_path, svc, "Playback", rx, T0, T0 + 4 * S, scenario="invite_refused.xml")
        time.sleep(0.5)
    finally:
        rx.close()
    assert rx.packets == []
    entries = svc.sources.register.query(Query(actions=["gb28181_playback"]))  # type: ignore[attr-defined]
    assert [e.result for e in entries] == ["refused"]
    assert entries[0].detail["why"] == "allow_playback is off"



def test_h265_footage_is_sent_as_h265_ps(make_service: Callable[..., Gb28181Service], store: SegmentStore,
                                         tmp_path: Path) -> None:
    f = store.open_segment("cam2", T0)
    encode_hevc_fmp4(f, 50)
    store.commit("cam2", f, T0 + 2 * S, 50, StreamInfo("hevc", 160, 120))
    svc = registered(make_service())
    rx = RtpReceiver()
    try:
        invite(tmp_path, svc, "Download", rx, T0, T0 + 2 * S, hold_ms=1500, speed="a=downloadspeed:4", channel=2)
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
    expected, _ = stored_frames(store, "cam1", T0, T0 + 2 * S)
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

    def ask(channel: str, session: str, t: str, y: str = "1100000001") -> int:
        req = sip.request("INVITE", f"sip:{channel}@3402000000", local, from_uri=f"sip:{SERVER_ID}@3402000000",
                          from_tag="p", to_uri=f"sip:{channel}@3402000000", call_id=sip.new_call_id("t"), cseq=1,
                          body=offer.format(s=session, t=t, y=y).encode(), content_type="APPLICATION/SDP")
        return int(raw_request(svc.transport.port, req.to_bytes()).split(b" ", 2)[1])  # type: ignore[union-attr]

    assert ask("34020000001320000099", "Play", "0 0") == 404, "unknown channel"
    assert ask(channel_id(2), "Play", "0 0") == 480, "camera offline"
    assert ask(channel_id(3), "Playback", f"{T0 // S} {T0 // S + 4}") == 404, "nothing recorded"
    assert ask(channel_id(1), "Playback", f"{T0 // S} {T0 // S + 4}", y="ssrc") == 488, "bad y="
    assert ask(channel_id(1), "Download", f"{T0 // S} {T0 // S + 4}") == 200
    assert ask(channel_id(1), "Download", f"{T0 // S} {T0 // S + 4}") == 486, "max_sessions reached"
    assert svc.status()["media_sessions"] == 1 and svc.status()["registered"] is True

