"""The desk's rules, free of Telegram: what happens to clients, agents and dialogs.

Every rule takes a `Desk`: the database connection of the update being handled, the settings, and
that update's clock value `now`. Rules read and write through db.py and say things by queueing
calls in the outbox (desk.say, desk.call), in the same transaction as everything else the update
does; delivery.py sends them later. Nothing here imports telebot or requests, so every rule can be
called in a test with plain data.

Modules, by concern:
- data.py:      Person and Content, the plain data a rule gets from an update.
- clients.py:   clients on first contact, names, deep links, a client's message and where it goes.
- routing.py:   opening a dialog, choosing an agent, the queue, taking, handing over, closing.
- focus.py:     which client an agent means (replies, focus, the only dialog).
- messages.py:  storing and relaying messages in order (albums, waiting messages), notes.
- agents.py, team.py: registration and availability; what admins see and do.
- queue.py, bans.py, replies.py: /queue and its alerts; bans; saved replies.
- intake.py, faq.py, hours.py, ratings.py, edits.py: the client's journey.
- stats.py, health.py, export.py, history.py: figures, /health, the CSV export, the history file.
- relay.py, clock.py: how a relayed message looks; times in TIMEZONE.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from typing import Any

import db
import texts
from config import Settings


@dataclass
class Desk:
    """One update's view of the desk: its connection, the settings and its clock value."""

    conn: sqlite3.Connection
    settings: Settings
    now: float

    def lang(self, language_code: str | None) -> str:
        """The desk's language for a Telegram language code."""
        return texts.pick_language(language_code, self.settings.default_language)

    def say(self, chat_id: int, lang: str, key: str, reply_markup: dict | None = None,
            link: dict | None = None, reply_to: int | None = None, album: str | None = None,
            **values: Any) -> None:
        """Queue a text from texts.py for a chat (as a reply to message `reply_to`, if given)."""
        self.send_text(chat_id, texts.t(lang, key, **values), reply_markup, link, reply_to, album)

    def send_text(self, chat_id: int, text: str, reply_markup: dict | None = None,
                  link: dict | None = None, reply_to: int | None = None, album: str | None = None) -> None:
        """Queue a text as it is."""
        payload: dict[str, Any] = {"text": text}
        if reply_markup:
            payload["reply_markup"] = reply_markup
        if reply_to is not None:
            payload["reply_parameters"] = {"message_id": reply_to, "allow_sending_without_reply": True}
        if link:
            payload["link"] = link     # the desk's own note: recorded with the sent message's id
        if album:
            payload["album"] = album   # the desk's own note: the album of the message this answers
        self.call(chat_id, "sendMessage", payload)

    def send_history(self, chat_id: int, client_id: int, lang: str, link: dict | None = None) -> None:
        """Queue a client's history file; it is built when it is sent, so it never sits in the outbox."""
        payload: dict[str, Any] = {"client_id": client_id, "lang": lang, "tz": self.settings.timezone}
        if link:
            payload["link"] = link
        self.call(chat_id, "sendHistory", payload)

    def send_export(self, chat_id: int, days: int, lang: str) -> None:
        """Queue the CSV of the last `days` days' dialogs; built when it is sent, like the history file."""
        self.call(chat_id, "sendExport", {"since": self.now - days * 86400, "days": days, "lang": lang,
                                          "tz": self.settings.timezone})

    def call(self, chat_id: int, method: str, payload: dict[str, Any]) -> None:
        """Queue any Telegram call for a chat."""
        db.enqueue_call(self.conn, chat_id, method, payload, self.now)
