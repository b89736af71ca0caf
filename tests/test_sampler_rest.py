"""The keyframe sampler holds a camera's keyframe only for the stretch before the next health pass."""

from __future__ import annotations

import time
from types import SimpleNamespace
from typing import cast

import av
import av.stream

from capture.sampler import KeyframeSampler


def stream() -> av.stream.Stream:
    codec = SimpleNamespace(canonical_name="h264")
    return cast(av.stream.Stream, SimpleNamespace(codec_context=SimpleNamespace(
        extradata=b"", width=64, height=48, codec=codec)))


def test_no_copy_while_resting_after_a_take() -> None:
    s = KeyframeSampler(0.0, rest=0.3)
    s.offer("cam", av.Packet(b"\0\0\0\1\x65one"), stream())
    first = s.take("cam")
    assert first is not None and first.data.endswith(b"one")
    s.offer("cam", av.Packet(b"\0\0\0\1\x65two"), stream())
    assert s.take("cam") is None, "resting: the keyframe after a take is not copied"
    time.sleep(0.35)
    s.offer("cam", av.Packet(b"\0\0\0\1\x65three"), stream())
    again = s.take("cam")
    assert again is not None and again.data.endswith(b"three")
    assert s.offered == 2


def test_without_rest_the_next_keyframe_refills_the_slot() -> None:
    s = KeyframeSampler(0.0)
    s.offer("cam", av.Packet(b"\0\0\0\1\x65one"), stream())
    assert s.take("cam") is not None
    s.offer("cam", av.Packet(b"\0\0\0\1\x65two"), stream())
    assert s.take("cam") is not None
