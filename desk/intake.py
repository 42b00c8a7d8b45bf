"""The intake questionnaire: questions asked before a new dialog reaches an agent (INTAKE_FILE).

A new dialog with questions configured starts at dialogs.intake_step 0: it is not in the queue
yet, and every message the client sends is stored first (unrelayed, like any waiting message)
and then comes here. The step is in the database, so a restart goes on from the same question.

- An answer is a text; for a question with choices, a press of its button (a reply keyboard that
  sends the choice's text) or a typed text equal to a choice, ignoring case. It is kept in
  intake_answers, and its message is marked relayed: the card carries it, so the agent does not
  read it twice. An answer longer than ANSWER_SHOWN stays unrelayed: the card shows its start and
  the whole message follows the card.
- Anything else (a text that is not a choice, media) gets the question again with a short hint
  and stays unrelayed, so it reaches the agent after the card, in order, never dropped.
- An optional question is skipped with /skip or its Skip button (the press is not relayed).
- After the last question: intake_step NULL (queued from now), then routing.place gives the dialog
  to an agent or the queue. The agent gets the new-client notice, the card (card()), then the
  client's unrelayed messages in order. A dialog that waits is matched against the FAQ.
"""

from __future__ import annotations

import sqlite3

import db
import texts
from config import Question
from desk import Desk, bans, faq, messages, routing
from desk.data import Content, Person

ANSWER_SHOWN = 200       # characters of an answer the card shows; a longer one follows in full
QUESTION_SHOWN = 100     # characters of a question the card shows
FAQ_SHOWN = 3            # automatic answers the card lists (the rest are counted)
MESSAGE_LIMIT = 4096     # Telegram's limit for one text


def _fold(text: str) -> str:
    """A text as it is compared: whitespace folded, case ignored."""
    return " ".join(text.split()).casefold()


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit - 1].rstrip() + "…"


def _question(desk: Desk, step: int) -> Question | None:
    questions = desk.settings.intake_questions
    return questions[step] if 0 <= step < len(questions) else None


def _keyboard(question: Question, lang: str) -> dict:
    """The question's choices (and Skip) as a one-time reply keyboard; none for a plain text question."""
    rows: list[list[dict]] = []
    for choice in question.choices:
        label = choice.get(lang)
        # Short choices share a row (up to 3, about 30 characters); long ones get their own.
        if rows and len(rows[-1]) < 3 and sum(len(b["text"]) for b in rows[-1]) + len(label) <= 30:
            rows[-1].append({"text": label})
        else:
            rows.append([{"text": label}])
    if question.optional:
        rows.append([{"text": texts.t(lang, "intake_skip_button")}])
    if not rows:
        return {"remove_keyboard": True}     # a free answer: the previous question's buttons go
    return {"keyboard": rows, "resize_keyboard": True, "one_time_keyboard": True}


def _ask(desk: Desk, client: sqlite3.Row, step: int, prefix: str | None = None) -> None:
    """Send question `step` (after `prefix`, an introduction or a hint) with its buttons."""
    question = desk.settings.intake_questions[step]
    lang = desk.lang(client["language_code"])
    text = texts.t(lang, "intake_question", number=step + 1, total=len(desk.settings.intake_questions),
                   text=question.text.get(lang))
    if question.optional:
        text += "\n" + texts.t(lang, "intake_optional", skip=texts.t(lang, "intake_skip_button"))
    if prefix:
        text = prefix + "\n\n" + text
    desk.send_text(client["user_id"], text, reply_markup=_keyboard(question, lang))


def start(desk: Desk, client: sqlite3.Row, dialog: sqlite3.Row) -> bool:
    """Begin the questions for a new dialog; False when there are none to ask."""
    questions = desk.settings.intake_questions
    if not questions:
        return False
    db.set_intake_step(desk.conn, dialog["id"], 0, desk.now)
    lang = desk.lang(client["language_code"])
    _ask(desk, client, 0, prefix=texts.t(lang, "intake_intro", count=len(questions)))
    return True


def _stored_row(desk: Desk, dialog: sqlite3.Row, content: Content) -> sqlite3.Row | None:
    """The history row of the message just stored (clients.client_message stores it first)."""
    for row in reversed(db.unrelayed_messages(desk.conn, dialog["id"], "client")):
        if row["message_id"] == content.message_id:
            return row
    return None


def _later_album_part(desk: Desk, dialog: sqlite3.Row, content: Content) -> bool:
    """Whether this message is a second or later part of an album (asked again once per album)."""
    if content.media_group_id is None:
        return False
    parts = [r for r in db.unrelayed_messages(desk.conn, dialog["id"], "client")
             if r["media_group_id"] == content.media_group_id]
    return len(parts) > 1


def _record(desk: Desk, client: sqlite3.Row, dialog: sqlite3.Row, step: int, value: str | None) -> None:
    """Keep an answer (None: skipped), in the client's language as they were asked."""
    question = desk.settings.intake_questions[step]
    db.add_intake_answer(desk.conn, dialog["id"], step, question.key,
                         question.text.get(desk.lang(client["language_code"])), value, desk.now)


def _next(desk: Desk, client: sqlite3.Row, dialog: sqlite3.Row, step: int) -> None:
    """Ask the question after `step`, or finish."""
    if _question(desk, step + 1) is not None:
        db.set_intake_step(desk.conn, dialog["id"], step + 1, desk.now)
        _ask(desk, client, step + 1)
    else:
        _finish(desk, client, dialog)


def _finish(desk: Desk, client: sqlite3.Row, dialog: sqlite3.Row) -> None:
    """No questions left: the dialog goes to an agent or the queue, with everything the client sent."""
    db.set_intake_step(desk.conn, dialog["id"], None, desk.now)
    desk.say(client["user_id"], desk.lang(client["language_code"]), "intake_done",
             reply_markup={"remove_keyboard": True})
    dialog = db.get_dialog(desk.conn, dialog["id"])
    if dialog["status"] != "queued":
        messages.flush(desk, dialog, "client", force=True)     # placed already (a database from before)
        return
    placed = routing.place(desk, client, dialog)
    if placed["status"] == "queued":
        # What they wrote before and between the answers is matched now, as it would have been
        # had they been queued at once.
        for row in db.unrelayed_messages(desk.conn, placed["id"], "client"):
            if row["content_type"] == "text" and row["text"]:
                faq.auto_answer(desk, client, placed, Content(message_id=row["message_id"], text=row["text"]))


def answer(desk: Desk, client: sqlite3.Row, dialog: sqlite3.Row, content: Content) -> None:
    """The client wrote while a question is open (the message is stored already)."""
    step = dialog["intake_step"]
    question = _question(desk, step)
    if question is None or dialog["status"] != "queued":
        # INTAKE_FILE lost questions since, or an agent has the dialog already: nothing left to ask.
        _finish(desk, client, dialog)
        return
    lang = desk.lang(client["language_code"])
    if content.content_type != "text" or not content.text:
        if not _later_album_part(desk, dialog, content):
            _ask(desk, client, step, prefix=texts.t(lang, "intake_text_only"))
        return
    typed = _fold(content.text)
    row = _stored_row(desk, dialog, content)
    if question.optional and typed in {_fold(texts.t(code, "intake_skip_button")) for code in texts.LANGUAGES}:
        value = None
    elif question.choices:
        choice = next((c for c in question.choices if typed in {_fold(v) for v in c.all()}), None)
        if choice is None:
            _ask(desk, client, step, prefix=texts.t(lang, "intake_pick_choice"))
            return
        value = choice.get(lang)
    else:
        value = content.text.strip()
    _record(desk, client, dialog, step, value)
    if row is not None and (value is None or len(value) <= ANSWER_SHOWN):
        db.mark_relayed(desk.conn, [row["id"]], desk.now)     # the card carries it whole
    _next(desk, client, dialog, step)


def skip(desk: Desk, person: Person) -> None:
    """/skip: pass over the current question if it is optional."""
    lang = desk.lang(person.language_code)
    client = db.get_client(desk.conn, person.id)
    if client is not None and client["banned_at"] is not None:
        bans.keep_message(desk, client, None)            # told once that they are banned, nothing more
        return
    dialog = db.live_dialog_for_client(desk.conn, person.id) if client is not None else None
    if dialog is None or dialog["intake_step"] is None:
        desk.say(person.id, lang, "intake_nothing_to_skip")
        return
    step = dialog["intake_step"]
    question = _question(desk, step)
    if question is None or dialog["status"] != "queued":
        _finish(desk, client, dialog)
    elif not question.optional:
        _ask(desk, client, step, prefix=texts.t(lang, "intake_required"))
    else:
        _record(desk, client, dialog, step, None)
        _next(desk, client, dialog, step)


def remind(desk: Desk, client: sqlite3.Row, dialog: sqlite3.Row) -> None:
    """/start in the middle of the questions: ask the current one again."""
    if _question(desk, dialog["intake_step"]) is None or dialog["status"] != "queued":
        _finish(desk, client, dialog)
    else:
        _ask(desk, client, dialog["intake_step"])


def card(desk: Desk, client: sqlite3.Row, dialog: sqlite3.Row, lang: str) -> str | None:
    """The card for the agent: the client's name, the deep link, each question with its answer, and
    the automatic FAQ answers they got while waiting; None when there is none of these."""
    rows = [r for r in db.intake_answers(desk.conn, dialog["id"]) if not r["key"].startswith(faq.FAQ_KEY)]
    lines: list[str] = []
    if rows:
        lines.append(texts.t(lang, "intake_card", name=client["name"]))
        if dialog["context"]:
            lines.append(texts.t(lang, "context_line", context=dialog["context"]))
        asked = {q.key: q for q in desk.settings.intake_questions}
        for row in rows:
            # The question in the agent's language when the file still has it.
            question = asked[row["key"]].text.get(lang) if row["key"] in asked else row["question"]
            if row["answer"] is None:
                value = texts.t(lang, "intake_skipped")
            elif len(row["answer"]) > ANSWER_SHOWN:
                value = _clip(row["answer"], ANSWER_SHOWN) + " " + texts.t(lang, "intake_clipped")
            else:
                value = row["answer"]
            lines.append(f"• {_clip(question, QUESTION_SHOWN)}\n  {value}")
    automatic = faq.card_lines(desk, dialog["id"], lang)
    if automatic:
        if lines:
            lines.append("")
        lines += automatic[:1 + FAQ_SHOWN]
        if len(automatic) > 1 + FAQ_SHOWN:
            lines.append(texts.t(lang, "faq_card_more", count=len(automatic) - 1 - FAQ_SHOWN))
    if not lines:
        return None
    return _clip("\n".join(lines), MESSAGE_LIMIT)
