"""Clients: first contact, the name they want to be called, and where each of their messages goes."""

from __future__ import annotations

import sqlite3

import db
from desk import Desk, bans, messages, routing
from desk.data import Content, Person

NAME_LIMIT = 64                  # characters in a client's name


def clean_name(raw: str | None) -> str | None:
    """A name as typed, trimmed and with inner whitespace folded; None if empty or too long."""
    name = " ".join((raw or "").split())
    return name if 0 < len(name) <= NAME_LIMIT else None


def client_for(desk: Desk, person: Person) -> tuple[sqlite3.Row, bool]:
    """The client row for a Telegram user, created on first contact; (row, is_new)."""
    client = db.get_client(desk.conn, person.id)
    if client is None:
        name = clean_name(person.first_name) or f"#{person.id}"
        db.add_client(desk.conn, person.id, name, person.username, person.language_code, desk.now)
        return db.get_client(desk.conn, person.id), True
    if (client["username"], client["language_code"]) != (person.username, person.language_code):
        db.update_client_profile(desk.conn, person.id, person.username, person.language_code)
    return client, False


def start(desk: Desk, person: Person) -> None:
    """/start: greet a client and ask their name once, or tell them where they stand."""
    lang = desk.lang(person.language_code)
    client, is_new = client_for(desk, person)
    if client["banned_at"] is not None:
        bans.keep_message(desk, client, None)
        return
    dialog = db.live_dialog_for_client(desk.conn, client["user_id"])
    if dialog is not None and dialog["status"] == "open":
        desk.say(person.id, lang, "in_dialog")
    elif dialog is not None:
        desk.say(person.id, lang, "queued", position=db.queue_position(desk.conn, dialog["id"]))
    elif is_new or client["awaiting_name"]:
        db.set_client_awaiting_name(desk.conn, client["user_id"], True)
        keyboard = {"keyboard": [[{"text": client["name"]}]], "resize_keyboard": True, "one_time_keyboard": True}
        desk.say(person.id, lang, "ask_name", reply_markup=keyboard)
    else:
        desk.say(person.id, lang, "welcome_back", name=client["name"])


def client_message(desk: Desk, person: Person, content: Content) -> None:
    """Store a client's message and pass it on; no client message is ever dropped."""
    lang = desk.lang(person.language_code)
    client, is_new = client_for(desk, person)
    if client["banned_at"] is not None:
        bans.keep_message(desk, client, content)
        return
    if is_new:
        desk.say(person.id, lang, "greet_first_message", name=client["name"])
    elif client["awaiting_name"]:
        name = clean_name(content.text) if content.content_type == "text" else None
        if name is not None:
            db.set_client_name(desk.conn, client["user_id"], name)
            desk.say(person.id, lang, "name_saved", name=name, reply_markup={"remove_keyboard": True})
            return
        # Not a name (media, or a long text: a question). Keep the Telegram name and go on.
        db.set_client_awaiting_name(desk.conn, client["user_id"], False)
    dialog = db.live_dialog_for_client(desk.conn, client["user_id"]) or routing.open_dialog(desk, client)
    messages.store(desk, dialog, "client", person.id, content)
    if dialog["status"] == "open" and content.media_group_id is None:
        messages.flush(desk, dialog, "client")      # an album waits for its last part (a timer job)


def exists(desk: Desk, client_id: int) -> bool:
    """Whether the desk knows a client with this id."""
    return db.get_client(desk.conn, client_id) is not None
