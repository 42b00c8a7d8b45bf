"""The desk's settings, read from the environment (and .env), and its logging with secrets masked.

Every setting is checked at start-up: a missing or malformed one raises ConfigError naming the
variable, and bot.py turns that into one line on stderr and exit status 2.
"""

from __future__ import annotations

import logging
import re
import sys
import threading
import tomllib
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import texts

log = logging.getLogger("desk")


class ConfigError(Exception):
    """A setting is missing or malformed; the message names the variable."""


@dataclass(frozen=True)
class Localized:
    """A text from a settings file: one for every language (code ""), or one per language."""

    variants: tuple[tuple[str, str], ...]

    def get(self, lang: str) -> str:
        """The text in `lang`; else the one for every language; else the first one given."""
        found = dict(self.variants)
        return found.get(lang) or found.get("") or self.variants[0][1]

    def all(self) -> tuple[str, ...]:
        """Every variant, in the order given."""
        return tuple(text for _, text in self.variants)


@dataclass(frozen=True)
class Question:
    """One question of the intake questionnaire (INTAKE_FILE)."""

    key: str
    text: Localized
    choices: tuple[Localized, ...] = ()     # offered as buttons; then only these are answers
    optional: bool = False                  # the client may /skip it


@dataclass(frozen=True)
class FaqEntry:
    """One question of the FAQ (FAQ_FILE), the keywords that find it, and its answer."""

    question: Localized
    keywords: tuple[str, ...]
    answer: Localized


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
    intake_questions: tuple[Question, ...] = ()    # INTAKE_FILE; () = no questions
    faq: tuple[FaqEntry, ...] = ()                 # FAQ_FILE; () = no FAQ


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


# Limits of the settings files: each keeps a message within Telegram's 4096 characters and a
# keyboard within what a phone shows.
MAX_QUESTIONS, QUESTION_TEXT_LIMIT, MAX_CHOICES, CHOICE_LIMIT = 10, 1000, 20, 64
MAX_FAQ, FAQ_QUESTION_LIMIT, FAQ_ANSWER_LIMIT, MAX_KEYWORDS, KEYWORD_LIMIT = 50, 120, 3500, 50, 100
INTAKE_KEY = re.compile(r"[A-Za-z0-9_-]{1,32}")


def _read_toml(name: str, path: str) -> dict[str, Any]:
    """A TOML file's tables, or ConfigError naming the variable, the file and the problem."""
    try:
        with open(path, "rb") as f:
            return tomllib.load(f)
    except FileNotFoundError:
        raise ConfigError(f"{name}: there is no file {path}") from None
    except IsADirectoryError:
        raise ConfigError(f"{name}: {path} is a folder, not a file") from None
    except OSError as exc:
        raise ConfigError(f"{name}: cannot read {path}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{name} ({path}): the file is not UTF-8 text") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{name} ({path}): not valid TOML: {exc}") from None


def _localized(where: str, value: Any, limit: int) -> Localized:
    """A text, or a table of texts per language ({ ru = "...", en = "..." }); ConfigError (`where` prefixes it)."""
    if isinstance(value, str):
        pairs = [("", value)]
    elif isinstance(value, dict) and value:
        pairs = list(value.items())
    else:
        raise ConfigError(f"{where} must be a text, or a table of texts per language like "
                          '{ ru = "...", en = "..." }')
    out = []
    for lang, text in pairs:
        label = f"{where} ({lang})" if lang else where
        if lang and lang not in texts.LANGUAGES:
            raise ConfigError(f"{where} has an unknown language {lang!r}: use {', '.join(texts.LANGUAGES)}")
        if not isinstance(text, str):
            raise ConfigError(f"{label} must be a text")
        text = text.strip()
        if not text:
            raise ConfigError(f"{label} is empty")
        if len(text) > limit:
            raise ConfigError(f"{label} is longer than {limit} characters")
        out.append((lang, text))
    return Localized(tuple(out))


def _entries(name: str, path: str, table: str, allowed: set[str], most: int) -> list[tuple[str, dict[str, Any]]]:
    """The [[table]] entries of a settings file, each with where it is ("question 2"), checked for unknown keys."""
    data = _read_toml(name, path)
    where = f"{name} ({path})"
    unknown = sorted(set(data) - {table})
    if unknown:
        raise ConfigError(f"{where}: unknown key {unknown[0]!r} (expected [[{table}]] tables)")
    entries = data.get(table)
    if not isinstance(entries, list) or not entries or not all(isinstance(e, dict) for e in entries):
        raise ConfigError(f"{where}: no [[{table}]] tables")
    if len(entries) > most:
        raise ConfigError(f"{where}: more than {most} [[{table}]] tables")
    out = []
    for number, entry in enumerate(entries, 1):
        label = f"{where}: {'question' if table == 'questions' else 'entry'} {number}"
        extra = sorted(set(entry) - allowed)
        if extra:
            raise ConfigError(f"{label} has an unknown key {extra[0]!r} (known: {', '.join(sorted(allowed))})")
        out.append((label, entry))
    return out


def load_intake(path: str, name: str = "INTAKE_FILE") -> tuple[Question, ...]:
    """The intake questions of a TOML file ('' = none); ConfigError naming the variable, the file and the problem."""
    if not path:
        return ()
    questions: list[Question] = []
    for label, entry in _entries(name, path, "questions", {"key", "text", "choices", "optional"}, MAX_QUESTIONS):
        key = entry.get("key")
        if not isinstance(key, str) or not INTAKE_KEY.fullmatch(key):
            raise ConfigError(f"{label}: key must be 1-32 characters of A-Z a-z 0-9 _ - (it names the answer)")
        label = f"{label} ({key})"
        if key in {q.key for q in questions}:
            raise ConfigError(f"{label}: the key is used twice")
        if "text" not in entry:
            raise ConfigError(f"{label}: text is missing")
        text = _localized(f"{label}: text", entry["text"], QUESTION_TEXT_LIMIT)
        raw_choices = entry.get("choices", [])
        if not isinstance(raw_choices, list) or ("choices" in entry and not raw_choices):
            raise ConfigError(f"{label}: choices must be a list of texts, for example [\"Yes\", \"No\"]")
        if len(raw_choices) > MAX_CHOICES:
            raise ConfigError(f"{label}: more than {MAX_CHOICES} choices")
        choices = tuple(_localized(f"{label}: choice {i}", c, CHOICE_LIMIT) for i, c in enumerate(raw_choices, 1))
        seen: set[str] = set()
        for choice in choices:
            for variant in choice.all():
                folded = " ".join(variant.split()).casefold()
                if folded in seen:
                    raise ConfigError(f"{label}: the choice {variant!r} is given twice")
                seen.add(folded)
        optional = entry.get("optional", False)
        if not isinstance(optional, bool):
            raise ConfigError(f"{label}: optional must be true or false")
        questions.append(Question(key, text, choices, optional))
    return tuple(questions)


def load_faq(path: str, name: str = "FAQ_FILE") -> tuple[FaqEntry, ...]:
    """The FAQ of a TOML file ('' = none); ConfigError naming the variable, the file and the problem."""
    if not path:
        return ()
    faq: list[FaqEntry] = []
    for label, entry in _entries(name, path, "faq", {"question", "keywords", "answer"}, MAX_FAQ):
        for needed in ("question", "keywords", "answer"):
            if needed not in entry:
                raise ConfigError(f"{label}: {needed} is missing")
        question = _localized(f"{label}: question", entry["question"], FAQ_QUESTION_LIMIT)
        answer = _localized(f"{label}: answer", entry["answer"], FAQ_ANSWER_LIMIT)
        keywords = entry["keywords"]
        if not isinstance(keywords, list) or not keywords or not all(isinstance(k, str) for k in keywords):
            raise ConfigError(f"{label}: keywords must be a list of texts, for example [\"delivery\", \"where order\"]")
        if len(keywords) > MAX_KEYWORDS:
            raise ConfigError(f"{label}: more than {MAX_KEYWORDS} keywords")
        for keyword in keywords:
            # A keyword matches by its words; one without a letter or digit would match nothing.
            if not re.search(r"[^\W_]", keyword) or len(keyword) > KEYWORD_LIMIT:
                raise ConfigError(f"{label}: the keyword {keyword!r} must have a word, up to {KEYWORD_LIMIT} characters")
        faq.append(FaqEntry(question, tuple(k.strip() for k in keywords), answer))
    return tuple(faq)


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
    intake_questions = load_intake(env.get("INTAKE_FILE", "").strip())
    faq = load_faq(env.get("FAQ_FILE", "").strip())
    return Settings(bot_token=bot_token, support_token=support_token,
                    backup_dir=backup_dir, backup_keep=backup_keep,
                    database_path=get("DATABASE_PATH", Settings.database_path), api_url=api_url,
                    online_window=int(window), default_language=language, log_level=level,
                    send_rate=float(send_rate), max_chats_per_agent=max_chats, admin_ids=admin_ids,
                    queue_alert_seconds=queue_alert, timezone=timezone, working_hours=working_hours,
                    rating=rating, protect_content=protect, return_to_agent_hours=return_hours,
                    intake_questions=intake_questions, faq=faq)


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
