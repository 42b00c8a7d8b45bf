"""The command line: `python bot.py [run | check | backup FILE]`, and reading the settings for any of them.

Without a command (or with `run`) bot.py runs the desk. `check` and `backup` do one thing and exit
with a status a script or a container healthcheck can act on; their --help says which.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sqlite3
import sys
import time
from pathlib import Path

import requests
from dotenv import load_dotenv
from telebot import apihelper, types

import backup
import db
from config import ConfigError, Settings, configure_logging, load_settings


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
    print(f"journey: {len(settings.intake_questions)} intake questions, {len(settings.faq)} FAQ entries, "
          f"working hours {'set' if settings.working_hours else 'always open'} ({settings.timezone}), "
          f"{len(settings.admin_ids)} admins, up to {settings.max_chats_per_agent} dialogs per agent")
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
