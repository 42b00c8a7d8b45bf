"""Who talks with whom: opening a dialog, the queue, assigning, taking, handing over and closing.

An agent may hold up to MAX_CHATS_PER_AGENT open dialogs. New dialogs go to the agent chosen by
db.find_available_support, or wait in the queue; whenever an agent gains room (a dialog ends,
/available, registration, a hand-over, the limit raised at start-up) serve_queue hands the head
of the queue to whoever find_available_support picks, until nobody has room or nobody waits.
"""

from __future__ import annotations

import logging
import sqlite3

import db
import texts
from desk import Desk, hours, intake, messages, ratings

log = logging.getLogger("desk.routing")


def new_dialog(desk: Desk, client: sqlite3.Row) -> sqlite3.Row:
    """A new dialog for a client, in the queue for now, with the deep link they came from."""
    dialog_id = db.enqueue_client(desk.conn, client["user_id"], desk.now)
    if client["next_context"]:
        db.set_dialog_context(desk.conn, dialog_id, client["next_context"])
        db.set_next_context(desk.conn, client["user_id"], None)
    return db.get_dialog(desk.conn, dialog_id)


def begin(desk: Desk, client: sqlite3.Row, dialog: sqlite3.Row) -> sqlite3.Row:
    """A new dialog's first steps: the intake questions if any, otherwise an agent or the queue."""
    if intake.start(desk, client, dialog):
        return db.get_dialog(desk.conn, dialog["id"])
    return place(desk, client, dialog)


def place(desk: Desk, client: sqlite3.Row, dialog: sqlite3.Row) -> sqlite3.Row:
    """A dialog ready for an agent (no questions left): give it to one now, or tell the client they wait."""
    agent = choose_agent(desk, client)
    if agent is not None:
        give_queued(desk, dialog, agent, waited=False)
    else:
        lang = desk.lang(client["language_code"])
        if not hours.is_open(desk.settings, desk.now):
            desk.say(client["user_id"], lang, "closed_now", hours=hours.describe(desk.settings, lang),
                     back=hours.next_opening_text(desk.settings, desk.now, lang))
        else:
            desk.say(client["user_id"], lang, "queued", position=db.queue_position(desk.conn, dialog["id"]))
    return db.get_dialog(desk.conn, dialog["id"])


def choose_agent(desk: Desk, client: sqlite3.Row | None = None) -> sqlite3.Row | None:
    """Who takes the next client now: nobody outside working hours; a returning client's last agent
    if they are available with room; otherwise db.find_available_support."""
    if not hours.is_open(desk.settings, desk.now):
        return None
    if client is not None and desk.settings.return_to_agent_hours:
        last = db.last_dialog_for_client(desk.conn, client["user_id"])
        if last is not None and desk.now - last["closed_at"] <= desk.settings.return_to_agent_hours * 3600:
            agent = db.get_agent(desk.conn, last["agent_id"])
            if agent is not None and agent["is_available"] and has_room(desk, agent):
                return agent
    return db.find_available_support(desk.conn, desk.now, desk.settings.online_window,
                                     desk.settings.max_chats_per_agent)


def announce(desk: Desk, client: sqlite3.Row, agent: sqlite3.Row, dialog: sqlite3.Row,
             waited: float | None = None, handed_by: sqlite3.Row | None = None, with_history: bool = False) -> None:
    """Tell an agent who their new client is (and what they answered), and the client who helps them."""
    agent_lang = desk.lang(agent["language_code"])
    username = f', @{client["username"]}' if client["username"] else ""
    # The notice is linked to the dialog, so a reply to it is a reply to this client.
    link = {"source_chat_id": client["user_id"], "source_message_id": None, "dialog_id": dialog["id"]}
    about = {"name": client["name"], "client_id": client["user_id"], "username": username,
             "language": client["language_code"] or "?"}
    if handed_by is not None:
        text = texts.t(agent_lang, "new_client_transfer", agent=handed_by["name"], **about)
    else:
        text = texts.t(agent_lang, "new_client", **about)
    if dialog["context"]:
        text += "\n" + texts.t(agent_lang, "context_line", context=dialog["context"])
    desk.send_text(agent["user_id"], text, link=link)
    if waited is not None:
        desk.say(agent["user_id"], agent_lang, "waited", link=link, minutes=max(1, round(waited / 60)))
    card = intake.card(desk, client, dialog, agent_lang)
    if card and handed_by is None:
        desk.send_text(agent["user_id"], card, link=link)
    if with_history:
        desk.send_history(agent["user_id"], client["user_id"], agent_lang, link)
    desk.say(client["user_id"], desk.lang(client["language_code"]), "connected", agent=agent["name"])


def give_queued(desk: Desk, dialog: sqlite3.Row, agent: sqlite3.Row, waited: bool = True) -> None:
    """Give a waiting client to an agent: the notice, the intake card, then everything they wrote."""
    client = db.get_client(desk.conn, dialog["client_id"])
    db.assign_client(desk.conn, client["user_id"], agent["user_id"], desk.now)
    # A dialog handed back by a removed agent comes with its history, so nobody repeats themselves.
    announce(desk, client, agent, dialog, waited=desk.now - dialog["queued_at"] if waited else None,
             with_history=bool(dialog["requeued"]))
    messages.flush(desk, db.get_dialog(desk.conn, dialog["id"]), "client", force=True)


def serve_queue(desk: Desk) -> None:
    """Give waiting clients to agents with room, head of the queue first, until one side runs out."""
    while True:
        dialog = db.next_queued_dialog(desk.conn)
        if dialog is None:
            return
        agent = choose_agent(desk, db.get_client(desk.conn, dialog["client_id"]))
        if agent is None:
            return
        give_queued(desk, dialog, agent)


def has_room(desk: Desk, agent: sqlite3.Row) -> bool:
    """Whether the agent may take one more dialog."""
    return db.count_open_dialogs(desk.conn, agent["user_id"]) < desk.settings.max_chats_per_agent


def take(desk: Desk, agent: sqlite3.Row, client_id: int | None) -> None:
    """/take: the longest-waiting client, or a named one out of turn, whether or not the agent is available."""
    lang = desk.lang(agent["language_code"])
    if not has_room(desk, agent):
        desk.say(agent["user_id"], lang, "take_full", limit=desk.settings.max_chats_per_agent)
        return
    if client_id is None:
        dialog = db.next_queued_dialog(desk.conn)
        if dialog is None:
            desk.say(agent["user_id"], lang, "queue_empty")
            return
    else:
        dialog = db.live_dialog_for_client(desk.conn, client_id)
        # A client still answering the intake questions is not waiting yet (nor in /queue).
        if dialog is None or dialog["status"] != "queued" or dialog["intake_step"] is not None:
            desk.say(agent["user_id"], lang, "take_not_waiting", client_id=client_id)
            return
    give_queued(desk, dialog, agent)


def find_agent(desk: Desk, asked: str) -> sqlite3.Row | None | bool:
    """The agent named by id or @username; None if nobody is, False if it names nothing at all."""
    if asked.startswith("@") and len(asked) > 1:
        return db.find_agent_by_username(desk.conn, asked[1:])
    if asked.isdigit() and len(asked) <= 19:
        return db.get_agent(desk.conn, int(asked))
    return False


def transfer(desk: Desk, agent: sqlite3.Row, dialog: sqlite3.Row, target: sqlite3.Row | None, asked: str) -> None:
    """/transfer: hand a dialog to a colleague with room; the client's history goes with it."""
    lang = desk.lang(agent["language_code"])
    if target is None:
        desk.say(agent["user_id"], lang, "transfer_unknown", target=asked)
        return
    if target["user_id"] == agent["user_id"]:
        desk.say(agent["user_id"], lang, "transfer_self")
        return
    if not has_room(desk, target):
        desk.say(agent["user_id"], lang, "transfer_full", agent=target["name"])
        return
    client = db.get_client(desk.conn, dialog["client_id"])
    db.transfer_dialog(desk.conn, dialog["id"], target["user_id"], desk.now)
    announce(desk, client, target, dialog, handed_by=agent, with_history=True)
    desk.say(agent["user_id"], lang, "transfer_done", name=client["name"], agent=target["name"])
    serve_queue(desk)


def end_dialog(desk: Desk, dialog: sqlite3.Row) -> None:
    """Close an agent's ticket, tell both sides, and serve the queue (the agent has room now)."""
    for side in ("client", "agent"):
        messages.flush(desk, dialog, side, force=True)     # an album still arriving goes first
    db.close_dialog(desk.conn, dialog["id"], desk.now)
    client = db.get_client(desk.conn, dialog["client_id"])
    agent = db.get_agent(desk.conn, dialog["agent_id"])
    desk.say(client["user_id"], desk.lang(client["language_code"]), "ticket_closed")
    ratings.ask(desk, client, dialog["id"])
    if agent is not None:
        desk.say(agent["user_id"], desk.lang(agent["language_code"]), "end_done", name=client["name"])
    serve_queue(desk)


def remove_agent(desk: Desk, agent: sqlite3.Row) -> None:
    """/remove_support: the person stops being an agent; their clients go back to the head of the queue."""
    for dialog in db.open_dialogs_for_agent(desk.conn, agent["user_id"]):
        db.requeue_dialog(desk.conn, dialog["id"], desk.now)
        client = db.get_client(desk.conn, dialog["client_id"])
        desk.say(client["user_id"], desk.lang(client["language_code"]), "reconnecting")
    db.remove_agent(desk.conn, agent["user_id"], desk.now)
    desk.say(agent["user_id"], desk.lang(agent["language_code"]), "removed_notice")
    serve_queue(desk)


def chat_unreachable(desk: Desk, chat_id: int, reason: str) -> None:
    """Someone blocked the bot or vanished: close their dialogs and tell the other side."""
    if db.get_agent(desk.conn, chat_id) is not None:
        # An unreachable agent must not be handed more clients.
        db.set_agent_available(desk.conn, chat_id, False)
        for dialog in db.open_dialogs_for_agent(desk.conn, chat_id):
            db.close_dialog(desk.conn, dialog["id"], desk.now)
            client = db.get_client(desk.conn, dialog["client_id"])
            desk.say(client["user_id"], desk.lang(client["language_code"]), "agent_unreachable")
    client = db.get_client(desk.conn, chat_id)
    dialog = db.live_dialog_for_client(desk.conn, chat_id) if client is not None else None
    if dialog is not None:
        db.close_dialog(desk.conn, dialog["id"], desk.now)
        agent = db.get_agent(desk.conn, dialog["agent_id"]) if dialog["agent_id"] is not None else None
        if agent is not None:
            desk.say(agent["user_id"], desk.lang(agent["language_code"]), "client_blocked", name=client["name"])
    serve_queue(desk)
    log.info("closed the dialogs of unreachable chat %s (%s)", chat_id, reason)


def start_up(desk: Desk) -> None:
    """At start: record the limit the schema enforces, and serve the queue (the limit may have grown)."""
    db.set_max_chats(desk.conn, desk.settings.max_chats_per_agent)
    serve_queue(desk)
