"""INVITE/ACK/BYE media sessions: live (`s=Play`) and recorded (`s=Playback`, `s=Download`).

A recorded session needs `[gb28181] allow_playback` (the site's approval of the link, Art. 16) and
is written to the access register with the platform as the party, at start and at end, refused
ones too. Each session runs on its own thread; a failing session (camera gone, peer gone, bad
file) ends itself and never touches recording.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from edge.gb28181 import media, sdp, sip
from edge.gb28181.config import Gb28181Config
from edge.gb28181.interfaces import Channel, Sources
from edge.gb28181.rtp import RtpSink, TcpSink, UdpSink

log = logging.getLogger(__name__)

FINISHED_KEEP_SECONDS = 60.0
ACTIONS = {"Play": "gb28181_live", "Playback": "gb28181_playback", "Download": "gb28181_download"}


@dataclass
class Session:
    call_id: str
    offer: sdp.Offer
    channel: Channel
    sink: RtpSink
    to_tag: str
    invite: sip.Message
    stop: threading.Event = field(default_factory=threading.Event)
    acked: threading.Event = field(default_factory=threading.Event)
    speed: media.Speed = field(default_factory=lambda: media.Speed(1.0))
    thread: threading.Thread | None = None
    frames: int = 0
    error: str = ""
    #: The recorded segments of the range, looked up when the INVITE came (not on the session thread).
    segments: list[Any] = field(default_factory=list)
    #: monotonic time the media ended; the dialog stays until BYE (or FINISHED_KEEP_SECONDS).
    finished: float | None = None


class Refused(Exception):
    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


class SessionManager:
    def __init__(self, cfg: Gb28181Config, sources: Sources, actor: Any, media_host: Callable[[], str],
                 on_finished: Callable[[Session], None]) -> None:
        self.cfg = cfg
        self.sources = sources
        self.actor = actor
        self.media_host = media_host
        self.on_finished = on_finished
        self._lock = threading.Lock()
        self._sessions: dict[str, Session] = {}

    def count(self) -> int:
        with self._lock:
            now = time.monotonic()
            for k in [k for k, s in self._sessions.items()
                      if s.finished is not None and now - s.finished > FINISHED_KEEP_SECONDS]:
                del self._sessions[k]
            return sum(1 for s in self._sessions.values() if s.finished is None)

    def get(self, call_id: str) -> Session | None:
        with self._lock:
            return self._sessions.get(call_id)

    def _audit(self, offer: sdp.Offer, channel: Channel | None, result: str, detail: dict[str, Any],
               start_us: int | None = None, end_us: int | None = None) -> None:
        self.sources.register.append(
            self.actor, ACTIONS[offer.session], result=result,
            cameras=[channel.camera_id] if channel else [], range_start_us=start_us, range_end_us=end_us,
            purpose="GB/T 28181 platform link (Art. 16)", recipient={"name": self.cfg.server_id, "unit": "platform"},
            subject=detail.get("call_id", ""), detail=detail)

    def invite(self, req: sip.Message, channels: list[Channel]) -> tuple[Session, bytes]:
        """Validate, audit and set up a session; returns it and the SDP answer. Raises Refused."""
        offer = sdp.parse_offer(req.body)
        target = sip.Uri.parse(req.uri).user or offer.channel_in_u
        channel = next((c for c in channels if c.channel_id == target and c.enabled), None)
        recorded = offer.session != "Play"
        start_us, end_us = (offer.start_s * 1_000_000, offer.end_s * 1_000_000) if recorded else (None, None)
        detail = {"call_id": req.call_id, "session": offer.session, "channel": target,
                  "media": f"{'tcp' if offer.tcp else 'udp'}:{offer.address}:{offer.port}", "ssrc": offer.ssrc}
        if channel is None:
            raise Refused(404, "no such channel")
        if recorded and not self.cfg.allow_playback:
            self._audit(offer, channel, "refused", {**detail, "why": "allow_playback is off"}, start_us, end_us)
            raise Refused(403, "playback not allowed on this site")
        if self.count() >= self.cfg.max_sessions:
            raise Refused(486, "Busy Here")
        segments: list[Any] = []
        if recorded:
            assert start_us is not None and end_us is not None
            segments = self.sources.index.segments_in_range(channel.camera_id, start_us, end_us)
            if not segments:
                self._audit(offer, channel, "refused", {**detail, "why": "nothing recorded"}, start_us, end_us)
                raise Refused(404, "nothing recorded in that range")
        elif not channel.online:
            raise Refused(480, "camera offline")
        host = self.media_host()
        sink: RtpSink
        if offer.tcp:
            sink = TcpSink((offer.address, offer.port) if offer.setup == "passive" else None)
        else:
            sink = UdpSink((offer.address, offer.port))
        session = Session(req.call_id, offer, channel, sink, sip.new_tag(), req, segments=segments)
        session.speed.value = offer.speed if offer.session == "Download" else 1.0
        with self._lock:
            if req.call_id in self._sessions:
                sink.close()
                raise Refused(482, "session exists")
            self._sessions[req.call_id] = session
        self._audit(offer, channel, "ok", detail, start_us, end_us)
        port = sink.port if not offer.tcp or offer.setup == "active" else 9
        body = sdp.answer(offer, self.cfg.device_id, host, port)
        session.thread = threading.Thread(target=self._run, args=(session,), name=f"gb28181-media-{target}",
                                          daemon=True)
        session.thread.start()
        return session, body

    def ack(self, call_id: str) -> None:
        s = self.get(call_id)
        if s is not None:
            s.acked.set()

    def bye(self, call_id: str) -> bool:
        with self._lock:
            s = self._sessions.pop(call_id, None)
        if s is None:
            return False
        s.stop.set()
        s.acked.set()
        return True

    def control(self, call_id: str, body: bytes) -> bool:
        """MANSRTSP in INFO (2016 Annex B): PLAY with Scale, PAUSE."""
        s = self.get(call_id)
        if s is None:
            return False
        text = body.decode("utf-8", "replace")
        first = text.split(None, 1)[0].upper() if text.strip() else ""
        if first == "PAUSE":
            s.speed.paused.set()
        elif first == "PLAY":
            for line in text.splitlines():
                name, _, value = line.partition(":")
                if name.strip().lower() == "scale":
                    try:
                        s.speed.set(float(value))
                    except ValueError:
                        raise sip.SipError("bad Scale") from None
            s.speed.paused.clear()
        else:
            raise sip.SipError("MANSRTSP method must be PLAY or PAUSE")
        return True

    def _run(self, s: Session) -> None:
        stop = s.stop
        close: Callable[[], None] | None = None
        try:
            if not s.acked.wait(10.0) or stop.is_set():
                s.error = "no ACK"
                return
            if isinstance(s.sink, TcpSink):
                s.sink.open(10.0)
            if s.offer.session == "Play":
                template, frames, close = media.live_frames(s.channel.url, stop)
                s.frames = media.stream(template, frames, s.sink, int(s.offer.ssrc), stop, None, paced=False)
            else:
                tmpl, rec = media.recorded_frames(s.segments, self.sources.storage_root,
                                                  s.offer.start_s * 1_000_000, s.offer.end_s * 1_000_000, stop)
                if tmpl is None:
                    s.error = "nothing recorded"
                    return
                s.frames = media.stream(tmpl, rec, s.sink, int(s.offer.ssrc), stop, s.speed)
        except Exception as exc:  # a camera, a file or a peer failing ends this session only
            s.error = f"{type(exc).__name__}: {exc}"
            log.warning("gb28181: media session %s (%s %s) ended: %s", s.call_id, s.offer.session,
                        s.channel.camera_id, s.error)
        finally:
            if close is not None:
                try:
                    close()
                except Exception:
                    log.debug("closing the live source failed", exc_info=True)
            s.sink.close()
            s.finished = time.monotonic()
            if s.offer.session != "Play" or s.frames:
                self._audit(s.offer, s.channel, "ended" if not s.error else "failed",
                            {"call_id": s.call_id, "frames": s.frames, "error": s.error, "by_bye": stop.is_set()},
                            s.offer.start_s * 1_000_000 if s.offer.session != "Play" else None,
                            s.offer.end_s * 1_000_000 if s.offer.session != "Play" else None)
            self.on_finished(s)

    def stop_all(self, timeout: float) -> None:
        with self._lock:
            sessions = list(self._sessions.values())
        for s in sessions:
            s.stop.set()
            s.acked.set()
        for s in sessions:
            if s.thread is not None and timeout > 0:
                s.thread.join(timeout)
