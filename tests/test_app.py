"""The box as a process: an API that cannot listen is a failed start (systemd restarts it)."""

from __future__ import annotations

import socket
import subprocess
from pathlib import Path

from helpers import base_sections, camera, edge_cmd, write_config

from capture.sim.simulator import free_port


def test_an_api_that_cannot_bind_fails_the_start_with_the_reason(tmp_path: Path) -> None:
    port = free_port()
    with socket.socket() as taken:
        taken.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        taken.bind(("127.0.0.1", port))
        taken.listen(1)
        sections = base_sections(tmp_path / "store", port=port)
        cfg = write_config(tmp_path / "edge.toml", sections, [camera("gate-1", "rtsp://127.0.0.1:9/none")])
        res = subprocess.run(edge_cmd("run", "-c", str(cfg)), capture_output=True, text=True, timeout=60)
    assert res.returncode == 1, res.stderr
    assert "edge cannot run: the API could not listen on 127.0.0.1" in res.stderr
    assert "edge stopped" in res.stderr, "the workers that had started are stopped cleanly"
