"""Working hours: when the desk hands out clients, and when it is back (in TIMEZONE)."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import texts
from config import Settings

DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


def is_open(settings: Settings, now: float) -> bool:
    """Whether `now` falls within WORKING_HOURS (always, when it is not set)."""
    if not settings.working_hours:
        return True
    local = datetime.fromtimestamp(now, ZoneInfo(settings.timezone))
    minute = local.hour * 60 + local.minute
    return any(day == local.weekday() and start <= minute < end for day, start, end in settings.working_hours)


def next_opening(settings: Settings, now: float) -> datetime | None:
    """The next moment the desk opens, in TIMEZONE (None if it never does or is always open)."""
    if not settings.working_hours:
        return None
    zone = ZoneInfo(settings.timezone)
    local = datetime.fromtimestamp(now, zone).replace(second=0, microsecond=0)
    for days_ahead in range(8):
        day = (local + timedelta(days=days_ahead)).date()
        starts = sorted(start for d, start, _end in settings.working_hours if d == day.weekday())
        for start in starts:
            moment = datetime(day.year, day.month, day.day, start // 60, start % 60, tzinfo=zone)
            if moment > local:
                return moment
    return None


def _clock(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def describe(settings: Settings, lang: str) -> str:
    """The working hours as people read them: 'Mon 09:00–18:00, Sat 10:00–14:00 (Europe/Moscow)'."""
    names = texts.t(lang, "weekdays").split()
    parts = [f"{names[day]} {_clock(start)}–{_clock(end)}" for day, start, end in settings.working_hours]
    return ", ".join(parts) + f" ({settings.timezone})"


def next_opening_text(settings: Settings, now: float, lang: str) -> str:
    """When the team is back, as a day and a time in TIMEZONE."""
    moment = next_opening(settings, now)
    if moment is None:
        return "—"
    names = texts.t(lang, "weekdays").split()
    return f"{names[moment.weekday()]} {moment:%d.%m %H:%M}"
