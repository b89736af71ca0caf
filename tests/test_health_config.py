"""`[health]` thresholds: defaults, per-camera overrides, and refusals that name the key and rule."""

from __future__ import annotations

import pytest

from edge.config import ConfigError, parse_config

CAM = {"id": "gate-1", "url": "rtsp://127.0.0.1/x", "site_category": "street"}


def problems(health: dict[str, object]) -> list[str]:
    with pytest.raises(ConfigError) as err:
        parse_config({"cameras": [CAM], "health": health})
    return err.value.problems


def test_overrides_apply_to_one_camera() -> None:
    cfg = parse_config({"cameras": [CAM, {**CAM, "id": "gate-2"}],
                        "health": {"dark_mean": 25, "cameras": {"gate-1": {"dark_mean": 12, "moved_shift": 0.1}}}})
    assert cfg.health.thresholds_for("gate-1").dark_mean == 12
    assert cfg.health.thresholds_for("gate-1").moved_shift == 0.1
    assert cfg.health.thresholds_for("gate-2").dark_mean == 25
    assert cfg.health.thresholds_for("gate-2").moved_shift == 0.06


@pytest.mark.parametrize("health,expected", [
    ({"cameras": {"gate-9": {"dark_mean": 10}}}, "health.cameras.gate-9: no camera with this id"),
    ({"cameras": {"gate-1": {"dark_men": 10}}}, "health: cameras.gate-1.dark_men: unknown key"),
    ({"cameras": {"gate-1": {"dark_mean": 240}}}, "health: cameras.gate-1: dark_mean must be below overexposed_mean"),
    ({"cameras": {"gate-1": {"blur_ratio": 1.5}}}, "health: cameras.gate-1.blur_ratio: Input should be less than 1"),
    ({"raise_after": 0}, "health.raise_after: Input should be greater than or equal to 1"),
    ({"dark_mean": 230}, "health: dark_mean must be below overexposed_mean"),
])
def test_bad_thresholds_are_refused_by_name(health: dict[str, object], expected: str) -> None:
    lines = problems(health)
    assert any(line.startswith(expected) for line in lines), lines
