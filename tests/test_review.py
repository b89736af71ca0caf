"""Review grants (the third use of the two-person workflow) and their playback clips.

Real SQLite, real segment files (fMP4 from libx264), real muxing; a settable clock for expiry.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import av
import pytest
from fmp4 import encode_fmp4

from edge.access.review import ReviewSpec
from edge.access.users import Role, User
from edge.access.workflow import InvalidRequest, WorkflowError
from edge.app.box import Box
from edge.config import EdgeConfig
from storage.clock import HOUR_US, datetime_to_us
from storage.index import Segment
from storage.register import Actor
from storage.store import StreamInfo

T0 = datetime_to_us(datetime(2026, 11, 28, 2, 0, tzinfo=UTC))
S = 1_000_000


class Clock:
    def __init__(self) -> None:
        self.now = T0 + HOUR_US

    def now_us(self) -> int:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def box(tmp_path: Path, clock: Clock) -> Iterator[Box]:
    cfg = EdgeConfig.model_validate({"storage": {"root": str(tmp_path / "store")},
                                     "cameras": [{"id": "gate-1", "url": "rtsp://127.0.0.1/x",
                                                  "site_category": "street"}],
                                     "access": {"review_hours": 2}})
    with Box(cfg, clock) as b:  # type: ignore[arg-type]
        yield b


def record(box: Box, start_us: int, seconds: int = 3) -> Segment:
    f = box.store.open_segment("gate-1", start_us)
    encode_fmp4(f, frames=25 * seconds)
    return box.store.commit("gate-1", f, start_us + seconds * S, 25 * seconds, StreamInfo("h264", 160, 120))


def person(box: Box, name: str, role: Role, cred: str) -> tuple[User, Actor]:
    box.users.add(name, role, cred)
    user = box.users.get(name)
    assert user is not None
    return user, Actor(name, role.value, cred, "test")


def spec(start_us: int, end_us: int) -> ReviewSpec:
    return ReviewSpec(("gate-1",), start_us, end_us, "check the gate", "CQ-1",
                      {"number": "DOC-1", "issued_by": "PSB", "issued_on": "2026-11-28", "sha256": None})


def actions(box: Box, subject: str) -> list[tuple[str, str]]:
    return [(e.action, e.result) for e in box.register.entries_for_subject(subject)]


def test_two_persons_grant_lasts_review_hours_and_can_be_revoked(box: Box, clock: Clock) -> None:
    officer, o_act = person(box, "officer", Role.OFFICER, "PSB-1")
    twin, t_act = person(box, "officer-twin", Role.APPROVER, "PSB-1")  # same credential, another account
    approver, a_act = person(box, "approver", Role.APPROVER, "PSB-2")
    other, x_act = person(box, "other", Role.OFFICER, "PSB-3")
    grant = box.reviews.submit(o_act, spec(T0, T0 + 60 * S))
    assert grant.status(clock.now) == "pending"
    with pytest.raises(WorkflowError) as refused:
        box.reviews.authorize(grant.id, officer, o_act)
    assert refused.value.status == 409  # nothing is shown before approval
    with pytest.raises(WorkflowError) as same:
        box.reviews.approve(grant.id, twin, t_act)
    assert same.value.status == 403 and "same work credential" in same.value.reason
    grant = box.reviews.approve(grant.id, approver, a_act)
    assert grant.granted_until_us == clock.now + 2 * HOUR_US and grant.status(clock.now) == "active"
    assert box.reviews.authorize(grant.id, officer, o_act, "gate-1").id == grant.id
    with pytest.raises(WorkflowError) as stranger:
        box.reviews.authorize(grant.id, other, x_act)
    assert stranger.value.status == 403
    with pytest.raises(WorkflowError) as cam:
        box.reviews.authorize(grant.id, officer, o_act, "gate-9")
    assert cam.value.status == 403
    with pytest.raises(WorkflowError):
        box.reviews.revoke(grant.id, other, x_act)
    box.reviews.revoke(grant.id, officer, o_act, "done")
    with pytest.raises(WorkflowError) as revoked:
        box.reviews.authorize(grant.id, approver, a_act)
    assert "revoked" in revoked.value.reason
    got = actions(box, f"review:{grant.id}")
    assert ("review_request", "ok") in got and ("review_approve", "refused") in got
    assert ("review_approve", "ok") in got and ("review_revoke", "ok") in got and ("review_revoke", "refused") in got
    assert ("review_view", "refused") in got


def test_grant_ends_after_review_hours_and_requests_expire(box: Box, clock: Clock) -> None:
    officer, o_act = person(box, "officer", Role.OFFICER, "PSB-1")
    approver, a_act = person(box, "approver", Role.APPROVER, "PSB-2")
    grant = box.reviews.approve(box.reviews.submit(o_act, spec(T0, T0 + 60 * S)).id, approver, a_act)
    clock.now += 2 * HOUR_US
    assert box.reviews.get(grant.id).status(clock.now) == "ended"  # type: ignore[union-attr]
    with pytest.raises(WorkflowError):
        box.reviews.authorize(grant.id, officer, o_act)
    pending = box.reviews.submit(o_act, spec(T0, T0 + 60 * S))
    clock.now += 25 * HOUR_US
    assert box.reviews.expire_due() == 1
    assert box.reviews.get(pending.id).state == "expired"  # type: ignore[union-attr]


def test_bad_requests_are_refused_and_registered(box: Box, clock: Clock) -> None:
    _, o_act = person(box, "officer", Role.OFFICER, "PSB-1")
    bad = ReviewSpec(("gate-9",), T0, clock.now + HOUR_US, "p", "c", {})
    with pytest.raises(InvalidRequest) as exc:
        box.reviews.submit(o_act, bad)
    assert {p.field for p in exc.value.problems} == {("cameras", 0), ("end",)}
    assert actions(box, "review:-") == [("review_request", "refused")]


def test_playback_clip_is_a_stream_copy_and_an_altered_segment_is_not_served(box: Box) -> None:
    officer, o_act = person(box, "officer", Role.OFFICER, "PSB-1")
    approver, a_act = person(box, "approver", Role.APPROVER, "PSB-2")
    segs = [record(box, T0 + i * 3 * S) for i in range(3)]
    grant = box.reviews.approve(box.reviews.submit(o_act, spec(T0 + 1_500_000, T0 + 9 * S)).id, approver, a_act)
    clip = box.playback.clip(grant, "gate-1")
    assert clip.path is not None and clip.path.is_file()
    assert clip.start_us == T0 + S  # the keyframe at or before the start (GOP 1 s)
    assert not clip.gaps
    with av.open(str(clip.path)) as c:
        v = c.streams.video[0]
        packets = [p for p in c.demux(v) if p.size]
        assert packets[0].is_keyframe and v.codec_context.name == "h264"
    # a stream copy: every packet of the clip is a packet of a source segment, byte for byte
    sources = set()
    for seg in segs:
        with av.open(str(box.store.path_of(seg))) as c:
            sources |= {bytes(p) for p in c.demux(c.streams.video[0]) if p.size}
    assert all(bytes(p) in sources for p in packets)
    assert box.playback.clip(grant, "gate-1") is clip  # built once per grant and camera

    # The middle segment is altered on disk: a new grant's clip leaves it out and raises the alarm.
    path = box.store.path_of(segs[1])
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    again = box.reviews.approve(box.reviews.submit(o_act, spec(T0, T0 + 9 * S)).id, approver, a_act)
    clip2 = box.playback.clip(again, "gate-1")
    assert [g["reasons"] for g in clip2.gaps] == [["segment_altered"]]
    assert (clip2.gaps[0]["start_us"], clip2.gaps[0]["end_us"]) == (segs[1].start_us, segs[1].end_us)
    assert any(a.code == "segment_altered" for a in box.alarms.active("gate-1"))
    assert clip2.path is not None
    with av.open(str(clip2.path)) as c:
        got = {bytes(p) for p in c.demux(c.streams.video[0]) if p.size}
    with av.open(str(box.store.path_of(segs[0]))) as c:
        assert {bytes(p) for p in c.demux(c.streams.video[0]) if p.size} <= got

    box.playback.prune({again.id})
    assert not clip.path.exists() and clip2.path.exists()
