"""How a relayed message looks: a client's message shows the agent the client's name; an agent's
message reaches the client exactly as written."""

from __future__ import annotations

from typing import Any

import texts

TEXT_LIMIT = 4096      # characters in a message text
CAPTION_LIMIT = 1024   # characters in a media caption
# Media whose caption can carry the client's name; other kinds get a header message before them.
CAPTIONED_TYPES = frozenset({"photo", "video", "document", "audio", "voice", "animation"})


def utf16_len(text: str) -> int:
    """Length in UTF-16 code units, the unit of Telegram's limits and entity offsets."""
    return len(text.encode("utf-16-le")) // 2


def _shifted(entities: list[dict] | None, by: int) -> list[dict]:
    """Entities moved right by `by` code units, for text that gained a prefix."""
    return [{**e, "offset": e["offset"] + by} for e in entities or []]


def relay_to_agent(
    client_id: int, message_id: int, content_type: str, text: str | None,
    entities: list[dict] | None, client_name: str,
) -> list[tuple[str, dict[str, Any]]]:
    """The calls that show one client message to an agent, with the client's name on it."""
    header = texts.RELAY_HEADER.format(name=client_name)
    prefix = header + "\n"
    # The name is bold through an entity, never through markup, so no name can break a send.
    bold = [{"type": "bold", "offset": 0, "length": utf16_len(header)}]
    copy = {"from_chat_id": client_id, "message_id": message_id}
    body = text or ""
    if content_type == "text" and utf16_len(prefix + body) <= TEXT_LIMIT:
        return [("sendMessage", {"text": prefix + body, "entities": bold + _shifted(entities, utf16_len(prefix))})]
    if content_type in CAPTIONED_TYPES and utf16_len(prefix + body) <= CAPTION_LIMIT:
        caption = prefix + body if body else header
        return [("copyMessage", {**copy, "caption": caption,
                                 "caption_entities": bold + _shifted(entities, utf16_len(prefix))})]
    # No room for the name (a text or caption at its limit) or no caption at all (stickers,
    # locations, contacts...): the name goes first on its own and the message is copied untouched.
    return [("sendMessage", {"text": header, "entities": bold}), ("copyMessage", copy)]


def album_header(client_name: str) -> tuple[str, dict[str, Any]]:
    """The name shown once above a client's album."""
    header = texts.RELAY_HEADER.format(name=client_name)
    return "sendMessage", {"text": header, "entities": [{"type": "bold", "offset": 0, "length": utf16_len(header)}]}


def relay_to_client(agent_id: int, message_id: int) -> tuple[str, dict[str, Any]]:
    """The call that shows one agent message to the client, exactly as the agent wrote it."""
    return "copyMessage", {"from_chat_id": agent_id, "message_id": message_id}
