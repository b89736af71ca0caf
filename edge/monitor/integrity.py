"""The checkpoint service: a signed checkpoint of every chain head every `[integrity]
checkpoint_seconds` and one at shutdown, each timestamped by the TSA when one is configured.

A TSA failure never delays a checkpoint or recording: the checkpoint is kept without its token,
the `timestamp_failed` alarm is raised and the untimed checkpoints are retried, newest first,
with a wait that doubles from 5 s up to `tsa_retry_max_seconds`. The alarm clears at the first
success.
"""

from __future__ import annotations

import logging
import threading

from edge.config_sections import IntegrityConfig
from edge.monitor.alarms import AlarmCenter
from edge.monitor.tsa_client import TsaClient
from edge.periodic import PeriodicService
from storage import checkpoints
from storage.checkpoints import Checkpoint
from storage.clock import Clock
from storage.index import Index
from storage.signing import DeviceKey
from storage.tsa import TsaError, TsaVerifier

log = logging.getLogger(__name__)

RETRY_FIRST_SECONDS = 5.0
#: Untimed checkpoints stamped per tick (after an outage, the backlog drains a few at a time).
STAMPS_PER_TICK = 8


def tsa_client(cfg: IntegrityConfig) -> TsaClient | None:
    if cfg.tsa_url is None:
        return None
    verifier = TsaVerifier(cfg.tsa_ca_file, cfg.tsa_cert_file) if cfg.tsa_ca_file is not None else None
    return TsaClient(cfg.tsa_url, cfg.tsa_timeout, verifier)


class IntegrityService(PeriodicService):
    name = "integrity"

    def __init__(self, cfg: IntegrityConfig, box_id: str, index: Index, key: DeviceKey, alarms: AlarmCenter,
                 clock: Clock, tsa: TsaClient | None = None) -> None:
        super().__init__(min(cfg.checkpoint_seconds, RETRY_FIRST_SECONDS))
        self.cfg = cfg
        self.box_id = box_id
        self.index = index
        self.key = key
        self.alarms = alarms
        self.clock = clock
        self.tsa = tsa
        self._lock = threading.Lock()  # the periodic tick and the shutdown checkpoint
        self.last: Checkpoint | None = checkpoints.latest(index.reader())
        self.made = 0
        self.stamped = 0
        self.tsa_failures = 0
        self._retry_wait = RETRY_FIRST_SECONDS
        self._next_stamp_us = 0

    # -- the periodic work ------------------------------------------------------------------
    def checkpoint(self) -> Checkpoint:
        with self._lock:
            cp = checkpoints.make_checkpoint(self.index, self.key, self.box_id, self.clock.now_us())
            self.last = cp
            self.made += 1
        log.debug("checkpoint #%d: %d camera(s)", cp.id, len(cp.content["cameras"]))
        return cp

    def tick(self) -> None:
        now = self.clock.now_us()
        last = self.last
        if last is None or now - last.time_us >= self.cfg.checkpoint_seconds * 1_000_000:
            try:
                self.checkpoint()
                self.alarms.clear("checkpoint_failed")
            except Exception as exc:
                self.alarms.raise_("checkpoint_failed", "critical", f"cannot write a checkpoint: {exc}")
                raise
        if self.tsa is not None and self.clock.now_us() >= self._next_stamp_us:
            self.stamp_pending()

    def stamp_pending(self) -> int:
        """Timestamp the untimed checkpoints (newest first); returns how many got a token."""
        assert self.tsa is not None
        done = 0
        for cp in checkpoints.untimed(self.index.reader(), STAMPS_PER_TICK):
            try:
                token, gen_us = self.tsa.stamp(cp.body.encode("utf-8"))
            except (TsaError, OSError) as exc:
                self.tsa_failures += 1
                self._next_stamp_us = self.clock.now_us() + int(self._retry_wait * 1_000_000)
                self.alarms.raise_("timestamp_failed", "warning",
                                   f"TSA {self.tsa.url}: {exc}; checkpoint #{cp.id} kept without a timestamp,"
                                   f" retry in {self._retry_wait:g} s",
                                   details={"checkpoint": cp.id, "failures": self.tsa_failures})
                self._retry_wait = min(self._retry_wait * 2, self.cfg.tsa_retry_max_seconds)
                return done
            checkpoints.set_token(self.index, cp.id, token, gen_us)
            done += 1
            self.stamped += 1
        if done:
            self._retry_wait = RETRY_FIRST_SECONDS
            self._next_stamp_us = 0
            self.alarms.clear("timestamp_failed")
        return done

    def final_checkpoint(self) -> None:
        """At shutdown, after the workers closed their segments: the last heads, signed (the next
        start timestamps it; the shutdown budget has no room for a TSA round trip)."""
        try:
            cp = self.checkpoint()
            log.info("checkpoint #%d at shutdown", cp.id)
        except Exception:
            log.exception("cannot write the shutdown checkpoint")

    def metrics(self) -> dict[str, object]:
        """For edge/metrics.py: the last checkpoint's time and heads."""
        last = self.last
        return {"time_us": None if last is None else last.time_us,
                "heads": {} if last is None else {c: h["seq"] for c, h in last.content["cameras"].items()},
                "made": self.made, "stamped": self.stamped, "tsa_failures": self.tsa_failures}
