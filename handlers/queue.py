"""The queue and hand-overs: /queue, /take, /transfer."""

from __future__ import annotations

import sqlite3

from telebot import types

from desk import Desk, focus, queue, routing
from handlers.guards import agent_command, staff_command
from handlers.incoming import argument, content_of, parse_id


@staff_command
def cmd_queue(desk: Desk, m: types.Message, agent: sqlite3.Row | None) -> None:
    """Show who is waiting."""
    queue.show(desk, m.chat.id, desk.lang(m.from_user.language_code))


@agent_command
def cmd_take(desk: Desk, m: types.Message, agent: sqlite3.Row) -> None:
    """Take the longest-waiting client, or a named one out of turn."""
    arg = argument(m)
    client_id = parse_id(arg) if arg else None
    if arg and client_id is None:
        desk.say(m.chat.id, desk.lang(agent["language_code"]), "take_usage")
        return
    routing.take(desk, agent, client_id)


@agent_command
def cmd_transfer(desk: Desk, m: types.Message, agent: sqlite3.Row) -> None:
    """Hand the focused (or only, or replied-to) dialog to another agent."""
    lang = desk.lang(agent["language_code"])
    asked = argument(m)
    if not asked or " " in asked:
        desk.say(m.chat.id, lang, "transfer_usage")
        return
    target_agent = routing.find_agent(desk, asked)
    if target_agent is False:
        desk.say(m.chat.id, lang, "transfer_usage")
        return
    dialog = focus.target(desk, agent, reply_to=content_of(m).reply_to, answer_to=m.message_id)
    if dialog is not None:
        routing.transfer(desk, agent, dialog, target_agent, asked)
