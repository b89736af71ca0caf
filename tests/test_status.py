"""Status API, metrics, readiness and `edge status` over real HTTP against a real daemon process
recording real RTSP streams; every figure is checked against the index it comes from."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from helpers import DaemonProcess, base_sections, camera, new_daemon, run_edge, wait_for
from prometheus_client.parser import text_string_to_metric_families

from capture.sim.simulator import GarbageServer, Simulator, free_port


def index_totals(root: Path) -> dict[str, tuple[int, int]]:
    con = sqlite3.connect(f"file:{root / 'index.sqlite3'}?mode=ro", uri=True)
    try:
        rows = con.execute("SELECT camera, count(*), sum(bytes) FROM segments WHERE state='stored' GROUP BY camera")
        return {r[0]: (int(r[1]), int(r[2])) for r in rows}
    finally:
        con.close()


def stable(read: Callable[[], object], root: Path) -> tuple[object, dict[str, tuple[int, int]]]:
    """`read()` taken while no segment closed (index identical before and after it)."""
    out: list[tuple[object, dict[str, tuple[int, int]]]] = []

    def attempt() -> bool:
        before = index_totals(root)
        value = read()
        if index_totals(root) == before:
            out.append((value, before))
            return True
        return False

    wait_for(attempt, 20, 0.05, "a read between two segment closes")
    return out[0]


@pytest.fixture
def box(tmp_path: Path, clip: Callable[..., Path], simulator: Callable[..., Simulator],
        daemons: list[DaemonProcess]) -> Iterator[tuple[DaemonProcess, Path, str, Simulator]]:
    sim = simulator({"a": clip(seed=31), "b": clip(seed=32)})
    silent = GarbageServer("silent")
    silent.start()
    root = tmp_path / "store"
    d = new_daemon(tmp_path, base_sections(root), [
        camera("gate-1", sim.url("a"), name="North gate"),
        camera("gate-2", sim.url("b")),
        camera("refused", f"rtsp://127.0.0.1:{free_port()}/x"),
        camera("silent", silent.url, stall_timeout=1.5),
        camera("spare", sim.url("a"), enabled=False),
    ])
    daemons.append(d)
    d.start()
    out = run_edge("user", "add", "-c", str(d.config), "central", "--role", "monitor", "--credential-id", "M-7")
    assert out.returncode == 0, out.stderr
    try:
        yield d, root, out.stdout.strip().splitlines()[-1], sim
    finally:
        silent.stop()


def test_status_document_matches_the_store(box: tuple[DaemonProcess, Path, str, Simulator]) -> None:
    d, root, tok, _ = box
    auth = {"Authorization": f"Bearer {tok}"}
    assert httpx.get(d.url + "/api/v1/status", timeout=5).status_code == 401
    assert httpx.get(d.url + "/api/v1/status", headers={"Authorization": "Bearer nope"}, timeout=5).status_code == 401
    assert httpx.get(d.url + "/healthz", timeout=5).json()["status"] == "ok"

    wait_for(lambda: all(index_totals(root).get(c, (0, 0))[0] >= 2 for c in ("gate-1", "gate-2")), 30, 0.2,
             "two segments per recording camera")

    def alarms_up() -> bool:
        doc = httpx.get(d.url + "/api/v1/status", headers=auth, timeout=5).json()
        codes = {c["id"]: {a["code"] for a in c["alarms"]} for c in doc["cameras"]}
        return "offline" in codes["refused"] and "stalled" in codes["silent"]

    wait_for(alarms_up, 30, 0.3, "offline and stalled alarms")
    doc, totals = stable(lambda: httpx.get(d.url + "/api/v1/status", headers=auth, timeout=5).json(), root)
    assert isinstance(doc, dict)
    cams = {c["id"]: c for c in doc["cameras"]}
    assert list(cams) == ["gate-1", "gate-2", "refused", "silent", "spare"], "config order, disabled included"
    for cid in ("gate-1", "gate-2"):
        c = cams[cid]
        assert c["state"] == "recording" and c["alarms"] == []
        assert (c["segments"], c["bytes"]) == totals[cid]
        assert 20 <= c["fps"] <= 30 and c["bitrate"] > 0
        assert c["last_segment_age_seconds"] < 10 and c["last_segment_end"].endswith("Z")
        assert c["gaps_24h"] == {"count": 0, "seconds": 0.0}
    assert cams["gate-1"]["name"] == "North gate"
    assert cams["spare"]["state"] == "disabled" and cams["spare"]["segments"] == 0
    assert cams["refused"]["state"] in {"offline", "reconnecting"}
    assert cams["refused"]["gaps_24h"]["count"] == 1 and cams["refused"]["gaps_24h"]["seconds"] > 0
    assert {a["code"] for a in cams["refused"]["alarms"]} == {"offline"}
    assert cams["refused"]["alarms"][0]["severity"] == "critical"
    assert cams["refused"]["alarms"][0]["since"].endswith("Z")
    box_doc = doc["box"]
    assert box_doc["source"] == "daemon" and box_doc["uptime_seconds"] > 0
    assert box_doc["storage"]["store_bytes"] == sum(b for _, b in totals.values())
    assert box_doc["storage"]["store_segments"] == sum(n for n, _ in totals.values())
    assert box_doc["storage"]["volume_free_bytes"] > 0
    comp = doc["compliance"]
    assert comp["ok"] is False and "Art. 19(7)" in comp["at_risk"]
    messages = [r["message"] for r in comp["risks"]]
    assert any(m.startswith("Art. 19(7) continuous operation: camera refused offline since ") and " UTC" in m
               for m in messages), messages
    assert any("camera silent stream stalled" in m for m in messages), messages
    assert comp["alarms"]["critical"] >= 1
    # Readiness: the store is writable, the index answers, every enabled camera has its worker.
    ready = httpx.get(d.url + "/readyz", timeout=5)
    assert ready.status_code == 200 and ready.json()["problems"] == []


def test_metrics_parse_and_match_the_store(box: tuple[DaemonProcess, Path, str, Simulator]) -> None:
    d, root, tok, _ = box
    assert httpx.get(d.url + "/metrics", timeout=5).status_code == 401
    wait_for(lambda: all(index_totals(root).get(c, (0, 0))[0] >= 2 for c in ("gate-1", "gate-2")), 30, 0.2,
             "two segments per recording camera")

    def offline_seen() -> bool:
        text = httpx.get(d.url + "/metrics", headers={"Authorization": f"Bearer {tok}"}, timeout=5).text
        return 'edge_alarm_active{camera="refused",code="offline",severity="critical"} 1.0' in text

    wait_for(offline_seen, 30, 0.3, "the offline alarm in the metrics")
    text, totals = stable(
        lambda: httpx.get(d.url + "/metrics", headers={"Authorization": f"Bearer {tok}"}, timeout=5).text, root)
    assert isinstance(text, str)
    samples: dict[tuple[str, tuple[tuple[str, str], ...]], float] = {}
    for fam in text_string_to_metric_families(text):
        for s in fam.samples:
            samples[(s.name, tuple(sorted(s.labels.items())))] = s.value

    def get(name: str, **labels: str) -> float:
        return samples[(name, tuple(sorted(labels.items())))]

    for cid in ("gate-1", "gate-2"):
        assert get("edge_camera_stored_segments", camera=cid) == totals[cid][0]
        assert get("edge_camera_stored_bytes", camera=cid) == totals[cid][1]
        assert get("edge_camera_state", camera=cid, state="recording") == 1
        assert get("edge_camera_state", camera=cid, state="offline") == 0
        assert get("edge_camera_packets_total", camera=cid) > 0
        assert get("edge_camera_segments_total", camera=cid) >= totals[cid][0]
        assert 0 <= get("edge_camera_last_segment_age_seconds", camera=cid) < 10
    assert get("edge_camera_state", camera="spare", state="disabled") == 1
    assert get("edge_camera_reconnects_total", camera="refused") >= 1
    assert get("edge_alarms_active", code="offline") >= 1  # refused, and silent once it counts as offline
    assert get("edge_storage_store_bytes") == sum(b for _, b in totals.values())
    assert get("edge_storage_free_bytes") > 0
    assert get("edge_info", box="edge-box", version=get_version()) == 1


def get_version() -> str:
    from edge.monitor.status import version

    return version()


def test_edge_status_cli_from_api_and_from_store(box: tuple[DaemonProcess, Path, str, Simulator]) -> None:
    d, root, tok, _ = box
    wait_for(lambda: all(index_totals(root).get(c, (0, 0))[0] >= 1 for c in ("gate-1", "gate-2")), 30, 0.2,
             "a segment per recording camera")
    live = run_edge("status", "-c", str(d.config), "--json", "--token", tok)
    doc = json.loads(live.stdout)
    assert doc["box"]["source"] == "daemon"
    offline = run_edge("status", "-c", str(d.config), "--json")
    doc2 = json.loads(offline.stdout)
    assert doc2["box"]["source"] == "index"
    states = {c["id"]: c["state"] for c in doc2["cameras"]}
    assert states["gate-1"] == "recording" and states["refused"] == "offline" and states["spare"] == "disabled"
    text = run_edge("status", "-c", str(d.config), "--token", tok)
    assert "gate-1" in text.stdout and "COMPLIANCE" in text.stdout
    assert text.returncode == 1, "an offline camera puts a rule at risk: non-zero exit for scripts"
    bad = run_edge("status", "-c", str(d.config), "--token", "wrong")
    assert "API refused (401" in bad.stderr and "gate-1" in bad.stdout


def test_baseline_command_recommissions_and_registers(box: tuple[DaemonProcess, Path, str, Simulator]) -> None:
    d, root, tok, _ = box
    ref = root / "health" / "gate-1" / "reference.json"
    wait_for(ref.exists, 20, 0.2, "the automatic reference")
    assert json.loads(ref.read_text())["automatic"] is True
    out = run_edge("camera", "baseline", "-c", str(d.config), "gate-1", "--by", "tech-li", "--credential-id", "T-9")
    assert out.returncode == 0, out.stderr
    meta = json.loads(ref.read_text())
    assert meta["automatic"] is False and meta["set_by"] == "tech-li"
    con = sqlite3.connect(f"file:{root / 'index.sqlite3'}?mode=ro", uri=True)
    try:
        rows = con.execute("SELECT actor, credential_id, source, cameras, detail FROM register"
                           " WHERE action='baseline_set' ORDER BY id").fetchall()
    finally:
        con.close()
    assert rows[-1][:4] == ("tech-li", "T-9", "cli", '["gate-1"]')
    assert any(json.loads(r[4])["automatic"] for r in rows[:-1]), "the automatic one was registered too"

    def picked_up() -> bool:
        doc = httpx.get(d.url + "/api/v1/status", headers={"Authorization": f"Bearer {tok}"}, timeout=5).json()
        health = next(c for c in doc["cameras"] if c["id"] == "gate-1")["health"]
        return bool(health and health["reference"] and health["reference"]["set_by"] == "tech-li")

    wait_for(picked_up, 15, 0.3, "the daemon to use the new reference")
    assert run_edge("camera", "baseline", "-c", str(d.config), "nope").returncode == 2
