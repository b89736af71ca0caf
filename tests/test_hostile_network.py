"""The API port under attack: a connection flood, forged forwarding headers, anonymous floods,
oversized bodies. Recording goes on, the API recovers, the register stays readable."""

from __future__ import annotations

import contextlib
import json
import os
import resource
import select
import socket
import sqlite3
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from access_fixtures import add_users, register_rows
from helpers import ROOT, DaemonProcess, base_sections, camera, edge_cmd, new_daemon, wait_for

from capture.sim.simulator import Simulator, free_port

#: The issue's figures: 1 100 half-open connections held for 40 s against systemd's default limit.
FLOOD_CONNECTIONS = 1100
FLOOD_SECONDS = float(os.environ.get("EDGE_FLOOD_SECONDS", "40"))
NOFILE = 1024
HALF_REQUEST = b"GET /healthz HTTP/1.1\r\nHost: x\r\n"


class LimitedDaemon(DaemonProcess):
    """The daemon under an open-file limit of 1024, soft and hard (so raising the soft one cannot help)."""

    def start(self, timeout: float = 30.0) -> DaemonProcess:
        def limit() -> None:
            resource.setrlimit(resource.RLIMIT_NOFILE, (NOFILE, NOFILE))

        with open(self.log_path, "ab") as logf:
            self.proc = subprocess.Popen(edge_cmd("--log-level", "info", "run", "-c", str(self.config)),
                                         stdout=logf, stderr=logf, cwd=ROOT, start_new_session=True,
                                         preexec_fn=limit)
        wait_for(self.healthy, timeout, 0.1, "the daemon's /healthz")
        return self


def segments(root: Path, cam: str) -> list[sqlite3.Row]:
    con = sqlite3.connect(f"file:{root / 'index.sqlite3'}?mode=ro", uri=True)
    con.row_factory = sqlite3.Row
    try:
        return list(con.execute("SELECT * FROM segments WHERE camera=? ORDER BY seq", (cam,)))
    finally:
        con.close()


def gap_rows(root: Path, cam: str, since_us: int) -> list[sqlite3.Row]:
    con = sqlite3.connect(f"file:{root / 'index.sqlite3'}?mode=ro", uri=True)
    con.row_factory = sqlite3.Row
    try:
        return list(con.execute("SELECT * FROM gaps WHERE camera=? AND coalesce(end_us, 9e18) > ?", (cam, since_us)))
    finally:
        con.close()


def half_open(port: int) -> socket.socket | None:
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(2.0)
    try:
        s.connect(("127.0.0.1", port))
        s.sendall(HALF_REQUEST)
    except OSError:
        s.close()
        return None
    s.setblocking(False)
    return s


def answers(url: str, timeout: float = 2.0) -> bool:
    try:
        return httpx.get(url + "/healthz", timeout=timeout).status_code == 200
    except httpx.HTTPError:
        return False


def test_connection_flood_never_stops_recording_and_the_api_recovers(
        tmp_path: Path, clip: Callable[..., Path], simulator: Callable[..., Simulator],
        daemons: list[DaemonProcess]) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard < FLOOD_CONNECTIONS + 200:
        pytest.skip(f"the test process needs {FLOOD_CONNECTIONS + 200} descriptors (hard limit {hard})")
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, FLOOD_CONNECTIONS + 200), hard))
    sim = simulator({"cam": clip(seed=11)})
    root = tmp_path / "store"
    port = free_port()
    from helpers import write_config

    cfg = write_config(tmp_path / "edge.toml", base_sections(root, port=port, segment_seconds=2.0,
                                                             api={"header_timeout_seconds": 5.0}),
                       [camera("gate-1", sim.url("cam"))])
    d = LimitedDaemon(cfg, port, tmp_path / "edge.log")
    daemons.append(d)
    d.start()
    wait_for(lambda: len(segments(root, "gate-1")) >= 2, 30, 0.2, "two segments before the flood")
    assert d.proc is not None
    limits = Path(f"/proc/{d.proc.pid}/limits").read_text()
    assert any(line.startswith("Max open files") and f"{NOFILE}" in line for line in limits.splitlines())

    flood_start_us = int(time.time() * 1e6)
    socks: list[socket.socket | None] = [half_open(port) for _ in range(FLOOD_CONNECTIONS)]
    t_end = time.monotonic() + FLOOD_SECONDS
    reopened, answered, polls, max_fds = 0, 0, 0, 0
    while time.monotonic() < t_end:
        # Hold every connection: any the box closed is opened again with another half request.
        live = [s for s in socks if s is not None]
        readable, _, _ = select.select(live, [], [], 0) if len(live) < 1000 else ([], [], [])
        if len(live) >= 1000:
            poller = select.poll()
            for s in live:
                poller.register(s, select.POLLIN | select.POLLHUP | select.POLLERR)
            fds = {ev[0] for ev in poller.poll(0)}
            readable = [s for s in live if s.fileno() in fds]
        for i, s in enumerate(socks):
            if s is None or s in readable:
                if s is not None:
                    s.close()
                socks[i] = half_open(port)
                reopened += 1
        polls += 1
        answered += answers(d.url, 1.0)
        max_fds = max(max_fds, len(os.listdir(f"/proc/{d.proc.pid}/fd")))
        time.sleep(1.0)
    flood_end_us = int(time.time() * 1e6)
    for s in socks:
        if s is not None:
            s.close()
    closed_at = time.monotonic()
    wait_for(lambda: answers(d.url), 5.0, 0.05, "/healthz within 5 s of the flood ending")
    recovered_s = time.monotonic() - closed_at
    # Recording on either side of the flood: let one more segment close, then stop.
    n = len(segments(root, "gate-1"))
    wait_for(lambda: len(segments(root, "gate-1")) > n, 20, 0.2, "a segment after the flood")
    rc, _ = d.terminate()
    assert rc == 0, d.log()[-3000:]

    segs = [s for s in segments(root, "gate-1") if s["end_us"] > flood_start_us - 2_000_000
            and s["start_us"] < flood_end_us + 2_000_000]
    holes_us = sum(max(0, b["start_us"] - a["end_us"]) for a, b in zip(segs, segs[1:], strict=False))
    log = d.log()
    figures = {"connections": FLOOD_CONNECTIONS, "flood_seconds": FLOOD_SECONDS, "reopened": reopened,
               "healthz_answered_during_flood": f"{answered}/{polls}", "max_daemon_fds": max_fds,
               "gap_seconds": holes_us / 1e6, "recovered_seconds": round(recovered_s, 3),
               "log_bytes": len(log.encode())}
    print("FLOOD " + json.dumps(figures))
    assert gap_rows(root, "gate-1", flood_start_us) == [], "no gap opened during the flood"
    assert holes_us < 200_000, figures
    assert "Too many open files" not in log
    assert max_fds < NOFILE - 200, "descriptors stayed reserved for capture and the store"
    assert len(log.encode()) < 200_000, "repeated log lines are rate-limited"


def test_forwarded_for_is_ignored_unless_the_proxy_is_trusted(tmp_path: Path, daemons: list[DaemonProcess]) -> None:
    root = tmp_path / "store"
    d = new_daemon(tmp_path, base_sections(root, access={"auth_failures_per_minute": 5,
                                                         "refusal_window_seconds": 1.0}),
                   [camera("gate-1", f"rtsp://127.0.0.1:{free_port()}/none")])
    daemons.append(d)
    tokens = add_users(d.config, {"officer-1": ("officer", "PSB-1001")})
    d.start()
    url = d.url + "/api/v1/exports"
    t0 = time.monotonic()
    codes = [httpx.get(url, headers={"Authorization": f"Bearer edge_guess{i}", "X-Forwarded-For": f"10.9.{i}.1"},
                       timeout=10).status_code for i in range(60)]
    assert codes[:5] == [401] * 5 and set(codes[5:]) == {429}, "rotating X-Forwarded-For does not reset the throttle"
    # Nobody can lock out a chosen address: 10.9.0.1 was never the peer, it is not throttled.
    ok = httpx.get(url, headers={"Authorization": f"Bearer {tokens['officer-1']}", "X-Forwarded-For": "10.9.0.1"})
    assert ok.status_code == 429, "the throttle is on the real peer (127.0.0.1), whatever the header says"
    # 60 guesses and the throttled valid token: counted in aggregated entries, all under the real peer.
    wait_for(lambda: refusal_count(root) == 61, 10, 0.2, "all 61 refusals counted")
    rows = register_rows(root, "WHERE action='auth_failure'")
    assert {r["source"] for r in rows} == {"127.0.0.1"}, "no forged address in the register"
    assert len(rows) <= (time.monotonic() - t0) / 1.0 + 2, "one entry per source and second, not a row per request"


def refusal_count(root: Path) -> int:
    return sum(int(json.loads(r["detail"])["count"]) for r in register_rows(root, "WHERE action='auth_failure'"))


def echo_client_app() -> Callable[..., object]:
    async def app(scope: dict[str, object], receive: Callable[..., object], send: Callable[..., object]) -> None:
        client = scope.get("client")
        body = json.dumps({"client": client[0] if isinstance(client, tuple) else None}).encode()
        await send({"type": "http.response.start", "status": 200,  # type: ignore[operator]
                    "headers": [(b"content-type", b"application/json")]})
        await send({"type": "http.response.body", "body": body})  # type: ignore[operator]
    return app


@pytest.mark.parametrize("trusted, seen", [([], "127.0.0.1"), (["127.0.0.1"], "10.9.8.7"),
                                           (["10.0.0.0/8"], "127.0.0.1")])
def test_build_server_believes_forwarding_headers_only_from_trusted_proxies(trusted: list[str], seen: str) -> None:
    from api.server import build_server
    from edge.config_sections import ApiConfig

    port = free_port()
    server = build_server(echo_client_app(), ApiConfig(host="127.0.0.1", port=port, trusted_proxies=trusted))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        wait_for(lambda: server.started, 10, 0.05, "the server")
        r = httpx.get(f"http://127.0.0.1:{port}/", headers={"X-Forwarded-For": "10.9.8.7"}, timeout=5)
        assert r.json()["client"] == seen
    finally:
        server.should_exit = True
        thread.join(10)


def test_trusted_proxies_must_be_addresses_or_networks() -> None:
    from edge.config import ConfigError, parse_config

    with pytest.raises(ConfigError) as err:
        parse_config({"api": {"trusted_proxies": ["*"]}})
    assert "api.trusted_proxies" in str(err.value) and "not an IP address or network" in str(err.value)


def test_the_unit_raises_the_open_file_limit_and_the_api_keeps_within_what_is_left() -> None:
    from edge.app.fdlimit import RESERVE_BASE, RESERVE_PER_CAMERA, api_connection_cap

    unit = (ROOT / "systemd" / "edge.service").read_text()
    limit = [line.split("=", 1)[1] for line in unit.splitlines() if line.startswith("LimitNOFILE=")]
    assert limit and int(limit[0]) >= 4096
    assert api_connection_cap(256, 4, nofile=65536) == 256
    cap = api_connection_cap(256, 20, nofile=1024)
    assert cap + RESERVE_BASE + RESERVE_PER_CAMERA * 20 < 1024 and cap < 256, "capture keeps its reserve"


def run_echo_server(cfg: object, max_connections: int | None = None) -> tuple[object, threading.Thread, int]:
    from api.server import build_server

    server = build_server(echo_client_app(), cfg, max_connections)  # type: ignore[arg-type]
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    wait_for(lambda: server.started, 10, 0.05, "the server")
    return server, thread, int(server.config.port)


def test_half_requests_are_closed_after_the_head_timeout_and_extra_connections_refused() -> None:
    from edge.config_sections import ApiConfig

    port = free_port()
    server, thread, _ = run_echo_server(ApiConfig(host="127.0.0.1", port=port, header_timeout_seconds=1.0), 8)
    held: list[socket.socket] = []
    try:
        held = [s for s in (half_open(port) for _ in range(8)) if s is not None]
        assert len(held) == 8
        time.sleep(0.3)
        extra = socket.create_connection(("127.0.0.1", port), timeout=5)
        extra.settimeout(5)
        assert extra.recv(4096).startswith(b"HTTP/1.1 503"), "over the cap: answered 503 at once"
        extra.close()
        t0 = time.monotonic()
        for s in held:
            s.setblocking(True)
            s.settimeout(5)
            with contextlib.suppress(ConnectionResetError):  # closed by abort(): a reset, or EOF
                assert s.recv(4096) == b"", "the half request was closed"
        assert time.monotonic() - t0 < 4.0
        assert httpx.get(f"http://127.0.0.1:{port}/", timeout=5).status_code == 200, "room again"
        # A head that does not fit in 16 KiB of buffer is refused, not buffered without end.
        big = socket.create_connection(("127.0.0.1", port), timeout=5)
        with contextlib.suppress(OSError):
            big.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"x" * 1_000_000)
        assert big.recv(4096).startswith(b"HTTP/1.1 4"), "refused with a 4xx"
        big.close()
    finally:
        for s in held:
            s.close()
        server.should_exit = True  # type: ignore[attr-defined]
        thread.join(10)
