"""Edits kept in sync (desk/edits.py): the copy on the other side follows, the history keeps every version.

In-process tests check what the desk queues; the copy's id is resolved by delivery when it sends
(delivery.Sender._at_copy), tested here without a network, and end to end against the fake Bot API.
"""

from __future__ import annotations

import json
from concurrent.futures import Future
from typing import Any

import pytest
from fake_telegram import media
from inproc import START, command_entities

import db
import delivery
from desk import Desk as RulesDesk
from desk import messages
from desk.relay import utf16_len
from texts import RELAY_HEADER, t


def header(name: str = "Carl") -> str:
    return RELAY_HEADER.format(name=name)


def edit(app, user, message: dict[str, Any], **changes: Any) -> int:
    """Push the edited_message update Telegram sends when `user` edits `message`; returns its update id."""
    edited = {k: v for k, v in {**message, **changes}.items() if v is not None}
    if "text" in changes and "entities" not in changes:
        edited.pop("entities", None)
        if (changes["text"] or "").startswith("/"):
            edited["entities"] = command_entities(changes["text"])
    if "caption" in changes and "caption_entities" not in changes:
        edited.pop("caption_entities", None)
    edited["edit_date"] = int(app.now)
    return app.push({"edited_message": edited})


def outbox_after(app, last_id: int) -> list[dict[str, Any]]:
    """Every call queued after outbox id `last_id`, with its chat and method."""
    rows = app.query("SELECT chat_id, method, payload FROM outbox WHERE id > ? ORDER BY id", last_id)
    return [{"chat_id": r["chat_id"], "method": r["method"], **json.loads(r["payload"])} for r in rows]


def edits_of(app, chat_id: int, message_id: int) -> list[tuple[str | None, float]]:
    row = db.find_history_message(app.conn, chat_id, message_id)
    return [(e["text"], e["edited_at"]) for e in db.edits_of(app.conn, row["id"])]


def run_album_timer(app) -> None:
    """What bot.py's timer thread does every 0.25 s: relay the albums that are complete."""
    with db.atomic(app.conn):
        messages.flush_albums(RulesDesk(app.conn, app.settings, app.now))
    app.check_calls()


# --- Client to agent ---------------------------------------------------------------------------


def test_an_edited_client_text_edits_the_agents_copy_keeping_the_name(app, people):
    agent = people.agent()
    client = people.client_in_dialog(agent, name="Zoë 😀")
    bold = [{"type": "bold", "offset": 0, "length": 4}]
    sent = client.send("helo wrld", entities=bold)
    app.tick(30)
    before = app.last_call_id()
    edit(app, client, sent, text="😀 hello world", entities=[{"type": "italic", "offset": 3, "length": 5}])
    [call] = outbox_after(app, before)
    name = header("Zoë 😀")
    prefix = utf16_len(name + "\n")
    assert call["chat_id"] == agent.id and call["method"] == "editMessageText"
    assert call["text"] == name + "\n😀 hello world"
    # The name stays bold; the client's own formatting moves past it, counted in UTF-16 units.
    assert call["entities"] == [{"type": "bold", "offset": 0, "length": utf16_len(name)},
                                {"type": "italic", "offset": prefix + 3, "length": 5}]
    assert call["copy_of"] == {"chat_id": client.id, "message_id": sent["message_id"]}
    [fallback] = call["fallback"]
    mark = t("en", "edited_mark") + "\n"
    assert fallback["method"] == "sendMessage"
    assert fallback["payload"]["text"] == mark + "😀 hello world"
    assert fallback["payload"]["entities"] == [{"type": "italic", "offset": utf16_len(mark) + 3, "length": 5}]
    assert fallback["payload"]["copy_of"] == call["copy_of"]
    # The history keeps the original and the edit.
    assert app.query("SELECT text FROM chat_history WHERE message_id = ? AND client_id = ?",
                     sent["message_id"], client.id)[0][0] == "helo wrld"
    assert edits_of(app, client.id, sent["message_id"]) == [("😀 hello world", START + 30)]


def test_an_edited_caption_edits_the_copys_caption_and_a_removed_caption_leaves_the_name(app, people):
    agent = people.agent()
    client = people.client_in_dialog(agent)
    sent = client.send(**media("photo", caption="old caption"))
    before = app.last_call_id()
    edited = {**sent, "caption": "new caption"}
    edit(app, client, sent, caption="new caption")
    [call] = outbox_after(app, before)
    assert call["method"] == "editMessageCaption" and call["chat_id"] == agent.id
    assert call["caption"] == header() + "\nnew caption"
    before = app.last_call_id()
    edit(app, client, edited, caption=None)
    [call] = outbox_after(app, before)
    assert call["method"] == "editMessageCaption" and call["caption"] == header()
    assert [f["payload"]["text"] for f in call["fallback"]] == [t("en", "edited_mark")]
    assert [e[0] for e in edits_of(app, client.id, sent["message_id"])] == ["new caption", None]


def test_a_long_text_relayed_without_the_name_on_it_is_edited_without_it(app, people):
    agent = people.agent()
    client = people.client_in_dialog(agent)
    long_text = "x" * 4095                          # no room for the name: a header, then the copy
    sent = client.send(long_text)
    assert [c["method"] for c in agent.calls()][-2:] == ["sendMessage", "copyMessage"]
    before = app.last_call_id()
    edit(app, client, sent, text="y" * 4095)
    [call] = outbox_after(app, before)
    assert call["method"] == "editMessageText" and call["text"] == "y" * 4095 and call["entities"] == []


def test_an_edit_with_no_room_for_the_name_goes_as_a_marked_reply_at_once(app, people):
    agent = people.agent()
    client = people.client_in_dialog(agent)
    sent = client.send("short")
    before = app.last_call_id()
    edit(app, client, sent, text="z" * 4096)       # the name no longer fits, nor does the mark
    calls = outbox_after(app, before)
    source = {"chat_id": client.id, "message_id": sent["message_id"]}
    assert [(c["method"], c["chat_id"], c["copy_of"]) for c in calls] == [
        ("sendMessage", agent.id, source), ("copyMessage", agent.id, source)]
    assert calls[0]["text"] == t("en", "edited_mark")
    assert (calls[1]["from_chat_id"], calls[1]["message_id"]) == (client.id, sent["message_id"])


def test_an_edit_of_an_album_part_edits_its_caption_without_a_name(app, people):
    agent = people.agent()
    client = people.client_in_dialog(agent)
    parts = [client.send(**media("photo", n, media_group_id="alb", **({"caption": "one"} if n == 1 else {})))
             for n in (1, 2)]
    app.tick(1)
    run_album_timer(app)
    before = app.last_call_id()
    edit(app, client, parts[0], caption="first")
    [call] = outbox_after(app, before)
    assert call["method"] == "editMessageCaption" and call["caption"] == "first"
    assert call["copy_of"] == {"chat_id": client.id, "message_id": parts[0]["message_id"]}


# --- Agent to client ---------------------------------------------------------------------------


def test_an_edited_agent_message_edits_the_clients_copy_in_the_clients_language(app, people):
    agent = people.agent()
    client = people.client("Ivan", language_code="ru")
    client.send("привет")
    client.clear()
    sent = agent.send("Добрый день, чем помчь?")
    before = app.last_call_id()
    edit(app, agent, sent, text="Добрый день, чем помочь?")
    [call] = outbox_after(app, before)
    assert call["chat_id"] == client.id and call["method"] == "editMessageText"
    assert call["text"] == "Добрый день, чем помочь?" and call["entities"] == []
    assert call["fallback"][0]["payload"]["text"] == t("ru", "edited_mark") + "\nДобрый день, чем помочь?"


def test_an_edit_goes_to_the_chat_holding_the_copy_even_after_a_transfer(app, people):
    first, second = people.agent("Agatha"), people.agent("Boris")
    client = people.client_in_dialog(first)
    sent = client.send("my order is 123")
    db.link_message(app.conn, first.id, 700, client.id, sent["message_id"],
                    app.query("SELECT id FROM dialogs WHERE client_id = ?", client.id)[0][0], app.now)
    first.send(f"/transfer {second.id}")
    before = app.last_call_id()
    edit(app, client, sent, text="my order is 124")
    assert [(c["chat_id"], c["method"]) for c in outbox_after(app, before)] == [(first.id, "editMessageText")]


# --- Not yet relayed ---------------------------------------------------------------------------


def test_a_message_edited_while_waiting_in_the_queue_reaches_the_agent_edited(app, people):
    client = people.client()
    sent = client.send("I wnat a refund")
    before = app.last_call_id()
    edit(app, client, sent, text="I want a refund")
    assert outbox_after(app, before) == []            # no agent yet, no copy yet: nothing to edit
    agent = people.agent()                            # the queue is served as the agent registers
    relays = [c["text"] for c in outbox_after(app, before) if c["chat_id"] == agent.id and "text" in c]
    assert header() + "\nI want a refund" in relays
    assert header() + "\nI wnat a refund" not in relays
    assert edits_of(app, client.id, sent["message_id"])[0][0] == "I want a refund"


def test_an_album_part_edited_before_the_album_went_is_copied_as_it_is_now(app, people):
    agent = people.agent()
    client = people.client_in_dialog(agent)
    part = client.send(**media("photo", 1, media_group_id="g", caption="draft"))
    client.send(**media("photo", 2, media_group_id="g"))
    before = app.last_call_id()
    edit(app, client, part, caption="final")
    assert outbox_after(app, before) == []
    app.tick(1)
    run_album_timer(app)
    # copyMessages copies what the messages are when it is sent: the edited caption.
    assert [c["method"] for c in outbox_after(app, before)] == ["sendMessage", "copyMessages"]


# --- What changes nothing ----------------------------------------------------------------------


def test_edits_of_messages_never_relayed_change_nothing_and_break_nothing(app, people):
    agent = people.agent()
    client = app.user(150, "Carl")
    start = client.send("/start")
    name = client.send("Carl")
    client.send("hello")
    note = agent.send("/note likes tea")
    reply = agent.send(f"/reply {client.id} hi there")
    before = app.last_call_id()
    edit(app, client, start, text="/start again")          # a command
    edit(app, client, name, text="Carlos")                 # the name
    edit(app, agent, note, text="/note likes coffee")      # a note
    edit(app, agent, reply, text=f"/reply {client.id} hello there")   # a command that sent a text
    edit(app, client, {**name, "message_id": 9999}, text="never sent")   # unknown to the desk
    stranger = app.user(555, "Stranger")
    edit(app, stranger, {"message_id": 1, "date": 0, "chat": stranger.chat(), "from": stranger.as_user(),
                         "text": "x"}, text="y")
    # app.push checked that no update failed; nothing was said, nothing stored.
    assert outbox_after(app, before) == []
    assert app.query("SELECT COUNT(*) FROM message_edits")[0][0] == 0
    assert app.query("SELECT name FROM clients WHERE user_id = ?", client.id)[0][0] == "Carl"


def test_edits_that_change_no_text_or_come_from_groups_change_nothing(app, people):
    agent = people.agent()
    client = people.client_in_dialog(agent)
    photo = client.send(**media("photo", caption="same"))
    location = client.send(**media("location"))
    sticker = client.send(**media("sticker"))
    text = client.send("hello")
    before = app.last_call_id()
    edit(app, client, photo, photo=[{"file_id": "other", "file_unique_id": "o", "width": 9, "height": 9}])
    edit(app, client, location, location={"latitude": 1.0, "longitude": 2.0})    # a live location moving
    edit(app, client, sticker)
    edit(app, client, text, text="hello")                                        # not modified
    edit(app, client, text, text=None)                                           # a malformed edit: no text
    group = {"id": -100500, "type": "supergroup", "title": "Shop"}
    edit(app, client, {**text, "chat": group}, text="in a group")
    app.push({"edited_message": {"message_id": 1, "date": 0, "chat": group, "text": "no sender"}})
    app.push({"edited_channel_post": {"message_id": 1, "date": 0, "chat": {"id": -300, "type": "channel"},
                                      "text": "news"}})
    assert outbox_after(app, before) == []
    assert app.query("SELECT COUNT(*) FROM message_edits")[0][0] == 0


def test_a_banned_clients_edit_is_kept_and_sends_nothing(app, people):
    agent = people.agent()
    client = people.client_in_dialog(agent)
    agent.send(f"/ban {client.id}")
    assert app.query("SELECT banned_at FROM clients WHERE user_id = ?", client.id)[0][0] is not None
    sent = client.send("let me in")
    before = app.last_call_id()
    edit(app, client, sent, text="please let me in")
    assert outbox_after(app, before) == []
    assert [e[0] for e in edits_of(app, client.id, sent["message_id"])] == ["please let me in"]


def test_a_redelivered_edit_is_applied_once(app, people):
    agent = people.agent()
    client = people.client_in_dialog(agent)
    sent = client.send("helo")
    before = app.last_call_id()
    update = {"edited_message": {**sent, "text": "hello", "edit_date": int(app.now)}}
    app.push(update, update_id=4242)
    app.push(update, update_id=4242)
    assert len(outbox_after(app, before)) == 1
    assert len(edits_of(app, client.id, sent["message_id"])) == 1


# --- The history file --------------------------------------------------------------------------


def test_the_history_file_shows_the_original_then_each_edit_with_its_time(app, people):
    agent = people.agent("Agatha")
    client = people.client_in_dialog(agent, first="hi")
    sent = client.send("my ordr")
    app.tick(65)
    edit(app, client, sent, text="my order")
    app.tick(86400)
    edit(app, client, {**sent, "text": "my order"}, text="my order 42")
    agent.send("/history")
    [call] = agent.calls("sendHistory")
    lines = [line for line in app.history_file(call).splitlines() if line.startswith(("[", "    "))]
    assert lines == [
        "[2027-01-15 08:00:00] Client Carl: hi",
        "[2027-01-15 08:00:00] Client Carl: my ordr",
        "    (edited 08:01:05) my order",
        "    (edited 2027-01-16 08:01:05) my order 42",
    ]


# --- Delivery: the copy is found when the edit is sent -----------------------------------------


class StubApi:
    """Answers calls as told, and remembers them."""

    def __init__(self, error: Exception | None = None) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.error = error

    def call(self, method: str, params: dict[str, Any]) -> Any:
        self.calls.append((method, params))
        if self.error is not None and method.startswith("edit"):
            raise self.error
        return {"message_id": 900 + len(self.calls)}


@pytest.fixture
def sender(conn, tmp_path):
    made = []

    def make(error: Exception | None = None) -> delivery.Sender:
        s = delivery.Sender(StubApi(error), str(tmp_path / "unit.db"), lambda *_: None)
        made.append(s)
        return s
    yield make
    for s in made:
        s.stop(1)


def queued(conn, chat_id: int, method: str, payload: dict[str, Any]):
    call_id = db.enqueue_call(conn, chat_id, method, payload, 0.0)
    return conn.execute("SELECT * FROM outbox WHERE id = ?", (call_id,)).fetchone()


def dialog(conn) -> int:
    db.add_client(conn, 10, "Carl", None, "en", 0)
    db.register_agent(conn, 1, "Agatha", None, "en", 0)
    return db.assign_client(conn, 10, 1, 0)


def test_delivery_aims_an_edit_at_the_copy_not_at_the_name_before_it(conn, sender):
    d = dialog(conn)
    db.link_message(conn, 1, 50, 10, 7, d, 1.0)      # the name header, linked to the same message
    db.link_message(conn, 1, 51, 10, 7, d, 1.0)      # the copy
    s = sender()
    call = queued(conn, 1, "editMessageCaption", {"caption": "new", "copy_of": {"chat_id": 10, "message_id": 7},
                                                  "fallback": []})
    s._perform(call)
    assert s.api.calls == [("editMessageCaption", {"caption": "new", "chat_id": 1, "message_id": 51})]


def test_delivery_skips_an_edit_of_a_message_never_copied(conn, sender):
    dialog(conn)
    s = sender()
    call = queued(conn, 1, "editMessageText", {"text": "new", "copy_of": {"chat_id": 10, "message_id": 7}})
    assert s._perform(call) is None and s.api.calls == []


def test_message_not_modified_is_success(conn, sender):
    d = dialog(conn)
    db.link_message(conn, 1, 51, 10, 7, d, 1.0)
    s = sender(delivery.TelegramError("editMessageText", 400, "Bad Request: message is not modified: same"))
    call = queued(conn, 1, "editMessageText", {"text": "new", "copy_of": {"chat_id": 10, "message_id": 7}})
    assert s._perform(call) is True


def test_a_refused_edit_queues_its_fallback_which_replies_to_the_copy(conn, sender):
    d = dialog(conn)
    db.link_message(conn, 1, 51, 10, 7, d, 1.0)
    s = sender(delivery.TelegramError("editMessageText", 400, "Bad Request: message can't be edited"))
    source = {"chat_id": 10, "message_id": 7}
    fallback = {"method": "sendMessage", "payload": {"text": "✏️ edited:\nnew", "copy_of": source}}
    call = queued(conn, 1, "editMessageText", {"text": "new", "copy_of": source, "fallback": [fallback]})
    future: Future = Future()
    try:
        future.set_result(s._perform(call))
    except delivery.TelegramError as exc:
        future.set_exception(exc)
    with db.atomic(conn):
        assert s._record(conn, call, future, 5.0) is False          # it queued a call
    assert conn.execute("SELECT status FROM outbox WHERE id = ?", (call["id"],)).fetchone()[0] == "failed"
    head = db.outbox_head(conn, 1)
    assert (head["method"], json.loads(head["payload"])) == ("sendMessage", fallback["payload"])
    s._perform(head)
    assert s.api.calls[-1] == ("sendMessage", {"text": "✏️ edited:\nnew", "chat_id": 1,
                                               "reply_parameters": {"message_id": 51,
                                                                    "allow_sending_without_reply": True}})


def test_an_album_copied_with_a_part_missing_is_linked_to_its_dialog_only(conn):
    d = dialog(conn)
    link = {"source_chat_id": 10, "source_message_ids": [3, 4, 5], "dialog_id": d}
    call = queued(conn, 1, "copyMessages", {"from_chat_id": 10, "message_ids": [3, 4, 5], "link": link})
    delivery.Sender._link_copy(conn, call, [{"message_id": 60}, {"message_id": 61}], 1.0)
    rows = conn.execute("SELECT message_id, source_message_id, dialog_id FROM message_links ORDER BY 1").fetchall()
    assert [tuple(r) for r in rows] == [(60, None, d), (61, None, d)]
    call = queued(conn, 1, "copyMessages", {"from_chat_id": 10, "message_ids": [6, 7], "link": {**link,
                                            "source_message_ids": [6, 7]}})
    delivery.Sender._link_copy(conn, call, [{"message_id": 62}, {"message_id": 63}], 1.0)
    assert db.copy_in_chat(conn, 1, 10, 7) == 63


# --- End to end --------------------------------------------------------------------------------


def test_end_to_end_an_edit_reaches_the_copy_both_ways(fake, desk, pair):
    agent, client = pair
    question = client.send("wher is my order?")
    answer = agent.send("It shiped today")
    desk.settle()
    client.edit(question, "where is my order?")
    agent.edit(answer, "It shipped today")
    fake.wait_for(lambda: len(fake.sent_calls("editMessageText")) >= 2, what="two edits")
    desk.settle()
    [copy] = [d for d in agent.inbox() if d.get("edits")]
    assert copy["text"] == header() + "\nwhere is my order?"
    assert copy["entities"][0] == {"type": "bold", "offset": 0, "length": utf16_len(header())}
    [copy] = [d for d in client.inbox() if d.get("edits")]
    assert copy["text"] == "It shipped today"


def test_end_to_end_a_refused_edit_arrives_as_a_marked_reply_to_the_copy(fake, desk, pair):
    agent, client = pair
    question = client.send("helo")
    desk.settle()
    copy = agent.inbox()[-1]
    fake.faults.refuse_edits = True
    client.edit(question, "hello")
    fake.wait_for(lambda: agent.inbox()[-1] is not copy, what="the fallback")
    desk.settle()
    reply = agent.inbox()[-1]
    assert reply["text"] == t("en", "edited_mark") + "\nhello"
    assert fake.sent_calls("sendMessage")[-1]["reply_parameters"] == json.dumps(
        {"message_id": copy["sent_message_id"], "allow_sending_without_reply": True})
    assert not copy.get("edits")


def test_the_history_file_names_the_deep_link_a_dialog_came_from(app, people):
    agent = people.agent("Agatha")
    client = app.user(150, "Carl")
    client.send("/start promo_spring")
    client.send("Carl")
    client.send("hi")
    agent.send("/history")
    [call] = agent.calls("sendHistory")
    lines = app.history_file(call).splitlines()
    dialog = lines.index(t("en", "history_dialog", dialog_id=app.query("SELECT id FROM dialogs")[0][0]))
    assert lines[dialog + 1] == t("en", "context_line", context="promo_spring")
