"""Languages and local time: what every page, message and the filing pack show people.

Texts come from gettext catalogs (`locale/<lang>/LC_MESSAGES/edge.po`, compiled to `.mo` by
`scripts/compile_catalogs.py` and shipped in the wheel); English is the source language. The
language is the browser's preference when it names one the box has, else `[box] language`.

Every time is shown in `[box] timezone` with its offset, and every time typed into a form is read
in that zone and converted to UTC here, once (`parse_local`); nothing else interprets local time.
"""

from __future__ import annotations

import gettext
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from zoneinfo import ZoneInfo

from edge.i18n.message import Message

LOCALE_DIR = Path(__file__).resolve().parent / "locale"
DOMAIN = "edge"
#: Languages the box speaks (BCP 47 tag → gettext catalog name).
LANGUAGES = {"zh-CN": "zh_CN", "en": "en"}
INPUT_FORMAT = "%Y-%m-%dT%H:%M:%S"


@cache
def translations(language: str) -> gettext.NullTranslations:
    catalog = LANGUAGES.get(language, "en")
    if catalog == "en":
        return gettext.NullTranslations()
    return gettext.translation(DOMAIN, LOCALE_DIR, languages=[catalog], fallback=False)


def choose_language(accept_language: str | None, default: str) -> str:
    """The first language of the browser's Accept-Language the box has, else `default`."""
    prefs: list[tuple[float, int, str]] = []
    for i, part in enumerate((accept_language or "").split(",")):
        tag, _, params = part.strip().partition(";")
        q = 1.0
        if params.strip().startswith("q="):
            try:
                q = float(params.strip()[2:])
            except ValueError:
                q = 0.0
        if tag:
            prefs.append((-q, i, tag.strip()))
    for _q, _i, tag in sorted(prefs):
        low = tag.lower()
        if low in ("zh", "zh-cn", "zh-hans", "zh-hans-cn", "zh-sg"):
            return "zh-CN"
        if low == "en" or low.startswith("en-"):
            return "en"
    return default if default in LANGUAGES else "en"


@dataclass(frozen=True)
class Localizer:
    language: str
    timezone: str
    zone: ZoneInfo = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "zone", ZoneInfo(self.timezone))

    @property
    def html_lang(self) -> str:
        return self.language

    def gettext(self, message: str) -> str:
        return translations(self.language).gettext(message)

    def ngettext(self, singular: str, plural: str, n: int) -> str:
        return translations(self.language).ngettext(singular, plural, n)

    def message(self, message: Message | str) -> str:
        """A domain message (or a catalog text) in this language, its parameters filled in."""
        if isinstance(message, Message):
            return message.render(self.gettext)
        return self.gettext(message)

    # -- times shown -----------------------------------------------------------------------------
    def local(self, us: int) -> datetime:
        return datetime.fromtimestamp(us / 1e6, tz=UTC).astimezone(self.zone)

    @staticmethod
    def offset(dt: datetime) -> str:
        """UTC+08:00 (or UTC for zero): the offset is always written beside a time."""
        off = dt.utcoffset()
        if not off:
            return "UTC"
        minutes = int(off.total_seconds() // 60)
        sign = "+" if minutes >= 0 else "-"
        return f"UTC{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"

    def ts(self, us: int | None, seconds: bool = True) -> str:
        if us is None:
            return "-"
        dt = self.local(us)
        return f"{dt:%Y-%m-%d %H:%M:%S} {self.offset(dt)}" if seconds else f"{dt:%Y-%m-%d %H:%M} {self.offset(dt)}"

    def iso_ts(self, value: str | None) -> str:
        """An ISO 8601 time (as the API writes them), shown in the box's zone."""
        if not value:
            return "-"
        try:
            dt = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return value
        if dt.tzinfo is None:
            dt = dt.replace(tzinfo=UTC)
        local = dt.astimezone(self.zone)
        return f"{local:%Y-%m-%d %H:%M:%S} {self.offset(local)}"

    def zone_label(self, at_us: int | None = None) -> str:
        """`Asia/Shanghai, UTC+08:00`: what a form says its times are in."""
        dt = self.local(at_us) if at_us is not None else datetime.now(self.zone)
        return f"{self.timezone}, {self.offset(dt)}"

    def input_value(self, us: int) -> str:
        """A time as a `datetime-local` field's value, in the box's zone."""
        return self.local(us).replace(tzinfo=None, microsecond=0).strftime(INPUT_FORMAT)

    # -- times typed -------------------------------------------------------------------------------
    def parse_local(self, value: str) -> datetime | None:
        """The one place a typed time becomes UTC: a `datetime-local` value without an offset is a
        wall-clock time in the box's zone; one with an offset keeps it. None when empty; ValueError
        when it is not a time."""
        value = value.strip()
        if not value:
            return None
        dt = datetime.fromisoformat(value)
        if dt.tzinfo is None:
            # fold=0: in a zone with summer time, an ambiguous hour is its first occurrence.
            dt = dt.replace(tzinfo=self.zone)
        return dt.astimezone(UTC)

    def day_bounds(self, value: str, end: bool) -> datetime | None:
        """A `date` field as the start of that local day (or of the next one for 'until'), in UTC."""
        if not value:
            return None
        day = datetime.fromisoformat(value).replace(tzinfo=self.zone)
        if end:
            day = datetime.fromordinal(day.toordinal() + 1).replace(tzinfo=self.zone)
        return day.astimezone(UTC)
