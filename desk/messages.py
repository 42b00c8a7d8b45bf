"""Messages of a dialog: stored first, then relayed to the other side through the outbox."""

from __future__ import annotations

import json
import sqlite3
from typing import Any

import db
from desk import Desk, relay
from desk.data import Content


def store(desk: Desk, dialog: sqlite3.Row, sender: str, author_id: int, content: Content) -> dict[str, Any]:
    """Save a message to the history; returns what was saved."""
    row = {"dialog_id": dialog["id"], "client_id": dialog["client_id"], "sender": sender,
           "agent_id": author_id if sender == "agent" else None, "message_id": content.message_id,
           "content_type": content.content_type, "text": content.text, "entities": content.entities,
           "details": content.details}
    db.add_message(desk.conn, **row, now=desk.now)
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


def agent_message(desk: Desk, agent: sqlite3.Row, content: Content) -> None:
    """An agent wrote something that is not a command: it goes to their client, or nowhere if none."""
    lang = desk.lang(agent["language_code"])
    dialog = db.open_dialog_for_agent(desk.conn, agent["user_id"])
    if dialog is None:
        desk.say(agent["user_id"], lang, "agent_no_dialog", queue=db.queue_length(desk.conn))
        return
    relay_to_client(desk, dialog, agent["user_id"], lang, content)
