"""Who talks with whom: opening a dialog, the queue, assigning clients to agents, closing."""

from __future__ import annotations

import logging
import sqlite3

import db
from desk import Desk, messages

log = logging.getLogger("desk.routing")


def open_dialog(desk: Desk, client: sqlite3.Row) -> sqlite3.Row:
    """Start a dialog for a client: with a free agent if there is one, otherwise in the queue."""
    agent = db.find_available_support(desk.conn, desk.now, desk.settings.online_window)
    if agent is not None:
        dialog_id = db.assign_client(desk.conn, client["user_id"], agent["user_id"], desk.now)
        announce(desk, client, agent, dialog_id, waited=None)
    else:
        dialog_id = db.enqueue_client(desk.conn, client["user_id"], desk.now)
        desk.say(client["user_id"], desk.lang(client["language_code"]), "queued",
                 position=db.queue_position(desk.conn, dialog_id))
    return db.get_dialog(desk.conn, dialog_id)


def announce(desk: Desk, client: sqlite3.Row, agent: sqlite3.Row, dialog_id: int, waited: float | None) -> None:
    """Tell an agent who their new client is, and the client who is helping them."""
    agent_lang = desk.lang(agent["language_code"])
    username = f', @{client["username"]}' if client["username"] else ""
    # The notice is linked to the dialog, so a reply to it is a reply to this client.
    link = {"source_chat_id": client["user_id"], "source_message_id": None, "dialog_id": dialog_id}
    desk.say(agent["user_id"], agent_lang, "new_client", link=link, name=client["name"],
             client_id=client["user_id"], username=username, language=client["language_code"] or "?")
    if waited is not None:
        desk.say(agent["user_id"], agent_lang, "waited", minutes=max(1, round(waited / 60)))
    desk.say(client["user_id"], desk.lang(client["language_code"]), "connected", agent=agent["name"])


def serve_queue(desk: Desk, agent_id: int) -> None:
    """If the agent is free and someone waits, give them the longest-waiting client."""
    agent = db.get_agent(desk.conn, agent_id)
    if agent is None or not agent["is_available"] or db.open_dialog_for_agent(desk.conn, agent_id):
        return
    dialog = db.next_queued_dialog(desk.conn)
    if dialog is None:
        return
    client = db.get_client(desk.conn, dialog["client_id"])
    db.assign_client(desk.conn, client["user_id"], agent_id, desk.now)
    announce(desk, client, agent, dialog["id"], waited=desk.now - dialog["created_at"])
    for stored in db.dialog_messages(desk.conn, dialog["id"]):
        messages.relay_to_agent(desk, client, agent_id, stored)


def end_dialog(desk: Desk, dialog: sqlite3.Row) -> None:
    """Close an agent's ticket, tell both sides, and hand the agent the next client."""
    db.close_dialog(desk.conn, dialog["id"], desk.now)
    client = db.get_client(desk.conn, dialog["client_id"])
    agent = db.get_agent(desk.conn, dialog["agent_id"])
    desk.say(client["user_id"], desk.lang(client["language_code"]), "ticket_closed")
    desk.say(agent["user_id"], desk.lang(agent["language_code"]), "end_done", name=client["name"])
    serve_queue(desk, agent["user_id"])


def agents_dialog(desk: Desk, agent: sqlite3.Row) -> sqlite3.Row | None:
    """The dialog an agent is in now, if any."""
    return db.open_dialog_for_agent(desk.conn, agent["user_id"])


def end_agents_dialog(desk: Desk, agent: sqlite3.Row) -> bool:
    """/end_chat: close the agent's current dialog; False if they have none."""
    dialog = agents_dialog(desk, agent)
    if dialog is None:
        return False
    end_dialog(desk, dialog)
    return True


def chat_unreachable(desk: Desk, chat_id: int, reason: str) -> None:
    """Someone blocked the bot or vanished: close their dialog and tell the other side."""
    if db.get_agent(desk.conn, chat_id) is not None:
        # An unreachable agent must not be handed more clients.
        db.set_agent_available(desk.conn, chat_id, False)
        dialog = db.open_dialog_for_agent(desk.conn, chat_id)
        if dialog is not None:
            db.close_dialog(desk.conn, dialog["id"], desk.now)
            client = db.get_client(desk.conn, dialog["client_id"])
            desk.say(client["user_id"], desk.lang(client["language_code"]), "agent_unreachable")
    client = db.get_client(desk.conn, chat_id)
    dialog = db.live_dialog_for_client(desk.conn, chat_id) if client is not None else None
    if dialog is not None:
        db.close_dialog(desk.conn, dialog["id"], desk.now)
        if dialog["agent_id"] is not None:
            agent = db.get_agent(desk.conn, dialog["agent_id"])
            desk.say(agent["user_id"], desk.lang(agent["language_code"]), "client_blocked", name=client["name"])
            serve_queue(desk, agent["user_id"])
    log.info("closed the dialogs of unreachable chat %s (%s)", chat_id, reason)
