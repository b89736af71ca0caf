"""End to end: a real daemon recording two simulator cameras joins SIPp's platform over GB/T 28181:
registers (digest checked by SIPp), lists its cameras, answers RecordInfo from its index, streams
live and recorded video as PS over RTP, and shrugs off malformed SIP while it records."""

from __future__ import annotations

import io
import json
import socket
import sqlite3
from collections.abc import Callable
from pathlib import Path

import av
import httpx
import pytest
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
    free_udp_port,
    uac,
)
from helpers import DaemonProcess, base_sections, camera, new_daemon, wait_for

from capture.sim.simulator import Simulator
from edge.gb28181.answers import SPAN_JOIN_US, gb_time


@pytest.fixture(autouse=True)
def _sipp_installed() -> None:
    # Fail, not skip: a CI without SIPp must not pass these silently.
    if SIPP is None:
        pytest.fail("sipp (Debian sip-tester) is not installed; `make test` installs it as root (scripts/sysdeps.sh)")
S = 1_000_000
PARAMS = {7, 8, 9}  # SPS, PPS, AUD: the Annex B rewrite repeats parameter sets before keyframes


def segments(root: Path, cam: str) -> list[sqlite3.Row]:
    with sqlite3.connect(f"file:{root / 'index.sqlite3'}?mode=ro", uri=True) as c:
        c.row_factory = sqlite3.Row
        return list(c.execute("SELECT * FROM segments WHERE camera=? AND state='stored' ORDER BY start_us", (cam,)))


def register_rows(root: Path, action: str) -> list[sqlite3.Row]:
    with sqlite3.connect(f"file:{root / 'index.sqlite3'}?mode=ro", uri=True) as c:
        c.row_factory = sqlite3.Row
        return list(c.execute("SELECT * FROM register WHERE action=? ORDER BY id", (action,)))


def stored_packets(root: Path, segs: list[sqlite3.Row]) -> list[tuple[int, bool, list[bytes]]]:
    """(wall time us, keyframe, NAL units without parameter sets) of each stored video packet."""
    out = []
    for seg in segs:
        with av.open(str(root / seg["path"])) as c:
            first = None
            for pkt in c.demux(c.streams.video[0]):
                if pkt.size and pkt.pts is not None:
                    first = pkt.pts if first is None else first
                    t = seg["start_us"] + int((pkt.pts - first) * pkt.time_base * S)
                    nals = [n for n in avcc_nals(bytes(pkt)) if n[0] & 0x1F not in PARAMS]
                    out.append((t, bool(pkt.is_keyframe), nals))
    return out


def demux_ps(ps: bytes) -> tuple[str, int, int, list[list[bytes]], int]:
    """codec, width, height, NAL units per packet, decoded frame count."""
    with av.open(io.BytesIO(ps), format="mpeg") as c:
        st = c.streams.video[0]
        nals = [[n for n in annexb_nals(bytes(p)) if n[0] & 0x1F not in PARAMS] for p in c.demux(st) if p.size]
    with av.open(io.BytesIO(ps), format="mpeg") as c:
        frames = list(c.decode(video=0))
        width, height = (frames[0].width, frames[0].height) if frames else (0, 0)
        return c.streams.video[0].codec_context.name, width, height, nals, len(frames)


def test_daemon_joins_the_platform(tmp_path: Path, clip: Callable[..., Path], simulator: Callable[..., Simulator],
                                   daemons: list[DaemonProcess]) -> None:
    platform = Platform(tmp_path).start()
    try:
        _run(tmp_path, clip, simulator, daemons, platform)
    finally:
        platform.stop()


def _run(tmp_path: Path, clip: Callable[..., Path], simulator: Callable[..., Simulator],
         daemons: list[DaemonProcess], platform: Platform) -> None:
    sim = simulator({"cam1": clip(seed=21)})
    sim2 = simulator({"cam2": clip(seed=22)})
    root = tmp_path / "store"
    sip_port = free_udp_port()
    gb = {"enabled": True, "password": PASSWORD, "server_address": "127.0.0.1", "server_port": platform.port,
          "local_address": "127.0.0.1", "local_port": sip_port, "keepalive_seconds": 1.0, "allow_playback": True}
    d = new_daemon(tmp_path, base_sections(root, segment_seconds=2.0, gb28181=gb),
                   [camera("gate-1", sim.url("cam1"), name="Gate 1", gb28181_channel_id=channel_id(1)),
                    camera("gate-2", sim2.url("cam2"), name="Gate 2", gb28181_channel_id=channel_id(2))])
    daemons.append(d)
    d.start()
    wait_for(lambda: platform.manscdp("Keepalive", "Notify"), 20, what="registration and a keepalive")
    assert platform.received("REGISTER")[-1].header("Authorization")
    wait_for(lambda: len(segments(root, "gate-1")) >= 3, 40, 0.2, "3 segments of gate-1")

    # Catalog: both cameras, online.
    r = uac(tmp_path, "query.xml", sip_port, {"cmd": "Catalog", "sn": "11", "target": DEVICE_ID, "extra": ""})
    assert r.returncode == 0, r.stderr.decode(errors="replace")
    cat = wait_for(lambda: [e for e in platform.manscdp("Catalog", "Response") if e.findtext("SN") == "11"], 10,
                   what="catalog")
    items = {i.findtext("DeviceID"): i for e in cat for i in e.iter("Item")}
    assert set(items) == {channel_id(1), channel_id(2)}
    assert {i.findtext("Status") for i in items.values()} == {"ON"}

    # RecordInfo over a closed past range equals the index.
    segs = segments(root, "gate-1")
    start_s, end_s = segs[0]["start_us"] // S - 3, segs[2]["end_us"] // S
    r = uac(tmp_path, "query.xml", sip_port, {
        "cmd": "RecordInfo", "sn": "12", "target": channel_id(1),
        "extra": f"<StartTime>{gb_time(start_s * S, None)}</StartTime><EndTime>{gb_time(end_s * S, None)}</EndTime>"})
    assert r.returncode == 0, r.stderr.decode(errors="replace")
    rec = wait_for(lambda: [e for e in platform.manscdp("RecordInfo", "Response") if e.findtext("SN") == "12"], 10,
                   what="record info")
    got = [(i.findtext("StartTime"), i.findtext("EndTime")) for e in rec for i in e.iter("Item")]
    spans: list[list[int]] = []
    for seg in segments(root, "gate-1"):
        s, e = max(seg["start_us"], start_s * S), min(seg["end_us"], end_s * S)
        if e <= s:
            continue
        if spans and s - spans[-1][1] <= SPAN_JOIN_US:
            spans[-1][1] = e
        else:
            spans.append([s, e])
    assert got == [(gb_time(s, None), gb_time(e, None)) for s, e in spans]

    # Malformed SIP while recording: a 400, and recording goes on.
    before = len(segments(root, "gate-2"))
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(5)
        sock.sendto(b"INVITE sip:x@3402000000 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:9;branch=z9hG4bKq\r\n"
                    b"From: <sip:" + SERVER_ID.encode() + b"@3402000000>;tag=1\r\nTo: <sip:x@y>\r\n"
                    b"Call-ID: junk\r\nCSeq: 1 BYE\r\nContent-Length: 0\r\n\r\n", ("127.0.0.1", sip_port))
        assert sock.recv(65_535).startswith(b"SIP/2.0 400 ")
        sock.sendto(b"\x00\xffgarbage\r\n\r\n", ("127.0.0.1", sip_port))

    # Live: the camera's H.264, copied, as PS over RTP.
    rx = RtpReceiver()
    try:
        r = uac(tmp_path, "invite.xml", sip_port, {
            "channel": channel_id(2), "session": "Play", "rtp_ip": "127.0.0.1", "rtp_port": str(rx.port),
            "t_start": "0", "t_end": "0", "ssrc": "0100000002", "media_proto": "RTP/AVP", "setup": "",
            "speed": ""}, pause_ms=4000)
        assert r.returncode == 0, r.stderr.decode(errors="replace")
    finally:
        rx.close()
    assert {h[3] for h in rx.headers()} == {100000002} and {h[0] for h in rx.headers()} == {96}
    codec, width, height, _, decoded = demux_ps(rx.ps_bytes())
    assert (codec, width, height) == ("h264", 320, 180)
    assert decoded >= 25, "at least a second of live video decodes"

    # Playback of a recorded range: the stored packets from the keyframe at or before the start.
    segs = segments(root, "gate-1")
    p_start, p_end = segs[0]["start_us"] // S + 1, segs[1]["end_us"] // S
    rx = RtpReceiver()
    try:
        r = uac(tmp_path, "invite.xml", sip_port, {
            "channel": channel_id(1), "session": "Playback", "rtp_ip": "127.0.0.1", "rtp_port": str(rx.port),
            "t_start": str(p_start), "t_end": str(p_end), "ssrc": "1100000003", "media_proto": "RTP/AVP",
            "setup": "", "speed": ""}, pause_ms=(p_end - p_start) * 1000 + 2500)
        assert r.returncode == 0, r.stderr.decode(errors="replace")
    finally:
        rx.close()
    codec, _, _, nals, decoded = demux_ps(rx.ps_bytes())
    stored = stored_packets(root, [s for s in segs if s["end_us"] > p_start * S and s["start_us"] < p_end * S])
    first = max(i for i, (t, key, _) in enumerate(stored) if key and t <= p_start * S)
    expected = [n for t, _, n in stored[first:] if t < p_end * S]
    assert codec == "h264" and nals == expected and decoded == len(expected)
    entries = register_rows(root, "gb28181_playback")
    assert [e["result"] for e in entries] == ["ok", "ended"]
    assert entries[0]["actor"] == f"gb28181:{SERVER_ID}" and json.loads(entries[0]["cameras"]) == ["gate-1"]
    assert (entries[0]["range_start_us"], entries[0]["range_end_us"]) == (p_start * S, p_end * S)
    live = register_rows(root, "gb28181_live")
    assert live and json.loads(live[0]["cameras"]) == ["gate-2"]

    wait_for(lambda: len(segments(root, "gate-2")) > before + 1, 20, 0.2, "recording going on")
    assert httpx.get(d.url + "/healthz").status_code == 200

    # Catalog subscription: gate-2's camera goes away, the platform is told OFF.
    r = uac(tmp_path, "subscribe.xml", sip_port, {"sn": "13", "notify_port": str(platform.port)})
    assert r.returncode == 0, r.stderr.decode(errors="replace")
    sim2.stop()
    note = wait_for(lambda: platform.manscdp("Catalog", "Notify"), 30, what="catalog NOTIFY for the lost camera")
    assert [(i.findtext("DeviceID"), i.findtext("Event")) for i in note[0].iter("Item")] == [(channel_id(2), "OFF")]
    # ...and once edge raises its `offline` alarm, an Alarm Notify: device alarm (2), video loss (1).
    alarm = wait_for(lambda: [a for a in platform.manscdp("Alarm", "Notify")
                              if a.findtext("DeviceID") == channel_id(2)], 30, what="the offline alarm as a Notify")[0]
    assert (alarm.findtext("AlarmMethod"), alarm.findtext("Info/AlarmType"), alarm.findtext("AlarmPriority")) == \
        ("2", "1", "2")
    rc, took = d.terminate()
    assert rc == 0, d.log()
    assert took < 5.0
    last = platform.received("REGISTER")[-1]
    assert last.header("Expires") == "0", "unregistered at shutdown"
