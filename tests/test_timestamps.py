"""The timestamp policy: every packet kept where possible, output strictly monotonic."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from capture.paramsets import as_annexb, parameter_sets
from capture.redact import redact_text, redact_url
from capture.timestamps import TimestampPolicy, Verdict

FRAME = 3600  # 25 fps in 1/90000


def policy() -> TimestampPolicy:
    return TimestampPolicy(FRAME, max_backstep=90_000, max_jump=900_000)


def test_first_packet_without_timestamps_is_kept() -> None:
    p = policy()
    s = p.stamp(None, None)
    assert s.verdict is Verdict.OK and s.dts == 0 and s.pts == 0
    assert p.backfill(7200) == 3600


def test_missing_dts_takes_pts_or_next_frame() -> None:
    p = policy()
    p.stamp(1000, 1000)
    assert p.stamp(4600, None).dts == 4600
    s = p.stamp(None, None)
    assert (s.verdict, s.dts, s.pts) == (Verdict.OK, 4600 + FRAME, 4600 + FRAME)


def test_equal_dts_means_merge_small_backstep_is_nudged() -> None:
    p = policy()
    p.stamp(1000, 1000)
    assert p.stamp(1000, 1000).verdict is Verdict.MERGE
    s = p.stamp(900, 900)
    assert (s.verdict, s.dts) == (Verdict.OK, 1001) and p.repaired == 1


def test_big_jumps_are_discontinuities() -> None:
    p = policy()
    p.stamp(500_000, 500_000)
    assert p.stamp(0, 0).verdict is Verdict.DISCONTINUITY
    assert p.last_dts is None
    p.stamp(0, 0)
    assert p.stamp(2_000_000, 2_000_000).verdict is Verdict.DISCONTINUITY
    assert p.discontinuities == 2


def test_pts_below_dts_is_raised() -> None:
    p = policy()
    s = p.stamp(10, 20)
    assert s.pts == 20


@given(st.lists(st.tuples(st.one_of(st.none(), st.integers(-10**7, 10**7)),
                          st.one_of(st.none(), st.integers(-10**7, 10**7))), max_size=200))
def test_output_is_strictly_monotonic_between_discontinuities(packets: list[tuple[int | None, int | None]]) -> None:
    p = policy()
    last: int | None = None
    for pts, dts in packets:
        s = p.stamp(pts, dts)
        if s.verdict is Verdict.DISCONTINUITY:
            last = None
            continue
        if s.verdict is Verdict.MERGE:
            assert s.dts == last
            continue
        assert s.pts >= s.dts
        if last is not None:
            assert s.dts > last
        last = s.dts


def test_parameter_sets_found_in_annexb_and_avcc() -> None:
    sps, pps, idr = b"\x67\x42\x00\x1e\xab", b"\x68\xce\x3c\x80", b"\x65\x88\x84\x00"
    annexb = b"\x00\x00\x00\x01" + sps + b"\x00\x00\x01" + pps + b"\x00\x00\x00\x01" + idr
    assert parameter_sets("h264", annexb) == (sps, pps)
    avcc = b"".join(len(u).to_bytes(4, "big") + u for u in (sps, pps, idr))
    assert parameter_sets("h264", avcc) == (sps, pps)
    assert parameter_sets("h264", as_annexb((sps, pps))) == (sps, pps)
    assert parameter_sets("mjpeg", annexb) == ()


def test_credentials_are_redacted() -> None:
    assert redact_url("rtsp://admin:secret@10.0.0.5:554/s1") == "rtsp://***@10.0.0.5:554/s1"
    assert redact_url("rtsp://10.0.0.5/s1") == "rtsp://10.0.0.5/s1"
    text = "failed to open rtsp://admin:secret@10.0.0.5/s1: refused"
    assert "secret" not in redact_text(text)
