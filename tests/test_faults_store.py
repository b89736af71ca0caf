"""Finding 7, the parts of a 30-day store that tests can hold small: one transaction per sweep
batch, held rows at the head not re-read, status answering while the totals load (`warming_up`),
startup salvage that needs no free space, and `lost+found` or other strays ignored."""

from __future__ import annotations

import io
import os
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from fmp4 import encode_fmp4
from retention_helpers import Box, add_aged, config

import storage.register
import storage.retention
import storage.unlinks
from edge.cli.wiring import build_daemon
from edge.monitor.status import status_of
from storage.clock import OffsetClock
from storage.index import Index
from storage.layout import segment_stem
from storage.recovery import recover
from storage.store import SegmentStore
from storage.totals import StoreTotals


def test_one_transaction_per_batch_and_held_rows_are_not_reread(tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(storage.retention, "BATCH", 4)
    box = Box(tmp_path / "store")
    try:
        held = [add_aged(box.store, "a", 60 - i / 100) for i in range(12)]
        free = [add_aged(box.store, "b", 50 - i / 100) for i in range(8)]
        box.holds.create("a", held[0].start_us, held[-1].end_us, "evidence", "CQ-9", "officer1")
        writes = 0
        real = Index.write

        @contextmanager
        def counting(self: Index) -> Iterator[Any]:
            nonlocal writes
            writes += 1
            with real(self) as c:
                yield c

        monkeypatch.setattr(Index, "write", counting)
        res = box.engine.sweep(need_bytes=10**12)
        assert res.deleted == 8 and res.skipped_held == 12
        # 2 batches of 4: one transaction each (register entry + 'deleted' marks + the unlink list),
        # and one that empties the unlink list once the files and their directories are durable.
        assert writes == 2 + 1, writes
        assert box.store.index.get_meta(storage.unlinks.UNLINKING_META) is None
        assert all(box.state(s) == "deleted" for s in free)
        assert res.rows_read == 20
        # Next sweep: the held head is stepped over by a seek, not read again row by row.
        again = box.engine.sweep(need_bytes=10**12)
        assert again.rows_read == 0 and again.deleted == 0
        # New holds in force (here: the hold released) start the scan from the beginning again.
        box.holds.release(box.holds.list()[0].id, "officer2")
        third = box.engine.sweep(need_bytes=10**12)
        assert third.rows_read == 12 and third.deleted == 12
    finally:
        box.close()


def test_a_crash_between_the_marks_and_the_unlinks_is_finished_at_startup(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Rows go to 'deleted' in the transaction of their register entry, the files after it: a crash
    in between (here: the unlinks never happen) leaves files recovery removes through the list,
    and nothing of a stored segment."""
    monkeypatch.setattr(storage.retention, "BATCH", 3)
    box = Box(tmp_path / "store")
    try:
        old = [add_aged(box.store, "a", 40 - i / 100) for i in range(5)]
        young = [add_aged(box.store, "a", 5 - i / 100) for i in range(2)]
        monkeypatch.setattr(storage.retention, "unlink_all", lambda root, segs: [])  # "crashed"
        res = box.engine.sweep(need_bytes=10**12)
        assert res.deleted == 5 and all(box.state(s) == "deleted" for s in old)
        assert all(box.store.path_of(s).exists() for s in old)
        monkeypatch.undo()
        # A crash: the list still names both batches (the process never got to empty it).
        with box.store.index.write() as c:
            storage.unlinks.set_listed(c, [e.id for e in box.register.query(
                storage.register.Query(actions=["retention_delete"]))])
        report = recover(box.store, ["a"])
        assert report.deletions_finished == 5
        assert not any(box.store.path_of(s).exists() for s in old)
        assert all(box.store.path_of(s).exists() and box.state(s) == "stored" for s in young)
        assert box.store.index.get_meta(storage.unlinks.UNLINKING_META) is None
        assert recover(box.store, ["a"]).deletions_finished == 0  # done once
    finally:
        box.close()


def test_a_failed_unlink_keeps_its_batch_listed_for_recovery(tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(storage.retention, "BATCH", 2)
    box = Box(tmp_path / "store")
    try:
        segs = [add_aged(box.store, "a", 40 - i / 100) for i in range(4)]
        stuck = box.store.path_of(segs[3])
        real = os.unlink

        def unlink(path: str, *a: Any, **k: Any) -> None:
            if path == str(stuck):
                raise OSError(5, "Input/output error")
            real(path, *a, **k)

        monkeypatch.setattr(storage.retention.os, "unlink", unlink)
        res = box.engine.sweep(need_bytes=10**12)
        assert (res.deleted, res.failed) == (3, 1) and stuck.exists()
        listed = box.store.index.get_meta(storage.unlinks.UNLINKING_META)
        assert listed is not None and len(listed.strip("[]").split(",")) == 1  # the second batch only
        monkeypatch.undo()
        assert recover(box.store, ["a"]).deletions_finished == 1 and not stuck.exists()
    finally:
        box.close()


def test_status_answers_while_the_totals_load(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = config(tmp_path / "store", cameras=["a", "b"])
    pre = SegmentStore(cfg.storage.root, OffsetClock())
    for i in range(5):
        add_aged(pre, "a", 10 - i)
    pre.close()
    release = threading.Event()
    entered = threading.Event()
    real_load = StoreTotals.load

    def slow_load(self: StoreTotals) -> None:
        entered.set()
        release.wait(30)  # a 30-day store's aggregate, as long as the test wants
        real_load(self)

    monkeypatch.setattr(StoreTotals, "load", slow_load)
    d = build_daemon(cfg, OffsetClock())
    d.start()
    try:
        assert entered.wait(10), "the retention service started loading"
        doc = status_of(d.runtime).model_dump(mode="json")
        assert doc["box"]["warming_up"] is True and doc["retention"]["warming_up"] is True
        assert [c["id"] for c in doc["cameras"]] == ["a", "b"]
        release.set()
        for _ in range(100):
            if d.retention.totals.loaded:
                break
            threading.Event().wait(0.05)
        doc = status_of(d.runtime).model_dump(mode="json")
        assert doc["box"]["warming_up"] is False
        assert {c["id"]: c["segments"] for c in doc["cameras"]} == {"a": 5, "b": 0}
    finally:
        release.set()
        d.shutdown()


def test_startup_salvage_on_a_full_volume_and_strays_ignored(tmp_path: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("a full volume needs a small tmpfs, which needs root")
    root = tmp_path / "store"
    store = SegmentStore(root, OffsetClock())
    seg_dir = store.layout.segments_dir
    out = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(seg_dir)], capture_output=True,
                         text=True)
    if out.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {out.stderr.strip()}")
    try:
        buf = io.BytesIO()
        encode_fmp4(buf, frames=75)
        data = buf.getvalue()
        start = store.clock.now_us() - 60_000_000
        partial = store.layout.partial_path("gate-1", start)
        partial.parent.mkdir(parents=True)
        # A crash mid-fragment: the file ends in a torn box (the mfra cut short).
        partial.write_bytes(data[:-30])
        (seg_dir / "lost+found").mkdir(exist_ok=True)
        (seg_dir / "lost+found" / "#1234").write_bytes(b"fsck leftovers")
        strays = seg_dir / "gate-1" / "lost+found"
        strays.mkdir()
        (strays / "#99").write_bytes(b"fsck leftovers")
        (seg_dir / "gate-1" / "notes").mkdir()
        # Fill the volume to the last byte: a salvage that copies would fail with ENOSPC.
        with open(seg_dir / "filler", "wb") as f:
            try:
                while True:
                    f.write(b"\0" * 65536)
            except OSError:
                pass
        assert os.statvfs(seg_dir).f_bavail == 0
        assert [p.name for p in store.layout.day_dirs("gate-1")] == [partial.parent.name]
        assert store.layout.cameras_on_disk() == ["gate-1"]
        report = recover(store, ["gate-1"])
        assert report.recovered == 1 and report.failed == 0 and report.quarantined == 0, report.lines
        (seg,) = list(store.index.chain_of("gate-1"))
        assert seg.path.endswith(segment_stem(start) + ".mp4") and seg.packets == 75
        assert (strays / "#99").exists() and (seg_dir / "lost+found" / "#1234").exists()
        assert not list((root / "quarantine").rglob("*"))
    finally:
        store.close()
        subprocess.run(["umount", "-l", str(seg_dir)], capture_output=True)


def test_a_sweep_reads_its_rows_and_pauses_only_the_cyclic_collector(tmp_path: Path,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    import gc

    box = Box(tmp_path / "store")
    try:
        segs = [add_aged(box.store, "a", 40 - i / 100) for i in range(3)]
        seen: list[tuple[bool, list[Any]]] = []
        box.engine.on_deleted = lambda gone: seen.append((gc.isenabled(), gone))
        assert box.engine.sweep(need_bytes=10**12).deleted == 3
        assert [flag for flag, _ in seen] == [False] and gc.isenabled()
        # The sweep reads only the columns it needs (SweepRow), each equal to the stored row's.
        assert [tuple(r) for r in seen[0][1]] == [
            (s.id, s.camera, s.seq, s.start_us, s.end_us, s.path, s.bytes, s.chain) for s in segs]
        # A sweep that fails turns the collector back on too.
        add_aged(box.store, "a", 39)
        monkeypatch.setattr(storage.retention.RetentionEngine, "_delete", lambda *a: 1 / 0)
        with pytest.raises(ZeroDivisionError):
            box.engine.sweep(need_bytes=10**12)
        assert gc.isenabled()
    finally:
        box.close()
