"""What admins see and do: the agents, the team's figures, removing an agent."""

from __future__ import annotations

import db
import texts
from desk import Desk, agents, clock, routing, stats

CONTEXT_DAYS = 30      # /stats all counts the dialogs per deep link over this many days


def is_admin(desk: Desk, user_id: int) -> bool:
    """Whether the user is one of ADMIN_IDS."""
    return user_id in desk.settings.admin_ids


def show_agents(desk: Desk, chat_id: int, lang: str) -> None:
    """/agents: every agent with availability, load and last seen."""
    agents = db.list_agents(desk.conn)
    if not agents:
        desk.say(chat_id, lang, "agents_none")
        return
    lines = []
    for a in agents:
        state = texts.t(lang, "agents_available" if a["is_available"] else "agents_away")
        lines.append(texts.t(lang, "agents_line", name=a["name"], agent_id=a["user_id"],
                             username=f' @{a["username"]}' if a["username"] else "", state=state,
                             open=a["open_dialogs"], limit=desk.settings.max_chats_per_agent,
                             seen=clock.stamp(a["last_seen_at"], desk.settings.timezone)[:16]))
    desk.say(chat_id, lang, "agents_title", lines="\n".join(lines))


def remove(desk: Desk, chat_id: int, lang: str, agent_id: int) -> bool:
    """/remove_support <agent_id>; True when someone was removed."""
    agent = db.get_agent(desk.conn, agent_id)
    if agent is None:
        desk.say(chat_id, lang, "remove_unknown", agent_id=agent_id)
        return False
    routing.remove_agent(desk, agent)
    desk.say(chat_id, lang, "remove_done", name=agent["name"], agent_id=agent_id)
    return True


def team_report(desk: Desk, lang: str) -> str:
    """/stats all: each agent's figures, and the queue."""
    lines = [texts.t(lang, "team_line", name=r["name"], agent_id=r["user_id"], today=r["dialogs_today"],
                     total=r["dialogs_total"], first=clock.duration(r["avg_first_response"], lang),
                     length=clock.duration(r["avg_duration"], lang), open=r["open_dialogs"])
             + "; " + stats.rating_line(r["avg_rating"], r["ratings"], lang)
             for r in db.team_stats(desk.conn, clock.day_start(desk.now, desk.settings.timezone))]
    since = db.longest_wait_since(desk.conn)
    wait = clock.duration(desk.now - since if since is not None else None, lang)
    report = texts.t(lang, "team_stats", lines="\n".join(lines) or texts.t(lang, "agents_none"),
                     queue=db.queue_length(desk.conn), longest=wait)
    contexts = db.contexts_since(desk.conn, desk.now - CONTEXT_DAYS * 86400)
    if contexts:
        report += "\n\n" + texts.t(lang, "team_contexts", days=CONTEXT_DAYS,
                                    lines="\n".join(f"• {c['context']}: {c['dialogs']}" for c in contexts))
    return report


def report_backup_failure(desk: Desk, reason: str) -> None:
    """Tell every admin that an automatic backup failed (the log has the details too)."""
    for admin_id in sorted(desk.settings.admin_ids):
        desk.say(admin_id, agents.language_of(desk, admin_id), "backup_failed", reason=reason)
