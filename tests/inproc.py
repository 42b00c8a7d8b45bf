"""The desk in-process: raw update dicts through bot.handle_update, answers read from the outbox.

`Desk` (the harness, not the rules' desk.Desk) holds a real Dispatcher (the one that picks each
update's handler in production) over a fresh database, and a clock the test moves with `tick()`.
Users are `desk.user(id, name)`; `user.send("text")` or `user.send(photo=[...], caption="...")`
builds the update Telegram would send and handles it at once, in the same thread. What the desk
said is read back from the outbox: `user.texts()` is what the user would see (a copied message
shows the text of the message it copies), `user.calls()` the raw calls.

Nothing here opens a socket: the outbox is the boundary. So that no test passes on a call Telegram
would refuse, every call the desk queues is held to the fake Bot API's rules (tests/fake_telegram:
text and caption limits, entity offsets, copies of messages that exist, command menus), and every
update must be handled without landing in failed_updates or putting a secret into a call; each
push checks that at once. What needs the real process (HTTP, the sender, crashes, signals) is
tested end to end with tests/harness.py.
"""

from __future__ import annotations

import io
import itertools
import json
import sqlite3
from typing import Any

from fake_telegram import (
    ApiError,
    check_callback_answer,
    check_commands,
    check_copies,
    check_copy,
    check_edit_caption,
    check_edit_text,
    check_markup,
    check_text,
)
from harness import BOT_TOKEN, SUPPORT_TOKEN

import db
import texts
from bot import handle_update
from config import Settings
from delivery import NOTES
from desk.history import write_history
from handlers import Dispatcher

START = 1_800_000_000.0     # 2027-01-15 08:00 UTC: the tests' clock starts here
SECRETS = (BOT_TOKEN, BOT_TOKEN.split(":")[1], SUPPORT_TOKEN)


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

    def chat(self) -> dict[str, Any]:
        return {"id": self.id, "type": "private", "first_name": self.first_name}

    def send(self, text: str | None = None, *, reply_to: int | None = None, **content: Any) -> dict[str, Any]:
        """Send a message (text, or content such as photo=..., caption=...); returns the message."""
        if text is not None:
            content["text"] = text
            if text.startswith("/") and "entities" not in content:
                content["entities"] = command_entities(text)
        if reply_to is not None:
            content["reply_to_message"] = {"message_id": reply_to, "date": int(self.desk.now),
                                           "chat": {"id": self.id, "type": "private"}}
        return self.desk.push_message(self.chat(), self.as_user(), content)

    def calls(self, method: str | None = None) -> list[dict[str, Any]]:
        """Every call the desk queued for this chat (payload plus 'method'), in order."""
        return self.desk.calls(self.id, method)

    def methods(self) -> list[str]:
        """The methods of this chat's calls, in order."""
        return [c["method"] for c in self.calls()]

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
        self.update_ids = itertools.count(1)
        self.last_update = 0                          # the id of the update pushed last
        self.message_ids: dict[int, itertools.count] = {}
        self.messages: dict[tuple[int, int], dict[str, Any]] = {}
        self.deleted: set[tuple[int, int]] = set()
        self.seen: dict[int, int] = {}                # chat -> outbox id already cleared
        self.users: dict[int, User] = {}
        self.checked = 0                              # outbox rows already held to Telegram's rules
        self.opened: list[sqlite3.Connection] = []    # connections restart() opened
        self.start()

    def tick(self, seconds: float) -> None:
        """Move the clock on."""
        self.now += seconds

    def user(self, user_id: int, first_name: str = "Ann", language_code: str | None = "en",
             username: str | None = None) -> User:
        user = User(self, user_id, first_name, language_code, username)
        self.users[user_id] = user
        return user

    def next_message_id(self, chat_id: int) -> int:
        return next(self.message_ids.setdefault(chat_id, itertools.count(1)))

    def push_message(self, chat: dict, sender: dict | None, content: dict[str, Any],
                     may_fail: bool = False) -> dict[str, Any]:
        """Handle a message update in any chat; returns the message."""
        message = {"message_id": self.next_message_id(chat["id"]), "date": int(self.now), "chat": chat, **content}
        if sender is not None:
            message["from"] = sender
        self.push({"message": message}, may_fail=may_fail)
        return message

    def push(self, update: dict[str, Any], update_id: int | None = None, may_fail: bool = False) -> int:
        """Handle any update as given (an update id is added unless given); returns the update id.

        Unless may_fail, the update must not end in failed_updates, and every call it queued must
        be one Telegram would accept and must hold no secret.
        """
        update_id = next(self.update_ids) if update_id is None else update_id
        self.last_update = update_id
        message = update.get("message")
        if isinstance(message, dict) and "chat" in message and "message_id" in message:
            self.messages[(message["chat"]["id"], message["message_id"])] = message
        handle_update(self.dispatcher, {"update_id": update_id, **update}, now=self.now)
        if not may_fail:
            failed = self.query("SELECT error FROM failed_updates WHERE update_id = ?", update_id)
            assert not failed, f"update {update_id} failed: {failed[0]['error']}"
        self.check_calls()
        return update_id

    def start(self) -> None:
        """What bot.run_desk does before it polls: the limits, the menus, the queue."""
        with db.atomic(self.conn):
            self.dispatcher.start(self.now)

    def restart(self) -> None:
        """A new process over the same database file: a new connection, Dispatcher and start-up."""
        self.conn.close()
        self.conn = db.connect(self.settings.database_path)
        self.opened.append(self.conn)
        db.init_db(self.conn)
        self.dispatcher = Dispatcher(self.conn, self.settings)
        self.start()
        self.check_calls()

    def close(self) -> None:
        for conn in self.opened:
            conn.close()

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
            elif call["method"] == "copyMessages":
                for message_id in call["message_ids"]:
                    source = self.messages.get((call["from_chat_id"], message_id), {})
                    shown.append(source.get("text") or source.get("caption") or "")
            elif call["method"] == "sendHistory":
                shown.append(f"[history of {call['client_id']}]")
        return shown

    def history_file(self, call: dict[str, Any]) -> str:
        """The file a sendHistory call becomes, written now as the sender would write it."""
        out = io.BytesIO()
        write_history(self.conn, db.get_client(self.conn, call["client_id"]), call["lang"], self.now, out)
        return out.getvalue().decode("utf-8")

    def query(self, sql: str, *args: Any) -> list[sqlite3.Row]:
        return self.conn.execute(sql, args).fetchall()

    def pending(self) -> int:
        return db.count_pending_calls(self.conn)

    # --- Holding the outbox to Telegram's rules --------------------------------------------------

    def check_calls(self) -> None:
        """Fail on any call queued since the last check that Telegram would refuse or that holds a secret."""
        rows = self.query("SELECT id, chat_id, method, payload FROM outbox WHERE id > ? ORDER BY id", self.checked)
        for row in rows:
            for secret in SECRETS:
                assert secret not in row["payload"], f"a secret went into outbox call {row['id']}"
            payload = json.loads(row["payload"])
            params = {k: v for k, v in payload.items() if k not in NOTES}
            try:
                self.check_call(row["chat_id"], row["method"], params)
            except ApiError as exc:
                raise AssertionError(f"Telegram would refuse outbox call {row['id']} {row['method']} "
                                     f"{str(params)[:300]}: {exc.description}") from None
            self.checked = row["id"]

    def check_call(self, chat_id: int, method: str, params: dict[str, Any]) -> None:
        check_markup(params.get("reply_markup") or {})
        if method == "sendMessage":
            check_text(params["text"], params.get("entities") or [])
        elif method == "copyMessage":
            source = self.messages.get((params["from_chat_id"], params["message_id"]))
            check_copy(source, params.get("caption"), params.get("caption_entities") or [])
        elif method == "copyMessages":
            ids = params["message_ids"]
            sources = check_copies([self.messages.get((params["from_chat_id"], i)) for i in ids], ids)
            if None in sources:
                # Telegram would skip it silently; the desk never means to copy what is not there.
                raise ApiError(400, "Bad Request: a message to copy was not found")
        elif method == "deleteMessage":
            key = (chat_id, params["message_id"])
            if key not in self.messages or key in self.deleted:
                raise ApiError(400, "Bad Request: message to delete not found")
            self.deleted.add(key)
        elif method == "setMyCommands":
            check_commands([tuple(c) for c in params["commands"]])
            if params.get("language_code") not in (None, *texts.LANGUAGES):
                raise ApiError(400, "Bad Request: language code is invalid")
        elif method == "answerCallbackQuery":
            if not params.get("callback_query_id"):
                raise ApiError(400, "Bad Request: query is too old and response timeout expired or query ID is invalid")
            check_callback_answer(params.get("text"))
        elif method == "editMessageReplyMarkup":
            # Which messages the bot sent is Telegram's to know; the end-to-end tests check that part.
            if not isinstance(params.get("message_id"), int):
                raise ApiError(400, "Bad Request: message to edit not found")
        elif method in ("editMessageText", "editMessageCaption"):
            # The copy to edit is named by its source ("copy_of", a desk note): its id is known only
            # when the sender sends; the end-to-end tests check that part.
            if method == "editMessageText":
                check_edit_text(None, params["text"], params.get("entities") or [])
            else:
                check_edit_caption(None, params.get("caption", ""), params.get("caption_entities") or [])
        elif method == "sendHistory":
            # The desk's own call: the sender turns it into a sendDocument of the client's history.
            if db.get_client(self.conn, params["client_id"]) is None or params["lang"] not in texts.LANGUAGES:
                raise ApiError(400, "Bad Request: no such client for a history file")
        elif method == "sendExport":
            # The desk's own call: the sender turns it into a sendDocument of a CSV.
            if not (isinstance(params.get("days"), int) and params["days"] > 0) or params["lang"] not in texts.LANGUAGES:
                raise ApiError(400, "Bad Request: a malformed export")
        else:
            raise ApiError(404, f"Not Found: the fake knows no method {method}")


class People:
    """Ready-made people: agents registered, clients named or in a dialog."""

    def __init__(self, desk: Desk) -> None:
        self.desk = desk
        self.ids = itertools.count(1)

    def _new_id(self, start: int) -> int:
        while True:
            candidate = start + next(self.ids)
            if candidate not in self.desk.users:
                return candidate

    def agent(self, name: str = "Agatha", user_id: int | None = None, language_code: str = "en",
              username: str | None = None) -> User:
        """A registered, available agent."""
        user = self.desk.user(user_id or self._new_id(0), name, language_code, username)
        user.send(f"/register_support {SUPPORT_TOKEN}")
        assert self.desk.query("SELECT 1 FROM support_agents WHERE user_id = ?", user.id), "registration failed"
        user.clear()
        return user

    def client(self, name: str = "Carl", user_id: int | None = None, language_code: str = "en",
               username: str | None = None) -> User:
        """A client who has used /start and given their name, not yet in a dialog."""
        user = self.desk.user(user_id or self._new_id(100), name, language_code, username)
        user.send("/start")
        user.send(name)
        user.clear()
        return user

    def client_in_dialog(self, agent: User | None = None, name: str = "Carl", first: str = "hello",
                         user_id: int | None = None) -> User:
        """A named client who wrote `first` and was given to `agent` (a new agent if none)."""
        agent = agent or self.agent()
        client = self.client(name, user_id)
        client.send(first)
        assigned = self.desk.query("SELECT agent_id FROM dialogs WHERE client_id = ? AND status = 'open'", client.id)
        assert assigned and assigned[0][0] == agent.id, "the client was not given to that agent"
        client.clear()
        agent.clear()
        return client
