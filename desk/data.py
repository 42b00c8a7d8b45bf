"""The plain data a rule gets from an update: who sent it, and what they sent."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Person:
    """A Telegram user as the desk needs them; their id is also their private chat's id."""

    id: int
    first_name: str | None = None
    username: str | None = None
    language_code: str | None = None


@dataclass(frozen=True)
class Content:
    """One message: its id in its author's chat, its kind, its text or caption, and media details."""

    message_id: int
    content_type: str = "text"
    text: str | None = None
    entities: list[dict] | None = None
    details: str | None = None          # file name, coordinates, phone...: what a history file shows
    reply_to: int | None = None         # the id of the message it replies to, in the same chat
    media_group_id: str | None = None   # the album it belongs to
