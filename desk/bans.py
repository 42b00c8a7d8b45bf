"""Bans: a banned client's messages are stored but never relayed, queued or answered (one notice)."""

from __future__ import annotations

import sqlite3

import db
from desk import Desk, messages, routing
from desk.data import Content


def ban(desk: Desk, chat_id: int, lang: str, client_id: int, reason: str | None) -> None:
    """/ban <client_id> [reason]: close their live dialog (telling its agent) and ban them."""
    client = db.get_client(desk.conn, client_id)
    if client is None or db.get_agent(desk.conn, client_id) is not None:
        desk.say(chat_id, lang, "client_unknown", client_id=client_id)
        return
    if client["banned_at"] is not None:
        desk.say(chat_id, lang, "ban_already", name=client["name"], client_id=client_id)
        return
    db.ban_client(desk.conn, client_id, reason, desk.now)
    dialog = db.live_dialog_for_client(desk.conn, client_id)
    if dialog is not None:
        db.close_dialog(desk.conn, dialog["id"], desk.now)
        agent = db.get_agent(desk.conn, dialog["agent_id"]) if dialog["agent_id"] else None
        if agent is not None and agent["user_id"] != chat_id:
            desk.say(agent["user_id"], desk.lang(agent["language_code"]), "ban_closed_dialog", name=client["name"])
    desk.say(chat_id, lang, "ban_done", name=client["name"], client_id=client_id)
    routing.serve_queue(desk)


def unban(desk: Desk, chat_id: int, lang: str, client_id: int) -> None:
    """/unban <client_id>."""
    client = db.get_client(desk.conn, client_id)
    if client is None or client["banned_at"] is None:
        desk.say(chat_id, lang, "unban_not_banned", client_id=client_id)
        return
    db.unban_client(desk.conn, client_id)
    desk.say(chat_id, lang, "unban_done", name=client["name"], client_id=client_id)


def show(desk: Desk, chat_id: int, lang: str) -> None:
    """/banned: every banned client."""
    banned = db.list_banned(desk.conn)
    if not banned:
        desk.say(chat_id, lang, "banned_none")
        return
    lines = "\n".join(f"• {c['name']} (id {c['user_id']})" + (f" — {c['ban_reason']}" if c["ban_reason"] else "")
                      for c in banned)
    desk.say(chat_id, lang, "banned_title", lines=lines)


def keep_message(desk: Desk, client: sqlite3.Row, content: Content | None) -> None:
    """A banned client wrote: store it (in their last dialog), tell them once, nothing more."""
    if content is not None:
        dialog = db.latest_dialog_for_client(desk.conn, client["user_id"])
        if dialog is None:
            dialog = db.get_dialog(desk.conn, db.add_closed_dialog(desk.conn, client["user_id"], desk.now))
        messages.store(desk, dialog, "client", client["user_id"], content)
    if not client["ban_notified"]:
        db.mark_ban_notified(desk.conn, client["user_id"])
        desk.say(client["user_id"], desk.lang(client["language_code"]), "banned_notice")
