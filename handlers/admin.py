"""Keeping order: bans (agents and admins), the team (admins)."""

from __future__ import annotations

import sqlite3

from telebot import types

from desk import Desk, agents, bans, export, health, team
from handlers import table
from handlers.guards import admin_command, staff_command
from handlers.incoming import argument, parse_id, split_argument


@staff_command
def cmd_ban(desk: Desk, m: types.Message, agent: sqlite3.Row | None) -> None:
    """Ban a client: their messages are kept but go nowhere."""
    lang = desk.lang(m.from_user.language_code)
    first, reason = split_argument(m)
    client_id = parse_id(first)
    if client_id is None:
        desk.say(m.chat.id, lang, "ban_usage")
        return
    bans.ban(desk, m.chat.id, lang, client_id, reason[:200] or None)


@staff_command
def cmd_unban(desk: Desk, m: types.Message, agent: sqlite3.Row | None) -> None:
    """Lift a ban."""
    lang = desk.lang(m.from_user.language_code)
    client_id = parse_id(argument(m))
    if client_id is None:
        desk.say(m.chat.id, lang, "unban_usage")
        return
    bans.unban(desk, m.chat.id, lang, client_id)


@staff_command
def cmd_banned(desk: Desk, m: types.Message, agent: sqlite3.Row | None) -> None:
    """List banned clients."""
    bans.show(desk, m.chat.id, desk.lang(m.from_user.language_code))


@admin_command
def cmd_health(desk: Desk, m: types.Message) -> None:
    """The desk's state at a glance, problems first."""
    desk.send_text(m.chat.id, health.report(desk, desk.lang(m.from_user.language_code)))


@admin_command
def cmd_export(desk: Desk, m: types.Message) -> None:
    """The dialogs of the last [days] (default 30) as a CSV file."""
    lang = desk.lang(m.from_user.language_code)
    arg = argument(m)
    days = int(arg) if arg.isdigit() and len(arg) <= 5 else (export.DEFAULT_DAYS if not arg else 0)
    if not 1 <= days <= export.MAX_DAYS:
        desk.say(m.chat.id, lang, "export_usage", max_days=export.MAX_DAYS)
        return
    desk.send_export(m.chat.id, days, lang)


@admin_command
def cmd_agents(desk: Desk, m: types.Message) -> None:
    """List every agent."""
    team.show_agents(desk, m.chat.id, desk.lang(m.from_user.language_code))


@admin_command
def cmd_remove_support(desk: Desk, m: types.Message) -> None:
    """Stop someone being an agent; their clients go back to the head of the queue."""
    lang = desk.lang(m.from_user.language_code)
    agent_id = parse_id(argument(m))
    if agent_id is None:
        desk.say(m.chat.id, lang, "remove_usage")
        return
    their_lang = agents.language_of(desk, agent_id)
    if team.remove(desk, m.chat.id, lang, agent_id):
        table.set_menu(desk, agent_id, their_lang)      # back to a client's (or an admin's) menu
