"""The desk's settings, read from the environment (and .env), and its logging with secrets masked.

Every setting is checked at start-up: a missing or malformed one raises ConfigError naming the
variable, and bot.py turns that into one line on stderr and exit status 2.
"""

from __future__ import annotations

import logging
import re
import sys
import threading
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import texts

log = logging.getLogger("desk")


class ConfigError(Exception):
    """A setting is missing or malformed; the message names the variable."""


@dataclass(frozen=True)
class Settings:
    """The desk's configuration."""

    bot_token: str = field(repr=False)
    support_token: str = field(repr=False)
    database_path: str = "support.db"
    api_url: str = "https://api.telegram.org"
    online_window: int = 300
    default_language: str = "ru"
    log_level: str = "INFO"
    # Calls per second overall. Telegram allows about 30; tests raise it to drain faster.
    send_rate: float = 28.0
    # Daily online backups go into this folder ("" = no automatic backups); the newest backup_keep stay.
    backup_dir: str = ""
    backup_keep: int = 7
    max_chats_per_agent: int = 1
    admin_ids: frozenset[int] = frozenset()
    queue_alert_seconds: int = 600           # 0: no alerts
    timezone: str = "UTC"                    # for WORKING_HOURS and every time the desk shows
    working_hours: tuple[tuple[int, int, int], ...] = ()   # (weekday 0=Mon, start, end minute); () = always
    rating: bool = True
    protect_content: bool = False
    return_to_agent_hours: int = 24          # 0: off


def _whole(name: str, value: str, low: int, high: int) -> int:
    """A whole number in [low, high], or ConfigError naming the variable."""
    if not re.fullmatch(r"\d+", value) or not low <= int(value) <= high:
        raise ConfigError(f"{name} must be a whole number from {low} to {high}")
    return int(value)


def _id_list(name: str, value: str) -> frozenset[int]:
    """Comma-separated Telegram user ids (spaces allowed), or ConfigError naming the variable."""
    ids = set()
    for part in value.split(","):
        part = part.strip()
        if not part:
            continue
        if not re.fullmatch(r"\d{1,19}", part) or int(part) == 0:
            raise ConfigError(f"{name} must be comma-separated Telegram user ids (numbers), not {part!r}")
        ids.add(int(part))
    return frozenset(ids)


def _switch(name: str, value: str) -> bool:
    """on/off, true/false, yes/no, 1/0; or ConfigError naming the variable."""
    word = value.lower()
    if word in ("on", "true", "yes", "1"):
        return True
    if word in ("off", "false", "no", "0"):
        return False
    raise ConfigError(f"{name} must be on or off (true/false), not {value!r}")


DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def _hhmm(text: str, allow_24: bool) -> int:
    m = re.fullmatch(r"(\d{1,2}):(\d{2})", text)
    if not m or int(m.group(2)) > 59 or int(m.group(1)) > 24 or (int(m.group(1)) == 24 and (m.group(2) != "00"
                                                                                         or not allow_24)):
        raise ConfigError(f"WORKING_HOURS has a bad time {text!r}: use HH:MM from 00:00 to 24:00")
    return int(m.group(1)) * 60 + int(m.group(2))


def parse_working_hours(value: str) -> tuple[tuple[int, int, int], ...]:
    """'Mon-Fri 09:00-18:00, Sat 10:00-14:00' as (weekday, start minute, end minute) entries; '' = always open."""
    if not value:
        return ()
    entries = []
    for part in value.split(","):
        m = re.fullmatch(r"\s*([A-Za-z]{3})(?:\s*-\s*([A-Za-z]{3}))?\s+(\S+?)\s*-\s*(\S+)\s*", part)
        if not m:
            raise ConfigError(f"WORKING_HOURS entry {part.strip()!r} is not like 'Mon-Fri 09:00-18:00'")
        first, last = m.group(1).lower(), (m.group(2) or m.group(1)).lower()
        for day in (first, last):
            if day not in DAY_NAMES:
                raise ConfigError(f"WORKING_HOURS has an unknown day {day!r}: use Mon Tue Wed Thu Fri Sat Sun")
        start, end = _hhmm(m.group(3), False), _hhmm(m.group(4), True)
        if start >= end:
            raise ConfigError(f"WORKING_HOURS entry {part.strip()!r} ends before it starts")
        a, b = DAY_NAMES.index(first), DAY_NAMES.index(last)
        days = range(a, b + 1) if a <= b else [*range(a, 7), *range(0, b + 1)]
        entries += [(day, start, end) for day in days]
    return tuple(sorted(entries))


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
    send_rate = _whole("SEND_RATE", get("SEND_RATE", str(int(Settings.send_rate))), 1, 1000)
    backup_dir = env.get("BACKUP_DIR", "").strip()
    backup_keep = _whole("BACKUP_KEEP", get("BACKUP_KEEP", str(Settings.backup_keep)), 1, 1000)
    max_chats = _whole("MAX_CHATS_PER_AGENT", get("MAX_CHATS_PER_AGENT", "1"), 1, 20)
    admin_ids = _id_list("ADMIN_IDS", env.get("ADMIN_IDS", ""))
    queue_alert = _whole("QUEUE_ALERT_SECONDS", get("QUEUE_ALERT_SECONDS", "600"), 0, 7 * 24 * 3600)
    timezone = get("TIMEZONE", "UTC")
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(f"TIMEZONE is not a known time zone: {timezone!r} (use an IANA name such as "
                          "Europe/Moscow)") from None
    working_hours = parse_working_hours(env.get("WORKING_HOURS", "").strip())
    rating = _switch("RATING", get("RATING", "on"))
    protect = _switch("PROTECT_CONTENT", get("PROTECT_CONTENT", "false"))
    return_hours = _whole("RETURN_TO_AGENT_HOURS", get("RETURN_TO_AGENT_HOURS", "24"), 0, 24 * 365)
    return Settings(bot_token=bot_token, support_token=support_token,
                    backup_dir=backup_dir, backup_keep=backup_keep,
                    database_path=get("DATABASE_PATH", Settings.database_path), api_url=api_url,
                    online_window=int(window), default_language=language, log_level=level,
                    send_rate=float(send_rate), max_chats_per_agent=max_chats, admin_ids=admin_ids,
                    queue_alert_seconds=queue_alert, timezone=timezone, working_hours=working_hours,
                    rating=rating, protect_content=protect, return_to_agent_hours=return_hours)


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
    library = logging.getLogger("TeleBot")   # pyTelegramBotAPI's logger installs its own, unredacted handler
    library.handlers.clear()
    library.propagate = True
    library.setLevel(settings.log_level)

    # Uncaught errors are logged, hence redacted, instead of printed raw by Python.
    def log_uncaught(exc_type: type, exc: BaseException, tb: Any) -> None:
        log.critical("uncaught error", exc_info=(exc_type, exc, tb))

    sys.excepthook = log_uncaught
    threading.excepthook = lambda args: log_uncaught(args.exc_type, args.exc_value, args.exc_traceback)
