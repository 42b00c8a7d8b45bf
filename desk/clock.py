"""Time as the desk shows it: one time zone (TIMEZONE, UTC by default) for /stats' "today", history
stamps, /clients, /agents and /export."""

from __future__ import annotations

from datetime import datetime
from functools import lru_cache
from zoneinfo import ZoneInfo

import texts


@lru_cache(maxsize=8)
def zone(name: str) -> ZoneInfo:
    """The time zone called `name` (checked at start-up by config.load_settings)."""
    return ZoneInfo(name)


def day_start(now: float, tz: str = "UTC") -> float:
    """The Unix time of the midnight that began `now`'s day in zone `tz`."""
    moment = datetime.fromtimestamp(now, zone(tz))
    return moment.replace(hour=0, minute=0, second=0, microsecond=0).timestamp()


def stamp(ts: float, tz: str = "UTC") -> str:
    """A moment as 'YYYY-MM-DD HH:MM:SS' in zone `tz`."""
    return datetime.fromtimestamp(ts, zone(tz)).strftime("%Y-%m-%d %H:%M:%S")


class Stamps:
    """clock.stamp for many moments in a row (a /history file): the zone is consulted once a minute."""

    # Looking a moment up in a ZoneInfo and formatting it is most of a history line's cost; the
    # moments of one minute share everything but their seconds. A minute is cached only when its
    # offset is a whole number of minutes and the same at both its ends (no change of offset
    # inside it); any other moment goes the exact way.

    def __init__(self, tz: str = "UTC") -> None:
        self.tz = tz
        self._zone = zone(tz)
        self._minute: int | None = None
        self._prefix = ""

    def __call__(self, ts: float) -> str:
        if ts < 0:
            return stamp(ts, self.tz)       # before 1970: rare, and int() would round it the wrong way
        second = int(ts)
        if ts - second >= 0.9999995:        # datetime rounds to the microsecond: this is the next second
            second += 1
        minute = second // 60
        if minute != self._minute:
            start = datetime.fromtimestamp(minute * 60, self._zone)
            offset = start.utcoffset()
            if offset is None or offset.total_seconds() % 60 \
                    or datetime.fromtimestamp(minute * 60 + 59, self._zone).utcoffset() != offset:
                return stamp(ts, self.tz)
            self._minute, self._prefix = minute, start.strftime("%Y-%m-%d %H:%M:")
        return f"{self._prefix}{second % 60:02d}"


def iso(ts: float | None, tz: str = "UTC") -> str:
    """A moment in ISO 8601 with its offset, or '' for none."""
    return datetime.fromtimestamp(ts, zone(tz)).isoformat(timespec="seconds") if ts is not None else ""


def duration(seconds: float | None, lang: str) -> str:
    """A duration as H:MM:SS, or a dash when there is none yet."""
    if seconds is None:
        return texts.t(lang, "stats_none")
    seconds = round(seconds)
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"
