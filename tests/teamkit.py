"""What the team desk's test files share: the desk's shape (three dialogs per agent, admin 900) and
a few readings of its state. The fixtures `team` and `crew` (conftest.py) build on it."""

from __future__ import annotations

from typing import Any

from inproc import Desk, User

from texts import RELAY_HEADER

LIMIT = 3            # MAX_CHATS_PER_AGENT of the `team` desk
ADMIN = 900          # its one admin


def relayed(name: str, text: str) -> str:
    """A client's text as the agent sees it, under the client's name."""
    return RELAY_HEADER.format(name=name) + "\n" + text


def dialog_of(app: Desk, client: User) -> Any:
    """The client's live (queued or open) dialog, or None."""
    rows = app.query("SELECT * FROM dialogs WHERE client_id = ? AND status <> 'closed'", client.id)
    return rows[0] if rows else None


def owner(app: Desk, client: User) -> int | None:
    """The agent of the client's live dialog, or None."""
    dialog = dialog_of(app, client)
    return dialog["agent_id"] if dialog is not None else None
