"""Saved replies: /t, /t <name>, /t_add, /t_del."""

from __future__ import annotations

import sqlite3

from telebot import types

from desk import Desk, focus, replies
from handlers.guards import agent_command, manager_command
from handlers.incoming import argument, content_of, split_argument


@agent_command
def cmd_t(desk: Desk, m: types.Message, agent: sqlite3.Row) -> None:
    """List saved replies, or send one to the focused (or only) client."""
    name = argument(m).lower()
    if not name:
        replies.show(desk, m.chat.id, desk.lang(agent["language_code"]))
        return
    dialog = focus.target(desk, agent, reply_to=content_of(m).reply_to, answer_to=m.message_id)
    if dialog is not None:
        replies.send(desk, agent, dialog, name, m.message_id)


@manager_command
def cmd_t_add(desk: Desk, m: types.Message) -> None:
    """Add or replace a saved reply."""
    name, text = split_argument(m)
    replies.add(desk, m.chat.id, desk.lang(m.from_user.language_code), m.from_user.id, name, text)


@manager_command
def cmd_t_del(desk: Desk, m: types.Message) -> None:
    """Delete a saved reply."""
    lang = desk.lang(m.from_user.language_code)
    name = argument(m)
    if not name:
        desk.say(m.chat.id, lang, "reply_del_usage")
        return
    replies.delete(desk, m.chat.id, lang, name)
