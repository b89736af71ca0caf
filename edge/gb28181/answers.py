"""The device's MANSCDP answers (GB/T 28181-2016 Annex A.2.6, same elements in 2022): Catalog,
DeviceInfo, DeviceStatus, RecordInfo, and the Alarm notification.

Large answers are split into several messages with `SumNum` the total and `DeviceList`/`RecordList`
`Num` the count in each (A.2.6.4/A.2.6.7), as platforms collect until they have SumNum items.
Times are local time without zone (`2026-12-01T08:00:00`), as the standard writes them.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, tzinfo

from edge.gb28181 import manscdp
from edge.gb28181.interfaces import AlarmLike, Channel, SegmentLike

#: Consecutive segments closer than this are one recorded span (segments abut at keyframes).
SPAN_JOIN_US = 1_000_000


@dataclass(frozen=True)
class DeviceIdentity:
    device_id: str
    name: str
    manufacturer: str
    model: str
    firmware: str
    civil_code: str
    tz: tzinfo | None = None


def gb_time(us: int, tz: tzinfo | None) -> str:
    dt = datetime.fromtimestamp(us / 1e6, tz) if tz is not None else datetime.fromtimestamp(us / 1e6)
    return dt.strftime("%Y-%m-%dT%H:%M:%S")


def parse_gb_time(text: str, tz: tzinfo | None) -> int:
    """`2026-12-01T08:00:00` (local) to epoch microseconds; ValueError when malformed."""
    dt = datetime.strptime(text.strip().replace(" ", "T")[:19], "%Y-%m-%dT%H:%M:%S")
    dt = dt.replace(tzinfo=tz) if tz is not None else dt.astimezone()
    return int(dt.timestamp() * 1_000_000)


def chunks(items: list[ET.Element], size: int) -> list[list[ET.Element]]:
    return [items[i:i + size] for i in range(0, len(items), size)] or [[]]


def catalog_item(dev: DeviceIdentity, ch: Channel, event: str | None = None) -> ET.Element:
    item = ET.Element("Item")
    manscdp.fields(item, {
        "DeviceID": ch.channel_id, "Name": ch.name, "Manufacturer": dev.manufacturer, "Model": dev.model,
        "Owner": "Owner", "CivilCode": dev.civil_code, "Address": ch.location or ch.name, "Parental": 0,
        "ParentID": dev.device_id, "SafetyWay": 0, "RegisterWay": 1, "Secrecy": 0,
        "Status": "ON" if ch.online else "OFF",
    })
    if event is not None:
        manscdp.fields(item, {"Event": event})
    return item


def catalog(dev: DeviceIdentity, sn: int, channels: list[Channel], per_message: int,
            root: str = "Response", cmd: str = "Catalog", events: dict[str, str] | None = None) -> list[bytes]:
    """One Catalog answer (or subscription Notify) per `per_message` channels; SumNum is the total."""
    items = [catalog_item(dev, c, (events or {}).get(c.channel_id)) for c in channels]
    out = []
    for part in chunks(items, per_message):
        doc = manscdp.document(root, cmd, sn, dev.device_id, {"SumNum": len(items)},
                               manscdp.element("DeviceList", *part, Num=str(len(part))))
        out.append(doc)
    return [manscdp.serialize(d) for d in out]


def device_info(dev: DeviceIdentity, sn: int, channel_count: int, encoding: str) -> bytes:
    return manscdp.serialize(manscdp.document("Response", "DeviceInfo", sn, dev.device_id, {
        "DeviceName": dev.name, "Result": "OK", "DeviceType": "NVR", "Manufacturer": dev.manufacturer,
        "Model": dev.model, "Firmware": dev.firmware, "Channel": channel_count, "MaxCamera": channel_count,
        "MaxAlarm": 0,
    }), encoding)


def device_status(dev: DeviceIdentity, sn: int, target: str, channels: list[Channel], alarms: list[AlarmLike],
                  now_us: int, encoding: str) -> bytes:
    """Device-wide (target = device id) or one channel's status; alarm duty per channel."""
    chosen = [c for c in channels if target in (dev.device_id, c.channel_id)]
    online = any(c.online for c in chosen) if target != dev.device_id else True
    recording = any(c.recording for c in chosen)
    duty = []
    for c in chosen:
        alarmed = any(a.camera == c.camera_id for a in alarms)
        duty.append(manscdp.fields(ET.Element("Item"), {"DeviceID": c.channel_id,
                                                        "DutyStatus": "ALARM" if alarmed else "ONDUTY"}))
    box_alarm = any(a.camera is None for a in alarms)
    return manscdp.serialize(manscdp.document("Response", "DeviceStatus", sn, target, {
        "Result": "OK", "Online": "ONLINE" if online else "OFFLINE",
        "Status": "ERROR" if box_alarm else "OK", "Encode": "ON", "Record": "ON" if recording else "OFF",
        "DeviceTime": gb_time(now_us, dev.tz),
    }, manscdp.element("Alarmstatus", *duty, Num=str(len(duty)))), encoding)


def record_spans(segments: Iterable[SegmentLike], start_us: int, end_us: int) -> list[tuple[int, int]]:
    """Recorded spans of a channel within [start, end): segments joined, gaps left out."""
    spans: list[list[int]] = []
    for seg in sorted(segments, key=lambda s: s.start_us):
        s, e = max(seg.start_us, start_us), min(seg.end_us, end_us)
        if e <= s:
            continue
        if spans and s - spans[-1][1] <= SPAN_JOIN_US:
            spans[-1][1] = max(spans[-1][1], e)
        else:
            spans.append([s, e])
    return [(s, e) for s, e in spans]


def record_info(dev: DeviceIdentity, sn: int, ch: Channel, spans: list[tuple[int, int]], per_message: int,
                encoding: str) -> list[bytes]:
    items = []
    for s, e in spans:
        items.append(manscdp.fields(ET.Element("Item"), {
            "DeviceID": ch.channel_id, "Name": ch.name, "FilePath": f"{ch.camera_id}/{s}", "Address": ch.location or "",
            "StartTime": gb_time(s, dev.tz), "EndTime": gb_time(e, dev.tz), "Secrecy": 0, "Type": "time",
            "RecorderID": dev.device_id,
        }))
    out = []
    for part in chunks(items, per_message):
        out.append(manscdp.serialize(manscdp.document(
            "Response", "RecordInfo", sn, ch.channel_id, {"Name": ch.name, "SumNum": len(items)},
            manscdp.element("RecordList", *part, Num=str(len(part)))), encoding))
    return out


#: edge alarm code -> (AlarmPriority 1 highest..4, AlarmMethod, AlarmType) per 2016 A.2.5 / 9.4:
#: method 2 device alarm (type 1 video loss, 3 storage full), 5 video alarm (type 11 video
#: abnormal), 6 device fault (type 1 disk fault).
ALARM_CODES: dict[str, tuple[int, int, int]] = {
    "offline": (2, 2, 1), "stalled": (2, 2, 1),
    "covered": (2, 5, 11), "moved": (2, 5, 11), "dark": (3, 5, 11), "overexposed": (3, 5, 11),
    "blurred": (3, 5, 11), "frozen": (3, 5, 11),
    "disk_full": (1, 2, 3), "capacity": (3, 2, 3), "floor_at_risk": (2, 2, 3), "floor_breach": (1, 2, 3),
    "disk_error": (1, 6, 1), "recovery": (4, 6, 1),
}


def alarm_notify(dev: DeviceIdentity, sn: int, alarm: AlarmLike, channel_id: str | None) -> bytes:
    priority, method, kind = ALARM_CODES.get(alarm.code, (4, 7, 0))
    info = manscdp.fields(ET.Element("Info"), {"AlarmType": kind})
    return manscdp.serialize(manscdp.document("Notify", "Alarm", sn, channel_id or dev.device_id, {
        "AlarmPriority": priority, "AlarmMethod": method, "AlarmTime": gb_time(alarm.since_us, dev.tz),
        "AlarmDescription": f"{alarm.code}: {alarm.message}"[:128],
    }, info))


def keepalive(dev: DeviceIdentity, sn: int, status_ok: bool) -> bytes:
    return manscdp.serialize(manscdp.document("Notify", "Keepalive", sn, dev.device_id,
                                              {"Status": "OK" if status_ok else "ERROR"}))
