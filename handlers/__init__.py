"""The Telegram side of the desk: updates in, calls of desk/ out.

The flow of one update: bot.handle_update opens a transaction and calls Dispatcher.process, which
builds the update's Desk (its connection, the settings and one clock value), reads the update
with pyTelegramBotAPI's types and picks the one handler, in this same thread and transaction:
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
from typing import Any

from telebot import types, util

from config import Settings
from desk import Desk, routing
from handlers import table, updates  # table first: it loads every handler module, in order
from handlers.client import on_message
from handlers.common import cmd_unknown
from handlers.guards import Handler
from handlers.incoming import is_command, private

MEDIA = frozenset(util.content_type_media)      # every kind of message a person can send


class Dispatcher:
    """Picks each update's handler and runs it inside the update's Desk."""

    # The choice is made here by a name lookup, as pyTelegramBotAPI's handler list would make it
    # (the first of: a command of the table, cmd_unknown, on_message), at a fraction of the CPU:
    # the library tests every registered handler's filters in turn for every message.

    def __init__(self, conn: sqlite3.Connection, settings: Settings) -> None:
        self.conn = conn
        self.settings = settings
        self.commands: dict[str, Handler] = {command.name: command.handler for command in table.COMMANDS}

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
        # An update holds one of these; one that is null or absent is ignored, as the library did.
        if raw.get("message"):
            m = types.Message.de_json(raw["message"])
            handler = self.handler_of(m)
            if handler is not None:
                handler(self.desk(now), m)
        elif raw.get("edited_message"):
            m = types.Message.de_json(raw["edited_message"])
            if m.content_type in MEDIA:
                updates.on_edit(self.desk(now), m)
        elif raw.get("callback_query"):
            updates.on_button(self.desk(now), types.CallbackQuery.de_json(raw["callback_query"]))

    def handler_of(self, m: types.Message) -> Handler | None:
        """Which handler a new message goes to, or None when the desk ignores it."""
        if not private(m):
            return None
        if m.content_type == "text":
            handler = self.commands.get(util.extract_command(m.text) or "")     # "/name@bot args" -> name
            if handler is not None:
                return handler
        if is_command(m):
            return cmd_unknown
        if m.content_type in MEDIA:
            return on_message
        return None
