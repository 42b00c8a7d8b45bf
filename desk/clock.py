"""Time as the desk shows it: one time zone (UTC) for /stats' "today" and for history stamps."""

from __future__ import annotations

from datetime import UTC, datetime

import texts

ZONE = UTC
ZONE_NAME = "UTC"


def day_start(now: float) -> float:
    """The Unix time of the midnight that began `now`'s day."""
    moment = datetime.fromtimestamp(now, ZONE)
    return moment.replace(hour=0, minute=0, second=0, microsecond=0).timestamp()


def stamp(ts: float) -> str:
    """A moment as 'YYYY-MM-DD HH:MM:SS'."""
    return datetime.fromtimestamp(ts, ZONE).strftime("%Y-%m-%d %H:%M:%S")


def duration(seconds: float | None, lang: str) -> str:
    """A duration as H:MM:SS, or a dash when there is none yet."""
    if seconds is None:
        return texts.t(lang, "stats_none")
    seconds = round(seconds)
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"
