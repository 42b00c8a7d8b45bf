"""Outgoing delivery: everything the desk sends to Telegram goes through here.

Handlers never call Telegram. They write each call into the `outbox` table in the same
transaction as its cause (see db.enqueue_call), so a crash can delay a message but not lose it.
The Sender drains the outbox:

- Per chat, only the oldest pending call may be in flight; the next one waits until it is done.
  That keeps every chat's messages in order through retries and restarts.
- Chats take turns: of the chats with a call due, the one served least recently goes next, so a
  client who writes one line is served within a few sending slots however long the backlogs of
  other chats are (Telegram's limit is per bot, so the bot decides who goes first).
- A RateLimiter paces calls below Telegram's limits (about 30 per second overall, about one per
  second per chat after a short burst), so the desk does not provoke 429s in the first place. After
  a restart it is rebuilt from the calls sent in the last seconds, so a restart during a burst
  does not start every chat with a full allowance.
- A 429 delays only that chat by its retry_after; 5xx answers, dropped connections and time-outs
  are retried with backoff; a chat that blocked the bot or no longer exists fails for good and the
  desk is told (on_unreachable) so it can close the dialog and tell the other side.

A call is marked sent only after Telegram accepted it, so a crash between the two repeats that
one call after restart: delivery is at least once, and at most the calls in flight repeat. In the
same transaction, a relay's copy gets its row in message_links (the id Telegram gave the copy).
Calls go over HTTP through BotApi, this module's own small client with a connection per thread.

What the dispatcher knows of the outbox is kept in memory between sending slots: the oldest
pending call of each chat. It reads the calls committed since it last looked when woken by a
commit, a chat's next call when the one before it is done, and everything again every few seconds
as a safety net; the outbox table stays the only truth, and a restart starts from it. Finished
calls are recorded several at a time, in one transaction (one sync to disk), as long as other
chats have something to send; a chat's next call waits for its previous one to be recorded, so a
crash can still repeat at most one call per chat.
"""

from __future__ import annotations

import heapq
import http.client
import json
import logging
import os
import sqlite3
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import wait as wait_futures
from typing import Any

import db
import texts
from botapi import NETWORK_ERRORS, TIMEOUT, BotApi, HttpError, TelegramError  # noqa: F401  (the sender's API)
from desk.export import write_dialogs_csv
from desk.history import write_history

log = logging.getLogger("desk.delivery")

# Pacing kept a little under Telegram's limits, so that arrival jitter never crosses them.
GLOBAL_PER_SECOND = 28
CHAT_BURST = 18
CHAT_PER_SECOND = 1.0

WORKERS = 8                    # calls in flight at once (each to a different chat)
MAX_BACKOFF = 60.0             # seconds between retries of a transient failure, at most
GIVE_UP_AFTER = 24 * 3600.0    # a call still failing transiently after a day is abandoned
IDLE_WAIT = 5.0                # seconds the dispatcher sleeps when nothing is due and nothing wakes it
REREAD_EVERY = 10.0            # seconds between full reads of the outbox (new calls are read as woken)
RECORD_DELAY = 0.2             # seconds a finished call may wait to be recorded while other chats send
RECORD_BATCH = 16              # finished calls that are recorded at once without waiting longer

# Words in a 400 answer that mean the chat itself is gone, not just this one message.
UNREACHABLE_HINTS = ("chat not found", "user not found", "peer_id_invalid", "user is deactivated",
                     "bot was blocked", "bot was kicked")
# Calls that name no chat, and calls that send a message PROTECT_CONTENT guards from forwarding.
CHATLESS = frozenset({"answerCallbackQuery"})
PROTECTABLE = frozenset({"sendMessage", "copyMessage", "copyMessages", "sendDocument"})
# Payload keys that are the desk's own notes, never sent to Telegram.
NOTES = ("origin", "link", "copy_of", "fallback", "album")


# --- Pacing --------------------------------------------------------------------------------------


class RateLimiter:
    """Paces calls: evenly spaced overall, and a token bucket per chat."""

    # Overall, calls are spaced 1/per_second apart rather than allowed in bursts of per_second:
    # Telegram counts calls when they arrive, and a burst that leaves together arrives spread by
    # network jitter, so a window that was full at departure can overflow at arrival.

    def __init__(self, per_second: int = GLOBAL_PER_SECOND, chat_burst: float = CHAT_BURST,
                 chat_rate: float = CHAT_PER_SECOND) -> None:
        self.interval = 1.0 / per_second
        self.chat_burst = chat_burst
        self.chat_rate = chat_rate
        self._next_free = 0.0                                # when the next call may leave
        self._buckets: dict[int, tuple[float, float]] = {}  # chat -> (tokens, when counted)

    def _tokens(self, chat_id: int, now: float) -> float:
        tokens, at = self._buckets.get(chat_id, (self.chat_burst, now))
        return min(self.chat_burst, tokens + (now - at) * self.chat_rate)

    def global_wait(self, now: float) -> float:
        """Seconds until one more call may leave without outrunning the overall rate."""
        return max(0.0, self._next_free - now)

    def chat_wait(self, chat_id: int, now: float) -> float:
        """Seconds until the chat's bucket has a token."""
        tokens = self._tokens(chat_id, now)
        return 0.0 if tokens >= 1.0 else (1.0 - tokens) / self.chat_rate

    def restore(self, sent: list[tuple[int, float]], now: float) -> None:
        """Rebuild the pacing from the calls (chat, when) sent in the last restore_window seconds."""
        # Each chat that sent anything in the window starts it with an empty bucket: what came
        # before the window is unknown, and an empty start can only make the result stricter
        # than Telegram's own count. The overall pace resumes one interval after the last call:
        # replaying it call by call would push it far ahead when many calls were recorded with
        # one timestamp (they are recorded in batches).
        since = now - self.restore_window
        last = None
        for chat_id, at in sent:
            if at <= since:
                continue
            if chat_id not in self._buckets:
                self._buckets[chat_id] = (0.0, since)
            self._buckets[chat_id] = (self._tokens(chat_id, at) - 1.0, at)
            last = at if last is None else max(last, at)
        if last is not None:
            self._next_free = max(self._next_free, last + self.interval)

    @property
    def restore_window(self) -> float:
        """Seconds after which a chat's bucket is full again whatever it sent before."""
        return self.chat_burst / self.chat_rate

    def take(self, chat_id: int, now: float) -> None:
        """Spend the overall pace's next slot and one token of the chat's bucket."""
        # A thread woken for a slot is always a little late (0.5 ms on a busy machine); counted
        # from that moment, every slot would be late by it too and the pace would sag (27.5 a
        # second instead of 28). A call less than half a slot late keeps its slot's place, so no
        # second can hold more than rate + 1 calls, still under Telegram's limit.
        late = now - self._next_free
        self._next_free = (self._next_free if 0 < late < self.interval / 2 else max(self._next_free, now)) \
            + self.interval
        self._buckets[chat_id] = (self._tokens(chat_id, now) - 1.0, now)
        if len(self._buckets) > 10_000:
            # Full buckets carry no information; dropping them keeps memory bounded.
            self._buckets = {c: v for c, v in self._buckets.items() if self._tokens(c, now) < self.chat_burst}


# --- Outcomes of a call --------------------------------------------------------------------------

SENT, RETRY, FAILED, UNREACHABLE = "sent", "retry", "failed", "unreachable"


def classify_error(exc: BaseException) -> tuple[str, float | None, str]:
    """(outcome, retry delay or None, short reason) for an exception raised by a call."""
    if isinstance(exc, TelegramError):
        code, desc = exc.code, exc.description
        if code == 429:
            return RETRY, float(exc.retry_after or 1), f"429 {desc}"
        if code == 403:
            return UNREACHABLE, None, f"403 {desc}"
        if code == 400 and any(h in desc.lower() for h in UNREACHABLE_HINTS):
            return UNREACHABLE, None, f"400 {desc}"
        if code in (400, 413):                        # 413: a file over Telegram's 50 MB
            return FAILED, None, f"{code} {desc}"
        return RETRY, None, f"{code} {desc}"          # 5xx, 401 while a token is being fixed...
    if isinstance(exc, HttpError):                    # a non-JSON answer, e.g. a proxy's 502 page
        if exc.status == 413:                         # the same file limit, answered by a proxy
            return FAILED, None, "HTTP 413"
        return RETRY, None, f"HTTP {exc.status}"
    if isinstance(exc, (OSError, http.client.HTTPException)):   # reset, time-out, DNS... (requests' too)
        return RETRY, None, type(exc).__name__
    return RETRY, None, f"{type(exc).__name__}: {exc}"


def backoff(attempts: int) -> float:
    """Seconds before retry number `attempts` of a transient failure: 1, 2, 4 ... 60."""
    return min(MAX_BACKOFF, 2.0 ** max(0, attempts - 1))


# --- The sender ----------------------------------------------------------------------------------

# on_unreachable(conn, chat_id, reason) runs inside the transaction that fails the chat's calls.
UnreachableHandler = Callable[[sqlite3.Connection, int, str], None]


# A call as the dispatcher holds it: an outbox row as a dict (cheaper to read than sqlite3.Row).
Call = dict[str, Any]


class Turns:
    """Which chat goes next: of the chats with a call due, the one served least recently."""

    # Round-robin by "least recently served": a chat that was just served goes to the back of the
    # line, and a chat that was quiet (or never served) is at the front as soon as it has a call.
    # Every call costs one sending slot, so this is deficit round-robin with equal costs.

    def __init__(self) -> None:
        self._turn = 0
        self._served: dict[int, int] = {}     # chat -> the turn it was last served in

    def rank(self, chat_id: int) -> int:
        """The chat's place in line: lower goes first (0: never served, or forgotten)."""
        return self._served.get(chat_id, 0)

    def order(self, heads: list[Call]) -> list[Call]:
        """The chats' head calls in the order they should go; the oldest call first among equals."""
        return sorted(heads, key=lambda call: (self.rank(call["chat_id"]), call["id"]))

    def served(self, chat_id: int) -> None:
        """A call of the chat was started: it goes to the back of the line."""
        self._turn += 1
        self._served[chat_id] = self._turn
        if len(self._served) > 10_000:
            # The chats served longest ago are dropped: they would be at the front anyway.
            keep = sorted(self._served.items(), key=lambda item: item[1])[5_000:]
            self._served = dict(keep)


class Sender:
    """Drains the outbox with a dispatcher thread and a small pool of sending threads."""

    protect_content = False     # PROTECT_CONTENT: every message sent can't be forwarded or saved

    def __init__(self, api: BotApi, database_path: str, on_unreachable: UnreachableHandler,
                 limiter: RateLimiter | None = None, workers: int = WORKERS,
                 clock: Callable[[], float] = time.time) -> None:
        self.api = api
        self.database_path = database_path
        self.on_unreachable = on_unreachable
        self.limiter = limiter or RateLimiter()
        self.workers = workers
        self.clock = clock
        self.turns = Turns()
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="send")
        self._local = threading.local()  # one database connection per sending thread
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="dispatch", daemon=True)
        self._in_flight: dict[int, tuple[Call, Future]] = {}  # chat -> (call, its future)
        # The dispatcher's view of the outbox: each chat's oldest pending call (in flight or not),
        # and two heaps over those not in flight, so that a sending slot costs O(log chats): the
        # heads not to be tried before a time (a retry's, or when the chat's allowance returns),
        # and the due ones by turn. An entry whose chat's head changed since is passed over.
        self._heads: dict[int, Call] = {}
        self._later: list[tuple[float, int, int]] = []     # (not before, call id, chat)
        self._ready: list[tuple[int, int, int]] = []       # (turn rank, call id, chat)
        self._seen_id = 0                   # the newest outbox id read so far
        self._read_at = float("-inf")       # when the outbox was last read whole
        self._news = True                   # calls were committed since the dispatcher last looked
        self._done_since: dict[int, float] = {}   # chat -> when its finished call was first seen
        self._wake_at = float("inf")        # when the dispatcher means to look again by itself

    def start(self) -> None:
        """Start draining; calls left pending by an earlier run go first."""
        self._thread.start()

    def wake(self) -> None:
        """Tell the dispatcher that new calls were committed."""
        self._news = True
        # A dispatcher that looks again within a sending slot reads them then: one wake-up fewer.
        if self._wake_at - self.clock() > self.limiter.interval:
            self._wake.set()

    def stop(self, timeout: float = 30.0) -> None:
        """Stop taking calls, let those in flight finish and record them; the rest stay pending."""
        self._stop.set()
        self._wake.set()
        if self._thread.ident is not None:
            self._thread.join(timeout)
        self._pool.shutdown(wait=True, cancel_futures=True)

    def wait_in_flight(self, timeout: float | None = None) -> int:
        """Block until every call in flight has finished (the next step records them); how many."""
        futures = [future for _call, future in self._in_flight.values()]
        wait_futures(futures, timeout)
        return len(futures)

    # The dispatcher: the only thread that writes outcomes into the outbox.

    def _run(self) -> None:
        conn = db.connect(self.database_path)
        try:
            self.restore_pacing(conn)
            while True:
                self._wake.clear()          # before looking: a wake-up from now on is not lost
                if self._stop.is_set():
                    self.record_finished(conn)
                    if not self._in_flight:
                        break
                    wait = 0.1
                else:
                    wait = self.step(conn)
                self._wake_at = self.clock() + wait
                if wait > RECORD_DELAY and self._unnoticed_finished():
                    continue                # it finished while we looked, and saw the old _wake_at
                if self._news and wait > self.limiter.interval:
                    continue                # calls were committed while we looked, likewise
                self._wake.wait(wait)
        except Exception:
            # A broken database here must not go unnoticed while polling carries on; the pending
            # calls stay in the outbox, and the process exits so a supervisor restarts it.
            log.critical("the sender stopped on an unexpected error", exc_info=True)
            os._exit(70)
        finally:
            conn.close()

    def restore_pacing(self, conn: sqlite3.Connection) -> None:
        """Rebuild the rate limiter from the calls sent in the last seconds (after a restart)."""
        now = self.clock()
        self.limiter.restore(db.recent_sent_calls(conn, now - self.limiter.restore_window), now)

    def step(self, conn: sqlite3.Connection) -> float:
        """One pass: record finished calls, read new ones, start what may go; returns seconds to sleep."""
        now = self.clock()
        for chat_id, (_call, future) in self._in_flight.items():
            if future.done() and chat_id not in self._done_since:
                self._done_since[chat_id] = now
        if self._done_since and (len(self._done_since) >= RECORD_BATCH
                                 or now - min(self._done_since.values()) >= RECORD_DELAY):
            self.record_finished(conn)
        if now - self._read_at >= REREAD_EVERY:
            self._read_all(conn, now)
        elif self._news:
            self._read_new(conn)
        started, wait = self._dispatch(now)
        if not started and self._done_since and self.limiter.global_wait(now) == 0:
            # A sending slot would go unused: record now, which may free the next call of a chat.
            self.record_finished(conn)
            if self._news:
                self._read_new(conn)
            started, wait = self._dispatch(now)
        if self._done_since and wait > RECORD_DELAY:
            # Otherwise the next sending slot comes first, and records them if it is time.
            wait = min(wait, max(0.001, min(self._done_since.values()) + RECORD_DELAY - now))
        return wait

    def _unnoticed_finished(self) -> bool:
        """Whether a call finished that the last step did not see."""
        return any(future.done() and chat_id not in self._done_since
                   for chat_id, (_call, future) in self._in_flight.items())

    def _read_all(self, conn: sqlite3.Connection, now: float) -> None:
        """Read every chat's oldest pending call afresh."""
        self._news = False
        # The newest id first: a call committed between the two reads is then read again as new,
        # and one that a chat already has a head for is passed over, so nothing falls between.
        self._seen_id = db.newest_outbox_id(conn)
        self._heads = {row["chat_id"]: dict(row) for row in db.outbox_heads(conn)}
        for chat_id, (call, _future) in self._in_flight.items():
            self._heads[chat_id] = call     # recorded yet or not, it is still that chat's head
        self._later = [(call["next_attempt_at"], call["id"], chat_id) for chat_id, call in self._heads.items()
                       if chat_id not in self._in_flight]
        heapq.heapify(self._later)
        self._ready = []
        self._read_at = now

    def _read_new(self, conn: sqlite3.Connection) -> None:
        """Read the calls committed since the last read; those of chats with nothing pending are heads."""
        self._news = False
        for row in db.pending_calls_after(conn, self._seen_id):
            self._seen_id = max(self._seen_id, row["id"])
            if row["chat_id"] not in self._heads:
                self._set_head(row["chat_id"], dict(row))

    def _set_head(self, chat_id: int, call: Call) -> None:
        self._heads[chat_id] = call
        heapq.heappush(self._later, (call["next_attempt_at"], call["id"], chat_id))

    def _is_head(self, chat_id: int, call_id: int) -> bool:
        """Whether a heap entry still stands: that call is the chat's head, and not in flight."""
        call = self._heads.get(chat_id)
        return call is not None and call["id"] == call_id and chat_id not in self._in_flight

    def _dispatch(self, now: float) -> tuple[int, float]:
        """Start the due calls the limits allow, chats taking turns; (calls started, seconds to sleep)."""
        wait = IDLE_WAIT
        if len(self._in_flight) >= self.workers:
            return 0, wait                          # a finished call wakes the dispatcher
        later, ready = self._later, self._ready
        while later and later[0][0] <= now:
            _at, call_id, chat_id = heapq.heappop(later)
            if self._is_head(chat_id, call_id):
                heapq.heappush(ready, (self.turns.rank(chat_id), call_id, chat_id))   # chats take turns
        if later:
            wait = min(wait, later[0][0] - now)     # perhaps a stale entry: then a wake-up for nothing
        global_wait = self.limiter.global_wait(now)
        if global_wait > 0 or not ready:
            return 0, max(min(wait, global_wait) if ready else wait, 0.001)
        started = 0
        while ready:
            if len(self._in_flight) >= self.workers:
                # No call may wait in the pool's queue: the limiter counts a call when it is taken,
                # so it must start at once, or a queued batch would reach Telegram bunched together.
                break
            global_wait = self.limiter.global_wait(now)
            if global_wait > 0:
                wait = min(wait, global_wait)
                break
            _rank, call_id, chat_id = heapq.heappop(ready)
            if not self._is_head(chat_id, call_id):
                continue
            chat_wait = self.limiter.chat_wait(chat_id, now)
            if chat_wait > 0:
                heapq.heappush(later, (now + chat_wait, call_id, chat_id))    # keeps its turn
                wait = min(wait, chat_wait)
                continue
            call = self._heads[chat_id]
            self.limiter.take(chat_id, now)
            self.turns.served(chat_id)
            future = self._pool.submit(self._perform, call)
            future.add_done_callback(self._call_done)
            self._in_flight[chat_id] = (call, future)
            started += 1
        return started, max(wait, 0.001)

    def _call_done(self, _future: Future) -> None:
        # A dispatcher that looks again soon by itself records the call then: one wake-up fewer.
        if self._wake_at - self.clock() > RECORD_DELAY:
            self._wake.set()

    def record_finished(self, conn: sqlite3.Connection) -> None:
        """Record every finished call in one transaction, and read those chats' next calls."""
        finished = [(chat_id, call, future) for chat_id, (call, future) in self._in_flight.items()
                    if future.done()]
        if not finished:
            return
        now = self.clock()
        with db.atomic(conn):
            for _chat_id, call, future in finished:
                if not self._record(conn, call, future, now):
                    self._news = True       # it queued calls, maybe for other chats
            heads = {chat_id: db.outbox_head(conn, chat_id) for chat_id, _call, _future in finished}
        for chat_id, _call, _future in finished:
            del self._in_flight[chat_id]
            self._done_since.pop(chat_id, None)
            if heads[chat_id] is None:
                self._heads.pop(chat_id, None)
            else:
                self._set_head(chat_id, dict(heads[chat_id]))

    def _record(self, conn: sqlite3.Connection, call: Call, future: Future, now: float) -> bool:
        """Write a call's outcome; False when that also queued new calls."""
        exc = future.exception()
        if exc is None:
            db.mark_call_sent(conn, call["id"], now)
            self._link_copy(conn, call, future.result(), now)
            return True
        outcome, delay, reason = classify_error(exc)
        chat_id = call["chat_id"]
        if outcome == RETRY and now - call["created_at"] < GIVE_UP_AFTER:
            delay = delay if delay is not None else backoff(call["attempts"] + 1)
            log.warning("call %s (%s to chat %s) failed: %s; retrying in %.1fs",
                        call["id"], call["method"], chat_id, reason, delay)
            if not isinstance(exc, (TelegramError, HttpError, OSError, http.client.HTTPException)):
                log.error("unexpected error in call %s", call["id"], exc_info=exc)
            db.schedule_call_retry(conn, call["id"], now + delay, reason)
            return True
        if outcome == UNREACHABLE:
            log.warning("chat %s cannot be reached (%s); failing its pending calls", chat_id, reason)
            with db.atomic(conn):
                db.mark_call_failed(conn, call["id"], reason, now)
                db.fail_pending_calls_for_chat(conn, chat_id, reason, now)
                self.on_unreachable(conn, chat_id, reason)
            return False
        log.warning("call %s (%s to chat %s) failed for good: %s", call["id"], call["method"], chat_id, reason)
        with db.atomic(conn):
            db.mark_call_failed(conn, call["id"], reason, now)
            self._tell_author(conn, call, reason, now)
            self._fall_back(conn, call, now)
        return False

    @staticmethod
    def _fall_back(conn: sqlite3.Connection, call: Call, now: float) -> None:
        """A call refused for good that says what to do instead (an edit: the new text as a reply) queues it."""
        if '"fallback"' not in call["payload"]:
            return
        for step in json.loads(call["payload"]).get("fallback") or []:
            db.enqueue_call(conn, call["chat_id"], step["method"], step["payload"], now)

    def _tell_author(self, conn: sqlite3.Connection, call: Call, reason: str, now: float) -> None:
        """A relay that can never be delivered is reported to whoever wrote the message."""
        origin = json.loads(call["payload"]).get("origin")
        if origin:
            db.enqueue_call(conn, origin["chat_id"], "sendMessage", {
                "text": texts.t(origin["lang"], "delivery_failed", reason=reason),
                "reply_parameters": {"message_id": origin["message_id"], "allow_sending_without_reply": True},
            }, now)

    @staticmethod
    def _link_copy(conn: sqlite3.Connection, call: Call, result: Any, now: float) -> None:
        """Record the id Telegram gave a relayed copy (each copy of an album), with what it is a copy of."""
        if '"link"' not in call["payload"]:
            return
        link = json.loads(call["payload"]).get("link")
        if not link:
            return
        if isinstance(result, list) and "source_message_ids" in link:      # copyMessages: ids in order
            sources = link["source_message_ids"]
            if len(result) != len(sources):
                # Telegram skips parts it cannot copy, without saying which: the copies are linked
                # to their dialog only, so that no edit ever lands on the wrong part.
                sources = [None] * len(result)
            for copy, source in zip(result, sources, strict=False):
                db.link_message(conn, call["chat_id"], copy["message_id"], link["source_chat_id"], source,
                                link["dialog_id"], now)
        elif isinstance(result, dict) and "message_id" in result:
            db.link_message(conn, call["chat_id"], result["message_id"], link["source_chat_id"],
                            link.get("source_message_id"), link["dialog_id"], now)

    # The sending threads: one Telegram call each, no database writes.

    def _conn(self) -> sqlite3.Connection:
        if not hasattr(self._local, "conn"):
            self._local.conn = db.connect(self.database_path)
        return self._local.conn

    def _perform(self, call: Call) -> Any:
        """Make one outbox call; returns Telegram's result."""
        chat_id, method = call["chat_id"], call["method"]
        payload = json.loads(call["payload"])
        if method == "sendHistory":
            return self._send_history(chat_id, payload)
        if method == "sendExport":
            return self._send_export(chat_id, payload)
        params = {k: v for k, v in payload.items() if k not in NOTES}
        if method == "setMyCommands":
            params["commands"] = [{"command": name, "description": text} for name, text in params["commands"]]
            params["scope"] = {"type": "chat", "chat_id": chat_id} if chat_id else {"type": "default"}
        elif method not in CHATLESS:
            params["chat_id"] = chat_id
        if self.protect_content and method in PROTECTABLE:
            params["protect_content"] = True
        if "copy_of" in payload:
            return self._at_copy(method, params, payload["copy_of"])
        return self.api.call(method, params)

    def _at_copy(self, method: str, params: dict[str, Any], source: dict[str, int]) -> Any:
        """A call about the desk's copy of a source message in this chat: an edit of it, or a reply to it."""
        # The copy's id is known only now: its relay went before this call (a chat's calls go in
        # order) and was linked when it was recorded.
        copy = db.copy_in_chat(self._conn(), params["chat_id"], source["chat_id"], source["message_id"])
        if copy is None:
            return None                 # never copied here (its relay failed): nothing to follow
        if not method.startswith("edit"):
            return self.api.call(method, {**params, "reply_parameters": {"message_id": copy,
                                                                          "allow_sending_without_reply": True}})
        try:
            return self.api.call(method, {**params, "message_id": copy})
        except TelegramError as exc:
            if exc.code == 400 and "message is not modified" in exc.description:
                return True             # it shows this text already
            raise

    def _send_export(self, chat_id: int, p: dict[str, Any]) -> Any:
        """Build the /export CSV on disk, streaming rows from the database, and send it."""
        conn = self._conn()
        params: dict[str, Any] = {"chat_id": chat_id, "caption": texts.t(p["lang"], "export_caption", days=p["days"])}
        if self.protect_content:
            params["protect_content"] = "true"
        name = f"dialogs_{time.strftime('%Y-%m-%d', time.gmtime())}_{p['days']}d.csv"
        return self.api.upload("sendDocument", params, "document", name,
                               lambda out: write_dialogs_csv(conn, p["since"], p.get("tz", "UTC"), out), "text/csv")

    def _send_history(self, chat_id: int, p: dict[str, Any]) -> Any:
        """Build the history file on disk, streaming rows from the database, and send it."""
        conn = self._conn()
        client = db.get_client(conn, p["client_id"])
        caption = texts.t(p["lang"], "history_caption", name=client["name"], client_id=client["user_id"])
        now = time.time()
        params: dict[str, Any] = {"chat_id": chat_id, "caption": caption}
        if self.protect_content:
            params["protect_content"] = "true"
        return self.api.upload("sendDocument", params, "document", f"history_{client['user_id']}.txt",
                               lambda out: write_history(conn, client, p["lang"], now, out, p.get("tz", "UTC")))
