"""The Telegram side of the desk: updates in, calls of desk/ out.

The flow of one update: bot.handle_update opens a transaction and calls Dispatcher.process, which
builds the update's Desk (its connection, the settings and one clock value) and lets
pyTelegramBotAPI (non-threaded, so in this same thread and transaction) pick the handler:
1. A command from the table in handlers/table.py: its handler, behind its role guard (guards.py).
2. Any other command: cmd_unknown answers with the sender's /help.
3. Anything else a person sends in a private chat: client.on_message relays it.
4. An edited message: updates.on_edit; a press of an inline button: updates.on_button.
Groups, channels, bots and update kinds the desk does not handle match no handler and are ignored.

Handlers parse arguments and pick the rule to call; the rules, and every SQL statement, live
elsewhere (desk/, db.py). Handlers never call Telegram: everything they say goes into the outbox.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from typing import Any

import telebot
from telebot import types, util

from config import Settings
from desk import Desk, routing
from handlers import table, updates  # table first: it loads every handler module, in order
from handlers.client import on_message
from handlers.common import cmd_unknown
from handlers.guards import Handler
from handlers.incoming import is_command, private


class Dispatcher:
    """A non-threaded TeleBot with every handler registered, each run inside the update's Desk."""

    def __init__(self, conn: sqlite3.Connection, settings: Settings) -> None:
        self.conn = conn
        self.settings = settings
        self.bot = telebot.TeleBot(settings.bot_token, threaded=False)
        self._desk: Desk | None = None
        for command in table.COMMANDS:
            self.bot.register_message_handler(self._bound(command.handler), commands=[command.name], func=private)
        self.bot.register_message_handler(self._bound(cmd_unknown), func=lambda m: private(m) and is_command(m))
        self.bot.register_message_handler(self._bound(on_message), func=private,
                                          content_types=util.content_type_media)
        self.bot.register_edited_message_handler(self._bound(updates.on_edit), content_types=util.content_type_media)
        self.bot.register_callback_query_handler(self._bound(updates.on_button), func=lambda _call: True)

    def _bound(self, handler: Handler) -> Callable[[types.Message], None]:
        def run(m: types.Message) -> None:
            handler(self._desk, m)
        return run

    def desk(self, now: float) -> Desk:
        """A Desk for work outside any update (start-up, the sender), at clock value `now`."""
        return Desk(self.conn, self.settings, now)

    def start(self, now: float) -> None:
        """Start-up work, in the caller's transaction: the limits, menus, and the queue (the limit may have grown)."""
        desk = self.desk(now)
        routing.start_up(desk)
        table.queue_menus(desk)

    def process(self, raw: dict[str, Any], now: float) -> None:
        """Run the handler of one raw update; the caller holds the transaction."""
        self._desk = self.desk(now)
        try:
            self.bot.process_new_updates([types.Update.de_json(raw)])
        finally:
            self._desk = None
