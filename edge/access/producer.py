"""The export producer: a background service that turns approved exports into signed bundles.

A bundle is built in `<root>/exports/.<id>.partial/` and renamed to `<root>/exports/<id>/` when
complete, so a crash leaves either nothing or a whole bundle; an export interrupted by a stop or
a crash is still `approved`/`producing` and is produced again at the next start. Segments being
read are pinned so retention cannot delete them mid-read.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import shutil
from pathlib import Path
from typing import Any

from edge.access.bundle import MANIFEST, write_bundle
from edge.access.bundle_proof import add_proof
from edge.access.exports import Export, ExportManager, State
from edge.config import EdgeConfig
from edge.periodic import PeriodicService
from storage.clip_mux import ClipResult, ExportAborted, ExportError, write_clip
from storage.clock import iso_precise as iso
from storage.fsutil import fsync_dir, rename_durable
from storage.index import Segment
from storage.register import SYSTEM, AccessRegister
from storage.salvage import sha256_file
from storage.signing import DeviceKey
from storage.store import SegmentStore

log = logging.getLogger(__name__)


def safe_name(text: str) -> str:
    """A file name from box id, case number and camera: letters, digits, '-', '_' and '.' only."""
    return re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-.") or "export"


class ExportProducer(PeriodicService):
    name = "exports"

    def __init__(self, cfg: EdgeConfig, store: SegmentStore, exports: ExportManager, register: AccessRegister,
                 key: DeviceKey, interval: float = 30.0) -> None:
        super().__init__(interval)
        self.cfg = cfg
        self.store = store
        self.exports = exports
        self.register = register
        self.key = key
        self.dir = store.layout.exports_dir
        self._swept = False
        exports.on_approved = lambda _id: self.wake()

    def stopping(self) -> bool:
        return self._stop.is_set()

    def tick(self) -> None:
        self.exports.expire_due()
        todo = self.exports.list(limit=1000, states=(State.APPROVED, State.PRODUCING))
        if not self._swept:
            self._sweep({e.id for e in todo})
            self._swept = True
        for exp in sorted(todo, key=lambda e: e.id):
            if self.stopping():
                return
            self.produce(exp)

    def _sweep(self, keep: set[int]) -> None:
        """Temporary bundle directories of exports that will not be produced again are debris."""
        for p in self.dir.glob(".*.partial"):
            with contextlib.suppress(ValueError):
                if int(p.name[1:].split(".")[0]) in keep:
                    continue
            shutil.rmtree(p, ignore_errors=True)
            log.info("removed an unfinished export directory %s", p.name)

    def final_dir(self, export_id: int) -> Path:
        return self.dir / str(export_id)

    def produce(self, exp: Export) -> None:
        final = self.final_dir(exp.id)
        if final.is_dir() and (final / MANIFEST).exists():
            # Renamed into place before a crash hit the state update: the bundle is complete.
            self._finish(exp, sha256_file(final / MANIFEST)[0], recovered=True)
            return
        self.exports.set_state(exp.id, State.PRODUCING)
        self.exports.progress[exp.id] = 0.0
        tmp = self.dir / f".{exp.id}.partial"
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(mode=0o750, parents=True)
        try:
            clips = self._clips(exp, tmp)
            if not any(c.file for c in clips):
                raise ExportError("no recorded footage in the requested range: "
                                  + "; ".join(f"{c.camera}: {g['reasons']}" for c in clips for g in c.gaps))
            manifest = self._manifest(exp, clips)
            # The checkpoint(s) and TSA tokens covering the source segments (edge/bundle_proof.py).
            manifest["proof"] = add_proof(tmp, self.cfg, self.store.index, self.key, self._sources(exp, clips),
                                          self.exports.clock.now_us())
            manifest_sha = write_bundle(tmp, manifest, self.key)
            rename_durable(tmp, final)
        except ExportAborted:
            log.info("export %d: interrupted; it is produced again at the next start", exp.id)
            return
        except (ExportError, OSError, ValueError) as exc:
            shutil.rmtree(tmp, ignore_errors=True)
            self._fail(exp, str(exc))
            return
        except Exception as exc:  # the failure is the export's, not the producer's
            log.exception("export %d: production failed", exp.id)
            shutil.rmtree(tmp, ignore_errors=True)
            self._fail(exp, f"internal error: {exc!r}")
            return
        self._finish(exp, manifest_sha)

    def _clips(self, exp: Export, tmp: Path) -> list[ClipResult]:
        spec = exp.spec
        index = self.store.index
        per_cam = {cam: index.segments_in_range(cam, spec.start_us, spec.end_us) for cam in spec.cameras}
        total = max(1, sum(len(s) for s in per_cam.values()))
        done = 0

        def step() -> None:
            nonlocal done
            done += 1
            self.exports.progress[exp.id] = 100.0 * done / total * 0.98

        results = []
        for cam, segs in per_cam.items():
            ids = {s.id for s in segs}
            with self.store.pinned(ids):
                # Pin, then re-read: a segment retention marked before the pin is no longer 'stored'.
                live = [s for s in index.segments_in_range(cam, spec.start_us, spec.end_us) if s.id in ids]
                results.append(write_clip(index, self.store.layout.root, cam, live, spec.start_us, spec.end_us,
                                          tmp / self.clip_name(exp, cam), step, self.stopping))
        return results

    def _sources(self, exp: Export, clips: list[ClipResult]) -> dict[str, list[Segment]]:
        out: dict[str, list[Segment]] = {}
        for c in clips:
            segs = [self.store.index.segment_by_id(int(s["id"])) for s in c.segments]
            out[c.camera] = sorted((s for s in segs if s is not None), key=lambda s: s.seq)
        return out

    def clip_name(self, exp: Export, camera: str) -> str:
        """Box id, case number and camera in the file name (a clip keeps its origin when copied)."""
        return safe_name(f"{self.cfg.box.id}_{exp.spec.case_number or f'export-{exp.id}'}_{camera}") + ".mp4"

    def _manifest(self, exp: Export, clips: list[ClipResult]) -> dict[str, Any]:
        spec = exp.spec
        box = self.cfg.box
        entries = self.register.entries_for_subject(exp.subject)
        cameras = []
        for c in clips:
            d = c.to_json()
            d["requested_start_us"], d["requested_end_us"] = spec.start_us, spec.end_us
            cameras.append(d)
        assert exp.decider is not None
        now = self.exports.clock.now_us()
        return {
            "format": "edge-export/1",
            "export_id": exp.id,
            "created_us": now,
            "created": iso(now),
            "device": {"box_id": box.id, "name": box.name, "site": box.site, "operator": box.operator,
                       "public_key_fingerprint": self.key.fingerprint, "public_key_pem": self.key.public_pem},
            "request": {**spec.to_json(), "start": iso(spec.start_us), "end": iso(spec.end_us),
                        "requested_by": {"name": exp.requester.name, "credential_id": exp.requester.credential_id},
                        "requested_us": exp.requested_us},
            "approval": {"approved_by": {"name": exp.decider.name, "credential_id": exp.decider.credential_id},
                         "approved_us": exp.decided_us, "note": exp.decision_reason},
            "cameras": cameras,
            "register_entries": [{"id": e.id, "time_us": e.time_us, "action": e.action, "actor": e.actor,
                                  "credential_id": e.credential_id, "result": e.result, "chain": e.chain}
                                 for e in entries],
        }

    def _finish(self, exp: Export, manifest_sha: str, recovered: bool = False) -> None:
        final = self.final_dir(exp.id)
        size = sum(p.stat().st_size for p in final.iterdir() if p.is_file())
        os.chmod(final, 0o750)
        fsync_dir(self.dir)
        self.register.append(SYSTEM, "export_produce", subject=exp.subject,
                             detail={"manifest_sha256": manifest_sha, "bytes": size, "recovered": recovered},
                             **exp.spec.register_fields())
        self.exports.set_state(exp.id, State.READY, manifest_sha256=manifest_sha)
        log.info("export %d ready (%d bytes, manifest %s)", exp.id, size, manifest_sha[:16])

    def _fail(self, exp: Export, reason: str) -> None:
        log.warning("export %d failed: %s", exp.id, reason)
        self.register.append(SYSTEM, "export_produce", result="failed", subject=exp.subject,
                             detail={"reason": reason}, **exp.spec.register_fields())
        self.exports.set_state(exp.id, State.FAILED, error=reason)
