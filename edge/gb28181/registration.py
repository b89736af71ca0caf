"""Registration and keepalive (GB/T 28181-2016 9.1 and 9.6): the device's side of the state machine.

REGISTER → 401 with a digest challenge → REGISTER with Authorization → 200 (Expires granted).
Re-register at 80% of the granted time; Keepalive MESSAGE every `keepalive_seconds`; after
`keepalive_misses` unanswered keepalives (or a refused refresh) the device registers anew;
failures back off up to a minute; at shutdown REGISTER with Expires: 0.
"""

from __future__ import annotations

import enum
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from edge.gb28181 import digest, sip
from edge.gb28181.config import Gb28181Config

log = logging.getLogger(__name__)


class RegState(enum.Enum):
    UNREGISTERED = "unregistered"
    REGISTERED = "registered"
    FAILED = "failed"


@dataclass
class Pending:
    event: threading.Event
    response: sip.Message | None = None


class Transactions:
    """Client transactions: send, retransmit over UDP (RFC 3261 timer A, capped), wait for the final
    response matched by Via branch and CSeq method."""

    def __init__(self, send: Callable[[bytes], None], reliable: bool, timeout: float = 8.0) -> None:
        self.send = send
        self.reliable = reliable
        self.timeout = timeout
        self._lock = threading.Lock()
        self._pending: dict[tuple[str, str], Pending] = {}

    def request(self, req: sip.Message, stop: threading.Event, timeout: float | None = None) -> sip.Message | None:
        key = (req.vias[0].branch, req.method)
        slot = Pending(threading.Event())
        with self._lock:
            self._pending[key] = slot
        data = req.to_bytes()
        now = time.monotonic()
        deadline = now + (timeout or self.timeout)
        interval = 0.5
        resend_at = now + interval
        try:
            self.send(data)
            # Short waits so a stop is noticed within 0.1 s even while a request is outstanding.
            while not stop.is_set():
                if slot.event.wait(0.1):
                    return slot.response
                now = time.monotonic()
                if now >= deadline:
                    return None
                if not self.reliable and now >= resend_at:
                    self.send(data)
                    interval = min(interval * 2, 4.0)
                    resend_at = now + interval
            return None
        finally:
            with self._lock:
                self._pending.pop(key, None)

    def on_response(self, resp: sip.Message) -> bool:
        key = (resp.vias[0].branch, resp.cseq[1])
        with self._lock:
            slot = self._pending.get(key)
        if slot is None or resp.code < 200:
            return slot is not None
        slot.response = resp
        slot.event.set()
        return True


class Registrar:
    """Keeps the device registered; `registered` is set while the platform accepts it."""

    def __init__(self, cfg: Gb28181Config, local: Callable[[], sip.Local], tx: Transactions,
                 stop: threading.Event) -> None:
        self.cfg = cfg
        self.local = local
        self.tx = tx
        self.stop = stop
        self.state = RegState.UNREGISTERED
        self.registered = threading.Event()
        self.call_id = ""
        self.cseq = 0
        self.from_tag = sip.new_tag()
        self.granted = cfg.expires
        self.registered_at = 0.0
        self.failures = 0

    @property
    def server_uri(self) -> str:
        return f"sip:{self.cfg.server_id}@{self.cfg.realm}"

    def _register_once(self, expires: int) -> sip.Message | None:
        loc = self.local()
        aor = f"sip:{self.cfg.device_id}@{self.cfg.realm}"
        auth: str | None = None
        seen_nonce = ""
        for _attempt in range(3):
            self.cseq += 1
            extra = [("Contact", f"<{loc.uri}>"), ("Expires", str(expires))]
            if auth:
                extra.append(("Authorization", auth))
            req = sip.request("REGISTER", self.server_uri, loc, from_uri=aor, from_tag=self.from_tag, to_uri=aor,
                              call_id=self.call_id, cseq=self.cseq, extra=extra)
            resp = self.tx.request(req, self.stop)
            if resp is None or resp.code != 401:
                return resp
            try:
                ch = digest.parse_challenge(resp.get("WWW-Authenticate"))
            except sip.SipError as exc:
                log.warning("gb28181: unusable challenge from the platform: %s", exc)
                return resp
            if ch.nonce == seen_nonce and not ch.stale:
                # The platform refused our answer to this very nonce: the password is wrong.
                return resp
            seen_nonce = ch.nonce
            if self.cfg.password_ha1 and ch.realm != self.cfg.realm:
                log.warning("gb28181: password_ha1 is for realm %s, the platform challenges in %s",
                            self.cfg.realm, ch.realm)
                return resp
            try:
                auth = digest.authorization(ch, self.cfg.device_id, self.cfg.password, "REGISTER", self.server_uri,
                                            ha1=self.cfg.password_ha1)
            except sip.SipError as exc:
                log.warning("gb28181: cannot answer the platform's challenge: %s", exc)
                return resp
        return None

    def register(self) -> bool:
        if not self.call_id:
            self.call_id = sip.new_call_id(self.local().host)
        resp = self._register_once(self.cfg.expires)
        if resp is not None and resp.code == 200:
            granted = resp.get("Expires")
            self.granted = int(granted) if granted.isdigit() and int(granted) > 0 else self.cfg.expires
            self.registered_at = time.monotonic()
            self.state = RegState.REGISTERED
            self.failures = 0
            if not self.registered.is_set():
                log.info("gb28181: registered with %s as %s (expires %d s)", self.cfg.server_id,
                         self.cfg.device_id, self.granted)
            self.registered.set()
            return True
        self.failures += 1
        self.state = RegState.FAILED
        self.registered.clear()
        what = "no answer" if resp is None else f"{resp.code} {resp.phrase}"
        log.warning("gb28181: registration with %s failed: %s", self.cfg.server_id, what)
        return False

    def refresh_due(self) -> bool:
        return self.state == RegState.REGISTERED and time.monotonic() - self.registered_at >= self.granted * 0.8

    def retry_delay(self) -> float:
        return float(min(60.0, 2.0 ** min(self.failures, 6)))

    def lost(self) -> None:
        """Keepalives went unanswered: register again with a fresh Call-ID (the platform forgot us)."""
        self.state = RegState.UNREGISTERED
        self.registered.clear()
        self.call_id = ""

    def unregister(self, stop: threading.Event) -> None:
        if self.state != RegState.REGISTERED:
            return
        saved = self.stop
        self.stop = stop
        try:
            resp = self._register_once(0)
            log.info("gb28181: unregistered (%s)", "no answer" if resp is None else resp.code)
        finally:
            self.stop = saved
            self.state = RegState.UNREGISTERED
            self.registered.clear()
