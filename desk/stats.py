"""An agent's figures for /stats: dialogs (today is the UTC day), messages, averages, the desk's state."""

from __future__ import annotations

import sqlite3

import db
import texts
from desk import Desk, clock


def agent_report(desk: Desk, agent: sqlite3.Row, lang: str) -> str:
    """The /stats text for one agent."""
    stats = db.agent_stats(desk.conn, agent["user_id"], clock.day_start(desk.now, desk.settings.timezone))
    names = [d["client_name"] for d in db.open_dialogs_for_agent(desk.conn, agent["user_id"])]
    current = texts.t(lang, "stats_current", name=", ".join(names)) if names else texts.t(lang, "stats_idle")
    report = texts.t(lang, "stats", dialogs_total=stats["dialogs_total"], dialogs_today=stats["dialogs_today"],
                   messages=stats["messages"], avg_first_response=clock.duration(stats["avg_first_response"], lang),
                   avg_duration=clock.duration(stats["avg_duration"], lang), current=current,
                   queue=db.queue_length(desk.conn), available=db.count_available_agents(desk.conn))
    return report + "\n" + rating_line(stats["avg_rating"], stats["ratings"], lang)


def rating_line(average: float | None, count: int, lang: str) -> str:
    """'Average rating: 4.5 (2 ratings)', a dash when there are none."""
    shown = f"{average:.1f}" if average is not None else texts.t(lang, "stats_none")
    return texts.t(lang, "stats_rating", rating=shown, count=count)
