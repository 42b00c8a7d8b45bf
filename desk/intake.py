"""The intake questionnaire: questions asked before a new dialog reaches an agent (INTAKE_FILE).

(Being built: start() asks nothing and card() is empty until the questionnaire lands.)
"""

from __future__ import annotations

import sqlite3

from desk import Desk
from desk.data import Content


def start(desk: Desk, client: sqlite3.Row, dialog: sqlite3.Row) -> bool:
    """Begin the questions for a new dialog; False when there are none to ask."""
    return False


def answer(desk: Desk, client: sqlite3.Row, dialog: sqlite3.Row, content: Content) -> None:
    """The client wrote while a question is open."""


def card(desk: Desk, client: sqlite3.Row, dialog: sqlite3.Row, lang: str) -> str | None:
    """The card of the client's answers for the agent, or None without answers."""
    return None


def remind(desk: Desk, client: sqlite3.Row, dialog: sqlite3.Row) -> None:
    """/start in the middle of the questions: ask the current one again."""
