"""How cameras are spread over the shared reader threads: one reader up to CAMERAS_PER_READER
cameras (several readers would hand the GIL to each other at every receive), a new one past that,
at most POOL, then the least busy."""

from __future__ import annotations

import pytest

from capture import native_loop


class Idle:
    def __init__(self) -> None:
        self.passes = 0

    def drain(self, now: float) -> None:
        self.passes += 1

    def fail(self, exc: BaseException) -> None:
        raise AssertionError(exc)


def test_readers_are_added_only_past_the_cameras_each_serves(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(native_loop, "_loops", [])
    monkeypatch.setattr(native_loop, "CAMERAS_PER_READER", 2)
    monkeypatch.setattr(native_loop, "POOL", 3)
    members: list[tuple[native_loop.ReaderLoop, Idle]] = []
    try:
        sizes = []
        for _ in range(8):
            loop = native_loop.reader_loop()
            m = Idle()
            loop.add(m)
            members.append((loop, m))
            sizes.append([lp.size for lp in native_loop._loops])
        assert sizes[:5] == [[1], [2], [2, 1], [2, 2], [2, 2, 1]]
        assert sizes[-1] == [3, 3, 2]  # past the pool: the least busy reader
        assert len({id(lp) for lp, _ in members}) == 3
    finally:
        for loop, m in members:
            loop.remove(m)
