"""`edge verify --camera` judges that camera against the checkpoints (tests/test_tamper.py's box)."""

from __future__ import annotations

from test_tamper import Box, box, delete_newest_segments  # noqa: F401 (box: the fixture)


def test_one_camera_verify_compares_its_heads_with_the_checkpoints(box: Box) -> None:  # noqa: F811
    """`edge verify --camera` used to skip the checkpoints: an insider's truncation of that very
    camera (newest rows and files gone, chain consistent) passed as INTACT."""
    rc, out = box.verify("--camera", "gate-1", "--checkpoints", str(box.archive))
    assert rc == 0, out  # the other camera's heads and the register are not judged by a one-camera walk
    assert out[-1].startswith("INTACT: 1 camera(s)"), out
    assert any(line.startswith("note: box checkpoints: 1") for line in out), out

    delete_newest_segments(box)

    for extra in ((), ("--checkpoints", str(box.archive))):
        rc, out = box.verify("--camera", "gate-1", *extra)
        assert rc != 0 and out[-1].startswith("FAILED"), (extra, out)
        assert any(line.startswith("TRUNCATED gate-1: checkpoint #1") for line in out), (extra, out)
    rc, out = box.verify("--camera", "gate-2")  # the untouched camera still verifies
    assert rc == 0 and out[-1].startswith("INTACT: 1 camera(s)"), out
    assert not any(line.startswith("TRUNCATED") for line in out), out
