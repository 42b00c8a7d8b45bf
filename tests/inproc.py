"""The desk in-process: raw update dicts through bot.handle_update, answers read from the outbox.

`Desk` (the harness, not the rules' desk.Desk) holds a real Dispatcher (a non-threaded TeleBot
with every handler) over a fresh database, and a clock the test moves with `tick()`. Users are
`desk.user(id, name)`; `user.send("text")` or `user.send(photo=[...], caption="...")` builds the
update Telegram would send and handles it at once, in the same thread. What the desk said is read
back from the outbox: `user.texts()` is what the user would see (a copied message shows the text
of the message it copies), `user.calls()` the raw calls.

Nothing here opens a socket: the outbox is the boundary. What needs the real process (HTTP, the
sender, crashes, signals) is tested end to end with tests/harness.py.
"""

from __future__ import annotations

import itertools
import json
import sqlite3
from typing import Any

from harness import BOT_TOKEN, SUPPORT_TOKEN

import db
from bot import handle_update
from config import Settings
from handlers import Dispatcher

START = 1_800_000_000.0     # 2027-01-15 08:00 UTC: the tests' clock starts here


def settings(database_path: str = ":memory:", **overrides: Any) -> Settings:
    """Settings for a test desk: English by default, test tokens."""
    values: dict[str, Any] = {"bot_token": BOT_TOKEN, "support_token": SUPPORT_TOKEN,
                              "database_path": database_path, "default_language": "en",
                              # Off unless a test turns it on, so that closing a ticket ends with its notice.
                              "rating": False}
    return Settings(**{**values, **overrides})


def command_entities(text: str) -> list[dict[str, Any]]:
    """The bot_command entity Telegram puts on a text that starts with /command."""
    word = text.split()[0] if text.split() else text
    return [{"type": "bot_command", "offset": 0, "length": len(word.encode("utf-16-le")) // 2}]


class User:
    """A Telegram user in a private chat with the bot."""

    def __init__(self, desk: Desk, user_id: int, first_name: str, language_code: str | None,
                 username: str | None) -> None:
        self.desk = desk
        self.id = user_id
        self.first_name = first_name
        self.language_code = language_code
        self.username = username

    def as_user(self) -> dict[str, Any]:
        user: dict[str, Any] = {"id": self.id, "is_bot": False, "first_name": self.first_name}
        if self.language_code:
            user["language_code"] = self.language_code
        if self.username:
            user["username"] = self.username
        return user

    def send(self, text: str | None = None, *, reply_to: int | None = None, **content: Any) -> dict[str, Any]:
        """Send a message (text, or content such as photo=..., caption=...); returns the message."""
        if text is not None:
            content["text"] = text
            if text.startswith("/") and "entities" not in content:
                content["entities"] = command_entities(text)
        if reply_to is not None:
            content["reply_to_message"] = {"message_id": reply_to, "date": int(self.desk.now),
                                           "chat": {"id": self.id, "type": "private"}}
        chat = {"id": self.id, "type": "private", "first_name": self.first_name}
        return self.desk.push_message(chat, self.as_user(), content)

    def calls(self, method: str | None = None) -> list[dict[str, Any]]:
        """Every call the desk queued for this chat (payload plus 'method'), in order."""
        return self.desk.calls(self.id, method)

    def texts(self) -> list[str]:
        """What this user would read: each message's text or caption, copies resolved."""
        return self.desk.texts(self.id)

    def last(self) -> str:
        """The last thing this user would read."""
        return self.texts()[-1]

    def clear(self) -> None:
        """Forget what was said so far, so the next assertions see only what follows."""
        self.desk.seen[self.id] = self.desk.last_call_id()


class Desk:
    """The desk in this process: a Dispatcher over a fresh database, driven by update dicts."""

    def __init__(self, conn: sqlite3.Connection, settings: Settings) -> None:
        self.conn = conn
        self.settings = settings
        self.dispatcher = Dispatcher(conn, settings)
        self.now = START
        with db.atomic(conn):
            self.dispatcher.start(self.now)      # as bot.main does: the limits, menus, the queue
        self.update_ids = itertools.count(1)
        self.message_ids: dict[int, itertools.count] = {}
        self.messages: dict[tuple[int, int], dict[str, Any]] = {}
        self.seen: dict[int, int] = {}                # chat -> outbox id already cleared

    def tick(self, seconds: float) -> None:
        """Move the clock on."""
        self.now += seconds

    def user(self, user_id: int, first_name: str = "Ann", language_code: str | None = "en",
             username: str | None = None) -> User:
        return User(self, user_id, first_name, language_code, username)

    def next_message_id(self, chat_id: int) -> int:
        return next(self.message_ids.setdefault(chat_id, itertools.count(1)))

    def push_message(self, chat: dict, sender: dict | None, content: dict[str, Any]) -> dict[str, Any]:
        """Handle a message update in any chat; returns the message."""
        message = {"message_id": self.next_message_id(chat["id"]), "date": int(self.now), "chat": chat, **content}
        if sender is not None:
            message["from"] = sender
        self.messages[(chat["id"], message["message_id"])] = message
        self.push({"message": message})
        return message

    def push(self, update: dict[str, Any], update_id: int | None = None) -> int:
        """Handle any update as given (an update id is added unless given); returns the update id."""
        update_id = next(self.update_ids) if update_id is None else update_id
        handle_update(self.dispatcher, {"update_id": update_id, **update}, now=self.now)
        return update_id

    # --- What the desk said ----------------------------------------------------------------------

    def last_call_id(self) -> int:
        return self.conn.execute("SELECT COALESCE(MAX(id), 0) FROM outbox").fetchone()[0]

    def calls(self, chat_id: int, method: str | None = None) -> list[dict[str, Any]]:
        rows = self.conn.execute("SELECT id, method, payload FROM outbox WHERE chat_id = ? AND id > ? ORDER BY id",
                                 (chat_id, self.seen.get(chat_id, 0))).fetchall()
        out = [{"method": r["method"], **json.loads(r["payload"])} for r in rows]
        return [c for c in out if method is None or c["method"] == method]

    def texts(self, chat_id: int) -> list[str]:
        shown = []
        for call in self.calls(chat_id):
            if call["method"] == "sendMessage":
                shown.append(call["text"])
            elif call["method"] == "copyMessage":
                source = self.messages.get((call["from_chat_id"], call["message_id"]), {})
                shown.append(call.get("caption") or source.get("text") or source.get("caption") or "")
            elif call["method"] == "sendHistory":
                shown.append(f"[history of {call['client_id']}]")
        return shown

    def query(self, sql: str, *args: Any) -> list[sqlite3.Row]:
        return self.conn.execute(sql, args).fetchall()

    def pending(self) -> int:
        return db.count_pending_calls(self.conn)


class People:
    """Ready-made people: agents registered, clients named or in a dialog."""

    def __init__(self, desk: Desk) -> None:
        self.desk = desk
        self.ids = itertools.count(1)

    def agent(self, name: str = "Agatha", user_id: int | None = None, language_code: str = "en",
              username: str | None = None) -> User:
        """A registered, available agent."""
        user = self.desk.user(user_id or next(self.ids), name, language_code, username)
        user.send(f"/register_support {SUPPORT_TOKEN}")
        user.clear()
        return user

    def client(self, name: str = "Carl", user_id: int | None = None, language_code: str = "en",
               username: str | None = None) -> User:
        """A client who has used /start and given their name, not yet in a dialog."""
        user = self.desk.user(user_id or 100 + next(self.ids), name, language_code, username)
        user.send("/start")
        user.send(name)
        user.clear()
        return user

    def client_in_dialog(self, agent: User | None = None, name: str = "Carl", first: str = "hello") -> User:
        """A named client who wrote `first` and was given to `agent` (a new agent if none)."""
        agent = agent or self.agent()
        client = self.client(name)
        client.send(first)
        assigned = self.desk.query("SELECT agent_id FROM dialogs WHERE client_id = ? AND status = 'open'", client.id)
        assert assigned and assigned[0][0] == agent.id, "the client was not given to that agent"
        client.clear()
        agent.clear()
        return client
