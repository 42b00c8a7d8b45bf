"""Edits kept in sync: when a relayed text or caption is edited, the copy on the other side follows.

(Being built: edits are ignored until this lands.)
"""

from __future__ import annotations

from desk import Desk
from desk.data import Content, Person


def on_edit(desk: Desk, person: Person, content: Content) -> None:
    """Someone edited one of their messages."""
