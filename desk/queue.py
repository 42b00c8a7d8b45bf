"""The queue as people see it: /queue, and alerts when someone waits too long."""

from __future__ import annotations

import db
import texts
from desk import Desk, clock

PREVIEW = 60        # characters of a waiting client's first message shown in /queue


def preview(text: str | None) -> str:
    """The first words of a message, on one line, at most PREVIEW characters."""
    flat = " ".join((text or "").split())
    return flat if len(flat) <= PREVIEW else flat[:PREVIEW - 1].rstrip() + "…"


def show(desk: Desk, chat_id: int, lang: str) -> None:
    """/queue: the waiting clients in order, with how long they have waited and their first words."""
    waiting = db.list_queue(desk.conn)
    if not waiting:
        desk.say(chat_id, lang, "queue_empty")
        return
    lines = [texts.t(lang, "queue_line", position=i, name=d["client_name"], client_id=d["client_id"],
                     waited=clock.duration(desk.now - d["queued_at"], lang), preview=preview(d["first_text"]))
             for i, d in enumerate(waiting, 1)]
    desk.say(chat_id, lang, "queue_title", count=len(waiting), lines="\n".join(lines))


def alert_long_waits(desk: Desk) -> int:
    """Tell admins (or, with none, available agents) once about each client waiting too long."""
    limit = desk.settings.queue_alert_seconds
    if not limit:
        return 0
    late = db.dialogs_waiting_since(desk.conn, desk.now - limit)
    if not late:
        return 0
    recipients = sorted(desk.settings.admin_ids) or [a["user_id"] for a in db.list_available_agents(desk.conn)]
    if not recipients:
        return 0            # nobody to tell now: the alert goes out when someone is available
    for dialog in late:
        for chat_id in recipients:
            agent = db.get_agent(desk.conn, chat_id)
            lang = desk.lang(agent["language_code"] if agent else None)
            desk.say(chat_id, lang, "queue_alert", name=dialog["client_name"], client_id=dialog["client_id"],
                     waited=clock.duration(desk.now - dialog["queued_at"], lang))
        db.mark_alerted(desk.conn, dialog["id"], desk.now)
    return len(late)
