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

import argparse
import dataclasses
import fcntl
import json
import logging
import os
import signal
import sqlite3
import sys
import threading
import time
from pathlib import Path
from typing import IO, Any

import requests
from dotenv import load_dotenv
from telebot import apihelper, types

import backup
import db
import delivery
from config import ConfigError, Settings, configure_logging, load_settings
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
        token = self.dispatcher.settings.bot_token
        while not self.stopping.is_set():
            if time.time() - last_housekeeping > HOUSEKEEPING_EVERY:
                last_housekeeping = time.time()
                housekeeping(self.dispatcher.conn, last_housekeeping)
            try:
                self.in_long_poll = True
                # Asking with offset confirms every update below it, all of them committed by now.
                updates = apihelper.get_updates(token, offset=offset, timeout=POLL_TIMEOUT + 10,
                                                allowed_updates=ALLOWED_UPDATES, long_polling_timeout=POLL_TIMEOUT)
            except Shutdown:
                break
            except apihelper.ApiTelegramException as exc:
                if exc.error_code == 409:
                    log.error("409 Conflict: another process is polling with this bot token; "
                              "stop it (or delete its webhook), this one keeps retrying")
                else:
                    log.warning("getUpdates failed: %s %s", exc.error_code, exc.description)
                self.stopping.wait(delay)
                delay = min(delay * 2, 30.0)
                continue
            except (apihelper.ApiException, requests.RequestException) as exc:
                log.warning("getUpdates failed (%s); retrying in %.0fs", exc, delay)
                self.stopping.wait(delay)
                delay = min(delay * 2, 30.0)
                continue
            finally:
                self.in_long_poll = False
            delay = 1.0
            for raw in updates:
                if self.stopping.is_set():
                    break   # the rest stays unconfirmed and comes again after the restart
                handle_update(self.dispatcher, raw)
                offset = raw["update_id"] + 1
                self.sender.wake()


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


def read_settings() -> Settings:
    """The settings from the environment and ./.env; a bad one exits 2 with one line naming it."""
    # The real environment wins over .env; .env is read from the working directory.
    load_dotenv(Path.cwd() / ".env", override=False)
    try:
        return load_settings(dict(os.environ))
    except ConfigError as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        sys.exit(2)


def use_api_url(settings: Settings) -> None:
    """Point pyTelegramBotAPI at TELEGRAM_API_URL (a self-hosted Bot API server, or the tests' fake)."""
    apihelper.API_URL = settings.api_url + "/bot{0}/{1}"
    apihelper.FILE_URL = settings.api_url + "/file/bot{0}/{1}"


def run_desk() -> None:
    """Read the configuration, open the database, and run the desk until SIGTERM or SIGINT."""
    settings = read_settings()
    configure_logging(settings)
    use_api_url(settings)

    lock = hold_instance_lock(settings.database_path)
    conn = db.connect(settings.database_path)
    db.init_db(conn)
    dispatcher = Dispatcher(conn, settings)

    def on_unreachable(sender_conn: sqlite3.Connection, chat_id: int, reason: str) -> None:
        routing.chat_unreachable(Desk(sender_conn, settings, time.time()), chat_id, reason)

    limiter = delivery.RateLimiter(per_second=settings.send_rate)
    sender = delivery.Sender(delivery.BotApi(settings.api_url, settings.bot_token), settings.database_path,
                             on_unreachable, limiter)
    sender.protect_content = settings.protect_content
    poller = Poller(dispatcher, sender)
    timers = Timers(settings.database_path, after_run=sender.wake)
    if settings.backup_dir:
        backups = backup.DailyBackups(
            settings.database_path, settings.backup_dir, settings.backup_keep,
            on_failure=lambda job_conn, now, reason: team.report_backup_failure(Desk(job_conn, settings, now), reason))
        timers.add("backup", backup.CHECK_EVERY, backups)
        log.info("automatic backups into %s, the newest %s kept", settings.backup_dir, settings.backup_keep)
    else:
        log.info("automatic backups are off (BACKUP_DIR is not set)")
    timers.add("albums", ALBUM_CHECK, lambda job_conn, now: messages.flush_albums(Desk(job_conn, settings, now)))
    if settings.working_hours:
        # When the hours begin, the clients who wrote while the desk was closed are served.
        timers.add("opening", OPENING_CHECK, lambda job_conn, now: routing.serve_queue(Desk(job_conn, settings, now)))
    if settings.queue_alert_seconds:
        timers.add("queue alerts", QUEUE_ALERT_CHECK,
                   lambda job_conn, now: queue.alert_long_waits(Desk(job_conn, settings, now)))
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


# --- The command line ----------------------------------------------------------------------------

CHECK_TIMEOUT = (5, 10)     # seconds to connect to the Bot API, and to wait for getMe's answer

DESCRIPTION = """\
A Telegram support desk: clients write to the bot, human support agents answer them.

Without a command the desk runs until it is stopped (Ctrl+C, or SIGTERM from systemd or docker).
Settings come from the environment and from the file .env in the current folder; .env.example
lists them all. BOT_TOKEN and SUPPORT_TOKEN are required."""

EXAMPLES = """\
examples:
  python bot.py                    run the desk
  python bot.py check              after editing .env: are the settings, the database and the token right?
  python bot.py backup today.db    copy the database into today.db, safely, even while the desk runs

Run 'python bot.py COMMAND --help' to read more about one command."""

CHECK_HELP = """\
Check, without starting the desk, what it needs to run, printing one line for each:
the settings (from the environment and .env), the database at DATABASE_PATH (that it opens and
has a schema version this desk understands; a missing file is fine, the desk creates it), the
automatic backups, and the bot token (Telegram is asked who the bot is, with a short timeout,
and its @username is printed). The token itself is never printed."""

CHECK_EXIT = """\
exit status:
  0  all is well
  1  Telegram refused the token, or could not be reached
  2  a setting is missing or malformed, or the database cannot be used"""

BACKUP_HELP = """\
Copy the database at DATABASE_PATH into FILE with SQLite's online backup, which is safe while the
desk runs, then check the copy with PRAGMA integrity_check. The copy is one self-contained SQLite
file: to restore it, stop the desk and put it in place of the database (see README).
An existing file is never overwritten."""

BACKUP_EXIT = """\
exit status:
  0  the backup is written and its integrity check passed
  1  the backup could not be made or did not pass the check (the message says why)
  2  a setting is missing or malformed"""


def build_parser() -> argparse.ArgumentParser:
    """The command line: no command runs the desk; check and backup do one thing and exit."""
    raw = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(prog="python bot.py", usage="%(prog)s [-h] [run | check | backup FILE]",
                                     description=DESCRIPTION, epilog=EXAMPLES, formatter_class=raw)
    commands = parser.add_subparsers(dest="command", title="commands", metavar="COMMAND")
    commands.add_parser("run", help="run the desk (the same as no command)",
                        description="Run the desk until it is stopped (Ctrl+C, or SIGTERM).")
    commands.add_parser("check", help="check the settings, the database and the bot token, then exit",
                        description=CHECK_HELP, epilog=CHECK_EXIT, formatter_class=raw)
    backup_parser = commands.add_parser("backup", help="copy the database into FILE, safely while the desk runs",
                                        description=BACKUP_HELP, epilog=BACKUP_EXIT, formatter_class=raw)
    backup_parser.add_argument("file", metavar="FILE",
                               help="the new file to write; or an existing folder, to get a dated name in it")
    return parser


def configure_command_logging(settings: Settings) -> None:
    """Logging for check and backup: masked like the desk's, and quiet below WARNING."""
    quiet = settings.log_level in ("DEBUG", "INFO")
    configure_logging(dataclasses.replace(settings, log_level="WARNING") if quiet else settings)


def describe_age(seconds: float) -> str:
    """A duration as a person says it: 40 min, 5 h, 3 days."""
    if seconds < 3600:
        return f"{max(0, seconds) // 60:.0f} min"
    if seconds < 2 * 86400:
        return f"{seconds / 3600:.0f} h"
    return f"{seconds / 86400:.0f} days"


def check_database(path: Path) -> tuple[bool, str]:
    """Whether the desk can use the database at `path`, and a line saying so."""
    if not path.exists():
        if path.parent.is_dir():
            return True, f"database: {path} does not exist yet; the desk creates it when it starts"
        return False, f"database: the folder {path.parent} does not exist, so {path} cannot be created (DATABASE_PATH)"
    if not path.is_file():
        return False, f"database: {path} is not a file (DATABASE_PATH)"
    try:
        conn = sqlite3.connect(path, timeout=10)
        try:
            version = db.schema_version(conn)
        finally:
            conn.close()
    except sqlite3.Error as exc:
        return False, f"database: {path} cannot be opened as a SQLite database ({exc})"
    if version > db.SCHEMA_VERSION:
        return False, (f"database: {path} has schema version {version}, newer than this desk understands "
                       f"({db.SCHEMA_VERSION}); run the newer version of the desk, or restore a backup made "
                       "before the upgrade")
    if version == db.SCHEMA_VERSION:
        return True, f"database: {path}, schema version {version} (current)"
    if version == 0:
        return True, f"database: {path} is empty; the desk creates its tables when it starts"
    return True, (f"database: {path}, schema version {version}; the desk upgrades it to {db.SCHEMA_VERSION} "
                  "when it starts (make a backup first: python bot.py backup FILE)")


def check_backups(settings: Settings, now: float) -> tuple[bool, str]:
    """Whether automatic backups are on, and when the newest was made."""
    if not settings.backup_dir:
        return True, "backups: automatic backups are off (set BACKUP_DIR to have one made every day)"
    folder = Path(settings.backup_dir)
    if folder.exists() and not folder.is_dir():
        return False, f"backups: BACKUP_DIR {folder} is a file, not a folder"
    newest = backup.newest_backup(folder)
    kept = f"backups: every day into {folder}, the newest {settings.backup_keep} kept; "
    if newest is None:
        return True, kept + "none made yet (the desk makes one when it starts)"
    return True, kept + f"the newest is {newest.path.name}, {describe_age(now - newest.made_at)} old"


def check_telegram(settings: Settings) -> tuple[bool, str]:
    """Ask Telegram once, with a short timeout, who the bot is."""
    apihelper.CONNECT_TIMEOUT, apihelper.READ_TIMEOUT = CHECK_TIMEOUT
    try:
        me = types.User.de_json(apihelper.get_me(settings.bot_token))
    except apihelper.ApiTelegramException as exc:
        if exc.error_code in (401, 404):
            return False, "telegram: the token was refused (401 Unauthorized): check BOT_TOKEN, from @BotFather"
        return False, f"telegram: getMe failed: {exc.error_code} {exc.description}"
    except (apihelper.ApiException, requests.RequestException) as exc:
        # The exception's text holds the URL, and so the token: only its kind is shown.
        return False, (f"telegram: cannot reach the Bot API at {settings.api_url} ({type(exc).__name__}); "
                       "check the network, or TELEGRAM_API_URL")
    return True, f"telegram: the token is accepted; the bot is @{me.username}"


def check_command() -> int:
    """`python bot.py check`: 0 when all is well, 1 when Telegram refuses or is unreachable, 2 for the setup."""
    settings = read_settings()          # a bad setting exits 2 here, with one line naming it
    configure_command_logging(settings)
    use_api_url(settings)
    print("settings: ok")
    setup = [check_database(Path(settings.database_path)), check_backups(settings, time.time())]
    telegram = check_telegram(settings)
    for ok, line in [*setup, telegram]:
        print(line, file=sys.stdout if ok else sys.stderr)
    if not all(ok for ok, _ in setup):
        return 2
    return 0 if telegram[0] else 1


def backup_command(file: str) -> int:
    """`python bot.py backup FILE`: 0 when the verified copy is written, 1 when it is not, 2 for a bad setting."""
    settings = read_settings()
    configure_command_logging(settings)
    target = Path(file)
    if target.is_dir():
        target = target / backup.backup_name(time.time())
    try:
        size = backup.make_backup(settings.database_path, target)
    except (backup.BackupError, OSError) as exc:
        print(f"backup failed: {exc}", file=sys.stderr)
        return 1
    print(f"backed up {settings.database_path} into {target} ({size / 1e6:.1f} MB); "
          "the copy passed the integrity check")
    return 0


def main(argv: list[str] | None = None) -> None:
    """`python bot.py [run | check | backup FILE]`; see --help."""
    args = build_parser().parse_args(argv)
    if args.command == "check":
        sys.exit(check_command())
    if args.command == "backup":
        sys.exit(backup_command(args.file))
    run_desk()


if __name__ == "__main__":
    main()
