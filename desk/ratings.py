"""Ratings: when an agent closes a dialog the client may rate it once, 1 to 5, with inline buttons."""

from __future__ import annotations

import sqlite3

import db
import texts
from desk import Desk
from desk.data import Person

STARS = range(1, 6)


def keyboard(dialog_id: int, chosen: int | None = None) -> dict:
    """Five buttons, 1 to 5 stars; after a press the chosen one is marked."""
    def label(n: int) -> str:
        return f"✅ {n} ⭐" if n == chosen else f"{n} ⭐"
    return {"inline_keyboard": [[{"text": label(n), "callback_data": f"rate:{dialog_id}:{n}"} for n in STARS]]}


def ask(desk: Desk, client: sqlite3.Row, dialog_id: int) -> None:
    """Offer the client the rating buttons for a dialog just closed (unless RATING=off)."""
    if desk.settings.rating:
        desk.say(client["user_id"], desk.lang(client["language_code"]), "rate_prompt", reply_markup=keyboard(dialog_id))


def _answer(desk: Desk, person: Person, callback_id: str, text: str | None = None) -> None:
    payload = {"callback_query_id": callback_id}
    if text:
        payload["text"] = text
    desk.call(person.id, "answerCallbackQuery", payload)


def press(desk: Desk, person: Person, callback_id: str, message_id: int | None, data: str) -> None:
    """A press of a rating button: stored once, thanked, the keyboard updated, the agent told."""
    lang = desk.lang(person.language_code)
    dialog_part, _, stars_part = data.partition(":")
    dialog = db.get_dialog(desk.conn, int(dialog_part)) if dialog_part.isdigit() and len(dialog_part) < 19 else None
    stars = int(stars_part) if stars_part.isdigit() and len(stars_part) == 1 else 0
    if dialog is None or dialog["client_id"] != person.id or stars not in STARS or dialog["status"] != "closed":
        _answer(desk, person, callback_id)                       # forged or foreign: the spinner stops, nothing else
        return
    if not db.rate_dialog(desk.conn, dialog["id"], stars, desk.now):
        _answer(desk, person, callback_id, texts.t(lang, "rate_already"))
        return
    _answer(desk, person, callback_id, texts.t(lang, "rate_thanks"))
    if message_id is not None:
        desk.call(person.id, "editMessageReplyMarkup",
                  {"message_id": message_id, "reply_markup": keyboard(dialog["id"], chosen=stars)})
    agent = db.get_agent(desk.conn, dialog["agent_id"]) if dialog["agent_id"] else None
    if agent is not None:
        client = db.get_client(desk.conn, person.id)
        desk.say(agent["user_id"], desk.lang(agent["language_code"]), "rate_received", name=client["name"],
                 stars=stars)
