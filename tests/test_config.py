"""Bad configurations are refused at load, naming the key and the rule; good ones load."""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers import run_edge

from edge import legal
from edge.cli.main import main
from edge.config import ConfigError, load_config

GOOD = """
[storage]
root = "store"
segment_seconds = 3

[[cameras]]
id = "gate-1"
url = "rtsp://user:pa55word@10.0.0.5/stream1"
site_category = "street"
"""


def write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "edge.toml"
    p.write_text(text, encoding="utf-8")
    return p


def test_good_config_loads_with_defaults_and_relative_root(tmp_path: Path) -> None:
    cfg = load_config(write(tmp_path, GOOD))
    assert cfg.storage.root == (tmp_path / "store").resolve()
    assert cfg.retention.min_days == legal.MIN_RETENTION_DAYS
    assert cfg.retention.hold_days == legal.MIN_HOLD_DAYS
    assert cfg.cameras[0].reconnect_initial == 0.5 and cfg.cameras[0].reconnect_max == 5.0
    assert cfg.cameras[0].stall_timeout == 10.0


def test_example_config_is_valid() -> None:
    out = run_edge("check", "-c", "configs/edge.example.toml")
    assert out.returncode == 0, out.stderr
    assert "gate-1" in out.stdout and "user:pass" not in out.stdout


CAM = 'id = "{id}"\nurl = "{url}"\nsite_category = "{cat}"\n'


@pytest.mark.parametrize(
    ("extra", "key", "rule"),
    [
        ('[storage]\nroot = "x"\nsegment_secs = 2\n', "storage.segment_secs", "unknown key"),
        ("[[cameras]]\n" + CAM.format(id="a", url="rtsp://h/1", cat="street")
         + "[[cameras]]\n" + CAM.format(id="a", url="rtsp://h/2", cat="street"), "cameras[1].id",
         "duplicate camera id 'a'"),
        ("[[cameras]]\n" + CAM.format(id="room-3", url="rtsp://h/1", cat="hotel_guest_room"),
         "cameras[0].site_category (camera 'room-3')", "Art. 10"),
        ("[[cameras]]\n" + CAM.format(id="wc", url="rtsp://h/1", cat="restroom"),
         "cameras[0].site_category (camera 'wc')", "prohibited"),
        ("[[cameras]]\n" + CAM.format(id="gate", url="http://u:secretpw@h/1", cat="street"),
         "cameras[0].url (camera 'gate')", "rtsp://"),
        ("[[cameras]]\n" + CAM.format(id="gate", url="rtsp:///nohost", cat="street"),
         "cameras[0].url (camera 'gate')", "must name a host"),
        ("[[cameras]]\n" + CAM.format(id="Gate_1", url="rtsp://h/1", cat="street"), "cameras[0].id",
         "[a-z0-9-]+"),
        ("[[cameras]]\n" + CAM.format(id="g", url="rtsp://h/1", cat="moon_base"),
         "cameras[0].site_category", "not a known Art. 9 site category"),
        ("[retention]\nmin_days = 29\n", "retention.min_days", "Art. 19(8)"),
        ("[retention]\nhold_days = 700\n", "retention.hold_days", "Art. 19(8)"),
        ("[retention]\nmax_days = 20\n", "retention", "max_days"),
        ("[retention]\nlow_watermark = 0.95\n", "retention", "low_watermark must be below"),
        ("[api]\nport = 70000\n", "api.port", "less than or equal to 65535"),
    ],
)
def test_bad_config_names_key_and_rule(tmp_path: Path, capsys: pytest.CaptureFixture[str], extra: str,
                                      key: str, rule: str) -> None:
    path = write(tmp_path, extra)
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert any(line.startswith(key) and rule in line for line in err.value.problems), err.value.problems
    assert main(["check", "-c", str(path)]) == 2
    err_out = capsys.readouterr().err
    assert key in err_out and rule in err_out
    assert "secretpw" not in err_out


def test_check_exit_codes_from_the_real_command(tmp_path: Path) -> None:
    bad = write(tmp_path, "[[cameras]]\n" + CAM.format(id="booth", url="rtsp://h/1", cat="polling_booth"))
    out = run_edge("check", "-c", str(bad))
    assert out.returncode == 2
    assert "cameras[0].site_category (camera 'booth')" in out.stderr and "Art. 10(5)" in out.stderr
    assert run_edge("check", "-c", str(tmp_path / "nope.toml")).returncode == 2
    broken = tmp_path / "broken.toml"
    broken.write_text("[storage\n", encoding="utf-8")
    out = run_edge("check", "-c", str(broken))
    assert out.returncode == 2 and "not valid TOML" in out.stderr


def test_every_prohibited_category_is_refused(tmp_path: Path) -> None:
    for cat, article in legal.PROHIBITED_SITE_CATEGORIES.items():
        path = write(tmp_path, "[[cameras]]\n" + CAM.format(id="x", url="rtsp://h/1", cat=cat))
        with pytest.raises(ConfigError) as err:
            load_config(path)
        assert article in err.value.problems[0]
    assert not legal.ALLOWED_SITE_CATEGORIES & set(legal.PROHIBITED_SITE_CATEGORIES)
