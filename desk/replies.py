"""Saved replies: named texts an agent sends with /t <name>."""

from __future__ import annotations

import re
import sqlite3

import db
from desk import Desk, messages, queue

NAME = re.compile(r"[a-z0-9_-]{1,32}")
TEXT_LIMIT = 4096


def show(desk: Desk, chat_id: int, lang: str) -> None:
    """/t: every saved reply's name and first words."""
    replies = db.list_replies(desk.conn)
    if not replies:
        desk.say(chat_id, lang, "replies_none")
        return
    lines = "\n".join(f"• {r['name']} — {queue.preview(r['text'])}" for r in replies)
    desk.say(chat_id, lang, "replies_title", lines=lines)


def send(desk: Desk, agent: sqlite3.Row, dialog: sqlite3.Row, name: str, message_id: int) -> None:
    """/t <name>: the saved text goes to the client as the agent's message."""
    reply = db.get_reply(desk.conn, name)
    if reply is None:
        desk.say(agent["user_id"], desk.lang(agent["language_code"]), "reply_unknown", name=name)
        return
    messages.send_text_to_client(desk, dialog, agent["user_id"], message_id, reply["text"])


def add(desk: Desk, chat_id: int, lang: str, author_id: int, name: str, text: str) -> None:
    """/t_add <name> <text>: add or replace a saved reply."""
    if not NAME.fullmatch(name) or not text or len(text) > TEXT_LIMIT:
        desk.say(chat_id, lang, "reply_add_usage")
        return
    replaced = db.get_reply(desk.conn, name) is not None
    db.save_reply(desk.conn, name, text, author_id, desk.now)
    desk.say(chat_id, lang, "reply_replaced" if replaced else "reply_added", name=name)


def delete(desk: Desk, chat_id: int, lang: str, name: str) -> None:
    """/t_del <name>."""
    if db.delete_reply(desk.conn, name):
        desk.say(chat_id, lang, "reply_deleted", name=name)
    else:
        desk.say(chat_id, lang, "reply_unknown", name=name)
