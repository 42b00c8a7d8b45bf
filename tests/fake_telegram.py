"""A fake Telegram Bot API server on 127.0.0.1 for end-to-end tests and benchmarks.

The real bot process is pointed at it with TELEGRAM_API_URL. Tests play the users: `fake.user(...)`
gives a FakeUser whose `.send(...)` queues an update, and `fake.inbox(chat_id)` lists what the bot
delivered to that chat, in order. The server checks what Telegram checks where it matters to the
desk (text and caption limits, entity offsets, copying a message that exists) and can inject the
faults of production: 429s with retry_after, 5xx, dropped connections, blocked users, a getUpdates
outage, added latency and Telegram-like rate limits.
"""

from __future__ import annotations

import itertools
import json
import random
import re
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

BOT_USER = {"id": 999000, "is_bot": True, "first_name": "Desk", "username": "desk_test_bot"}
SEND_METHODS = {"sendMessage", "copyMessage", "copyMessages", "sendDocument", "deleteMessage", "setMyCommands",
                "answerCallbackQuery", "editMessageReplyMarkup", "editMessageText", "editMessageCaption"}
SHOWN = {"sendMessage", "copyMessage", "copyMessages", "sendDocument"}   # deliveries a user reads
CAPTIONED = {"photo", "video", "document", "audio", "voice", "animation"}
# In the order Telegram's clients read them: an animation message also carries a document.
KINDS = ("text", "animation", "photo", "video", "document", "audio", "voice", "sticker", "video_note",
         "location", "venue", "contact", "dice", "poll")


def utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


@dataclass
class Faults:
    """What goes wrong, and how often. Shares are probabilities per send call."""

    share_429: float = 0.0
    retry_after: int = 1
    share_5xx: float = 0.0
    share_drop: float = 0.0
    latency: float = 0.0                      # seconds added to every call
    rate_limits: bool = False                 # Telegram-like: 30/s overall, per chat 20 then 1/s
    blocked: set[int] = field(default_factory=set)
    throttled: dict[int, float] = field(default_factory=dict)   # chat -> until when it answers 429
    getupdates_down_until: float = 0.0
    conflict: bool = False                    # getUpdates answers 409
    reject_token: bool = False                # every call answers 401
    refuse_edits: bool = False                # editMessageText/Caption answer 400, as for a message too old


class ApiError(Exception):
    def __init__(self, code: int, description: str, retry_after: int | None = None) -> None:
        super().__init__(description)
        self.code, self.description, self.retry_after = code, description, retry_after


class FakeUser:
    """A Telegram user in a private chat with the bot."""

    def __init__(self, fake: FakeTelegram, user_id: int, first_name: str, language_code: str | None,
                 username: str | None) -> None:
        self.fake = fake
        self.id = user_id
        self.first_name = first_name
        self.language_code = language_code
        self.username = username

    def as_user(self) -> dict[str, Any]:
        user = {"id": self.id, "is_bot": False, "first_name": self.first_name}
        if self.language_code:
            user["language_code"] = self.language_code
        if self.username:
            user["username"] = self.username
        return user

    def send(self, text: str | None = None, **content: Any) -> dict[str, Any]:
        """Send a message: text, or content like photo=..., caption=...; returns the message."""
        if text is not None:
            content["text"] = text
            if text.startswith("/") and "entities" not in content:
                command = text.split()[0] if text.split() else text
                content["entities"] = [{"type": "bot_command", "offset": 0, "length": utf16_len(command)}]
        chat = {"id": self.id, "type": "private", "first_name": self.first_name}
        return self.fake.push_message(chat, self.as_user(), content)

    def edit(self, message: dict[str, Any], text: str | None = None, **content: Any) -> dict[str, Any]:
        """Edit a message this user sent: a new text, or caption=... (None removes it); returns it edited."""
        if text is not None:
            content["text"] = text
        return self.fake.push_edit(message, content)

    def inbox(self) -> list[dict[str, Any]]:
        return self.fake.inbox(self.id)

    def texts(self) -> list[str]:
        """The text (or caption) of everything the bot delivered to this user."""
        return [d.get("text") or d.get("caption") or "" for d in self.inbox() if d["method"] in SHOWN]


def media(kind: str, n: int = 1, **extra: Any) -> dict[str, Any]:
    """The content of a media message of `kind` (photo, video, document, ...), for FakeUser.send."""
    file = {"file_id": f"{kind}-file-{n}", "file_unique_id": f"{kind}-u{n}"}
    objects = {
        "photo": {"photo": [{**file, "width": 90, "height": 90}]},
        "video": {"video": {**file, "width": 640, "height": 480, "duration": 3}},
        "document": {"document": {**file, "file_name": f"report-{n}.pdf", "mime_type": "application/pdf"}},
        "voice": {"voice": {**file, "duration": 2}},
        "audio": {"audio": {**file, "duration": 100, "file_name": f"song-{n}.mp3"}},
        "sticker": {"sticker": {**file, "type": "regular", "width": 512, "height": 512,
                                "is_animated": False, "is_video": False, "emoji": "😀"}},
        "animation": {"animation": {**file, "width": 320, "height": 240, "duration": 2},
                      "document": {**file, "file_name": "a.mp4"}},
        "video_note": {"video_note": {**file, "length": 240, "duration": 4}},
        "location": {"location": {"latitude": 55.7558, "longitude": 37.6173}},
        "contact": {"contact": {"phone_number": "+15550001", "first_name": "Bob"}},
        "venue": {"venue": {"location": {"latitude": 1.0, "longitude": 2.0}, "title": "Shop", "address": "Main st 1"}},
        "dice": {"dice": {"emoji": "🎲", "value": 4}},
    }
    return {**objects[kind], **extra}


class FakeTelegram:
    """The server; use as a context manager or call start() and stop()."""

    def __init__(self, token: str, faults: Faults | None = None, seed: int = 1) -> None:
        self.token = token
        self.faults = faults or Faults()
        self.rng = random.Random(seed)
        self.cond = threading.Condition()
        self.updates: list[dict[str, Any]] = []           # not yet confirmed by the bot
        self.history: list[dict[str, Any]] = []           # every update ever offered
        self.update_ids = itertools.count(5000)
        self.confirmed_below = 0
        self.message_ids: dict[int, itertools.count] = {}
        self.user_messages: dict[tuple[int, int], dict[str, Any]] = {}
        self.delivered: dict[int, list[dict[str, Any]]] = {}
        self.calls: list[tuple[float, str, dict[str, Any]]] = []   # every request: (time, method, params)
        self.commands: dict[tuple[int, str | None], list[dict]] = {}
        self.sent: dict[tuple[int, int], dict[str, Any]] = {}       # (chat, id) -> what the bot sent there
        self.callback_answers: list[dict[str, Any]] = []
        self.getupdates_calls = 0
        self.count_429 = 0            # 429s the bot provoked by exceeding the rate limits
        self.limits_hit = {"overall": 0, "chat": 0}   # the same, by which limit was crossed
        self.injected = {"429": 0, "5xx": 0, "drop": 0}
        self._recent: deque[float] = deque()
        self._buckets: dict[int, tuple[float, float]] = {}
        self._server = _QuietServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        # A short poll interval: stop() waits for the serving loop's next look at its flag, and
        # the default half second, once per end-to-end test, added up to a minute of the suite.
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.02},
                                        daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def start(self) -> FakeTelegram:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> FakeTelegram:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    # --- The users' side -------------------------------------------------------------------------

    def user(self, user_id: int, first_name: str = "Ann", language_code: str | None = "en",
             username: str | None = None) -> FakeUser:
        return FakeUser(self, user_id, first_name, language_code, username)

    def _next_message_id(self, chat_id: int) -> int:
        return next(self.message_ids.setdefault(chat_id, itertools.count(1)))

    def push_message(self, chat: dict, sender: dict | None, content: dict[str, Any]) -> dict[str, Any]:
        """Queue a message update in any chat (private, group...); returns the message."""
        with self.cond:
            message = {"message_id": self._next_message_id(chat["id"]), "date": int(time.time()),
                       "chat": chat, **content}
            if sender is not None:
                message["from"] = sender
            self.user_messages[(chat["id"], message["message_id"])] = message
            self._push({"message": message})
            return message

    def know(self, message: dict[str, Any]) -> None:
        """Take a message sent elsewhere (an in-process test's) as one a user sent in its chat."""
        with self.cond:
            chat_id = message["chat"]["id"]
            self.user_messages[(chat_id, message["message_id"])] = message
            # Ids in a private chat are shared by both sides: the bot's next message comes after it.
            last = max(message["message_id"], max((m for c, m in self.user_messages if c == chat_id), default=0))
            self.message_ids[chat_id] = itertools.count(last + 1)

    def push_edit(self, message: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
        """Queue an edited_message update: the message with `changes` (a key set to None is removed)."""
        with self.cond:
            edited = {k: v for k, v in {**message, **changes}.items() if v is not None}
            if "text" in changes and "entities" not in changes:
                edited.pop("entities", None)
            if "caption" in changes and "caption_entities" not in changes:
                edited.pop("caption_entities", None)
            edited["edit_date"] = int(time.time())
            # A copy made from now on is of the edited message, as Telegram copies what a message is now.
            self.user_messages[(message["chat"]["id"], message["message_id"])] = edited
            self._push({"edited_message": edited})
            return edited

    def push_raw(self, update: dict[str, Any]) -> int:
        """Queue any update as given (an update id is added); returns the update id."""
        with self.cond:
            return self._push(update)

    def _push(self, update: dict[str, Any]) -> int:
        update = {"update_id": next(self.update_ids), **update}
        self.updates.append(update)
        self.history.append(update)
        self.cond.notify_all()
        return update["update_id"]

    def redeliver(self, update: dict[str, Any]) -> None:
        """Offer an update again with its own id, as Telegram does after a crash before confirmation."""
        with self.cond:
            self.updates.append(update)
            self.cond.notify_all()

    def pending_updates(self) -> int:
        """Updates the bot has not yet confirmed."""
        with self.cond:
            return len(self.updates)

    def inbox(self, chat_id: int) -> list[dict[str, Any]]:
        with self.cond:
            return list(self.delivered.get(chat_id, []))

    def sent_calls(self, method: str, since: float = 0.0) -> list[dict[str, Any]]:
        """Parameters of every `method` request that arrived at or after `since` (epoch seconds)."""
        with self.cond:
            return [p for at, m, p in self.calls if m == method and at >= since]

    # --- The Bot API -----------------------------------------------------------------------------

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # An answer goes out in two writes (headers, body); with Nagle's algorithm the body
            # waits for the client's delayed ACK, about 40 ms a call on Linux. Telegram's servers
            # do not make a bot wait like that, and neither does the fake.
            disable_nagle_algorithm = True

            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                self._serve()

            def do_POST(self) -> None:
                self._serve()

            def _serve(self) -> None:
                parts = urlsplit(self.path)
                params = {k: v[-1] for k, v in parse_qs(parts.query).items()}
                files: dict[str, tuple[str, bytes]] = {}
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                ctype = self.headers.get("Content-Type", "")
                if body and ctype.startswith("multipart/form-data"):
                    for name, filename, data in _multipart(ctype, body):
                        if filename is not None:
                            files[name] = (filename, data)
                        else:
                            params[name] = data.decode()
                elif body and ctype.startswith("application/x-www-form-urlencoded"):
                    params.update({k: v[-1] for k, v in parse_qs(body.decode()).items()})
                elif body and ctype.startswith("application/json"):
                    # Nested objects as the query-string form carries them: JSON text.
                    params.update({k: json.dumps(v) if isinstance(v, (dict, list)) else v
                                   for k, v in json.loads(body).items()})
                segments = parts.path.strip("/").split("/")
                token = segments[0][3:] if segments and segments[0].startswith("bot") else ""
                method = segments[1] if len(segments) > 1 else ""
                try:
                    result = fake._call(token, method, params, files)
                except _Drop:
                    self.close_connection = True
                    return
                except _BadGateway:
                    self._reply(502, b"<html><body>502 Bad Gateway</body></html>", "text/html")
                    return
                except ApiError as exc:
                    answer: dict[str, Any] = {"ok": False, "error_code": exc.code, "description": exc.description}
                    if exc.retry_after is not None:
                        answer["parameters"] = {"retry_after": exc.retry_after}
                    self._reply(exc.code, json.dumps(answer).encode())
                    return
                self._reply(200, json.dumps({"ok": True, "result": result}).encode())

            def _reply(self, code: int, body: bytes, ctype: str = "application/json") -> None:
                self.send_response(code)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        return Handler

    def _call(self, token: str, method: str, params: dict[str, Any], files: dict[str, tuple[str, bytes]]) -> Any:
        f = self.faults
        if token != self.token or f.reject_token:
            raise ApiError(401, "Unauthorized")
        if method == "getMe":
            return BOT_USER
        if method == "getUpdates":
            return self._get_updates(params)
        if method not in SEND_METHODS:
            raise ApiError(404, "Not Found")
        chat_id = int(params.get("chat_id", 0))
        with self.cond:
            # Stamped under the lock, so the rate window sees arrivals in time order.
            arrived = time.time()
            self.calls.append((arrived, method, params))
            self._check_rate(chat_id, arrived)
            fault = self.rng.random()
        if f.latency:
            time.sleep(f.latency)
        if chat_id in f.blocked:
            raise ApiError(403, "Forbidden: bot was blocked by the user")
        until = f.throttled.get(chat_id, 0.0)
        if time.time() < until:
            wait = max(1, round(until - time.time()))
            raise ApiError(429, f"Too Many Requests: retry after {wait}", wait)
        if fault < f.share_429:
            self.injected["429"] += 1
            raise ApiError(429, f"Too Many Requests: retry after {f.retry_after}", f.retry_after)
        fault -= f.share_429
        if fault < f.share_5xx:
            self.injected["5xx"] += 1
            raise _BadGateway()
        fault -= f.share_5xx
        if fault < f.share_drop:
            self.injected["drop"] += 1
            raise _Drop()
        with self.cond:
            return self._deliver(method, chat_id, params, files)

    def _check_rate(self, chat_id: int, now: float) -> None:
        if not self.faults.rate_limits or not chat_id:
            return
        while self._recent and self._recent[0] <= now - 1.0:
            self._recent.popleft()
        tokens, at = self._buckets.get(chat_id, (20.0, now))
        tokens = min(20.0, tokens + (now - at) * 1.0)
        if len(self._recent) >= 30:
            self.count_429 += 1
            self.limits_hit["overall"] += 1
            raise ApiError(429, "Too Many Requests: retry after 1", 1)
        if tokens < 1.0:
            self.count_429 += 1
            self.limits_hit["chat"] += 1
            self._buckets[chat_id] = (tokens, now)
            raise ApiError(429, "Too Many Requests: retry after 1", 1)
        self._recent.append(now)
        self._buckets[chat_id] = (tokens - 1.0, now)

    def _get_updates(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        with self.cond:
            self.getupdates_calls += 1
            self.cond.notify_all()                # BotProcess.start waits for the first one
        if time.time() < self.faults.getupdates_down_until:
            time.sleep(0.2)
            raise _BadGateway()
        if self.faults.conflict:
            raise ApiError(409, "Conflict: terminated by other getUpdates request; "
                                "make sure that only one bot instance is running")
        offset = int(params.get("offset", 0) or 0)
        hold = min(float(params.get("timeout", 0) or 0), 0.5)
        with self.cond:
            if offset:
                self.confirmed_below = max(self.confirmed_below, offset)
                self.updates = [u for u in self.updates if u["update_id"] >= offset]
                self.cond.notify_all()
            deadline = time.time() + hold
            while not self.updates and time.time() < deadline:
                self.cond.wait(deadline - time.time())
            limit = int(params.get("limit", 100) or 100)
            # Everything is delivered, even kinds the bot did not ask for: a stricter test.
            batch = self.updates[:limit]
            return batch

    def _deliver(self, method: str, chat_id: int, params: dict[str, Any],
                 files: dict[str, tuple[str, bytes]]) -> Any:
        if method == "setMyCommands":
            scope = json.loads(params.get("scope", '{"type": "default"}'))
            key = (scope.get("chat_id", 0), params.get("language_code"))
            commands = json.loads(params["commands"])
            check_commands([(c["command"], c["description"]) for c in commands])
            self.commands[key] = commands
            return True
        if method == "answerCallbackQuery":
            check_callback_answer(params.get("text"))
            self.callback_answers.append(params)
            return True
        if method == "editMessageReplyMarkup":
            sent = self.sent.get((chat_id, int(params["message_id"])))
            if sent is None:
                raise ApiError(400, "Bad Request: message to edit not found")
            markup = json.loads(params["reply_markup"]) if params.get("reply_markup") else {}
            check_markup(markup)
            if markup == sent.get("reply_markup", {}):
                raise ApiError(400, "Bad Request: message is not modified")
            sent["reply_markup"] = markup
            return True
        if method in ("editMessageText", "editMessageCaption"):
            if self.faults.refuse_edits:
                raise ApiError(400, "Bad Request: message can't be edited")
            sent = self.sent.get((chat_id, int(params["message_id"])))
            if sent is None:
                raise ApiError(400, "Bad Request: message to edit not found")
            if method == "editMessageText":
                text = params.get("text", "")
                entities = json.loads(params["entities"]) if params.get("entities") else []
                check_edit_text(sent, text, entities)
                new = {"text": text, "entities": entities}
            else:
                caption = params.get("caption", "")
                entities = json.loads(params["caption_entities"]) if params.get("caption_entities") else []
                check_edit_caption(sent, caption, entities)
                new = {"caption": caption, "entities": entities}
            if all(sent.get(k) == v for k, v in new.items()):
                raise ApiError(400, "Bad Request: message is not modified: specified new message content and "
                                    "reply markup are exactly the same as a current content and reply markup")
            sent.update(new)
            sent.setdefault("edits", []).append(new)
            self.cond.notify_all()
            return {"message_id": int(params["message_id"]), "date": int(time.time()), "from": BOT_USER,
                    "chat": {"id": chat_id, "type": "private"}, "edit_date": int(time.time())}
        if method == "deleteMessage":
            if (chat_id, int(params["message_id"])) not in self.user_messages:
                raise ApiError(400, "Bad Request: message to delete not found")
            self.user_messages.pop((chat_id, int(params["message_id"])))
            self.delivered.setdefault(chat_id, []).append({"method": method, "message_id": int(params["message_id"])})
            return True
        record: dict[str, Any] = {"method": method}
        if params.get("reply_markup"):
            record["reply_markup"] = json.loads(params["reply_markup"])
            check_markup(record["reply_markup"])
        if method == "sendMessage":
            text = params.get("text", "")
            entities = json.loads(params["entities"]) if params.get("entities") else []
            check_text(text, entities)
            record.update(text=text, entities=entities)
        elif method == "copyMessage":
            source = self.user_messages.get((int(params["from_chat_id"]), int(params["message_id"])))
            caption = params.get("caption")
            entities = json.loads(params["caption_entities"]) if params.get("caption_entities") else []
            kind = check_copy(source, caption, entities)
            record.update(copied=source, kind=kind, from_chat_id=int(params["from_chat_id"]),
                          message_id=int(params["message_id"]))
            if caption is not None:
                record.update(caption=caption, entities=entities)
            else:
                record.update(text=source.get("text"), caption=source.get("caption"),
                              entities=source.get("entities", source.get("caption_entities", [])))
        elif method == "copyMessages":
            # An album (or any run of messages) copied in one call; each copy is one delivery.
            from_chat = int(params["from_chat_id"])
            ids = json.loads(params["message_ids"])
            sources = check_copies([self.user_messages.get((from_chat, i)) for i in ids], ids)
            copies = []
            for message_id, source in zip(ids, sources, strict=True):
                if source is None:
                    continue                      # Telegram skips what it cannot find
                copy = {"method": method, "copied": source, "kind": kind_of(source), "from_chat_id": from_chat,
                        "message_id": message_id, "text": source.get("text"), "caption": source.get("caption"),
                        "entities": source.get("entities", source.get("caption_entities", [])),
                        "sent_message_id": self._next_message_id(chat_id)}
                self.delivered.setdefault(chat_id, []).append(copy)
                self.sent[(chat_id, copy["sent_message_id"])] = copy
                copies.append({"message_id": copy["sent_message_id"]})
            self.cond.notify_all()
            return copies
        elif method == "sendDocument":
            name, data = files["document"]
            record.update(file_name=name, document=data, caption=params.get("caption"))
        message_id = self._next_message_id(chat_id)
        record["sent_message_id"] = message_id
        self.sent[(chat_id, message_id)] = record
        self.delivered.setdefault(chat_id, []).append(record)
        self.cond.notify_all()
        if method == "copyMessage":
            return {"message_id": message_id}
        result = {"message_id": message_id, "date": int(time.time()), "from": BOT_USER,
                  "chat": {"id": chat_id, "type": "private"}}
        if method == "sendMessage":
            result["text"] = record["text"]
        else:
            result["document"] = {"file_id": "doc", "file_unique_id": "doc", "file_name": record["file_name"]}
        return result

    # --- Waiting ---------------------------------------------------------------------------------

    def wait_for(self, predicate: Any, timeout: float = 15.0, what: str = "condition") -> None:
        """Wait until predicate() is true; fail with `what` after the timeout."""
        deadline = time.time() + timeout
        with self.cond:
            while not predicate():
                left = deadline - time.time()
                if left <= 0:
                    raise AssertionError(f"timed out waiting for {what}")
                self.cond.wait(min(left, 0.05))

    def wait_inbox(self, chat_id: int, count: int, timeout: float = 15.0) -> list[dict[str, Any]]:
        """Wait until `count` deliveries reached the chat; returns them."""
        self.wait_for(lambda: len(self.delivered.get(chat_id, [])) >= count, timeout,
                      f"{count} deliveries to chat {chat_id} (have {len(self.delivered.get(chat_id, []))})")
        return self.inbox(chat_id)


class _QuietServer(ThreadingHTTPServer):
    """A bot that stops mid long poll closes its socket; that is normal, not worth a traceback."""

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass


class _Drop(Exception):
    """Close the connection without an answer."""


class _BadGateway(Exception):
    """Answer 502 with an HTML page, as a proxy in front of the Bot API does."""


def _multipart(ctype: str, body: bytes) -> list[tuple[str, str | None, bytes]]:
    """(field name, file name or None, content) of each part of a multipart/form-data body."""
    # A direct split rather than the email package, which is far too slow for a 10 MB upload.
    boundary = re.search(r'boundary="?([^";]+)"?', ctype).group(1).encode()
    parts = []
    for chunk in body.split(b"--" + boundary)[1:-1]:
        head, _, data = chunk.partition(b"\r\n\r\n")
        disposition = head.decode("utf-8", "replace")
        name = re.search(r'\bname="([^"]*)"', disposition).group(1)
        # filename="..." or, as pyTelegramBotAPI writes it, filename=... without quotes
        filename = re.search(r'\bfilename=("[^"]*"|[^;\r\n]*)', disposition)
        file = filename.group(1).strip('"') if filename else None
        parts.append((name, file, data.removesuffix(b"\r\n")))
    return parts


# --- What Telegram refuses ------------------------------------------------------------------------
# Shared with tests/inproc.py, which holds every outbox call of an in-process test to the same rules.


def kind_of(message: dict[str, Any]) -> str:
    """A message's kind, as Telegram's clients read it."""
    return next((k for k in KINDS if k in message), "other")


def check_text(text: str, entities: list[dict[str, Any]]) -> None:
    """A message text as sendMessage takes it: not blank, at most 4096 characters, sound entities."""
    if not text.strip():
        raise ApiError(400, "Bad Request: message text is empty")
    if utf16_len(text) > 4096:
        raise ApiError(400, "Bad Request: message is too long")
    _check_entities(text, entities)


def check_copy(source: dict[str, Any] | None, caption: str | None, entities: list[dict[str, Any]]) -> str:
    """A copyMessage of `source` (None: no such message) with an optional new caption; returns its kind."""
    if source is None:
        raise ApiError(400, "Bad Request: message to copy not found")
    kind = kind_of(source)
    if caption is not None:
        if kind not in CAPTIONED:
            raise ApiError(400, "Bad Request: message can't have a caption")
        if utf16_len(caption) > 1024:
            raise ApiError(400, "Bad Request: message caption is too long")
        _check_entities(caption, entities)
    return kind


def check_copies(sources: list[dict[str, Any] | None], ids: list[int]) -> list[dict[str, Any] | None]:
    """A copyMessages of `ids` (their messages, None where missing): 1-100 ids, increasing, one found at least."""
    if not 1 <= len(ids) <= 100 or any(b <= a for a, b in zip(ids, ids[1:], strict=False)):
        raise ApiError(400, "Bad Request: message identifiers must be 1-100 and in increasing order")
    if all(source is None for source in sources):
        raise ApiError(400, "Bad Request: messages to copy not found")
    return sources


def check_edit_text(sent: dict[str, Any] | None, text: str, entities: list[dict[str, Any]]) -> None:
    """An editMessageText of a message the bot sent (None: unknown here, so not checked against it)."""
    if sent is not None and sent.get("text") is None:
        raise ApiError(400, "Bad Request: there is no text in the message to edit")
    check_text(text, entities)


def check_edit_caption(sent: dict[str, Any] | None, caption: str, entities: list[dict[str, Any]]) -> None:
    """An editMessageCaption of a message the bot sent (None: unknown here); an empty caption removes it."""
    if sent is not None and sent.get("kind") not in CAPTIONED:
        raise ApiError(400, "Bad Request: there is no caption in the message to edit")
    if utf16_len(caption) > 1024:
        raise ApiError(400, "Bad Request: message caption is too long")
    _check_entities(caption, entities)


def check_markup(markup: dict[str, Any]) -> None:
    """A reply_markup: inline buttons with a text and 1-64 bytes of callback_data (or a url), keyboard buttons with a text."""
    for row in markup.get("inline_keyboard", []):
        for button in row:
            if not str(button.get("text", "")).strip():
                raise ApiError(400, "Bad Request: text buttons are unallowed in the inline keyboard")
            data = button.get("callback_data")
            if data is not None and not 1 <= len(str(data).encode()) <= 64:
                raise ApiError(400, "Bad Request: BUTTON_DATA_INVALID")
            if data is None and not button.get("url"):
                raise ApiError(400, "Bad Request: can't parse inline keyboard button")
    for row in markup.get("keyboard", []):
        for button in row:
            if not str(button.get("text", "") if isinstance(button, dict) else button).strip():
                raise ApiError(400, "Bad Request: keyboard button text is empty")


def check_callback_answer(text: str | None) -> None:
    """An answerCallbackQuery's notification: at most 200 characters."""
    if text is not None and len(text) > 200:
        raise ApiError(400, "Bad Request: MESSAGE_TOO_LONG")


def check_commands(commands: list[tuple[str, str]]) -> None:
    """A command menu as setMyCommands takes it: names 1-32 of a-z 0-9 _, descriptions 1-256 characters."""
    if len(commands) > 100:
        raise ApiError(400, "Bad Request: too many commands")
    for name, description in commands:
        if not re.fullmatch(r"[a-z0-9_]{1,32}", name):
            raise ApiError(400, "Bad Request: BOT_COMMAND_INVALID")
        if not description.strip() or len(description) > 256:
            raise ApiError(400, "Bad Request: command description is invalid")


def _check_entities(text: str, entities: list[dict[str, Any]]) -> None:
    size = utf16_len(text)
    for e in entities:
        if e["offset"] < 0 or e["length"] <= 0 or e["offset"] + e["length"] > size:
            raise ApiError(400, "Bad Request: can't parse entities: entity beyond the end of the text")
