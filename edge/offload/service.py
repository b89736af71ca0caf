"""The offload service: a thread of its own that copies held evidence to the bucket.

Each tick plans (queues what became worth keeping), then uploads what is due, one object at a
time, until nothing is due or the daemon stops. Capture never waits for it: it shares only the
index (short writes) and reads files already closed. A failed upload waits with exponential
backoff; the queue is in the index, so a restart resumes where the last run stopped. Every
verified copy, and every copy whose checksum did not match, is registered (`offload_upload`).
When the oldest waiting object has waited past `behind_after_minutes`, the `offload_behind`
alarm is raised; it clears when the queue catches up. A hold released or expired later changes
nothing in the bucket: the locked copy keeps its retain-until date.
"""

from __future__ import annotations

import io
import logging
import threading
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

from edge.config import EdgeConfig
from edge.monitor.alarms import AlarmCenter
from edge.monitor.live import OffloadFigures
from edge.offload.queue import Item, OffloadQueue
from edge.offload.s3 import Bucket, BucketFactory, ChecksumMismatch, OffloadError, default_bucket, sha256_of_file
from edge.offload.sources import CheckpointRecords, Planner, ReadyExport
from edge.periodic import PeriodicService
from storage.clock import Clock
from storage.holds import Hold
from storage.index import Index
from storage.register import SYSTEM, AccessRegister

log = logging.getLogger(__name__)

Pinner = Callable[[list[int]], Any]  # `store.pinned`: a context manager keeping segments from deletion


class OffloadService(PeriodicService):
    name = "offload"

    def __init__(self, cfg: EdgeConfig, index: Index, root: Path, clock: Clock, register: AccessRegister,
                 alarms: AlarmCenter, holds: Callable[[], list[Hold]], ready_exports: Callable[[], list[ReadyExport]],
                 checkpoints: CheckpointRecords | None, pinned: Pinner,
                 bucket_factory: BucketFactory = default_bucket) -> None:
        super().__init__(cfg.offload.interval_seconds)
        self.cfg = cfg.offload
        self.box = cfg.box.id
        self.index = index
        self.root = root
        self.clock = clock
        self.register = register
        self.alarms = alarms
        self.pinned = pinned
        self.queue = OffloadQueue(index)
        self.planner = Planner(self.queue, root, f"{self.cfg.prefix}{self.box}/", self.cfg.retain_days, holds,
                               ready_exports, checkpoints)
        self.bucket_factory = bucket_factory
        self._bucket: Bucket | None = None
        self._lock = threading.Lock()
        self.failures = 0
        self.last_error = ""

    # -- the loop ---------------------------------------------------------------------------------
    def tick(self) -> None:
        now = self.clock.now_us()
        self.planner.plan(now)
        bucket = self._ready_bucket()
        if bucket is not None:
            while not self._stop.is_set():
                due = self.queue.due(self.clock.now_us(), limit=20)
                if not due:
                    break
                for item in due:
                    if self._stop.is_set():
                        break
                    self.upload(bucket, item)
        self._behind_alarm()

    def _ready_bucket(self) -> Bucket | None:
        if self._bucket is not None:
            return self._bucket
        try:
            bucket = self.bucket_factory(self.cfg)
            problem = bucket.check()
        except Exception as exc:  # noqa: BLE001 - a bad endpoint or secret file: report, retry next tick
            problem = f"{type(exc).__name__}: {exc}"
        if problem is not None:
            self._failed(problem)
            log.warning("offload: %s", problem)
            return None
        self._bucket = bucket
        return bucket

    def _failed(self, error: str) -> None:
        with self._lock:
            self.failures += 1
            self.last_error = error

    def _behind_alarm(self) -> None:
        s = self.queue.summary(self.clock.now_us())
        limit = self.cfg.behind_after_minutes * 60
        if s["pending_objects"] and s["lag_seconds"] > limit:
            self.alarms.raise_("offload_behind", "warning",
                               f"{s['pending_objects']} object(s) of held evidence wait for the bucket, the oldest "
                               f"for {s['lag_seconds'] / 60:.0f} min (threshold {self.cfg.behind_after_minutes:g} min)",
                               details={"pending_objects": s["pending_objects"], "lag_seconds": s["lag_seconds"],
                                        "last_error": self.last_error})
        else:
            self.alarms.clear("offload_behind")

    # -- one object -------------------------------------------------------------------------------
    def upload(self, bucket: Bucket, item: Item) -> bool:
        if item.state == "extend" and item.version_id:
            return self._extend(bucket, item)
        seg_id = int(item.source.split(":", 1)[1]) if item.kind == "segment" else None
        try:
            with self.pinned([seg_id] if seg_id is not None else []):
                body, sha, size = self._open(item)
                try:
                    if item.expected_sha256 and sha != item.expected_sha256:
                        raise ChecksumMismatch(f"the box's copy hashes to {sha}, its record says "
                                               f"{item.expected_sha256}")
                    if item.in_flight and self._recover(bucket, item, sha, size):
                        return True
                    self.queue.sending(item)
                    stored = bucket.put(item.key, body, sha, size, item.retain_until_us, self._metadata(item, sha))
                finally:
                    body.close()
        except FileNotFoundError:
            self.queue.gone(item, "the source is no longer on the box")
            log.warning("offload %s: the source is gone before it was copied", item.source)
            return False
        except ChecksumMismatch as exc:
            self._retry(item, str(exc))
            self.register.append(SYSTEM, "offload_upload", result="failed", subject=item.source,
                                 cameras=self._cameras(item), detail=self._detail(item, None) | {"error": str(exc)})
            log.error("offload %s: checksum mismatch: %s", item.source, exc)
            return False
        except (OffloadError, OSError) as exc:
            self._retry(item, str(exc))
            log.warning("offload %s: %s (attempt %d)", item.source, exc, item.attempts + 1)
            return False
        now = self.clock.now_us()
        self.queue.done(item, now, stored.sha256_hex, stored.version_id, stored.locked_until_us)
        self.register.append(SYSTEM, "offload_upload", subject=item.source, cameras=self._cameras(item),
                             detail=self._detail(item, stored.version_id) | {"sha256": stored.sha256_hex,
                                                                            "locked_until_us": stored.locked_until_us})
        log.info("offload %s -> s3://%s/%s (version %s)", item.source, bucket.name, item.key, stored.version_id)
        return True

    def _recover(self, bucket: Bucket, item: Item, sha: str, size: int) -> bool:
        """After a crash during a PUT: register the versions it left, and keep a good one instead of
        sending the object again. Every version in the bucket thus ends up in the register."""
        known = {e.detail.get("version_id") for e in self.register.entries_for_subject(item.source)}
        kept = None
        for version in bucket.versions(item.key):
            if version in known:
                continue
            try:
                stored = bucket.verify(item.key, version, sha, size, item.retain_until_us)
            except OffloadError as exc:
                self.register.append(SYSTEM, "offload_upload", result="failed", subject=item.source,
                                     cameras=self._cameras(item),
                                     detail=self._detail(item, version) | {"recovered": True, "error": str(exc)})
                continue
            self.register.append(SYSTEM, "offload_upload", subject=item.source, cameras=self._cameras(item),
                                 detail=self._detail(item, version) | {"recovered": True, "sha256": sha,
                                                                       "locked_until_us": stored.locked_until_us})
            kept = kept or stored
        if kept is None:
            return False
        self.queue.done(item, self.clock.now_us(), kept.sha256_hex, kept.version_id, kept.locked_until_us)
        log.info("offload %s: kept version %s stored before a restart", item.source, kept.version_id)
        return True

    def _extend(self, bucket: Bucket, item: Item) -> bool:
        assert item.version_id is not None and item.sha256 is not None
        try:
            locked = bucket.extend(item.key, item.version_id, item.retain_until_us)
        except OffloadError as exc:
            self._retry(item, str(exc))
            return False
        self.queue.done(item, self.clock.now_us(), item.sha256, item.version_id, locked)
        self.register.append(SYSTEM, "offload_upload", subject=item.source, cameras=self._cameras(item),
                             detail=self._detail(item, item.version_id) | {"extended": True, "locked_until_us": locked})
        return True

    def _retry(self, item: Item, error: str) -> None:
        self._failed(error)
        self.queue.failed(item, self.clock.now_us(), error, self.cfg.max_backoff_seconds)
        if "no version id" in error or "not locked" in error:
            self._bucket = None  # the bucket's configuration changed: check it again before the next upload

    def _open(self, item: Item) -> tuple[IO[bytes], str, int]:
        if item.body is not None:
            import hashlib

            return io.BytesIO(item.body), hashlib.sha256(item.body).hexdigest(), len(item.body)
        assert item.path is not None
        path = self.root / item.path
        sha = sha256_of_file(path)
        f = open(path, "rb")  # noqa: SIM115 - closed by the caller after the PUT
        size = path.stat().st_size
        return f, sha, size

    def _cameras(self, item: Item) -> list[str]:
        if item.kind == "segment" and item.path:
            parts = item.path.split("/")
            return [parts[1]] if len(parts) > 2 else []
        return []

    def _metadata(self, item: Item, sha: str) -> dict[str, str]:
        meta = {"edge-box": self.box, "edge-kind": item.kind, "edge-source": item.source, "edge-sha256": sha}
        if item.kind == "segment":
            seg = self.index.segment_by_id(int(item.source.split(":", 1)[1]))
            if seg is not None:
                meta |= {"edge-camera": seg.camera, "edge-seq": str(seg.seq), "edge-start-us": str(seg.start_us),
                         "edge-end-us": str(seg.end_us), "edge-chain": seg.chain}
        return meta

    def _detail(self, item: Item, version_id: str | None) -> dict[str, Any]:
        return {"kind": item.kind, "bucket": self.cfg.bucket, "key": item.key, "version_id": version_id,
                "bytes": item.size, "retain_until_us": item.retain_until_us, "mode": "COMPLIANCE"}

    # -- what monitoring and the status document read ---------------------------------------------
    def figures(self) -> OffloadFigures:
        s = self.queue.summary(self.clock.now_us())
        with self._lock:
            failures = self.failures
        return OffloadFigures(enabled=True, pending=s["pending_by_kind"], pending_bytes=s["pending_bytes"],
                              lag_seconds=s["lag_seconds"], uploaded_objects=s["uploaded_objects"],
                              uploaded_bytes=s["uploaded_bytes"], failures=failures,
                              last_success_us=s["last_success_us"])

    def status(self) -> dict[str, Any]:
        s = self.queue.summary(self.clock.now_us())
        with self._lock:
            s |= {"failures_since_start": self.failures, "last_error": self.last_error}
        return {"enabled": True, "endpoint": self.cfg.endpoint_url or f"aws:{self.cfg.region}",
                "bucket": self.cfg.bucket, "prefix": f"{self.cfg.prefix}{self.box}/", "verify": self.cfg.verify,
                "behind": self.alarms.is_active("offload_behind")} | s
