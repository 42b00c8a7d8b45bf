"""Messages of a dialog: stored first, then relayed to the other side through the outbox.

Every message is stored at once with relayed_at NULL, and relayed in order per dialog and side:
- at once, when nothing before it waits and it is not part of an album;
- an album (one media_group_id) goes as one copyMessages call when its last part is ALBUM_WAIT
  seconds old (Telegram sends the parts as separate updates); whatever came after it waits with it;
- a client's messages wait while they are in the queue or answering the intake questions, and go
  to the agent, in order, when they get one.
relayed_at is set in the same transaction that queues the relay, so a crash loses and doubles nothing.
"""

from __future__ import annotations

import sqlite3
from typing import Any

import db
from desk import Desk, edits, focus, relay
from desk.data import Content

ALBUM_WAIT = 1.0      # seconds after an album's last part before it is relayed whole


def store(desk: Desk, dialog: sqlite3.Row, sender: str, author_id: int, content: Content,
          kind: str = "message", relayed: bool = False) -> dict[str, Any]:
    """Save a message (or an agent's note) to the history; returns what was saved, with its id."""
    row = {"dialog_id": dialog["id"], "client_id": dialog["client_id"], "sender": sender,
           "agent_id": author_id if sender == "agent" else None, "message_id": content.message_id,
           "content_type": content.content_type, "text": content.text, "entities": content.entities,
           "details": content.details}
    row["id"] = db.add_message(desk.conn, **row, now=desk.now, kind=kind, media_group_id=content.media_group_id,
                               relayed_at=desk.now if relayed or kind == "note" else None)
    return row


def _relay_client_batch(desk: Desk, client: sqlite3.Row, agent_id: int, batch: list) -> None:
    """Queue one client message, or one album, for the agent, with the client's name on it."""
    first = batch[0]
    lang = desk.lang(client["language_code"])
    # origin: whom to tell if the relay can never be delivered; link: recorded with the copy's id.
    origin = {"chat_id": client["user_id"], "message_id": first["message_id"], "lang": lang}
    if len(batch) == 1:
        link = {"source_chat_id": client["user_id"], "source_message_id": first["message_id"],
                "dialog_id": first["dialog_id"]}
        text, entities = edits.latest_text(desk.conn, first)       # edited while it waited: the new text
        for method, payload in relay.relay_to_agent(client["user_id"], first["message_id"], first["content_type"],
                                                    text, entities, client["name"]):
            desk.call(agent_id, method, {**payload, "origin": origin, "link": link})
        return
    ids = [m["message_id"] for m in batch]
    header_link = {"source_chat_id": client["user_id"], "source_message_id": first["message_id"],
                   "dialog_id": first["dialog_id"]}
    method, payload = relay.album_header(client["name"])
    desk.call(agent_id, method, {**payload, "link": header_link})
    desk.call(agent_id, "copyMessages", {"from_chat_id": client["user_id"], "message_ids": ids, "origin": origin,
                                         "link": {"source_chat_id": client["user_id"], "source_message_ids": ids,
                                                  "dialog_id": first["dialog_id"]}})


def _relay_agent_batch(desk: Desk, dialog: sqlite3.Row, agent_id: int, lang: str, batch: list) -> None:
    """Queue one agent message, or one album, for the client, exactly as the agent sent it."""
    first = batch[0]
    origin = {"chat_id": agent_id, "message_id": first["message_id"], "lang": lang}
    ids = [m["message_id"] for m in batch]
    if len(batch) == 1:
        method, payload = relay.relay_to_client(agent_id, first["message_id"])
        link = {"source_chat_id": agent_id, "source_message_id": first["message_id"], "dialog_id": dialog["id"]}
    else:
        method, payload = "copyMessages", {"from_chat_id": agent_id, "message_ids": ids}
        link = {"source_chat_id": agent_id, "source_message_ids": ids, "dialog_id": dialog["id"]}
    desk.call(dialog["client_id"], method, {**payload, "origin": origin, "link": link})


def batches(rows: list) -> list[list]:
    """Waiting messages grouped: each album together where its first part came, everything else alone."""
    out: list[list] = []
    albums: dict[str, list] = {}
    for row in rows:
        group = row["media_group_id"]
        if group is None:
            out.append([row])
        elif group in albums:
            albums[group].append(row)
        else:
            albums[group] = [row]
            out.append(albums[group])
    for album in albums.values():
        # Parts can arrive out of order; copyMessages takes ids in increasing order, the album's own.
        album.sort(key=lambda r: r["message_id"])
    return out


def ready(rows: list, now: float) -> bool:
    """Whether waiting messages may go: every album among them has had ALBUM_WAIT to complete."""
    last_album_part = max((r["created_at"] for r in rows if r["media_group_id"]), default=None)
    return last_album_part is None or now - last_album_part >= ALBUM_WAIT


def flush(desk: Desk, dialog: sqlite3.Row, sender: str, force: bool = False) -> bool:
    """Relay one side's waiting messages of an open dialog, in order, if they are ready (or forced)."""
    if dialog["status"] != "open":
        return False
    rows = db.unrelayed_messages(desk.conn, dialog["id"], sender)
    if not rows or not (force or ready(rows, desk.now)):
        return False
    if sender == "client":
        client = db.get_client(desk.conn, dialog["client_id"])
        for batch in batches(rows):
            _relay_client_batch(desk, client, dialog["agent_id"], batch)
    else:
        agent = db.get_agent(desk.conn, dialog["agent_id"])
        lang = desk.lang(agent["language_code"] if agent else None)
        for batch in batches(rows):
            _relay_agent_batch(desk, dialog, dialog["agent_id"], lang, batch)
    db.mark_relayed(desk.conn, [r["id"] for r in rows], desk.now)
    return True


def flush_albums(desk: Desk) -> int:
    """Timer job: relay every open dialog's waiting messages whose albums are complete."""
    return sum(flush(desk, db.get_dialog(desk.conn, pending["dialog_id"]), pending["sender"])
               for pending in db.dialogs_with_unrelayed(desk.conn))


def relay_to_client(desk: Desk, dialog: sqlite3.Row, agent_id: int, content: Content) -> None:
    """Store an agent's message in the dialog and relay it to the client (now, or with its album)."""
    store(desk, dialog, "agent", agent_id, content)
    db.mark_first_response(desk.conn, dialog["id"], desk.now)
    if content.media_group_id is None:
        flush(desk, dialog, "agent")


def send_text_to_client(desk: Desk, dialog: sqlite3.Row, agent_id: int, message_id: int, text: str) -> None:
    """Store a text the agent sent by command (/reply, /t) as their message, and queue it for the client."""
    flush(desk, dialog, "agent", force=True)           # anything the agent sent before goes first
    store(desk, dialog, "agent", agent_id, Content(message_id=message_id, text=text), relayed=True)
    db.mark_first_response(desk.conn, dialog["id"], desk.now)
    link = {"source_chat_id": agent_id, "source_message_id": message_id, "dialog_id": dialog["id"]}
    desk.send_text(dialog["client_id"], text, link=link)


def agent_message(desk: Desk, agent: sqlite3.Row, content: Content) -> None:
    """An agent wrote something that is not a command: it goes to the client it is meant for, or nowhere."""
    dialog = focus.target(desk, agent, reply_to=content.reply_to, answer_to=content.message_id,
                          album=content.media_group_id)
    if dialog is not None:
        relay_to_client(desk, dialog, agent["user_id"], content)


def add_note(desk: Desk, agent: sqlite3.Row, dialog: sqlite3.Row, message_id: int, text: str) -> None:
    """/note: an internal note on a dialog, kept in its history, never sent to the client."""
    store(desk, dialog, "agent", agent["user_id"], Content(message_id=message_id, text=text), kind="note")
    name = db.get_client(desk.conn, dialog["client_id"])["name"]
    desk.say(agent["user_id"], desk.lang(agent["language_code"]), "note_saved", name=name)
