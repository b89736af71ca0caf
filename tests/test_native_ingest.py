"""The native ingest path against real servers: the same access units as PyAV's demuxer on the
simulator's streams, Digest/Basic auth, the handshake deadline, and the fallback of `auto`."""

from __future__ import annotations

import hashlib
import logging
import re
import socket
import threading
import time
from collections.abc import Callable, Iterator
from fractions import Fraction
from pathlib import Path

import av
import pytest
from helpers import camera, wait_for

from capture.native_source import NativeSource
from capture.paramsets import _avcc_units, nal_units
from capture.rtsp.auth import Credentials
from capture.rtsp.errors import RtspNotFound, RtspTimeout, RtspUnauthorized
from capture.sim.simulator import Simulator
from capture.worker import CaptureWorker
from edge.config import CameraConfig
from storage.clock import SystemClock
from storage.store import SegmentStore


class Overlap:
    """Both clients record until both have been receiving for `seconds`: under load one of them
    (PyAV probing the audio stream) can join seconds after the other, and a fixed window per client
    then leaves too short a common run to compare."""

    def __init__(self, seconds: float, cap: float = 40.0) -> None:
        self.seconds = seconds
        self.cap = time.monotonic() + cap
        self.first: dict[str, float] = {}
        self.lock = threading.Lock()

    def receiving(self, who: str) -> bool:
        """Notes `who` got a packet; False once both have received for `seconds` (or at the cap)."""
        now = time.monotonic()
        with self.lock:
            self.first.setdefault(who, now)
            both = len(self.first) == 2 and now > max(self.first.values()) + self.seconds
        return not both and now < self.cap


def collect_native(url: str, window: Overlap, audio: bool) -> tuple[list[tuple[tuple[bytes, ...], int]],
                                                                    list[tuple[bytes, int]]]:
    src = NativeSource(url, 5.0, audio=audio)
    src.connect()
    video: list[tuple[tuple[bytes, ...], int]] = []
    sound: list[tuple[bytes, int]] = []
    try:
        while window.receiving("native"):
            for au in src.read():
                ts = au.ts - src.origin(au)
                if au.stream == 0:
                    video.append((tuple(_avcc_units(bytes(au.data)) or ()), ts))  # length-prefixed
                else:
                    sound.append((bytes(au.data), ts))
    finally:
        src.close()
    return video, sound


def collect_pyav(url: str, window: Overlap, audio: bool, out: dict[str, list[tuple[object, int]]]) -> None:
    opts = {"rtsp_transport": "tcp", "analyzeduration": "0", "probesize": "32", "fflags": "nobuffer"}
    with av.open(url, options=opts) as c:
        streams = [c.streams.video[0]] + ([c.streams.audio[0]] if audio else [])
        for pkt in c.demux(streams):
            if not window.receiving("pyav"):
                break
            if not pkt.size or pkt.pts is None:
                continue
            assert pkt.time_base is not None
            tb = pkt.time_base
            if pkt.stream.type == "video":
                out["video"].append((tuple(nal_units(bytes(pkt))), int(pkt.pts * tb * 90000)))
            else:
                rate = pkt.stream.codec_context.sample_rate
                out["audio"].append((bytes(pkt), int(pkt.pts * tb * rate)))


def aligned(native: list[tuple[object, int]], pyav: list[tuple[object, int]]) -> int:
    """Compare the run both clients saw: same payloads in the same order, same timestamp steps.
    The clients joined at different times: the run starts where 8 payloads in a row agree (one
    payload can repeat: a steady tone encodes to identical AAC frames). Returns how many units
    were compared (each one equal in bytes and time)."""
    run = 8

    def match(i: int, j: int) -> bool:
        k = min(run, len(native) - i, len(pyav) - j)
        return k > 0 and all(native[i + x][0] == pyav[j + x][0] for x in range(k))

    start, j = next((i, j) for i in range(len(native)) for j in range(len(pyav)) if match(i, j))

    def by_time(offset: int) -> dict[int, object]:
        return {t + offset: p for p, t in pyav}

    offset = native[start][1] - pyav[j][1]
    theirs = by_time(offset)
    # Matched by time from there on, so a unit lost by either client under load (the server drops
    # for a slow TCP reader) costs one comparison, not the run. Within one tick: FFmpeg derives
    # its timestamps from RTCP sender reports' NTP times (av_rescale, which rounds); the native
    # path keeps the RTP time itself. With two streams FFmpeg also REBASES its timestamps at the
    # first sender report of each (rtpdec.c, to sync them): then the offset is found again on a
    # run of 8 equal payloads, at most once per stream.
    compared = rebases = 0
    i = start
    while i < len(native):
        payload, t = native[i]
        other = next((theirs[u] for u in (t, t - 1, t + 1) if u in theirs), None)
        if other == payload:
            compared += 1
            i += 1
            continue
        hit = next((jj for jj in range(len(pyav)) if match(i, jj) and min(run, len(native) - i) == run), None)
        if hit is not None and abs(t - pyav[hit][1] - offset) > 1 and rebases < 2:
            rebases += 1
            offset = t - pyav[hit][1]
            theirs = by_time(offset)
            continue
        i += 1  # lost by PyAV's client (or the tail of the window)
    return compared


@pytest.mark.parametrize("audio", [False, True])
def test_same_access_units_as_pyav(audio: bool, clip: Callable[..., Path],
                                   simulator: Callable[..., Simulator]) -> None:
    sim = simulator({"cam": clip(seed=3)}, audio={"cam": "aac"} if audio else None)
    url = sim.url("cam")
    got: dict[str, list[tuple[object, int]]] = {"video": [], "audio": []}
    window = Overlap(4.0)
    t = threading.Thread(target=collect_pyav, args=(url, window, audio, got))
    t.start()
    video, sound = collect_native(url, window, audio)
    t.join(30)
    assert aligned(list(video), got["video"]) >= 50  # two seconds of frames at least
    keys = [nals for nals, _ in video if any(u[0] & 0x1F == 5 for u in nals)]
    assert keys and all({u[0] & 0x1F for u in k} >= {7, 8, 5} for k in keys), "SPS/PPS stay in keyframes"
    if audio:
        assert aligned(list(sound), got["audio"]) >= 20


# -- a scripted RTSP server for the handshake: auth and deadlines ---------------------------------
class ScriptedServer:
    """Answers DESCRIBE with a 401 Digest (or Basic) challenge, then checks the answer with its own
    RFC 2617 computation and replies 404 (so a passed check is visible as RtspNotFound)."""

    def __init__(self, scheme: str = "digest", stall: bool = False) -> None:
        self.scheme = scheme
        self.stall = stall
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.seen: list[str] = []
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._client, args=(conn,), daemon=True).start()

    def _client(self, conn: socket.socket) -> None:
        buf = b""
        with conn:
            while True:
                try:
                    data = conn.recv(4096)
                except OSError:
                    return
                if not data:
                    return
                if self.stall:
                    continue
                buf += data
                while b"\r\n\r\n" in buf:
                    head, buf = buf.split(b"\r\n\r\n", 1)
                    conn.sendall(self._answer(head.decode()))

    def _answer(self, head: str) -> bytes:
        self.seen.append(head)
        lines = head.split("\r\n")
        method, uri, _ = lines[0].split(" ")
        cseq = next(line.split(":", 1)[1].strip() for line in lines if line.lower().startswith("cseq"))
        auth = next((line.split(":", 1)[1].strip() for line in lines if line.lower().startswith("authorization")),
                    None)
        if method == "OPTIONS":
            return f"RTSP/1.0 200 OK\r\nCSeq: {cseq}\r\nPublic: DESCRIBE, SETUP, PLAY\r\n\r\n".encode()
        if auth is None or not self._valid(method, uri, auth):
            challenge = ('Digest realm="cam", nonce="abc123", qop="auth"' if self.scheme == "digest"
                         else 'Basic realm="cam"')
            return f"RTSP/1.0 401 Unauthorized\r\nCSeq: {cseq}\r\nWWW-Authenticate: {challenge}\r\n\r\n".encode()
        return f"RTSP/1.0 404 Not Found\r\nCSeq: {cseq}\r\n\r\n".encode()

    def _valid(self, method: str, uri: str, auth: str) -> bool:
        if self.scheme == "basic":
            return auth == "Basic YWRtaW46czNjcmV0"  # admin:s3cret
        p = dict(re.findall(r'(\w+)="?([^",]*)"?', auth))

        def md5(s: str) -> str:
            return hashlib.md5(s.encode()).hexdigest()

        ha1, ha2 = md5("admin:cam:s3cret"), md5(f"{method}:{uri}")
        want = md5(f"{ha1}:abc123:{p.get('nc')}:{p.get('cnonce')}:auth:{ha2}")
        return p.get("uri") == uri and p.get("response") == want

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def scripted() -> Iterator[Callable[..., ScriptedServer]]:
    made: list[ScriptedServer] = []

    def make(**kw: object) -> ScriptedServer:
        s = ScriptedServer(**kw)  # type: ignore[arg-type]
        made.append(s)
        return s

    yield make
    for s in made:
        s.close()


@pytest.mark.parametrize("scheme", ["digest", "basic"])
def test_auth_answers_the_challenge(scheme: str, scripted: Callable[..., ScriptedServer]) -> None:
    srv = scripted(scheme=scheme)
    src = NativeSource(f"rtsp://admin:s3cret@127.0.0.1:{srv.port}/cam", 3.0)
    with pytest.raises(RtspNotFound):  # past the auth check
        src.connect()
    src.close()
    assert all("s3cret" not in h for h in srv.seen), "the password never goes on the wire in clear"
    bad = NativeSource(f"rtsp://admin:wrong@127.0.0.1:{srv.port}/cam", 3.0)
    with pytest.raises(RtspUnauthorized):
        bad.connect()
    bad.close()


def test_digest_matches_rfc2617_example(monkeypatch: pytest.MonkeyPatch) -> None:
    c = Credentials("Mufasa", "Circle Of Life")
    c.accept(['Digest realm="testrealm@host.com", qop="auth,auth-int", '
              'nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", opaque="5ccc069c403ebaf9f0171e9517f40e41"'])
    monkeypatch.setattr("capture.rtsp.auth.os.urandom", lambda n: bytes.fromhex("0a4f113b"))
    header = c.header("GET", "/dir/index.html")
    assert header is not None and 'response="6629fae49393a05397450978507c4ef1"' in header


def test_handshake_deadline_holds_against_a_silent_server(scripted: Callable[..., ScriptedServer]) -> None:
    srv = scripted(stall=True)
    src = NativeSource(f"rtsp://127.0.0.1:{srv.port}/cam", 5.0, handshake_timeout=1.0)
    t0 = time.monotonic()
    with pytest.raises(RtspTimeout):
        src.connect()
    assert time.monotonic() - t0 < 3.0
    src.close()


def test_auto_falls_back_to_pyav_with_one_log_line(tmp_path: Path, clip: Callable[..., Path],
                                                   simulator: Callable[..., Simulator],
                                                   caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="capture")
    sim = simulator({"cam": clip(seed=4)})
    store = SegmentStore(tmp_path / "store", SystemClock())
    cam = CameraConfig.model_validate(camera("cam", sim.url("cam")))
    w = CaptureWorker(cam, store, 2.0, SystemClock())
    # What the native path refuses (here: a forced "unsupported" from its source) goes to PyAV.
    import capture.native_source as ns
    from capture.rtsp.errors import Unsupported

    def refuse(self: ns.NativeSource) -> None:
        raise Unsupported("test: a stream the native path does not handle")

    original = ns.NativeSource.connect
    ns.NativeSource.connect = refuse  # type: ignore[method-assign,assignment]
    try:
        w.start()
        wait_for(lambda: len(list(store.index.chain_of("cam"))) >= 2, 30, 0.1, "segments via PyAV")
    finally:
        w.stop()
        assert w.join(5)
        ns.NativeSource.connect = original  # type: ignore[method-assign]
        store.close()
    assert w.status.ingest == "pyav"
    lines = [r.getMessage() for r in caplog.records if "using PyAV" in r.getMessage()]
    assert len(lines) == 1


@pytest.mark.parametrize("writer", ["python", "pyav"])
def test_native_segments_carry_rtp_time(writer: str, tmp_path: Path, clip: Callable[..., Path],
                                        simulator: Callable[..., Simulator]) -> None:
    """Both segment writers (the own fMP4 writer and PyAV's muxer, its fallback)."""
    sim = simulator({"cam": clip(seed=5)})
    store = SegmentStore(tmp_path / "store", SystemClock())
    cam = CameraConfig.model_validate(camera("cam", sim.url("cam"), ingest="native", native_writer=writer))
    w = CaptureWorker(cam, store, 2.0, SystemClock())
    w.start()
    try:
        wait_for(lambda: len(list(store.index.chain_of("cam"))) >= 2, 30, 0.1, "native segments")
    finally:
        w.stop()
        assert w.join(5)
    segs = list(store.index.chain_of("cam"))
    store.close()
    assert w.status.ingest == "native" and w.status.rtp_lost == 0
    for seg in segs:
        with av.open(str(tmp_path / "store" / seg.path)) as c:
            pkts = [p for p in c.demux(video=0) if p.size]
            tb = c.streams.video[0].time_base
        assert pkts[0].is_keyframe and pkts[0].pts == 0
        steps = {int((b.pts - a.pts) * tb * 90000) for a, b in zip(pkts, pkts[1:], strict=False)}
        assert steps == {3600}, "25 fps RTP time, no repair"
        assert tb == Fraction(1, 90000)
