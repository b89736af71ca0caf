"""Catalog subscriptions (GB/T 28181-2016 9.11): SUBSCRIBE with `Event: Catalog`; the device then
sends NOTIFY in that dialog with the channels whose status changed (`<Event>ON|OFF</Event>`).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

from edge.gb28181 import sip
from edge.gb28181.interfaces import Channel


@dataclass
class Subscription:
    call_id: str
    remote_uri: str      # the platform's From URI
    remote_tag: str
    local_uri: str       # our To URI
    local_tag: str
    target: str          # where NOTIFY goes (the SUBSCRIBE's Contact, else the From URI)
    expires_at: float
    cseq: int = 0


class Subscriptions:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._subs: dict[str, Subscription] = {}
        self._online: dict[str, bool] | None = None

    def subscribe(self, req: sip.Message, expires: int, channels: list[Channel]) -> str:
        with self._lock:
            existing = self._subs.get(req.call_id)
            if expires == 0:
                self._subs.pop(req.call_id, None)
                return existing.local_tag if existing else sip.new_tag()
            contact = req.get("Contact")
            target = str(sip.NameAddr.parse(contact).uri) if contact else str(req.from_.uri)
            tag = existing.local_tag if existing else (req.to.tag or sip.new_tag())
            self._subs[req.call_id] = Subscription(req.call_id, str(req.from_.uri), req.from_.tag, str(req.to.uri),
                                                   tag, target, time.monotonic() + expires,
                                                   existing.cseq if existing else 0)
            if self._online is None:
                self._online = {c.channel_id: c.online for c in channels}
            return tag

    def active(self) -> list[Subscription]:
        now = time.monotonic()
        with self._lock:
            for k in [k for k, s in self._subs.items() if s.expires_at <= now]:
                del self._subs[k]
            return list(self._subs.values())

    def changes(self, channels: list[Channel]) -> list[tuple[Channel, str]]:
        """Channels whose online state changed since the last call: (channel, "ON" | "OFF")."""
        with self._lock:
            if not self._subs:
                self._online = None
                return []
            before = self._online or {}
            self._online = {c.channel_id: c.online for c in channels}
        return [(c, "ON" if c.online else "OFF") for c in channels
                if c.channel_id in before and before[c.channel_id] != c.online]

    def notify_request(self, sub: object, local: sip.Local, body: bytes) -> sip.Message | None:
        assert isinstance(sub, Subscription)
        with self._lock:
            if sub.call_id not in self._subs:
                return None
            sub.cseq += 1
            left = max(0, int(sub.expires_at - time.monotonic()))
            cseq = sub.cseq
        return sip.request("NOTIFY", sub.target, local, from_uri=sub.local_uri, from_tag=sub.local_tag,
                           to_uri=sub.remote_uri, to_tag=sub.remote_tag, call_id=sub.call_id, cseq=cseq, body=body,
                           content_type="Application/MANSCDP+xml",
                           extra=[("Event", "Catalog"), ("Subscription-State", f"active;expires={left}"),
                                  ("Contact", f"<{local.uri}>")])
