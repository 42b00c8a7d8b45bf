"""Edits kept in sync: when a relayed text or caption is edited, the copy on the other side follows.

Every edit of a stored message is kept (message_edits), so the history shows the original and each
edit with its time. What the other side sees depends on where the message is:
- still waiting to be relayed (the queue, an album arriving): nothing now; the relay reads the
  newest text (messages.latest_text), and a copy Telegram makes is of the edited message anyway;
- relayed: an edit of each copy is queued in the outbox. The copy's id may not be known yet (its
  relay can still be waiting in the outbox), so the call names the source message ("copy_of") and
  delivery looks the copy up in message_links when it sends; a chat's calls go in order, so the
  relay was sent, and its copy linked, first. A client's copy keeps the client's name on it.
  Should Telegram refuse the edit, delivery queues the call's "fallback": the new text as a reply to
  the copy, marked as edited. A new text with no room for the name or the mark goes that way at once;
- never relayed (a command, the client's name, a note, a banned client's message): nothing is sent.
Edits that change no text (a replaced photo, a live location moving) are not edits of anything
the desk relays, and change nothing.
"""

from __future__ import annotations

import json
import sqlite3
from typing import Any

import db
import texts
from desk import Desk
from desk.data import Content, Person
from desk.relay import CAPTION_LIMIT, CAPTIONED_TYPES, TEXT_LIMIT, utf16_len


def on_edit(desk: Desk, person: Person, content: Content) -> None:
    """Someone edited one of their messages: keep the edit, and have the copy on the other side follow."""
    stored = db.find_history_message(desk.conn, person.id, content.message_id)
    if stored is None or stored["kind"] != "message" or _is_command(content):
        return          # never stored (a command, a name, a stranger's), or a note: nothing to follow
    kind = stored["content_type"]
    if kind != "text" and kind not in CAPTIONED_TYPES:
        return          # no text to edit (a live location moving, a sticker)
    if kind == "text" and not content.text:
        return
    entities = content.entities or None
    before_text, before_entities = latest_text(desk.conn, stored)
    if (content.text, entities) == (before_text, before_entities):
        return          # the text did not change (a photo was replaced): nothing the desk shows changed
    # What the copy was made from decides how it looks (with the client's name or not).
    relayed_text = latest_text(desk.conn, stored, until=stored["relayed_at"])[0] if stored["relayed_at"] else None
    db.add_edit(desk.conn, stored["id"], content.text, entities, desk.now)
    if stored["relayed_at"] is None:
        return          # not relayed yet: the relay will carry the newest text
    dialog = db.get_dialog(desk.conn, stored["dialog_id"])
    named = stored["sender"] == "client" and _copy_is_named(desk.conn, stored, relayed_text)
    client_name = db.get_client(desk.conn, stored["client_id"])["name"] if named else None
    source = {"chat_id": person.id, "message_id": content.message_id}
    for chat_id in _copy_chats(desk.conn, stored, dialog, source):
        lang = _lang_of(desk, chat_id)
        for method, payload in follow(kind, content.text, entities, client_name, lang, source):
            desk.call(chat_id, method, payload)


def latest_text(conn: sqlite3.Connection, stored: sqlite3.Row | dict,
                until: float | None = None) -> tuple[str | None, list[dict] | None]:
    """A stored message's newest text and entities (as of `until`, if given): its last edit's, or its own."""
    edit = db.last_edit(conn, stored["id"], until)
    row = edit if edit is not None else stored
    entities = row["entities"]
    return row["text"], (json.loads(entities) if isinstance(entities, str) else entities) or None


def follow(kind: str, text: str | None, entities: list[dict] | None, client_name: str | None,
           lang: str, source: dict[str, int]) -> list[tuple[str, dict[str, Any]]]:
    """The calls that make the copy of `source` show a new text: an edit with its fallback, or the fallback.

    client_name: the copy carries the client's name above the text (a client's single message),
    and keeps it. Delivery aims every call at the copy in its chat ("copy_of": the source message).
    """
    body, body_entities = text or "", list(entities or [])
    if client_name is not None:
        header = texts.RELAY_HEADER.format(name=client_name)
        prefix = header + "\n"
        bold = [{"type": "bold", "offset": 0, "length": utf16_len(header)}]
        body, body_entities = (prefix + body if body else header), bold + _shifted(body_entities, utf16_len(prefix))
    fallback = [(m, {**p, "copy_of": source}) for m, p in _fallback(text, entities, lang, source)]
    if kind == "text":
        if utf16_len(body) > TEXT_LIMIT:
            return fallback
        edit = ("editMessageText", {"text": body, "entities": body_entities})
    else:
        if utf16_len(body) > CAPTION_LIMIT:
            return fallback
        edit = ("editMessageCaption", {"caption": body, "caption_entities": body_entities})
    return [(edit[0], {**edit[1], "copy_of": source,
                       "fallback": [{"method": m, "payload": p} for m, p in fallback]})]


def _fallback(text: str | None, entities: list[dict] | None, lang: str,
              source: dict[str, int]) -> list[tuple[str, dict[str, Any]]]:
    """The new text as a reply to the copy, marked as edited (the mark alone when the text is gone)."""
    mark = texts.t(lang, "edited_mark")
    if not text:
        return [("sendMessage", {"text": mark})]
    prefix = mark + "\n"
    if utf16_len(prefix + text) <= TEXT_LIMIT:
        return [("sendMessage", {"text": prefix + text, "entities": _shifted(entities, utf16_len(prefix))})]
    # No room for the mark: the mark, then a copy of the edited message itself.
    return [("sendMessage", {"text": mark}),
            ("copyMessage", {"from_chat_id": source["chat_id"], "message_id": source["message_id"]})]


def _shifted(entities: list[dict] | None, by: int) -> list[dict]:
    return [{**e, "offset": e["offset"] + by} for e in entities or []]


def _is_command(content: Content) -> bool:
    """A command (/reply, /t, /note...) is stored as what it sent, if anything, never as typed."""
    first = (content.entities or [{}])[0]
    return content.content_type == "text" and (
        (first.get("type") == "bot_command" and first.get("offset") == 0) or (content.text or "").startswith("/"))


def _copy_is_named(conn: sqlite3.Connection, stored: sqlite3.Row, relayed_text: str | None) -> bool:
    """Whether a client's message was relayed with their name on it (as desk.relay.relay_to_agent does)."""
    if db.relayed_together(conn, stored) > 1:
        return False                            # a part of an album: the name came once, before it
    room = TEXT_LIMIT if stored["content_type"] == "text" else CAPTION_LIMIT
    header = texts.RELAY_HEADER.format(name=db.get_client(conn, stored["client_id"])["name"])
    return utf16_len(header + "\n" + (relayed_text or "")) <= room


def _copy_chats(conn: sqlite3.Connection, stored: sqlite3.Row, dialog: sqlite3.Row, source: dict) -> list[int]:
    """The chats holding a copy of the message, or about to: where it was copied, else where it is going."""
    chats = list(dict.fromkeys(c["chat_id"] for c in db.copies_of(conn, source["chat_id"], source["message_id"])))
    if chats:
        return chats
    # Its relay may still wait in the outbox: it goes to the other side of the dialog.
    other = dialog["agent_id"] if stored["sender"] == "client" else dialog["client_id"]
    return [other] if other is not None else []


def _lang_of(desk: Desk, chat_id: int) -> str:
    """The language of whoever reads a chat, agent or client."""
    person = db.get_agent(desk.conn, chat_id) or db.get_client(desk.conn, chat_id)
    return desk.lang(person["language_code"] if person else None)
