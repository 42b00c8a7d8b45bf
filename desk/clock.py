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


def iso(ts: float | None, tz: str = "UTC") -> str:
    """A moment in ISO 8601 with its offset, or '' for none."""
    return datetime.fromtimestamp(ts, zone(tz)).isoformat(timespec="seconds") if ts is not None else ""


def duration(seconds: float | None, lang: str) -> str:
    """A duration as H:MM:SS, or a dash when there is none yet."""
    if seconds is None:
        return texts.t(lang, "stats_none")
    seconds = round(seconds)
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"
