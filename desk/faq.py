"""Answers from the FAQ (FAQ_FILE) for clients waiting in the queue, and /faq.

Matching: a message and each keyword are cut into words (letters and digits; case, punctuation
and ё/е ignored) and every word is stemmed with Snowball (Russian for Cyrillic words, English for
the rest), so "доставки" finds "доставка" and "orders" finds "order". A keyword matches when all
of its words' stems are among the message's; an entry matches when any of its keywords does.
When several entries match, the one whose matching keyword has the most words wins (the most
specific), then the first in the file.

A waiting client whose text matches gets the answer at once, marked as automatic, as a reply to
their message; they stay in the queue and their message still reaches the agent. Each entry is
given at most once per dialog. What was given is kept with the dialog in intake_answers (key
"faq:<entry index>", positions from FAQ_POSITION on, the entry's question and the client's
message), so the agent's card (intake.card) lists the automatic answers before the messages.

/faq lists the questions as inline buttons (callback_data "faq:<index>:<tag>", the tag a short
hash of the question, so a press on an old list after the file changed never shows the wrong
answer); a press answers the callback and sends that answer.
"""

from __future__ import annotations

import functools
import hashlib
import re
import sqlite3
import threading

import snowballstemmer

import db
import texts
from config import FaqEntry
from desk import Desk, bans
from desk.data import Content, Person

FAQ_POSITION = 1000        # intake_answers positions of automatic answers: after any intake question
FAQ_KEY = "faq:"           # their key prefix
MESSAGE_SHOWN = 80         # characters of the client's message kept with an automatic answer

_WORD = re.compile(r"[^\W_]+")
_CYRILLIC = re.compile(r"[а-я]")
_STEMMERS = {"russian": snowballstemmer.stemmer("russian"), "english": snowballstemmer.stemmer("english")}
_stem_lock = threading.Lock()       # a Snowball stemmer keeps state while it works


@functools.lru_cache(maxsize=20000)
def stem(word: str) -> str:
    """A lower-case word's stem: Russian Snowball for Cyrillic words, English for the rest."""
    algorithm = "russian" if _CYRILLIC.search(word) else "english"
    with _stem_lock:
        return _STEMMERS[algorithm].stemWord(word)


def stems(text: str) -> list[str]:
    """The stems of a text's words, in order; case, punctuation and ё/е do not matter."""
    return [stem(word) for word in _WORD.findall(text.casefold().replace("ё", "е"))]


@functools.lru_cache(maxsize=256)
def _keyword_stems(entry: FaqEntry) -> tuple[frozenset[str], ...]:
    return tuple(frozenset(stems(keyword)) for keyword in entry.keywords)


def match(faq: tuple[FaqEntry, ...], text: str) -> int | None:
    """The index of the FAQ entry a text asks about, or None."""
    words = set(stems(text))
    best: tuple[int, int] | None = None        # (words in the matching keyword, -index)
    for index, entry in enumerate(faq):
        sizes = [len(keyword) for keyword in _keyword_stems(entry) if keyword and keyword <= words]
        if sizes and (best is None or (max(sizes), -index) > best):
            best = (max(sizes), -index)
    return -best[1] if best is not None else None


def given(desk: Desk, dialog_id: int) -> list[sqlite3.Row]:
    """The automatic answers a dialog's client got, in order."""
    return [row for row in db.intake_answers(desk.conn, dialog_id) if row["key"].startswith(FAQ_KEY)]


def auto_answer(desk: Desk, client: sqlite3.Row, dialog: sqlite3.Row, content: Content) -> None:
    """A waiting client wrote: answer from the FAQ when a question matches (once per entry and dialog)."""
    if not desk.settings.faq or content.content_type != "text" or not content.text:
        return
    if dialog["status"] != "queued" or dialog["intake_step"] is not None:
        return                      # talking with an agent, or still answering the intake questions
    index = match(desk.settings.faq, content.text)
    if index is None:
        return
    earlier = given(desk, dialog["id"])
    if any(row["key"] == f"{FAQ_KEY}{index}" for row in earlier):
        return                      # they have this answer already; the agent will see the repeat
    entry = desk.settings.faq[index]
    lang = desk.lang(client["language_code"])
    question = entry.question.get(lang)
    db.add_intake_answer(desk.conn, dialog["id"], FAQ_POSITION + len(earlier), f"{FAQ_KEY}{index}", question,
                         _clip(content.text, MESSAGE_SHOWN), desk.now)
    desk.say(client["user_id"], lang, "faq_auto", reply_to=content.message_id, question=question,
             answer=entry.answer.get(lang))


def card_lines(desk: Desk, dialog_id: int, lang: str) -> list[str]:
    """For the agent's card: which automatic answers the client got, and to what ([] if none)."""
    rows = given(desk, dialog_id)
    if not rows:
        return []
    lines = [texts.t(lang, "faq_card")]
    for row in rows:
        entry = _entry(desk, row["key"][len(FAQ_KEY):])
        question = entry.question.get(lang) if entry is not None else row["question"]
        lines.append(texts.t(lang, "faq_card_line", question=question, message=row["answer"]))
    return lines


def _entry(desk: Desk, index: str) -> FaqEntry | None:
    if not index.isdigit() or len(index) > 4 or int(index) >= len(desk.settings.faq):
        return None
    return desk.settings.faq[int(index)]


def _clip(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit - 1] + "…"


def tag(entry: FaqEntry) -> str:
    """A short fingerprint of an entry's question, carried by its button."""
    return hashlib.sha256("\n".join(entry.question.all()).encode()).hexdigest()[:8]


def _banned(desk: Desk, person: Person) -> bool:
    """Whether a banned client asks: they are told once that they are banned, and answered nothing."""
    client = db.get_client(desk.conn, person.id)
    if client is None or client["banned_at"] is None:
        return False
    bans.keep_message(desk, client, None)
    return True


def show(desk: Desk, person: Person) -> None:
    """/faq: the questions as buttons, one a row."""
    lang = desk.lang(person.language_code)
    if _banned(desk, person):
        return
    if not desk.settings.faq:
        desk.say(person.id, lang, "faq_none")
        return
    rows = [[{"text": entry.question.get(lang), "callback_data": f"faq:{index}:{tag(entry)}"}]
            for index, entry in enumerate(desk.settings.faq)]
    desk.say(person.id, lang, "faq_list", reply_markup={"inline_keyboard": rows})


def press(desk: Desk, person: Person, callback_id: str, data: str) -> None:
    """A press of an FAQ button ("<index>:<tag>"): the spinner stops and its answer is sent."""
    lang = desk.lang(person.language_code)
    if _banned(desk, person):
        desk.call(person.id, "answerCallbackQuery", {"callback_query_id": callback_id})
        return
    index, _, fingerprint = data.partition(":")
    entry = _entry(desk, index)
    if fingerprint and (entry is None or tag(entry) != fingerprint):
        # The file changed since the list was sent: the question may have moved.
        entry = next((e for e in desk.settings.faq if tag(e) == fingerprint), None)
    if entry is None:
        # Forged, or a list from before the file changed: never the wrong answer.
        desk.call(person.id, "answerCallbackQuery", {"callback_query_id": callback_id,
                                                     "text": texts.t(lang, "faq_gone")})
        return
    desk.call(person.id, "answerCallbackQuery", {"callback_query_id": callback_id})
    desk.say(person.id, lang, "faq_answer", question=entry.question.get(lang), answer=entry.answer.get(lang))
