"""Updates that are not new messages: edits of messages, and presses of inline buttons."""

from __future__ import annotations

from telebot import types

from desk import Desk, edits, faq, ratings
from handlers.incoming import content_of, person_of, private


def on_edit(desk: Desk, m: types.Message) -> None:
    """A client or an agent edited a message: the copy on the other side follows."""
    if private(m):
        edits.on_edit(desk, person_of(m), content_of(m))


def on_button(desk: Desk, call: types.CallbackQuery) -> None:
    """An inline button was pressed: the part of the desk that drew it answers."""
    data = call.data or ""
    person = person_of(call)
    prefix, _, rest = data.partition(":")
    if prefix == "rate":
        ratings.press(desk, person, call.id, call.message.message_id if call.message else None, rest)
    elif prefix == "faq":
        faq.press(desk, person, call.id, rest)
    else:
        # Unknown or forged data: stop the button's spinner and change nothing.
        desk.call(person.id, "answerCallbackQuery", {"callback_query_id": call.id})
