"""Review upkeep: a cap on each person's pending review requests, and clips deleted on a timer.

Real SQLite, real segment files and real muxing; a settable clock travels past `review_hours`
instead of sleeping, and the sweeper's tick is called as its thread would call it.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from test_review import T0, Clock, person, record, spec

from edge.access.playback import ClipSweeper
from edge.access.users import Role
from edge.access.workflow import WorkflowError
from edge.app.box import Box
from edge.config import EdgeConfig
from edge.i18n import Localizer
from storage.clock import HOUR_US

S = 1_000_000


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def box(tmp_path: Path, clock: Clock) -> Iterator[Box]:
    cfg = EdgeConfig.model_validate({"storage": {"root": str(tmp_path / "store")},
                                     "cameras": [{"id": "gate-1", "url": "rtsp://127.0.0.1/x",
                                                  "site_category": "street"}],
                                     "access": {"review_hours": 2, "max_pending_reviews_per_user": 2}})
    with Box(cfg, clock) as b:  # type: ignore[arg-type]
        yield b


def test_default_cap_is_set() -> None:
    assert EdgeConfig.model_validate({"storage": {"root": "/tmp/x"}}).access.max_pending_reviews_per_user == 5


def test_pending_review_requests_are_capped_per_person(box: Box, clock: Clock) -> None:
    _, o_act = person(box, "officer", Role.OFFICER, "PSB-1")
    _, p_act = person(box, "officer-2", Role.OFFICER, "PSB-3")
    approver, a_act = person(box, "approver", Role.APPROVER, "PSB-2")
    first = box.reviews.submit(o_act, spec(T0, T0 + 60 * S))
    box.reviews.submit(o_act, spec(T0, T0 + 60 * S))
    with pytest.raises(WorkflowError) as refused:
        box.reviews.submit(o_act, spec(T0, T0 + 60 * S))
    err = refused.value
    assert err.status == 429 and err.code == "pending_cap"
    assert "max_pending_reviews_per_user" in err.reason and "officer already has 2" in err.reason
    zh = Localizer("zh-CN", "Asia/Shanghai").message(err.message)
    assert "待审批" in zh and "max_pending_reviews_per_user" in zh, zh
    refusals = [e for e in box.register.entries_for_subject("review:-") if e.result == "refused"]
    assert refusals and refusals[-1].detail["code"] == "pending_cap"
    # another person is not held back by the first one's queue
    box.reviews.submit(p_act, spec(T0, T0 + 60 * S))
    # a decision frees a place; so does expiry (request_ttl_hours, 24 h by default)
    box.reviews.approve(first.id, approver, a_act)
    box.reviews.submit(o_act, spec(T0, T0 + 60 * S))
    with pytest.raises(WorkflowError):
        box.reviews.submit(o_act, spec(T0, T0 + 60 * S))
    clock.now += 25 * HOUR_US
    box.reviews.submit(o_act, spec(T0, T0 + 60 * S))


def test_clips_of_ended_and_revoked_grants_are_deleted_on_the_timer(box: Box, clock: Clock) -> None:
    officer, o_act = person(box, "officer", Role.OFFICER, "PSB-1")
    approver, a_act = person(box, "approver", Role.APPROVER, "PSB-2")
    for i in range(2):
        record(box, T0 + i * 3 * S)
    early = box.reviews.approve(box.reviews.submit(o_act, spec(T0, T0 + 6 * S)).id, approver, a_act)
    clock.now += HOUR_US  # the second grant starts an hour later, so it ends an hour later
    late = box.reviews.approve(box.reviews.submit(o_act, spec(T0, T0 + 6 * S)).id, approver, a_act)
    revoked = box.reviews.approve(box.reviews.submit(o_act, spec(T0, T0 + 6 * S)).id, approver, a_act)
    clips = {g.id: box.playback.clip(g, "gate-1").path for g in (early, late, revoked)}
    assert all(p is not None and p.is_file() for p in clips.values())
    sweeper = ClipSweeper(box.playback, box.reviews)

    sweeper.tick()
    assert all(p is not None and p.is_file() for p in clips.values()), "grants in force keep their clips"
    # Revoked through the domain (the API and page also drop the clip; the timer does not rely on it).
    box.reviews.revoke(revoked.id, officer, o_act, "done")
    sweeper.tick()
    assert not clips[revoked.id].exists()  # type: ignore[union-attr]
    assert clips[early.id].exists() and clips[late.id].exists()  # type: ignore[union-attr]

    clock.now += HOUR_US + 1  # past the first grant's review_hours, not the second's
    sweeper.tick()
    assert not clips[early.id].exists() and clips[late.id].exists()  # type: ignore[union-attr]
    clock.now += HOUR_US
    sweeper.tick()
    assert not clips[late.id].exists()  # type: ignore[union-attr]
    assert not list(box.playback.dir.glob("review-*.mp4"))


def test_the_daemon_runs_the_clip_sweeper(tmp_path: Path) -> None:
    from edge.app.daemon import Daemon

    cfg = EdgeConfig.model_validate({"storage": {"root": str(tmp_path / "store")}, "cameras": []})
    with Box(cfg) as b:
        d = Daemon(b)
        assert any(isinstance(s, ClipSweeper) for s in d.services)
