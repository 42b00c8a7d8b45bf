"""Answers from the FAQ (FAQ_FILE) for clients waiting in the queue, and /faq.

(Being built: nothing is matched until the FAQ lands.)
"""

from __future__ import annotations

import sqlite3

from desk import Desk
from desk.data import Content, Person


def auto_answer(desk: Desk, client: sqlite3.Row, dialog: sqlite3.Row, content: Content) -> None:
    """A waiting client wrote: answer from the FAQ when a question matches."""


def show(desk: Desk, person: Person) -> None:
    """/faq: the questions as buttons."""


def press(desk: Desk, person: Person, callback_id: str, data: str) -> None:
    """A press of an FAQ button: its answer."""
    desk.call(person.id, "answerCallbackQuery", {"callback_query_id": callback_id})
