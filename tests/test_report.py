"""`edge report filing`: the Art. 15 filing pack from a configuration, before any footage exists.

It must list every configured camera, forecast the retention days from each camera's
expected_bitrate and the volume (the retention service's own calculation), carry the device's
public key (created the same way the daemon creates it), and the PDF must open.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from helpers import camera, run_edge, write_config

from edge.config import load_config
from edge.recording.capacity import forecast
from storage.diskspace import volume_of
from storage.signing import PRIVATE_NAME, load_or_create


def test_filing_pack_lists_every_camera_and_the_forecast(tmp_path: Path) -> None:
    root = tmp_path / "store"
    cams = [camera("gate-1", "rtsp://127.0.0.1:9/a", name="North gate 北门", signage=True, location="north gate",
                   expected_bitrate=4_000_000),
            camera("square-1", "rtsp://127.0.0.1:9/b", name="Main square", site_category="square",
                   expected_bitrate=2_000_000),
            camera("road-1", "rtsp://127.0.0.1:9/c", name="Ring road", site_category="public_road", enabled=False)]
    cfg_path = write_config(tmp_path / "edge.toml",
                            {"box": {"id": "box-42", "name": "Jiefangbei box", "operator": "Yuzhong PSB"},
                             "storage": {"root": str(root)}}, cams)
    out = tmp_path / "pack"
    r = run_edge("report", "filing", "-c", str(cfg_path), "-o", str(out))
    assert r.returncode == 0, r.stdout + r.stderr
    assert "fontTools" not in r.stderr
    pack = json.loads((out / "filing.json").read_text(encoding="utf-8"))

    assert [c["id"] for c in pack["cameras"]] == ["gate-1", "square-1", "road-1"]
    assert pack["box"] == {"id": "box-42", "name": "Jiefangbei box", "site": "", "operator": "Yuzhong PSB"}
    gate, square, road = pack["cameras"]
    assert gate["bitrate_bps"] == 4_000_000 and gate["bitrate_source"].startswith("expected_bitrate")
    assert gate["signage"] is True and square["signage"] is False and road["enabled"] is False
    assert any("square-1: signage not confirmed" in c for c in pack["checks"])
    assert pack["site_categories"] == {"public_road": ["road-1"], "square": ["square-1"], "street": ["gate-1"]}

    # The forecast is the retention engineer's: enabled cameras at expected_bitrate over the volume.
    cfg = load_config(cfg_path)
    fc = forecast(cfg, volume_of(root), 0, {})
    s = pack["storage"]
    assert s["bytes_per_day"] == round((4_000_000 + 2_000_000) / 8 * 86_400)
    assert abs(s["forecast_days"] - fc.forecast_days) < 0.1 and s["min_days"] == 30 and s["hold_days"] == 730
    assert f"{s['forecast_days']:g} days" in " ".join(pack["retention_calculation"])
    assert f"forecast {s['forecast_days']:g} days" in r.stdout

    key = load_or_create(root / "keys")
    assert (root / "keys" / PRIVATE_NAME).stat().st_mode & 0o777 == 0o600
    assert pack["signing_key"]["fingerprint"] == key.fingerprint
    assert pack["signing_key"]["public_pem"] == key.public_pem

    html = (out / "filing.html").read_text(encoding="utf-8")
    for name in ("North gate 北门", "Main square", "Ring road", "box-42", key.fingerprint):
        assert name in html
    assert "<script" not in html
    text = subprocess.run(["pdftotext", "-enc", "UTF-8", str(out / "filing.pdf"), "-"], capture_output=True,
                          text=True, check=True).stdout
    for name in ("North gate", "北门", "Main square", "Ring road", "gate-1", "square-1", "road-1"):
        assert name in text, name
    # The PDF speaks the box's language (zh-CN by default): its retention sentences too; the JSON keeps English.
    assert f"预计 {s['forecast_days']:g} 天" in text and key.fingerprint[:20] in text


def test_filing_pack_refuses_a_bad_config(tmp_path: Path) -> None:
    cfg = write_config(tmp_path / "edge.toml", {"storage": {"root": str(tmp_path / "s")}},
                       [camera("wc-1", "rtsp://127.0.0.1:9/a", site_category="restroom")])
    r = run_edge("report", "filing", "-c", str(cfg), "-o", str(tmp_path / "out"))
    assert r.returncode == 2 and "restroom" in r.stderr and "Art. 10" in r.stderr
    assert not (tmp_path / "out").exists()
