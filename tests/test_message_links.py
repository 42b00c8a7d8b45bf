"""The record of relayed copies (message_links): which message in which chat is the desk's copy of what.

The desk runs in-process (tests/inproc.py) and its outbox is drained by the real delivery.Sender
against the fake Bot API: no bot process, but real HTTP and the message ids Telegram (the fake)
gives the copies. The record must be written with the call's "sent" mark, map every copy back to
its source and dialog, and still be there after the database is closed and opened again.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fake_telegram import FakeTelegram, media
from harness import BOT_TOKEN
from inproc import Desk, People, settings

import db
import delivery
from desk import Desk as Rules
from desk import messages
from texts import RELAY_HEADER, t


@pytest.fixture
def fake() -> Iterator[FakeTelegram]:
    with FakeTelegram(BOT_TOKEN) as server:
        yield server


@pytest.fixture
def two_chats(tmp_path: Path) -> Iterator[Desk]:
    """An in-process desk whose agents may hold two dialogs, over a database file."""
    path = tmp_path / "links.db"
    conn = db.connect(path)
    db.init_db(conn)
    desk = Desk(conn, settings(str(path), max_chats_per_agent=2))
    yield desk
    desk.check_calls()
    desk.close()
    conn.close()


def deliver(app: Desk, fake: FakeTelegram) -> None:
    """Drain the desk's outbox through delivery.Sender into the fake, as the bot's sender would."""
    for message in app.messages.values():
        fake.know(message)                     # what the users sent exists on Telegram's side
    unreachable: list[int] = []
    # The sender's clock runs at real speed from the test clock's time, when the calls fell due.
    offset = app.now - time.time()
    sender = delivery.Sender(delivery.BotApi(fake.url, BOT_TOKEN), app.settings.database_path,
                             lambda _conn, chat_id, _reason: unreachable.append(chat_id),
                             delivery.RateLimiter(per_second=1000), clock=lambda: time.time() + offset)
    sender.start()
    sender.wake()
    deadline = time.time() + 15
    try:
        while db.count_pending_calls(app.conn):
            assert time.time() < deadline, "the sender did not drain the outbox"
            time.sleep(0.01)
    finally:
        sender.stop()
    failed = app.query("SELECT method, last_error FROM outbox WHERE status = 'failed'")
    assert not failed and not unreachable, [tuple(r) for r in failed]


def links(conn: sqlite3.Connection) -> dict[tuple[int, int], tuple]:
    """message_links as (chat, copy id) -> (source chat, source message, dialog)."""
    rows = conn.execute("SELECT chat_id, message_id, source_chat_id, source_message_id, dialog_id FROM message_links")
    return {(r[0], r[1]): (r[2], r[3], r[4]) for r in rows}


def delivered(fake: FakeTelegram, chat_id: int, text: str) -> int:
    """The id Telegram gave the one message delivered to a chat whose text or caption is `text`."""
    [record] = [d for d in fake.inbox(chat_id) if (d.get("text") or d.get("caption")) == text]
    return record["sent_message_id"]


def test_every_relayed_copy_is_recorded_with_its_source_and_dialog_and_survives_a_restart(
        two_chats, fake, tmp_path):
    app = two_chats
    people = People(app)
    agent = people.agent()
    carl = app.user(10, "Carl")
    carl.send("/start")
    carl.send("Carl")
    question = carl.send("where is my order?")
    photo = carl.send(**media("photo", caption="the box"))
    album = [carl.send(**media("photo", n, media_group_id="a-1")) for n in (2, 3)]
    app.tick(messages.ALBUM_WAIT + 1)                     # the album is complete: relay it whole
    with db.atomic(app.conn):
        messages.flush_albums(Rules(app.conn, app.settings, app.now))
    answer = agent.send("it ships today")
    dialog = app.query("SELECT id FROM dialogs WHERE client_id = 10")[0][0]
    assert not app.query("SELECT * FROM message_links")   # nothing is recorded before it is sent

    deliver(app, fake)

    header = RELAY_HEADER.format(name="Carl")
    notice = delivered(fake, agent.id, t("en", "new_client", name="Carl", client_id=10, username="",
                                         language="en"))
    text_copy = delivered(fake, agent.id, header + "\nwhere is my order?")
    photo_copy = delivered(fake, agent.id, header + "\nthe box")
    album_header = delivered(fake, agent.id, header)         # the name above the album
    album_copies = [d["sent_message_id"] for d in fake.inbox(agent.id) if d["method"] == "copyMessages"]
    [answer_copy] = [d["sent_message_id"] for d in fake.inbox(10) if d["method"] == "copyMessage"]
    expected = {
        (agent.id, notice): (10, None, dialog),                    # the new-client notice belongs to the dialog
        (agent.id, text_copy): (10, question["message_id"], dialog),
        (agent.id, photo_copy): (10, photo["message_id"], dialog),
        (agent.id, album_header): (10, album[0]["message_id"], dialog),
        **{(agent.id, copy): (10, part["message_id"], dialog) for copy, part in zip(album_copies, album, strict=True)},
        (10, answer_copy): (agent.id, answer["message_id"], dialog),
    }
    recorded = links(app.conn)
    assert {k: v for k, v in recorded.items() if k in expected} == expected
    # Only relays and what the desk wrote about a client carry a link; greetings and help do not.
    others = {k: v for k, v in recorded.items() if k not in expected}
    assert all(v[2] == dialog and v[0] == 10 and v[1] is None for v in others.values()), others
    assert [r["message_id"] for r in db.copies_of(app.conn, 10, photo["message_id"])] == [photo_copy]
    # Each link was written in the transaction that marked its call sent.
    unsent = app.query("SELECT id FROM outbox WHERE status <> 'sent' AND payload LIKE '%\"link\"%'")
    assert not unsent

    app.restart()                                          # close the database and open it again
    assert links(app.conn) == recorded
    reopened = db.connect(tmp_path / "links.db")
    assert links(reopened) == recorded
    reopened.close()


def test_after_a_restart_a_reply_to_a_copy_still_finds_its_client(two_chats, fake):
    app = two_chats
    people = People(app)
    agent = people.agent()
    carl = people.client_in_dialog(agent, name="Carl", first="about my order")
    dora = people.client_in_dialog(agent, name="Dora", first="about my refund")
    deliver(app, fake)
    carls_copy = delivered(fake, agent.id, RELAY_HEADER.format(name="Carl") + "\nabout my order")
    agent.send("/focus " + str(dora.id))                     # the focus is on Dora now

    app.restart()
    carl.clear()
    dora.clear()
    agent.send("your order ships today", reply_to=carls_copy)
    assert carl.texts() == ["your order ships today"] and dora.texts() == []
