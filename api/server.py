"""The API's HTTP server: uvicorn (h11) with bounds a hostile site network cannot push past.

Each accepted connection holds a file descriptor, and capture and the store need theirs (a camera
that cannot open its day directory loses footage, Art. 19(7)). So:

- at most `max_connections` connections are open at once; one more is answered 503 and closed at
  once (the descriptor is freed before the next accept), never parked;
- a connection that has not sent a complete request head within `header_timeout_seconds` (at
  the start, or after its previous response) is closed: uvicorn alone waits forever for a half
  request, it only times out idle keep-alive connections;
- the listen backlog (which is also how many sockets asyncio accepts in one go) is small, so a
  burst of connections cannot take the descriptors before the cap refuses them;
- request heads are capped (h11's incomplete-event size) and idle keep-alive is short;
- forwarding headers (`X-Forwarded-For`) are believed only from `[api] trusted_proxies`: by
  default nobody, so the client address (throttle, register) is always the real TCP peer.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import TYPE_CHECKING, Any, ClassVar

import h11
import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol

if TYPE_CHECKING:
    from edge.config_sections import ApiConfig

log = logging.getLogger(__name__)

#: Largest request head (request line + headers) h11 buffers before answering 431/400.
MAX_HEAD_BYTES = 16 * 1024
#: Sent to a connection over the limit; small enough to fit any socket buffer, so close is prompt.
BUSY_RESPONSE = (b"HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nRetry-After: 5\r\n"
                 b"Content-Type: text/plain\r\nContent-Length: 32\r\n\r\ntoo many connections, retry later")


class GuardedH11Protocol(H11Protocol):
    """uvicorn's h11 protocol with a connection cap and a request-head deadline.

    The settings are class attributes because uvicorn builds protocols itself from a class;
    `guarded_protocol` makes one subclass per server."""

    max_connections: ClassVar[int] = 256
    header_timeout: ClassVar[float] = 10.0
    refused: ClassVar[int] = 0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._head_deadline: asyncio.TimerHandle | None = None
        self._over_limit = False

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        if len(self.connections) >= self.max_connections:
            # Not added to the server's connection set: it never reaches the app.
            self._over_limit = True
            self.transport = transport
            type(self).refused += 1
            log.warning("API connection refused: %d connections open (limit [api] max_connections)",
                        len(self.connections))
            transport.write(BUSY_RESPONSE)
            transport.close()
            return
        super().connection_made(transport)
        self._arm_head_deadline()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm_head_deadline()
        if self._over_limit:
            return
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._over_limit:
            return
        super().data_received(data)

    def eof_received(self) -> None:
        if self._over_limit:
            return
        super().eof_received()

    def handle_events(self) -> None:
        before = self.cycle
        super().handle_events()
        if self.cycle is not None and self.cycle is not before:
            # A complete request head arrived: the app's own pace applies from here.
            self._disarm_head_deadline()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing():
            # Waiting for the next request head: the same deadline as for the first one.
            self._arm_head_deadline()

    def _arm_head_deadline(self) -> None:
        self._disarm_head_deadline()
        self._head_deadline = self.loop.call_later(self.header_timeout, self._head_timed_out)

    def _disarm_head_deadline(self) -> None:
        if self._head_deadline is not None:
            self._head_deadline.cancel()
            self._head_deadline = None

    def _head_timed_out(self) -> None:
        self._head_deadline = None
        if self.transport.is_closing():
            return
        if self.cycle is not None and not self.cycle.response_complete:
            return  # a request is being served: not idle
        with contextlib.suppress(h11.LocalProtocolError):
            self.conn.send(h11.ConnectionClosed())
        # abort: drop at once, whatever a peer that never reads has left in the buffers.
        self.transport.abort()


def guarded_protocol(max_connections: int, header_timeout: float) -> type[GuardedH11Protocol]:
    return type("BoundedH11Protocol", (GuardedH11Protocol,),
                {"max_connections": max_connections, "header_timeout": header_timeout, "refused": 0})


def accept_burst(max_connections: int) -> int:
    """Connections accepted per event-loop wake-up (and the listen queue): small next to the cap."""
    return max(16, min(128, max_connections // 4))


def build_server(app: Any, api_cfg: ApiConfig, max_connections: int | None = None) -> uvicorn.Server:
    """The uvicorn server for `app` under `[api]`; `max_connections` overrides the configured cap
    (the daemon lowers it to what the open-file limit leaves after capture and the store)."""
    limit = max_connections if max_connections is not None else api_cfg.max_connections
    trusted = list(api_cfg.trusted_proxies)
    config = uvicorn.Config(
        app, host=api_cfg.host, port=api_cfg.port, log_config=None, access_log=False, lifespan="off",
        http=guarded_protocol(limit, api_cfg.header_timeout_seconds),
        # Requests in flight (tasks), beyond the connection cap above: 503, never a queue.
        limit_concurrency=limit + 1,
        # asyncio accepts up to `backlog` sockets per wake-up before any protocol sees them: a big
        # backlog lets one burst of a flood take every descriptor before the cap above can act.
        backlog=accept_burst(limit),
        timeout_keep_alive=api_cfg.keep_alive_seconds,
        h11_max_incomplete_event_size=MAX_HEAD_BYTES,
        proxy_headers=bool(trusted),
        forwarded_allow_ips=trusted if trusted else [],
        server_header=False,
    )
    return uvicorn.Server(config)
