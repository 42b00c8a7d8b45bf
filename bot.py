"""A Telegram support desk: one bot account, clients on one side, human support agents on the other.

The flow:
1. A client writes to the bot. On /start they are greeted and asked how to address them (their
   Telegram first name is offered as a one-tap answer). A client who just writes is greeted too,
   named after their Telegram first name, and that first message is kept and relayed.
2. The first message of a new dialog goes to a free agent chosen by db.find_available_support. With
   nobody free, the client waits in a queue, told their place, and their messages are stored.
3. Everything is relayed both ways, any kind of message; the agent sees the client's name on each.
4. Agents register with /register_support <token> and work with the commands of handlers/table.py.

This module is start-up and the one polling loop. How nothing is lost: each update is handled
inside one database transaction that also marks it processed; the next getUpdates, which confirms
it to Telegram, is only asked for after that commit, and a redelivered update is recognised and
skipped. Handlers never call Telegram: they write their messages into the outbox in the same
transaction, and delivery.Sender sends them, in order per chat, under Telegram's rate limits.
"""

from __future__ import annotations

import fcntl
import json
import logging
import signal
import sqlite3
import sys
import threading
import time
from typing import IO, Any

import requests
from telebot import apihelper, types

import backup
import botapi
import cli
import db
import delivery
from config import configure_logging
from desk import Desk, messages, queue, routing, team
from handlers import Dispatcher
from timers import Timers

log = logging.getLogger("desk")

POLL_TIMEOUT = 25                # seconds a getUpdates long poll may wait for news
ALLOWED_UPDATES = ["message", "edited_message", "callback_query"]    # Telegram sends only these kinds
KEEP_PROCESSED_UPDATES = 2 * 24 * 3600   # Telegram redelivers an unconfirmed update for 24 h
KEEP_FINISHED_CALLS = 7 * 24 * 3600
HOUSEKEEPING_EVERY = 3600
QUEUE_ALERT_CHECK = 5            # seconds between looks for clients waiting too long
ALBUM_CHECK = 0.25               # seconds between looks for albums whose last part has arrived
OPENING_CHECK = 30               # seconds between looks, with WORKING_HOURS, for the queue to serve
COMMIT_EVERY = 16                # updates of a getUpdates batch (up to 100) committed together


class Shutdown(BaseException):
    """Raised by the signal handler to cut a long poll short."""


def handle_update(dispatcher: Dispatcher, raw: dict[str, Any], now: float | None = None) -> None:
    """Apply one update exactly once: its effects and its processed mark commit together."""
    conn = dispatcher.conn
    update_id = raw["update_id"]
    error = ""
    for attempt in range(1, 4):
        at = time.time() if now is None else now
        try:
            with db.atomic(conn):
                if not db.claim_update(conn, update_id, at):
                    log.info("update %s was already processed; skipping the redelivery", update_id)
                    return
                dispatcher.process(raw, at)
            return
        except sqlite3.OperationalError as exc:
            # A locked or busy database (or a failed COMMIT) is worth another try; atomic() rolled back.
            log.warning("update %s: database error (%s), attempt %s", update_id, exc, attempt)
            time.sleep(0.5 * attempt)
            error = repr(exc)
        except Exception as exc:
            log.exception("update %s could not be handled", update_id)
            error = repr(exc)
            break
    # Kept whole in failed_updates for the operator rather than dropped or retried forever. If even
    # this write fails, the exception stops the process with the update still unconfirmed.
    at = time.time() if now is None else now
    with db.atomic(conn):
        db.claim_update(conn, update_id, at)
        db.record_failed_update(conn, update_id, json.dumps(raw, ensure_ascii=False), error, at)
    log.error("update %s is saved in failed_updates", update_id)


def housekeeping(conn: sqlite3.Connection, now: float) -> None:
    """Forget old idempotency marks and finished outbox calls."""
    with db.atomic(conn):
        db.prune_processed_updates(conn, now - KEEP_PROCESSED_UPDATES)
        db.prune_outbox(conn, now - KEEP_FINISHED_CALLS)


class Poller:
    """The one loop that asks Telegram for updates and hands them to the handlers."""

    def __init__(self, dispatcher: Dispatcher, sender: delivery.Sender) -> None:
        self.dispatcher = dispatcher
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
                last_housekeeping = time.time()
                housekeeping(self.dispatcher.conn, last_housekeeping)
            try:
                self.in_long_poll = True
                # Asking with offset confirms every update below it, all of them committed by now.
                # The sender's lean client, not pyTelegramBotAPI's: the raw update dicts are all
                # the handlers need, at a third of the CPU per call.
                params: dict[str, Any] = {"timeout": POLL_TIMEOUT, "allowed_updates": ALLOWED_UPDATES}
                if offset is not None:
                    params["offset"] = offset
                updates = self.sender.api.call("getUpdates", params)
            except Shutdown:
                break
            except botapi.TelegramError as exc:
                if exc.code == 409:
                    log.error("409 Conflict: another process is polling with this bot token; "
                              "stop it (or delete its webhook), this one keeps retrying")
                else:
                    log.warning("getUpdates failed: %s %s", exc.code, exc.description)
                self.stopping.wait(delay)
                delay = min(delay * 2, 30.0)
                continue
            except botapi.NETWORK_ERRORS as exc:
                log.warning("getUpdates failed (%s); retrying in %.0fs", exc, delay)
                self.stopping.wait(delay)
                delay = min(delay * 2, 30.0)
                continue
            finally:
                self.in_long_poll = False
            delay = 1.0
            handled = self.handle_batch(updates)
            if handled:
                offset = handled[-1]["update_id"] + 1

    def handle_batch(self, updates: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Apply a getUpdates batch, COMMIT_EVERY updates per transaction; returns the updates handled."""
        # One transaction (one sync to disk) for several updates saves CPU, and the sender is
        # woken after each one: were all of a full batch one transaction, the sender would wait
        # for the whole of it, its own writes blocked, before the first relay could leave.
        handled: list[dict[str, Any]] = []
        for start in range(0, len(updates), COMMIT_EVERY):
            part = updates[start:start + COMMIT_EVERY]
            done = self.handle_together(part)
            handled += done
            if done:
                self.sender.wake()
            if len(done) < len(part):
                break           # stopping: the rest stays unconfirmed and comes again after the restart
        return handled

    def handle_together(self, updates: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Apply updates in one transaction (one sync to disk); returns the updates handled."""
        # Each update is still its own SAVEPOINT inside (handle_update's atomic() nests), so one
        # that fails is rolled back and kept in failed_updates alone. Nothing of the batch is
        # confirmed before the whole of it is committed: a crash loses no update, and a redelivered
        # one is recognised by its processed mark.
        conn = self.dispatcher.conn
        handled: list[dict[str, Any]] = []
        try:
            with db.atomic(conn):
                for raw in updates:
                    if self.stopping.is_set():
                        break
                    handle_update(self.dispatcher, raw)
                    handled.append(raw)
            return handled
        except sqlite3.OperationalError as exc:
            # Beginning or committing failed (a busy or full database): none of it is saved.
            # One transaction per update, each with its own retries, as before batching.
            log.warning("%s updates could not be committed together (%s); handling them one by one",
                        len(updates), exc)
        handled = []
        for raw in updates:
            if self.stopping.is_set():
                break
            handle_update(self.dispatcher, raw)
            handled.append(raw)
        return handled


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


def check_bot_token(token: str, stopping: threading.Event) -> types.User | None:
    """Ask Telegram who the bot is; exit if the token is rejected, wait while Telegram is unreachable."""
    delay = 1.0
    while not stopping.is_set():
        try:
            return types.User.de_json(apihelper.get_me(token))
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


def run_desk() -> None:
    """Read the configuration, open the database, and run the desk until SIGTERM or SIGINT."""
    settings = cli.read_settings()
    configure_logging(settings)
    cli.use_api_url(settings)

    lock = hold_instance_lock(settings.database_path)
    conn = db.connect(settings.database_path)
    db.init_db(conn)
    dispatcher = Dispatcher(conn, settings)

    def on_unreachable(sender_conn: sqlite3.Connection, chat_id: int, reason: str) -> None:
        routing.chat_unreachable(Desk(sender_conn, settings, time.time()), chat_id, reason)

    limiter = delivery.RateLimiter(per_second=settings.send_rate)
    sender = delivery.Sender(botapi.BotApi(settings.api_url, settings.bot_token), settings.database_path,
                             on_unreachable, limiter)
    sender.protect_content = settings.protect_content
    poller = Poller(dispatcher, sender)
    timers = Timers(settings.database_path, after_run=sender.wake)
    timers.add("albums", ALBUM_CHECK, lambda job_conn, now: messages.flush_albums(Desk(job_conn, settings, now)),
               wanted=lambda job_conn, _now: db.any_waiting_in_open_dialogs(job_conn))
    if settings.working_hours:
        # When the hours begin, the clients who wrote while the desk was closed are served.
        timers.add("opening", OPENING_CHECK, lambda job_conn, now: routing.serve_queue(Desk(job_conn, settings, now)))
    if settings.queue_alert_seconds:
        timers.add("queue alerts", QUEUE_ALERT_CHECK,
                   lambda job_conn, now: queue.alert_long_waits(Desk(job_conn, settings, now)))
    if settings.backup_dir:
        backups = backup.DailyBackups(
            settings.database_path, settings.backup_dir, settings.backup_keep,
            on_failure=lambda job_conn, now, reason: team.report_backup_failure(Desk(job_conn, settings, now), reason))
        timers.add("backup", backup.CHECK_EVERY, backups)
        log.info("automatic backups into %s, the newest %s kept", settings.backup_dir, settings.backup_keep)
    else:
        log.info("automatic backups are off (BACKUP_DIR is not set)")
    signal.signal(signal.SIGTERM, poller.request_stop)
    signal.signal(signal.SIGINT, poller.request_stop)

    me = check_bot_token(settings.bot_token, poller.stopping)
    if me is not None:
        with db.atomic(conn):
            dispatcher.start(time.time())
        sender.start()
        timers.start()
        log.info("desk started as @%s with database %s", me.username, settings.database_path)
        poller.run()
        timers.stop()
        sender.stop()
    conn.close()
    lock.close()
    log.info("desk stopped")


def main(argv: list[str] | None = None) -> None:
    """`python bot.py [run | check | backup FILE]`; see --help (cli.py)."""
    args = cli.build_parser().parse_args(argv)
    if args.command == "check":
        sys.exit(cli.check_command())
    if args.command == "backup":
        sys.exit(cli.backup_command(args.file))
    run_desk()


if __name__ == "__main__":
    main()
