"""Answers to the platform's MANSCDP queries: Catalog, DeviceInfo, DeviceStatus, RecordInfo
(the documents themselves are built in `answers.py`)."""

from __future__ import annotations

import logging
from collections.abc import Callable

from edge.gb28181 import answers, manscdp, sip
from edge.gb28181.config import Gb28181Config
from edge.gb28181.interfaces import Channel, Sources

log = logging.getLogger(__name__)


class QueryAnswers:
    def __init__(self, cfg: Gb28181Config, identity: answers.DeviceIdentity, sources: Sources,
                 now_us: Callable[[], int], channels: Callable[[], list[Channel]],
                 send: Callable[[bytes], sip.Message | None]) -> None:
        self.cfg = cfg
        self.identity = identity
        self.sources = sources
        self.now_us = now_us
        self._channels = channels
        self._message = send

    def record_range(self, cmd: manscdp.Command) -> tuple[Channel, int, int]:
        channel = next((c for c in self._channels() if c.channel_id == cmd.device_id), None)
        if channel is None:
            raise ValueError(f"no channel {cmd.device_id}")
        start = answers.parse_gb_time(cmd.text("StartTime"), self.identity.tz)
        end = answers.parse_gb_time(cmd.text("EndTime"), self.identity.tz)
        if end <= start:
            raise ValueError("EndTime before StartTime")
        return channel, start, end

    def answer(self, cmd: manscdp.Command) -> None:
        channels = self._channels()
        if cmd.cmd_type == "Catalog":
            bodies = answers.catalog(self.identity, cmd.sn, channels, self.cfg.max_items_per_message)
        elif cmd.cmd_type == "DeviceInfo":
            bodies = [answers.device_info(self.identity, cmd.sn, len(channels), cmd.encoding)]
        else:
            target = cmd.device_id or self.cfg.device_id
            bodies = [answers.device_status(self.identity, cmd.sn, target, channels, self.sources.alarms.active(),
                                            self.now_us(), cmd.encoding)]
        for body in bodies:
            if self._message(body) is None:
                log.warning("gb28181: platform did not acknowledge the %s answer", cmd.cmd_type)

    def answer_record_info(self, cmd: manscdp.Command, channel: Channel, start: int, end: int) -> None:
        segments = self.sources.index.segments_in_range(channel.camera_id, start, end)
        spans = answers.record_spans(segments, start, end)
        for body in answers.record_info(self.identity, cmd.sn, channel, spans, self.cfg.max_items_per_message,
                                        cmd.encoding):
            if self._message(body) is None:
                log.warning("gb28181: platform did not acknowledge a RecordInfo answer")
