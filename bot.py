"""A Telegram support desk: one bot account, clients on one side, human support agents on the other.

The flow:
1. A client writes to the bot. On /start they are greeted and asked how to address them (their
   Telegram first name is offered as a one-tap answer). A client who just writes is greeted too,
   named after their Telegram first name, and that first message is kept and relayed.
2. The first message of a new dialog goes to a free agent chosen by db.find_available_support. With
   nobody free, the client waits in a queue, told their place, and their messages are stored.
3. Everything is relayed both ways, any kind of message; the agent sees the client's name on each.
4. An agent registers with /register_support <token>, toggles /available, closes the ticket with
   /end_chat (the client is told they can come back any time, and the agent takes the next client
   in the queue), gets a client's whole history as a file with /history, and their work with /stats.

How nothing is lost: this module runs the one polling loop. Each update is handled inside one
database transaction that also marks it processed; the next getUpdates, which confirms it to
Telegram, is only asked for after that commit, and a redelivered update is recognised and skipped.
Handlers never call Telegram: they write their messages into the outbox in the same transaction,
and delivery.Sender sends them, in order per chat, under Telegram's rate limits, with retries.
"""

from __future__ import annotations

import fcntl
import functools
import hmac
import json
import logging
import math
import os
import re
import signal
import sqlite3
import sys
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import IO, Any

import requests
import telebot
from dotenv import load_dotenv
from telebot import apihelper, types, util

import db
import delivery
import texts

log = logging.getLogger("desk")

NAME_LIMIT = 64                  # characters in a client's name
REGISTER_MAX_FAILURES = 5        # wrong tokens in a row before a lockout
REGISTER_LOCK_SECONDS = 15 * 60
POLL_TIMEOUT = 25                # seconds a getUpdates long poll may wait for news
ALLOWED_UPDATES = ["message"]
KEEP_PROCESSED_UPDATES = 2 * 24 * 3600   # Telegram redelivers an unconfirmed update for 24 h
KEEP_FINISHED_CALLS = 7 * 24 * 3600
HOUSEKEEPING_EVERY = 3600

CLIENT_COMMANDS = ("start", "help")
AGENT_COMMANDS = ("available", "end_chat", "history", "stats", "help")


# --- Configuration -------------------------------------------------------------------------------


class ConfigError(Exception):
    """A setting is missing or malformed; the message names the variable."""


@dataclass(frozen=True)
class Settings:
    """The desk's configuration, read from the environment (and .env)."""

    bot_token: str = field(repr=False)
    support_token: str = field(repr=False)
    database_path: str = "support.db"
    api_url: str = "https://api.telegram.org"
    online_window: int = 300
    default_language: str = "ru"
    log_level: str = "INFO"


def load_settings(env: dict[str, str]) -> Settings:
    """Read and check every setting; raise ConfigError naming the first bad one."""
    def get(name: str, default: str | None = None) -> str:
        value = env.get(name, "").strip()
        if value:
            return value
        if default is None:
            raise ConfigError(f"{name} is not set (see .env.example)")
        return default

    bot_token = get("BOT_TOKEN")
    if not re.fullmatch(r"\d+:[A-Za-z0-9_-]+", bot_token):
        raise ConfigError("BOT_TOKEN is malformed: expected the form 123456:ABC-DEF... from @BotFather")
    support_token = get("SUPPORT_TOKEN")
    if len(support_token) < 16:
        raise ConfigError("SUPPORT_TOKEN is too short: use at least 16 characters (see .env.example)")
    api_url = get("TELEGRAM_API_URL", Settings.api_url).rstrip("/")
    if not re.fullmatch(r"https?://\S+", api_url):
        raise ConfigError("TELEGRAM_API_URL must start with http:// or https://")
    window = get("ONLINE_WINDOW_SECONDS", str(Settings.online_window))
    if not window.isdigit() or int(window) <= 0:
        raise ConfigError("ONLINE_WINDOW_SECONDS must be a positive whole number of seconds")
    language = get("DEFAULT_LANGUAGE", Settings.default_language).lower()
    if language not in texts.LANGUAGES:
        raise ConfigError(f"DEFAULT_LANGUAGE must be one of: {', '.join(texts.LANGUAGES)}")
    level = get("LOG_LEVEL", Settings.log_level).upper()
    if level not in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"):
        raise ConfigError("LOG_LEVEL must be one of DEBUG, INFO, WARNING, ERROR, CRITICAL")
    return Settings(bot_token=bot_token, support_token=support_token,
                    database_path=get("DATABASE_PATH", Settings.database_path), api_url=api_url,
                    online_window=int(window), default_language=language, log_level=level)


class RedactingFormatter(logging.Formatter):
    """Formats records and masks secrets anywhere in the result, tracebacks included."""

    def __init__(self, fmt: str, secrets: list[str]) -> None:
        super().__init__(fmt)
        # The HTTP library puts the bot token into every URL, and so into errors it raises.
        self.secrets = sorted({s for s in secrets if s}, key=len, reverse=True)

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        for secret in self.secrets:
            text = text.replace(secret, "[REDACTED]")
        return text


def configure_logging(settings: Settings) -> None:
    """Send every log line, the library's included, through one redacting handler."""
    token_secret = settings.bot_token.split(":", 1)[1]
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(RedactingFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s",
                                            [settings.bot_token, token_secret, settings.support_token]))
    logging.basicConfig(level=settings.log_level, handlers=[handler], force=True)
    telebot.logger.handlers.clear()     # the library installs its own unredacted handler
    telebot.logger.propagate = True
    telebot.logger.setLevel(settings.log_level)

    # Uncaught errors are logged, hence redacted, instead of printed raw by Python.
    def log_uncaught(exc_type: type, exc: BaseException, tb: Any) -> None:
        log.critical("uncaught error", exc_info=(exc_type, exc, tb))

    sys.excepthook = log_uncaught
    threading.excepthook = lambda args: log_uncaught(args.exc_type, args.exc_value, args.exc_traceback)


# --- The desk: what happens, in the database and the outbox --------------------------------------


def clean_name(raw: str | None) -> str | None:
    """A name as typed, trimmed and with inner whitespace folded; None if empty or too long."""
    name = " ".join((raw or "").split())
    return name if 0 < len(name) <= NAME_LIMIT else None


def format_duration(seconds: float | None, lang: str) -> str:
    """A duration as H:MM:SS, or a dash when there is none yet."""
    if seconds is None:
        return texts.t(lang, "stats_none")
    seconds = round(seconds)
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


def message_content(m: types.Message) -> tuple[str | None, list[dict] | None, str | None]:
    """(text or caption, its formatting entities, a description of the media) of a message."""
    j = m.json
    text = j.get("text", j.get("caption"))
    entities = j.get("entities", j.get("caption_entities"))
    details = None
    if m.content_type in ("document", "audio") and j[m.content_type].get("file_name"):
        details = j[m.content_type]["file_name"]
    elif m.content_type == "location":
        details = f'{j["location"]["latitude"]}, {j["location"]["longitude"]}'
    elif m.content_type == "venue":
        details = f'{j["venue"].get("title", "")}, {j["venue"].get("address", "")}'
    elif m.content_type == "contact":
        c = j["contact"]
        details = " ".join(filter(None, [c.get("first_name"), c.get("last_name"), c.get("phone_number")]))
    elif m.content_type == "sticker":
        details = j["sticker"].get("emoji")
    elif m.content_type == "poll":
        details = j["poll"].get("question")
    return text, entities, details


class Desk:
    """The desk's operations over one database connection; every change goes into the outbox too."""

    def __init__(self, conn: sqlite3.Connection, settings: Settings) -> None:
        self.conn = conn
        self.settings = settings

    def lang(self, language_code: str | None) -> str:
        return texts.pick_language(language_code, self.settings.default_language)

    def say(self, chat_id: int, lang: str, key: str, reply_markup: dict | None = None, **values: Any) -> None:
        """Queue a text from texts.py for a chat."""
        payload: dict[str, Any] = {"text": texts.t(lang, key, **values)}
        if reply_markup:
            payload["reply_markup"] = reply_markup
        db.enqueue_call(self.conn, chat_id, "sendMessage", payload, time.time())

    def call(self, chat_id: int, method: str, payload: dict[str, Any]) -> None:
        """Queue any Telegram call for a chat."""
        db.enqueue_call(self.conn, chat_id, method, payload, time.time())

    def set_menus(self) -> None:
        """Queue the default command menu (for clients), in each language."""
        for lang in texts.LANGUAGES:
            self.call(0, "setMyCommands", {"commands": self._commands(CLIENT_COMMANDS, lang), "language_code": lang})
        self.call(0, "setMyCommands", {"commands": self._commands(CLIENT_COMMANDS, self.settings.default_language)})

    @staticmethod
    def _commands(names: tuple[str, ...], lang: str) -> list[tuple[str, str]]:
        return [(name, texts.t(lang, f"cmd_{name}")) for name in names]

    # Clients

    def client_for(self, user: types.User) -> tuple[sqlite3.Row, bool]:
        """The client row for a Telegram user, created on first contact; (row, is_new)."""
        client = db.get_client(self.conn, user.id)
        if client is None:
            name = clean_name(user.first_name) or f"#{user.id}"
            db.add_client(self.conn, user.id, name, user.username, user.language_code, time.time())
            return db.get_client(self.conn, user.id), True
        if (client["username"], client["language_code"]) != (user.username, user.language_code):
            db.update_client_profile(self.conn, user.id, user.username, user.language_code)
        return client, False

    def open_dialog(self, client: sqlite3.Row) -> sqlite3.Row:
        """Start a dialog for a client: with a free agent if there is one, otherwise in the queue."""
        now = time.time()
        agent = db.find_available_support(self.conn, now, self.settings.online_window)
        if agent is not None:
            dialog_id = db.assign_client(self.conn, client["user_id"], agent["user_id"], now)
            self.announce(client, agent, waited=None)
        else:
            dialog_id = db.enqueue_client(self.conn, client["user_id"], now)
            self.say(client["user_id"], self.lang(client["language_code"]), "queued",
                     position=db.queue_position(self.conn, dialog_id))
        return db.get_dialog(self.conn, dialog_id)

    def announce(self, client: sqlite3.Row, agent: sqlite3.Row, waited: float | None) -> None:
        """Tell an agent who their new client is, and the client who is helping them."""
        agent_lang = self.lang(agent["language_code"])
        username = f', @{client["username"]}' if client["username"] else ""
        self.say(agent["user_id"], agent_lang, "new_client", name=client["name"], client_id=client["user_id"],
                 username=username, language=client["language_code"] or "?")
        if waited is not None:
            self.say(agent["user_id"], agent_lang, "waited", minutes=max(1, round(waited / 60)))
        self.say(client["user_id"], self.lang(client["language_code"]), "connected", agent=agent["name"])

    def relay_client_message(self, client: sqlite3.Row, agent_id: int, history: sqlite3.Row | dict) -> None:
        """Queue one stored client message for the agent, with the client's name on it."""
        entities = history["entities"]
        if isinstance(entities, str):
            entities = json.loads(entities)
        origin = {"chat_id": client["user_id"], "message_id": history["message_id"],
                  "lang": self.lang(client["language_code"])}
        for method, payload in delivery.relay_to_agent(
                client["user_id"], history["message_id"], history["content_type"], history["text"],
                entities, client["name"]):
            self.call(agent_id, method, {**payload, "origin": origin})

    def store_message(self, m: types.Message, dialog: sqlite3.Row, sender: str) -> dict[str, Any]:
        """Save a message to the history; returns what was saved."""
        text, entities, details = message_content(m)
        row = {"dialog_id": dialog["id"], "client_id": dialog["client_id"], "sender": sender,
               "agent_id": m.from_user.id if sender == "agent" else None, "message_id": m.message_id,
               "content_type": m.content_type, "text": text, "entities": entities, "details": details}
        db.add_message(self.conn, **row, now=time.time())
        return row

    # Agents

    def serve_queue(self, agent_id: int) -> None:
        """If the agent is free and someone waits, give them the longest-waiting client."""
        agent = db.get_agent(self.conn, agent_id)
        if agent is None or not agent["is_available"] or db.open_dialog_for_agent(self.conn, agent_id):
            return
        dialog = db.next_queued_dialog(self.conn)
        if dialog is None:
            return
        client = db.get_client(self.conn, dialog["client_id"])
        now = time.time()
        db.assign_client(self.conn, client["user_id"], agent_id, now)
        self.announce(client, agent, waited=now - dialog["created_at"])
        for message in db.dialog_messages(self.conn, dialog["id"]):
            self.relay_client_message(client, agent_id, message)

    def end_dialog(self, dialog: sqlite3.Row) -> None:
        """Close an agent's ticket, tell both sides, and hand the agent the next client."""
        db.close_dialog(self.conn, dialog["id"], time.time())
        client = db.get_client(self.conn, dialog["client_id"])
        agent = db.get_agent(self.conn, dialog["agent_id"])
        self.say(client["user_id"], self.lang(client["language_code"]), "ticket_closed")
        self.say(agent["user_id"], self.lang(agent["language_code"]), "end_done", name=client["name"])
        self.serve_queue(agent["user_id"])

    def chat_unreachable(self, chat_id: int, reason: str) -> None:
        """Someone blocked the bot or vanished: close their dialog and tell the other side."""
        now = time.time()
        if db.get_agent(self.conn, chat_id) is not None:
            # An unreachable agent must not be handed more clients.
            db.set_agent_available(self.conn, chat_id, False)
            dialog = db.open_dialog_for_agent(self.conn, chat_id)
            if dialog is not None:
                db.close_dialog(self.conn, dialog["id"], now)
                client = db.get_client(self.conn, dialog["client_id"])
                self.say(client["user_id"], self.lang(client["language_code"]), "agent_unreachable")
        client = db.get_client(self.conn, chat_id)
        dialog = db.live_dialog_for_client(self.conn, chat_id) if client is not None else None
        if dialog is not None:
            db.close_dialog(self.conn, dialog["id"], now)
            if dialog["agent_id"] is not None:
                agent = db.get_agent(self.conn, dialog["agent_id"])
                self.say(agent["user_id"], self.lang(agent["language_code"]), "client_blocked", name=client["name"])
                self.serve_queue(agent["user_id"])
        log.info("closed the dialogs of unreachable chat %s (%s)", chat_id, reason)


# --- Handlers: one per command, and one for every other message ----------------------------------


def seen_agent(desk: Desk, user: types.User) -> sqlite3.Row | None:
    """The agent row for this user, with their last-seen time refreshed; None for clients."""
    agent = db.get_agent(desk.conn, user.id)
    if agent is not None:
        db.touch_agent(desk.conn, user.id, user.username, user.language_code, time.time())
    return agent


def command_argument(m: types.Message) -> str:
    """Whatever follows the command, trimmed."""
    return (util.extract_arguments(m.text) or "").strip()


def cmd_start(desk: Desk, m: types.Message) -> None:
    """Greet a client and ask their name once; tell an agent what they can do."""
    lang = desk.lang(m.from_user.language_code)
    if seen_agent(desk, m.from_user):
        desk.say(m.chat.id, lang, "help_agent")
        return
    client, is_new = desk.client_for(m.from_user)
    dialog = db.live_dialog_for_client(desk.conn, client["user_id"])
    if dialog is not None and dialog["status"] == "open":
        desk.say(m.chat.id, lang, "in_dialog")
    elif dialog is not None:
        desk.say(m.chat.id, lang, "queued", position=db.queue_position(desk.conn, dialog["id"]))
    elif is_new or client["awaiting_name"]:
        db.set_client_awaiting_name(desk.conn, client["user_id"], True)
        keyboard = {"keyboard": [[{"text": client["name"]}]], "resize_keyboard": True, "one_time_keyboard": True}
        desk.say(m.chat.id, lang, "ask_name", reply_markup=keyboard)
    else:
        desk.say(m.chat.id, lang, "welcome_back", name=client["name"])


def cmd_help(desk: Desk, m: types.Message) -> None:
    """Show the commands of the user's role."""
    lang = desk.lang(m.from_user.language_code)
    desk.say(m.chat.id, lang, "help_agent" if seen_agent(desk, m.from_user) else "help_client")


def cmd_register_support(desk: Desk, m: types.Message) -> None:
    """Make the user a support agent if they give the right token; lock out guessers."""
    lang = desk.lang(m.from_user.language_code)
    user = m.from_user
    token = command_argument(m)
    if token:
        # The message holds a secret (or a guess at one): take it out of the chat.
        desk.call(m.chat.id, "deleteMessage", {"message_id": m.message_id})
    if seen_agent(desk, user):
        desk.say(m.chat.id, lang, "register_already")
        return
    if not token:
        desk.say(m.chat.id, lang, "register_usage")
        return
    now = time.time()
    locked_until = db.register_locked_until(desk.conn, user.id, now)
    if locked_until is not None:
        desk.say(m.chat.id, lang, "register_locked", minutes=math.ceil((locked_until - now) / 60))
        return
    if not hmac.compare_digest(token.encode(), desk.settings.support_token.encode()):
        left = db.record_register_failure(desk.conn, user.id, now, REGISTER_MAX_FAILURES, REGISTER_LOCK_SECONDS)
        if left:
            desk.say(m.chat.id, lang, "register_wrong", left=left, minutes=REGISTER_LOCK_SECONDS // 60)
        else:
            desk.say(m.chat.id, lang, "register_locked", minutes=REGISTER_LOCK_SECONDS // 60)
        log.info("user %s gave a wrong support token", user.id)
        return
    db.clear_register_failures(desk.conn, user.id)
    dialog = db.live_dialog_for_client(desk.conn, user.id)
    if dialog is not None:
        # A client becoming an agent: their own ticket ends as if their agent had closed it.
        if dialog["status"] == "open":
            desk.end_dialog(dialog)
        else:
            db.close_dialog(desk.conn, dialog["id"], now)
    db.register_agent(desk.conn, user.id, clean_name(user.first_name) or f"#{user.id}",
                      user.username, user.language_code, now)
    desk.say(m.chat.id, lang, "register_ok")
    desk.say(m.chat.id, lang, "help_agent")
    desk.call(m.chat.id, "setMyCommands", {"commands": desk._commands(AGENT_COMMANDS, lang)})
    log.info("user %s registered as a support agent", user.id)
    desk.serve_queue(user.id)


def agent_or_refuse(desk: Desk, m: types.Message) -> sqlite3.Row | None:
    """The agent sending an agent command, or None after politely refusing a client."""
    agent = seen_agent(desk, m.from_user)
    if agent is None:
        desk.say(m.chat.id, desk.lang(m.from_user.language_code), "agent_only")
    return agent


def cmd_available(desk: Desk, m: types.Message) -> None:
    """Toggle whether the agent takes new clients; switching on takes the next one waiting."""
    agent = agent_or_refuse(desk, m)
    if agent is None:
        return
    lang = desk.lang(m.from_user.language_code)
    available = not agent["is_available"]
    db.set_agent_available(desk.conn, agent["user_id"], available)
    if available:
        desk.say(m.chat.id, lang, "available_on")
        desk.serve_queue(agent["user_id"])
    elif db.open_dialog_for_agent(desk.conn, agent["user_id"]):
        desk.say(m.chat.id, lang, "available_off_in_dialog")
    else:
        desk.say(m.chat.id, lang, "available_off")


def cmd_end_chat(desk: Desk, m: types.Message) -> None:
    """Close the agent's current ticket."""
    agent = agent_or_refuse(desk, m)
    if agent is None:
        return
    dialog = db.open_dialog_for_agent(desk.conn, agent["user_id"])
    if dialog is None:
        desk.say(m.chat.id, desk.lang(m.from_user.language_code), "end_no_dialog")
        return
    desk.end_dialog(dialog)


def cmd_history(desk: Desk, m: types.Message) -> None:
    """Send the current (or a named) client's whole history as a text file."""
    agent = agent_or_refuse(desk, m)
    if agent is None:
        return
    lang = desk.lang(m.from_user.language_code)
    argument = command_argument(m)
    if argument:
        if not argument.isdigit() or len(argument) > 19:
            desk.say(m.chat.id, lang, "history_usage")
            return
        client_id = int(argument)
        if db.get_client(desk.conn, client_id) is None:
            desk.say(m.chat.id, lang, "history_unknown", client_id=client_id)
            return
    else:
        dialog = db.open_dialog_for_agent(desk.conn, agent["user_id"])
        if dialog is None:
            desk.say(m.chat.id, lang, "history_no_dialog")
            return
        client_id = dialog["client_id"]
    # The file is built when it is sent, from the database, so it never sits in the outbox.
    desk.call(m.chat.id, "sendHistory", {"client_id": client_id, "lang": lang})


def cmd_stats(desk: Desk, m: types.Message) -> None:
    """Show the agent's work and the state of the desk."""
    agent = agent_or_refuse(desk, m)
    if agent is None:
        return
    lang = desk.lang(m.from_user.language_code)
    day_start = datetime.now().replace(hour=0, minute=0, second=0, microsecond=0).timestamp()
    stats = db.agent_stats(desk.conn, agent["user_id"], day_start)
    dialog = db.open_dialog_for_agent(desk.conn, agent["user_id"])
    current = (texts.t(lang, "stats_current", name=db.get_client(desk.conn, dialog["client_id"])["name"])
               if dialog else texts.t(lang, "stats_idle"))
    desk.say(m.chat.id, lang, "stats", dialogs_total=stats["dialogs_total"], dialogs_today=stats["dialogs_today"],
             messages=stats["messages"], avg_first_response=format_duration(stats["avg_first_response"], lang),
             avg_duration=format_duration(stats["avg_duration"], lang), current=current,
             queue=db.queue_length(desk.conn), available=db.count_available_agents(desk.conn))


def cmd_unknown(desk: Desk, m: types.Message) -> None:
    """Answer a command the desk does not know with the help of the user's role."""
    lang = desk.lang(m.from_user.language_code)
    role_help = "help_agent" if seen_agent(desk, m.from_user) else "help_client"
    desk.call(m.chat.id, "sendMessage", {"text": texts.t(lang, "unknown_command") + "\n\n" + texts.t(lang, role_help)})


def on_message(desk: Desk, m: types.Message) -> None:
    """Relay any other message: an agent's to their client, a client's to their agent or the queue."""
    agent = seen_agent(desk, m.from_user)
    if agent is not None:
        on_agent_message(desk, agent, m)
    else:
        on_client_message(desk, m)


def on_agent_message(desk: Desk, agent: sqlite3.Row, m: types.Message) -> None:
    """Store an agent's message and copy it to their client."""
    lang = desk.lang(m.from_user.language_code)
    dialog = db.open_dialog_for_agent(desk.conn, agent["user_id"])
    if dialog is None:
        desk.say(m.chat.id, lang, "agent_no_dialog", queue=db.queue_length(desk.conn))
        return
    desk.store_message(m, dialog, "agent")
    db.mark_first_response(desk.conn, dialog["id"], time.time())
    method, payload = delivery.relay_to_client(agent["user_id"], m.message_id)
    origin = {"chat_id": agent["user_id"], "message_id": m.message_id, "lang": lang}
    desk.call(dialog["client_id"], method, {**payload, "origin": origin})


def on_client_message(desk: Desk, m: types.Message) -> None:
    """Store a client's message and pass it on; no client message is ever dropped."""
    lang = desk.lang(m.from_user.language_code)
    client, is_new = desk.client_for(m.from_user)
    if is_new:
        desk.say(m.chat.id, lang, "greet_first_message", name=client["name"])
    elif client["awaiting_name"]:
        name = clean_name(m.text) if m.content_type == "text" else None
        if name is not None:
            db.set_client_name(desk.conn, client["user_id"], name)
            desk.say(m.chat.id, lang, "name_saved", name=name, reply_markup={"remove_keyboard": True})
            return
        # Not a name (media, or a long text: a question). Keep the Telegram name and go on.
        db.set_client_awaiting_name(desk.conn, client["user_id"], False)
    dialog = db.live_dialog_for_client(desk.conn, client["user_id"]) or desk.open_dialog(client)
    stored = desk.store_message(m, dialog, "client")
    if dialog["status"] == "open":
        desk.relay_client_message(client, dialog["agent_id"], stored)


def is_command(m: types.Message) -> bool:
    """A message that starts with a bot command, as Telegram marks it."""
    return bool(m.entities) and m.entities[0].type == "bot_command" and m.entities[0].offset == 0


def register_handlers(bot: telebot.TeleBot, desk: Desk) -> None:
    """Attach the desk's handlers; only private chats with a human sender are served."""
    def private(m: types.Message) -> bool:
        return m.chat.type == "private" and m.from_user is not None and not m.from_user.is_bot

    commands = {"start": cmd_start, "help": cmd_help, "register_support": cmd_register_support,
                "available": cmd_available, "end_chat": cmd_end_chat, "history": cmd_history, "stats": cmd_stats}
    for name, handler in commands.items():
        bot.register_message_handler(functools.partial(handler, desk), commands=[name], func=private)
    bot.register_message_handler(functools.partial(cmd_unknown, desk), func=lambda m: private(m) and is_command(m))
    bot.register_message_handler(functools.partial(on_message, desk), func=private,
                                 content_types=util.content_type_media)


# --- The polling loop ----------------------------------------------------------------------------


class Shutdown(BaseException):
    """Raised by the signal handler to cut a long poll short."""


def handle_update(bot: telebot.TeleBot, desk: Desk, raw: dict[str, Any]) -> None:
    """Apply one update exactly once: its effects and its processed mark commit together."""
    update_id = raw["update_id"]
    for attempt in range(1, 4):
        try:
            with db.atomic(desk.conn):
                if not db.claim_update(desk.conn, update_id, time.time()):
                    log.info("update %s was already processed; skipping the redelivery", update_id)
                    return
                bot.process_new_updates([types.Update.de_json(raw)])
            return
        except sqlite3.OperationalError as exc:
            # A locked or busy database is worth another try; the transaction was rolled back.
            log.warning("update %s: database error (%s), attempt %s", update_id, exc, attempt)
            time.sleep(0.5 * attempt)
            error = repr(exc)
        except Exception as exc:
            log.exception("update %s could not be handled", update_id)
            error = repr(exc)
            break
    # Kept whole in failed_updates for the operator rather than dropped or retried forever. If even
    # this write fails, the exception stops the process with the update still unconfirmed.
    with db.atomic(desk.conn):
        db.claim_update(desk.conn, update_id, time.time())
        db.record_failed_update(desk.conn, update_id, json.dumps(raw, ensure_ascii=False), error, time.time())
    log.error("update %s is saved in failed_updates", update_id)


def housekeeping(conn: sqlite3.Connection) -> None:
    """Forget old idempotency marks and finished outbox calls."""
    now = time.time()
    with db.atomic(conn):
        db.prune_processed_updates(conn, now - KEEP_PROCESSED_UPDATES)
        db.prune_outbox(conn, now - KEEP_FINISHED_CALLS)


class Poller:
    """The one loop that asks Telegram for updates and hands them to the handlers."""

    def __init__(self, bot: telebot.TeleBot, desk: Desk, sender: delivery.Sender) -> None:
        self.bot = bot
        self.desk = desk
        self.sender = sender
        self.stopping = threading.Event()
        self.in_long_poll = False

    def request_stop(self, signum: int, _frame: Any) -> None:
        """Signal handler: finish the update at hand, or abandon a long poll at once."""
        log.info("received signal %s, shutting down", signum)
        self.stopping.set()
        if self.in_long_poll:
            raise Shutdown()

    def run(self) -> None:
        offset = None
        delay = 1.0
        last_housekeeping = 0.0
        while not self.stopping.is_set():
            if time.time() - last_housekeeping > HOUSEKEEPING_EVERY:
                housekeeping(self.desk.conn)
                last_housekeeping = time.time()
            try:
                self.in_long_poll = True
                # Asking with offset confirms every update below it, all of them committed by now.
                updates = apihelper.get_updates(self.bot.token, offset=offset, timeout=POLL_TIMEOUT + 10,
                                                allowed_updates=ALLOWED_UPDATES, long_polling_timeout=POLL_TIMEOUT)
            except Shutdown:
                break
            except apihelper.ApiTelegramException as exc:
                if exc.error_code == 409:
                    log.error("409 Conflict: another process is polling with this bot token; "
                              "stop it (or delete its webhook), this one keeps retrying")
                else:
                    log.warning("getUpdates failed: %s %s", exc.error_code, exc.description)
                self._pause(delay)
                delay = min(delay * 2, 30.0)
                continue
            except (apihelper.ApiException, requests.RequestException) as exc:
                log.warning("getUpdates failed (%s); retrying in %.0fs", exc, delay)
                self._pause(delay)
                delay = min(delay * 2, 30.0)
                continue
            finally:
                self.in_long_poll = False
            delay = 1.0
            for raw in updates:
                if self.stopping.is_set():
                    break   # the rest stays unconfirmed and comes again after the restart
                handle_update(self.bot, self.desk, raw)
                offset = raw["update_id"] + 1
                self.sender.wake()

    def _pause(self, seconds: float) -> None:
        self.stopping.wait(seconds)


# --- Start-up ------------------------------------------------------------------------------------


def hold_instance_lock(database_path: str) -> IO[str]:
    """Lock <database>.lock so that a second process on the same database refuses to start."""
    lock_file = open(f"{database_path}.lock", "a")
    try:
        fcntl.flock(lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        lock_file.close()
        raise SystemExit(f"another instance of the desk is already running on {database_path}; "
                         "stop it first (two instances would answer every client twice)") from None
    return lock_file


def check_bot_token(bot: telebot.TeleBot, stopping: threading.Event) -> types.User | None:
    """Ask Telegram who the bot is; exit if the token is rejected, wait while Telegram is unreachable."""
    delay = 1.0
    while not stopping.is_set():
        try:
            return bot.get_me()
        except apihelper.ApiTelegramException as exc:
            if exc.error_code in (401, 404):
                raise SystemExit("Telegram rejected BOT_TOKEN (401 Unauthorized): "
                                 "check the token from @BotFather in .env") from None
            log.warning("getMe failed: %s %s; retrying in %.0fs", exc.error_code, exc.description, delay)
        except (apihelper.ApiException, requests.RequestException) as exc:
            log.warning("cannot reach the Bot API (%s); retrying in %.0fs", exc, delay)
        stopping.wait(delay)
        delay = min(delay * 2, 30.0)
    return None


def main() -> None:
    """Read the configuration, open the database, and run the desk until SIGTERM or SIGINT."""
    # The real environment wins over .env; .env is read from the working directory.
    load_dotenv(Path.cwd() / ".env", override=False)
    try:
        settings = load_settings(dict(os.environ))
    except ConfigError as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        sys.exit(2)
    configure_logging(settings)
    apihelper.API_URL = settings.api_url + "/bot{0}/{1}"
    apihelper.FILE_URL = settings.api_url + "/file/bot{0}/{1}"

    lock = hold_instance_lock(settings.database_path)
    conn = db.connect(settings.database_path)
    db.init_db(conn)
    bot = telebot.TeleBot(settings.bot_token, threaded=False)
    desk = Desk(conn, settings)
    register_handlers(bot, desk)

    def on_unreachable(sender_conn: sqlite3.Connection, chat_id: int, reason: str) -> None:
        Desk(sender_conn, settings).chat_unreachable(chat_id, reason)

    sender = delivery.Sender(bot, settings.database_path, on_unreachable)
    poller = Poller(bot, desk, sender)
    signal.signal(signal.SIGTERM, poller.request_stop)
    signal.signal(signal.SIGINT, poller.request_stop)

    me = check_bot_token(bot, poller.stopping)
    if me is not None:
        with db.atomic(conn):
            desk.set_menus()
        sender.start()
        log.info("desk started as @%s with database %s", me.username, settings.database_path)
        poller.run()
        sender.stop()
    conn.close()
    lock.close()
    log.info("desk stopped")


if __name__ == "__main__":
    main()
