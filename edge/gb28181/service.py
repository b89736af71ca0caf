"""The GB/T 28181 service: start/stop/join like the capture workers; the daemon starts it when
`[gb28181] enabled = true`.

Threads: the transport's receiver (parses, answers 4xx to what it cannot accept, dispatches),
the main loop (registration, keepalive, alarm and catalog-change notifications), a small pool for
query answers (they wait for the platform's 200s), and one thread per media session. Requests
are accepted only from the configured platform (From user = server id): deny by default.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import tzinfo

from edge.gb28181 import answers, manscdp, sip
from edge.gb28181.config import Gb28181Config
from edge.gb28181.interfaces import Channel, Sources
from edge.gb28181.queries import QueryAnswers
from edge.gb28181.registration import Registrar, Transactions
from edge.gb28181.sessions import Refused, Session, SessionManager
from edge.gb28181.subscriptions import Subscriptions
from edge.gb28181.transport import Addr, TcpTransport, UdpTransport, local_ip_towards
from storage.register import Actor

log = logging.getLogger(__name__)

MANSCDP = "Application/MANSCDP+xml"
QUERIES = frozenset({"Catalog", "DeviceInfo", "DeviceStatus", "RecordInfo"})
#: Query answers waiting to be sent; past this a query gets 503 instead of queueing without bound.
MAX_PENDING_ANSWERS = 32


class Gb28181Service:
    name = "gb28181"

    def __init__(self, cfg: Gb28181Config, sources: Sources, now_us: Callable[[], int],
                 tz: tzinfo | None = None, firmware: str = "edge") -> None:
        self.cfg = cfg
        self.sources = sources
        self.now_us = now_us
        self.identity = answers.DeviceIdentity(cfg.device_id, "edge", cfg.manufacturer, cfg.model, firmware,
                                               cfg.civil, tz)
        self.actor = Actor(f"gb28181:{cfg.server_id}", "platform", cfg.server_id, f"{cfg.server_address}")
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="gb28181-answer")
        self._sn = int(time.time()) % 100_000
        self._sn_lock = threading.Lock()
        self._answered: OrderedDict[tuple[str, str, str], bytes] = OrderedDict()
        self._answered_lock = threading.Lock()
        self.transport: UdpTransport | TcpTransport | None = None
        self.host = cfg.contact_address or local_ip_towards(cfg.server_address, cfg.server_port)
        self.tx = Transactions(self._send_to_platform, reliable=cfg.transport == "tcp")
        self.registrar = Registrar(cfg, self.local, self.tx, self._stop)
        self.sessions = SessionManager(cfg, sources, self.actor, lambda: cfg.media_address or self.host,
                                       self._session_finished)
        self.subscriptions = Subscriptions()
        self.queries = QueryAnswers(cfg, self.identity, sources, now_us, self._channels, self._message)
        self._pending_answers = 0
        self._next_keepalive = 0.0
        #: (code, camera) of the alarms already sent as Notify.
        self._known_alarms: set[tuple[str, str | None]] = set()
        self.keepalives_sent = 0
        self.keepalive_misses = 0
        self.rejected = 0

    # -- lifecycle --------------------------------------------------------------------------------
    def start(self) -> None:
        bind = (self.cfg.local_address, self.cfg.local_port)
        server = (self.cfg.server_address, self.cfg.server_port)
        self.transport = TcpTransport(bind, server, self._on_data) if self.cfg.transport == "tcp" \
            else UdpTransport(bind, self._on_data)
        self.transport.start()
        self._thread = threading.Thread(target=self._run, name="gb28181", daemon=True)
        self._thread.start()
        log.info("gb28181: device %s on %s:%d/%s, platform %s at %s:%d", self.cfg.device_id, self.host,
                 self.transport.port, self.cfg.transport, self.cfg.server_id, *server)

    def stop(self) -> None:
        self._stop.set()

    def join(self, timeout: float | None = None) -> bool:
        if self._thread is None:
            return True
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def status(self) -> dict[str, object]:
        """For the status document and metrics (the lead wires it): the link as the platform sees it."""
        return {"registered": self.registrar.registered.is_set(), "state": self.registrar.state.value,
                "server_id": self.cfg.server_id, "device_id": self.cfg.device_id, "transport": self.cfg.transport,
                "keepalives_sent": self.keepalives_sent, "keepalive_misses": self.keepalive_misses,
                "media_sessions": self.sessions.count(), "rejected_messages": self.rejected,
                "catalog_subscriptions": len(self.subscriptions.active())}

    def local(self) -> sip.Local:
        port = self.transport.port if self.transport is not None else self.cfg.local_port
        return sip.Local(self.cfg.device_id, self.host, port, self.cfg.transport.upper())

    def _next_sn(self) -> int:
        with self._sn_lock:
            self._sn += 1
            return self._sn

    # -- sending ----------------------------------------------------------------------------------
    def _send_to_platform(self, data: bytes) -> None:
        if self.transport is not None:
            self.transport.send(data, (self.cfg.server_address, self.cfg.server_port))

    def _message(self, body: bytes, timeout: float | None = None) -> sip.Message | None:
        """A MANSCDP MESSAGE to the platform; its final response or None."""
        loc = self.local()
        req = sip.request("MESSAGE", f"sip:{self.cfg.server_id}@{self.cfg.realm}", loc,
                          from_uri=f"sip:{self.cfg.device_id}@{self.cfg.realm}", from_tag=sip.new_tag(),
                          to_uri=f"sip:{self.cfg.server_id}@{self.cfg.realm}", call_id=sip.new_call_id(loc.host),
                          cseq=1, body=body, content_type=MANSCDP)
        return self.tx.request(req, self._stop, timeout)

    # -- main loop --------------------------------------------------------------------------------
    def _run(self) -> None:
        try:
            while not self._stop.is_set():
                try:
                    self._step()
                except Exception:
                    # Like the periodic services: report, wait a little, go on; the link must not
                    # die silently because one poll failed.
                    log.exception("gb28181: main loop step failed")
                    self._stop.wait(1.0)
        finally:
            self._shutdown()

    def _step(self) -> None:
        if not self.registrar.registered.is_set():
            if isinstance(self.transport, TcpTransport):
                self.transport.connected.wait(5.0)
            if not self.registrar.register():
                self._stop.wait(self.registrar.retry_delay())
                return
            self._next_keepalive = time.monotonic()
        elif self.registrar.refresh_due() and not self.registrar.register():
            return
        if time.monotonic() >= self._next_keepalive:
            self._next_keepalive = time.monotonic() + self.cfg.keepalive_seconds
            self._keepalive()
        self._known_alarms = self._poll_alarms(self._known_alarms)
        self._poll_catalog()
        self._stop.wait(0.2)

    def _keepalive(self) -> None:
        status_ok = not any(a.camera is None for a in self.sources.alarms.active(box_only=True))
        resp = self._message(answers.keepalive(self.identity, self._next_sn(), status_ok),
                             timeout=min(8.0, max(1.0, self.cfg.keepalive_seconds)))
        self.keepalives_sent += 1
        if resp is not None and resp.code < 300:
            self.keepalive_misses = 0
            return
        self.keepalive_misses += 1
        log.warning("gb28181: keepalive %s (%d in a row)", "refused" if resp else "unanswered",
                    self.keepalive_misses)
        if self.keepalive_misses >= self.cfg.keepalive_misses or (resp is not None and resp.code in (401, 403, 404)):
            log.warning("gb28181: platform lost; ending its media sessions and registering again")
            self.keepalive_misses = 0
            self.registrar.lost()
            # Nobody sends BYE for a live view of a platform that is gone: end them here.
            self.sessions.stop_all(0.0)

    def _poll_alarms(self, known: set[tuple[str, str | None]]) -> set[tuple[str, str | None]]:
        """Alarms raised since the last poll (all active ones after registering) go out as Notify."""
        active = self.sources.alarms.active()
        by_camera = {c.camera_id: c.channel_id for c in self._channels()}
        for a in active:
            if (a.code, a.camera) not in known:
                channel = by_camera.get(a.camera) if a.camera else None
                self._pool.submit(self._message, answers.alarm_notify(self.identity, self._next_sn(), a, channel))
        return {(a.code, a.camera) for a in active}

    def _poll_catalog(self) -> None:
        changes = self.subscriptions.changes(self._channels())
        if changes:
            for sub in self.subscriptions.active():
                self._pool.submit(self._notify_catalog, sub, changes)

    def _notify_catalog(self, sub: object, changes: list[tuple[Channel, str]]) -> None:
        events = {c.channel_id: ev for c, ev in changes}
        bodies = answers.catalog(self.identity, self._next_sn(), [c for c, _ in changes],
                                 self.cfg.max_items_per_message, root="Notify", events=events)
        for body in bodies:
            req = self.subscriptions.notify_request(sub, self.local(), body)
            if req is not None:
                self.tx.request(req, self._stop)

    def _shutdown(self) -> None:
        self.sessions.stop_all(1.0)
        quick = threading.Event()
        timer = threading.Timer(1.5, quick.set)
        timer.start()
        try:
            self.registrar.unregister(quick)
        finally:
            timer.cancel()
            self._pool.shutdown(wait=False, cancel_futures=True)
            if self.transport is not None:
                self.transport.close()
        log.info("gb28181: stopped")

    def _channels(self) -> list[Channel]:
        return [c for c in self.sources.cameras.channels() if c.enabled]

    # -- receiving --------------------------------------------------------------------------------
    def _reply(self, data: bytes, addr: Addr) -> None:
        if self.transport is not None:
            self.transport.send(data, addr)

    def _on_data(self, data: bytes, addr: Addr) -> None:
        try:
            msg = sip.parse(data)
        except sip.SipError as exc:
            self.rejected += 1
            log.info("gb28181: rejected message from %s:%d: %s", addr[0], addr[1], exc.reason)
            raw = _raw_error_response(data, exc.status, exc.reason)
            if raw is not None:
                self._reply(raw, addr)
            return
        if not msg.is_request:
            self.tx.on_response(msg)
            return
        try:
            self._on_request(msg, addr)
        except Exception:
            log.exception("gb28181: handling %s failed", msg.method)
            self._respond(msg, addr, 500, "Server Internal Error")

    def _respond(self, req: sip.Message, addr: Addr, code: int, phrase: str, **kw: object) -> None:
        resp = sip.response(req, code, phrase, **kw)  # type: ignore[arg-type]
        data = resp.to_bytes()
        if req.method != "ACK":
            key = (req.call_id, req.get("CSeq"), req.vias[0].branch)
            with self._answered_lock:
                self._answered[key] = data
                while len(self._answered) > 256:
                    self._answered.popitem(last=False)
        self._reply(data, addr)

    def _on_request(self, req: sip.Message, addr: Addr) -> None:
        key = (req.call_id, req.get("CSeq"), req.vias[0].branch)
        with self._answered_lock:
            cached = self._answered.get(key)
        if cached is not None:
            # A retransmission: answer the same again, do not act twice.
            self._reply(cached, addr)
            return
        if req.method == "ACK":
            self.sessions.ack(req.call_id)
            return
        if req.from_.uri.user != self.cfg.server_id:
            self.rejected += 1
            self._respond(req, addr, 403, "Forbidden")
            return
        handler = {"MESSAGE": self._on_manscdp, "INVITE": self._on_invite, "BYE": self._on_bye,
                   "CANCEL": self._on_cancel, "INFO": self._on_info, "SUBSCRIBE": self._on_subscribe,
                   "OPTIONS": self._on_options, "NOTIFY": self._on_options}.get(req.method)
        if handler is None:
            self._respond(req, addr, 405, "Method Not Allowed")
            return
        handler(req, addr)

    def _on_options(self, req: sip.Message, addr: Addr) -> None:
        self._respond(req, addr, 200, "OK")

    def _on_manscdp(self, req: sip.Message, addr: Addr) -> None:
        if req.content_type != MANSCDP.lower():
            self._respond(req, addr, 415, "Unsupported Media Type")
            return
        try:
            cmd = manscdp.parse(req.body)
        except manscdp.XmlError as exc:
            self.rejected += 1
            log.info("gb28181: bad MANSCDP from the platform: %s", exc)
            self._respond(req, addr, 400, "Bad Request")
            return
        if cmd.root == "Query" and cmd.cmd_type in QUERIES:
            with self._sn_lock:
                busy = self._pending_answers >= MAX_PENDING_ANSWERS
                if not busy:
                    self._pending_answers += 1
            if busy:
                self._respond(req, addr, 503, "Service Unavailable", extra=[("Retry-After", "5")])
                return
            if cmd.cmd_type == "RecordInfo":
                try:
                    rng = self.queries.record_range(cmd)
                except ValueError as exc:
                    log.info("gb28181: bad RecordInfo query: %s", exc)
                    self._answered_one(lambda: None)
                    self._respond(req, addr, 400, "Bad Request")
                    return
                self._respond(req, addr, 200, "OK")
                self._pool.submit(self._answered_one, self.queries.answer_record_info, cmd, *rng)
                return
            self._respond(req, addr, 200, "OK")
            self._pool.submit(self._answered_one, self.queries.answer, cmd)
            return
        self._respond(req, addr, 200, "OK")
        if cmd.root == "Control":
            # Deny by default: no remote reboot, PTZ, or recording stop (Art. 19: recording is kept
            # going by the site, not by whoever is linked to it); the platform is told so.
            log.warning("gb28181: platform sent %s; refused (edge accepts no remote control)", cmd.cmd_type)
            body = manscdp.serialize(manscdp.document("Response", cmd.cmd_type, cmd.sn, cmd.device_id or
                                                      self.cfg.device_id, {"Result": "ERROR"}), cmd.encoding)
            self._pool.submit(self._message, body)
            return
        log.info("gb28181: %s %s not supported; acknowledged and ignored", cmd.root, cmd.cmd_type)

    def _answered_one(self, fn: Callable[..., None], *args: object) -> None:
        try:
            fn(*args)
        except Exception:
            log.exception("gb28181: answering a query failed")
        finally:
            with self._sn_lock:
                self._pending_answers -= 1

    def _on_invite(self, req: sip.Message, addr: Addr) -> None:
        if req.to.tag:
            # Re-INVITE inside a session: keep the session, repeat the answer.
            self._respond(req, addr, 488, "Not Acceptable Here")
            return
        try:
            session, body = self.sessions.invite(req, self._channels())
        except Refused as r:
            self._respond(req, addr, r.status, r.reason)
            return
        except sip.SipError as exc:
            self._respond(req, addr, exc.status, exc.reason)
            return
        loc = self.local()
        self._respond(req, addr, 200, "OK", to_tag=session.to_tag, body=body, content_type="APPLICATION/SDP",
                      extra=[("Contact", f"<sip:{self.cfg.device_id}@{loc.host}:{loc.port}>")])

    def _on_bye(self, req: sip.Message, addr: Addr) -> None:
        found = self.sessions.bye(req.call_id)
        self._respond(req, addr, 200 if found else 481, "OK" if found else "Call/Transaction Does Not Exist")

    def _on_cancel(self, req: sip.Message, addr: Addr) -> None:
        found = self.sessions.bye(req.call_id)
        self._respond(req, addr, 200 if found else 481, "OK" if found else "Call/Transaction Does Not Exist")

    def _on_info(self, req: sip.Message, addr: Addr) -> None:
        try:
            found = self.sessions.control(req.call_id, req.body)
        except sip.SipError as exc:
            self._respond(req, addr, 400, exc.reason)
            return
        self._respond(req, addr, 200 if found else 481, "OK" if found else "Call/Transaction Does Not Exist")

    def _on_subscribe(self, req: sip.Message, addr: Addr) -> None:
        if req.get("Event").split(";")[0].strip().lower() != "catalog":
            self._respond(req, addr, 489, "Bad Event")
            return
        expires = req.get("Expires")
        granted = min(int(expires), 3600) if expires.isdigit() else 3600
        tag = self.subscriptions.subscribe(req, granted, self._channels())
        self._respond(req, addr, 200, "OK", to_tag=tag, extra=[("Expires", str(granted))])

    def _session_finished(self, s: Session) -> None:
        if s.offer.session == "Play" or s.stop.is_set() or self._stop.is_set():
            return
        # Recorded range played to its end: MediaStatus 121 (2016 9.8.3) so the platform sends BYE.
        body = manscdp.serialize(manscdp.document("Notify", "MediaStatus", self._next_sn(), self.cfg.device_id,
                                                  {"NotifyType": 121}))
        self._pool.submit(self._message, body)


def _raw_error_response(data: bytes, status: int, reason: str) -> bytes | None:
    """A 4xx for a request too broken to parse, built from its raw headers when they are there."""
    head = data.split(b"\r\n\r\n", 1)[0]
    try:
        lines = head.decode("utf-8").split("\r\n")
    except UnicodeDecodeError:
        return None
    if not lines or lines[0].startswith("SIP/2.0") or " SIP/2.0" not in lines[0] or lines[0].startswith("ACK "):
        return None
    keep = {"via", "v", "from", "f", "to", "t", "call-id", "i", "cseq"}
    copied = [ln for ln in lines[1:] if ln.split(":", 1)[0].strip().lower() in keep and ":" in ln]
    names = {ln.split(":", 1)[0].strip().lower() for ln in copied}
    if not ({"via", "v"} & names) or any(ch in "".join(copied) for ch in "\r\n\x00"):
        return None
    phrase = reason.replace("\r", " ").replace("\n", " ")[:100] or "Bad Request"
    out = [f"SIP/2.0 {status} {phrase}", *copied, "Content-Length: 0"]
    return ("\r\n".join(out) + "\r\n\r\n").encode("utf-8")

