"""Clients: first contact, the name they want to be called, and where each of their messages goes."""

from __future__ import annotations

import re
import sqlite3

import db
from desk import Desk, bans, faq, intake, messages, routing
from desk.data import Content, Person

NAME_LIMIT = 64                  # characters in a client's name
DEEP_LINK = re.compile(r"[A-Za-z0-9_-]{1,64}")    # what t.me/<bot>?start=<payload> may carry


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


def set_context(desk: Desk, client: sqlite3.Row, payload: str) -> None:
    """A deep link's payload: the context of the live dialog (its agent is told) or of the next one."""
    if not DEEP_LINK.fullmatch(payload):
        return                                      # not a payload Telegram makes: ignored
    dialog = db.live_dialog_for_client(desk.conn, client["user_id"])
    if dialog is None:
        db.set_next_context(desk.conn, client["user_id"], payload)
        return
    db.set_dialog_context(desk.conn, dialog["id"], payload)
    agent = db.get_agent(desk.conn, dialog["agent_id"]) if dialog["agent_id"] else None
    if agent is not None:
        desk.say(agent["user_id"], desk.lang(agent["language_code"]), "context_changed", name=client["name"],
                 context=payload)


def start(desk: Desk, person: Person, payload: str = "") -> None:
    """/start [payload]: greet a client and ask their name once, or tell them where they stand."""
    lang = desk.lang(person.language_code)
    client, is_new = client_for(desk, person)
    if client["banned_at"] is not None:
        bans.keep_message(desk, client, None)
        return
    if payload:
        set_context(desk, client, payload)
    dialog = db.live_dialog_for_client(desk.conn, client["user_id"])
    if dialog is not None and dialog["status"] == "open":
        desk.say(person.id, lang, "in_dialog")
    elif dialog is not None and dialog["intake_step"] is not None:
        intake.remind(desk, client, dialog)
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
    dialog = db.live_dialog_for_client(desk.conn, client["user_id"])
    if dialog is None:
        dialog = routing.new_dialog(desk, client)
        messages.store(desk, dialog, "client", person.id, content)
        # The intake questions, or an agent, or the queue; the message goes to the agent with the rest.
        dialog = routing.begin(desk, client, dialog)
    elif dialog["intake_step"] is not None:
        messages.store(desk, dialog, "client", person.id, content)
        intake.answer(desk, client, dialog, content)
        return
    else:
        messages.store(desk, dialog, "client", person.id, content)
    if dialog["status"] == "queued":
        faq.auto_answer(desk, client, dialog, content)
    elif content.media_group_id is None:
        messages.flush(desk, dialog, "client")      # an album waits for its last part (a timer job)


def exists(desk: Desk, client_id: int) -> bool:
    """Whether the desk knows a client with this id."""
    return db.get_client(desk.conn, client_id) is not None


def silenced(desk: Desk, person: Person) -> bool:
    """Whether a banned client wrote: they get the one notice at most, and nothing else is answered."""
    client = db.get_client(desk.conn, person.id)
    if client is None or client["banned_at"] is None:
        return False
    bans.keep_message(desk, client, None)
    return True
