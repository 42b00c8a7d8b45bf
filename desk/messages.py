"""Messages of a dialog: stored first, then relayed to the other side through the outbox."""

from __future__ import annotations

import json
import sqlite3
from typing import Any

import db
from desk import Desk, focus, relay
from desk.data import Content


def store(desk: Desk, dialog: sqlite3.Row, sender: str, author_id: int, content: Content,
          kind: str = "message") -> dict[str, Any]:
    """Save a message (or an agent's note) to the history; returns what was saved."""
    row = {"dialog_id": dialog["id"], "client_id": dialog["client_id"], "sender": sender,
           "agent_id": author_id if sender == "agent" else None, "message_id": content.message_id,
           "content_type": content.content_type, "text": content.text, "entities": content.entities,
           "details": content.details}
    db.add_message(desk.conn, **row, now=desk.now, kind=kind)
    return row


def relay_to_agent(desk: Desk, client: sqlite3.Row, agent_id: int, stored: sqlite3.Row | dict) -> None:
    """Queue one stored client message for the agent, with the client's name on it."""
    entities = stored["entities"]
    if isinstance(entities, str):
        entities = json.loads(entities)
    # origin: whom to tell if the relay can never be delivered; link: recorded with the copy's id.
    origin = {"chat_id": client["user_id"], "message_id": stored["message_id"],
              "lang": desk.lang(client["language_code"])}
    link = {"source_chat_id": client["user_id"], "source_message_id": stored["message_id"],
            "dialog_id": stored["dialog_id"]}
    for method, payload in relay.relay_to_agent(client["user_id"], stored["message_id"], stored["content_type"],
                                                stored["text"], entities, client["name"]):
        desk.call(agent_id, method, {**payload, "origin": origin, "link": link})


def relay_to_client(desk: Desk, dialog: sqlite3.Row, agent_id: int, lang: str, content: Content) -> None:
    """Store an agent's message in the dialog and queue its copy for the client."""
    store(desk, dialog, "agent", agent_id, content)
    db.mark_first_response(desk.conn, dialog["id"], desk.now)
    method, payload = relay.relay_to_client(agent_id, content.message_id)
    origin = {"chat_id": agent_id, "message_id": content.message_id, "lang": lang}
    link = {"source_chat_id": agent_id, "source_message_id": content.message_id, "dialog_id": dialog["id"]}
    desk.call(dialog["client_id"], method, {**payload, "origin": origin, "link": link})


def send_text_to_client(desk: Desk, dialog: sqlite3.Row, agent_id: int, message_id: int, text: str) -> None:
    """Store a text the agent sent by command (/reply, /t) as their message, and queue it for the client."""
    store(desk, dialog, "agent", agent_id, Content(message_id=message_id, text=text))
    db.mark_first_response(desk.conn, dialog["id"], desk.now)
    link = {"source_chat_id": agent_id, "source_message_id": message_id, "dialog_id": dialog["id"]}
    desk.send_text(dialog["client_id"], text, link=link)


def agent_message(desk: Desk, agent: sqlite3.Row, content: Content) -> None:
    """An agent wrote something that is not a command: it goes to the client it is meant for, or nowhere."""
    dialog = focus.target(desk, agent, reply_to=content.reply_to, answer_to=content.message_id)
    if dialog is not None:
        relay_to_client(desk, dialog, agent["user_id"], desk.lang(agent["language_code"]), content)


def add_note(desk: Desk, agent: sqlite3.Row, dialog: sqlite3.Row, message_id: int, text: str) -> None:
    """/note: an internal note on a dialog, kept in its history, never sent to the client."""
    store(desk, dialog, "agent", agent["user_id"], Content(message_id=message_id, text=text), kind="note")
    name = db.get_client(desk.conn, dialog["client_id"])["name"]
    desk.say(agent["user_id"], desk.lang(agent["language_code"]), "note_saved", name=name)
