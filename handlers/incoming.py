"""Reading a Telegram message: who sent it, what it holds, which command and argument."""

from __future__ import annotations

from telebot import types, util

from desk.data import Content, Person


def private(m: types.Message) -> bool:
    """Only private chats with a human sender are served; groups, channels and bots are ignored."""
    return m.chat.type == "private" and m.from_user is not None and not m.from_user.is_bot


def is_command(m: types.Message) -> bool:
    """A message that starts with a bot command, as Telegram marks it."""
    return bool(m.entities) and m.entities[0].type == "bot_command" and m.entities[0].offset == 0


def person_of(m: types.Message) -> Person:
    """The sender as plain data."""
    u = m.from_user
    return Person(id=u.id, first_name=u.first_name, username=u.username, language_code=u.language_code)


def argument(m: types.Message) -> str:
    """Whatever follows the command, trimmed."""
    return (util.extract_arguments(m.text or "") or "").strip()


def content_of(m: types.Message) -> Content:
    """The message as plain data: its text or caption, formatting, and a description of its media."""
    j = m.json
    details = None
    kind = m.content_type
    if kind in ("document", "audio") and j[kind].get("file_name"):
        details = j[kind]["file_name"]
    elif kind == "location":
        details = f'{j["location"]["latitude"]}, {j["location"]["longitude"]}'
    elif kind == "venue":
        details = f'{j["venue"].get("title", "")}, {j["venue"].get("address", "")}'
    elif kind == "contact":
        c = j["contact"]
        details = " ".join(filter(None, [c.get("first_name"), c.get("last_name"), c.get("phone_number")]))
    elif kind == "sticker":
        details = j["sticker"].get("emoji")
    elif kind == "poll":
        details = j["poll"].get("question")
    reply = j.get("reply_to_message") or {}
    return Content(message_id=m.message_id, content_type=kind, text=j.get("text", j.get("caption")),
                   entities=j.get("entities", j.get("caption_entities")), details=details,
                   reply_to=reply.get("message_id"), media_group_id=j.get("media_group_id"))


def parse_id(word: str) -> int | None:
    """A Telegram id typed by a person (digits only), or None."""
    return int(word) if word.isdigit() and 0 < len(word) <= 19 and int(word) > 0 else None


def split_argument(m: types.Message) -> tuple[str, str]:
    """The command's first word and the rest (line breaks kept), both trimmed ('' when absent)."""
    parts = argument(m).split(None, 1)
    return (parts[0], parts[1].strip()) if len(parts) == 2 else ((parts[0], "") if parts else ("", ""))
