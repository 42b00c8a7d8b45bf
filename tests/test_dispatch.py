"""handlers.Dispatcher picks each message's handler as pyTelegramBotAPI's handler list would.

The desk chooses by a name lookup instead of letting the library test every handler's filters;
these tests hold the choice to the library's own, registered the way the desk registered its
handlers before: each command of the table (commands=[name], private chats), then cmd_unknown
(private, a command entity), then on_message (private, any kind of content).
"""

from __future__ import annotations

import pytest
import telebot
from telebot import types, util

from handlers import Dispatcher, table, updates
from handlers.client import on_message
from handlers.common import cmd_unknown
from handlers.incoming import is_command, private


def library_choice(m: types.Message):
    """The handler pyTelegramBotAPI runs for a message, registered as the desk did."""
    bot = telebot.TeleBot("1:x", threaded=False)
    chosen = []
    for command in table.COMMANDS:
        bot.register_message_handler(lambda _m, h=command.handler: chosen.append(h),
                                     commands=[command.name], func=private)
    bot.register_message_handler(lambda _m: chosen.append(cmd_unknown), func=lambda x: private(x) and is_command(x))
    bot.register_message_handler(lambda _m: chosen.append(on_message), func=private,
                                 content_types=util.content_type_media)
    bot.process_new_messages([m])
    return chosen[0] if chosen else None


def message(text=None, chat_type="private", is_bot=False, from_user=True, command_entity=None, **content):
    raw = {"message_id": 5, "date": 0, "chat": {"id": 10, "type": chat_type}, **content}
    if from_user:
        raw["from"] = {"id": 10, "is_bot": is_bot, "first_name": "Ann"}
    if text is not None:
        raw["text"] = text
        if command_entity if command_entity is not None else text.startswith("/"):
            raw["entities"] = [{"type": "bot_command", "offset": 0, "length": len(text.split()[0])}]
    return types.Message.de_json(raw)


CASES = {
    "a command": message("/start"),
    "a command with arguments": message("/reply 42 hello there"),
    "a command addressed to the bot": message("/help@SupportDeskBot"),
    "a command in capitals": message("/START"),
    "an unknown command": message("/frobnicate now"),
    "a slash without a command entity": message("/start", command_entity=False),
    "a lone slash": message("/"),
    "plain text": message("hello, I have a question"),
    "text with a command later on": message("please /start", command_entity=False),
    "a photo with a command caption": message(None, photo=[{"file_id": "p", "file_unique_id": "u", "width": 1,
                                                            "height": 1}], caption="/start"),
    "a sticker": message(None, sticker={"file_id": "s", "file_unique_id": "u", "type": "regular", "width": 1,
                                        "height": 1, "is_animated": False, "is_video": False}),
    "a service message": message(None, new_chat_title="x"),
    "a command in a group": message("/start", chat_type="group"),
    "text in a channel": message("hi", chat_type="channel", from_user=False),
    "a command from a bot": message("/start", is_bot=True),
    "text from a bot": message("hello", is_bot=True),
    "text that is null": types.Message.de_json({"message_id": 5, "date": 0, "chat": {"id": 10, "type": "private"},
                                                "from": {"id": 10, "is_bot": False, "first_name": "A"},
                                                "text": None}),
}


@pytest.mark.parametrize("name", CASES)
def test_a_message_goes_to_the_handler_the_library_would_pick(name, app):
    m = CASES[name]
    assert app.dispatcher.handler_of(m) is library_choice(m)


def test_every_command_of_the_table_reaches_its_own_handler(app):
    for command in table.COMMANDS:
        m = message(f"/{command.name} something")
        assert app.dispatcher.handler_of(m) is command.handler is library_choice(m)


def test_edits_and_button_presses_reach_their_handlers_and_other_updates_none(app, monkeypatch):
    seen = []
    monkeypatch.setattr(updates, "on_edit", lambda _desk, m: seen.append(("edit", m.message_id)))
    monkeypatch.setattr(updates, "on_button", lambda _desk, c: seen.append(("button", c.data)))
    chat = {"id": 10, "type": "private"}
    user = {"id": 10, "is_bot": False, "first_name": "Ann"}
    dispatcher: Dispatcher = app.dispatcher
    dispatcher.process({"update_id": 1, "edited_message": {"message_id": 3, "date": 0, "edit_date": 1,
                                                           "chat": chat, "from": user, "text": "fixed"}}, 0)
    dispatcher.process({"update_id": 2, "callback_query": {"id": "q", "from": user, "chat_instance": "c",
                                                           "data": "rate:1:5"}}, 0)
    dispatcher.process({"update_id": 3, "channel_post": {"message_id": 1, "date": 0, "chat": chat, "text": "x"}}, 0)
    dispatcher.process({"update_id": 4, "poll": {"id": "p", "question": "?", "options": []}}, 0)
    for kind in ("message", "edited_message", "callback_query"):     # null, as the library ignored it
        dispatcher.process({"update_id": 5, kind: None}, 0)
    assert seen == [("edit", 3), ("button", "rate:1:5")]
