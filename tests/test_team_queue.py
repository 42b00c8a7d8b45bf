"""Issue 9, the queue: /queue, /take, /transfer, serving the queue whenever an agent gains room, alerts.

Independent tests of the team desk in-process (tests/inproc.py). The `team` desk allows three open
dialogs per agent and has one admin (id 900).
"""

from __future__ import annotations

import dataclasses
import io
import itertools
import json
from typing import Any

import pytest
from fake_telegram import media
from harness import SUPPORT_TOKEN
from inproc import Desk, People, User, settings
from teamkit import LIMIT, dialog_of, owner, relayed

import db
from desk import Desk as Rules
from desk import queue
from desk.history import write_history
from texts import RELAY_HEADER, t

SHOWN = 100_000


# --- Helpers ---------------------------------------------------------------------------------------


def notice(client: User, name: str) -> str:
    username = f", @{client.username}" if client.username else ""
    return t("en", "new_client", name=name, client_id=client.id, username=username, language="en")


def status(app: Desk, client: User) -> str | None:
    dialog = dialog_of(app, client)
    return dialog["status"] if dialog is not None else None


def open_count(app: Desk, agent: User) -> int:
    return app.query("SELECT open_dialogs FROM support_agents WHERE user_id = ?", agent.id)[0][0]


def fill(crew: People, agent: User, *names: str) -> list[User]:
    return [crew.client_in_dialog(agent, name=n) for n in names]


def waiting(crew: People, name: str, *messages: str) -> User:
    client = crew.client(name)
    for text in messages:
        client.send(text)
    client.clear()
    return client


def queue_order(app: Desk) -> list[int]:
    return [r["client_id"] for r in db.list_queue(app.conn)]


def state(app: Desk) -> list[tuple]:
    """Everything about dialogs and agents, to show that a refused command changed nothing."""
    dialogs = [tuple(r) for r in app.query("SELECT * FROM dialogs ORDER BY id")]
    agents = [tuple(r) for r in app.query("SELECT user_id, open_dialogs, focus_client_id, is_available"
                                          " FROM support_agents ORDER BY user_id")]
    history = app.query("SELECT COUNT(*) FROM chat_history")[0][0]
    return [dialogs, agents, history]


def deliver(app: Desk) -> None:
    for row in app.query("SELECT id, chat_id, payload FROM outbox ORDER BY id"):
        link = json.loads(row["payload"]).get("link")
        if link:
            db.link_message(app.conn, row["chat_id"], SHOWN + row["id"], link["source_chat_id"],
                            link.get("source_message_id"), link["dialog_id"], app.now)


def shown(app: Desk, user: User, text: str = "", method: str | None = None) -> int:
    """The id, in the user's chat, of the last message the bot showed there starting with `text`."""
    deliver(app)
    for row in reversed(app.query("SELECT id, method, payload FROM outbox WHERE chat_id = ? ORDER BY id", user.id)):
        payload = json.loads(row["payload"])
        if method is not None and row["method"] != method:
            continue
        if (payload.get("text") or payload.get("caption") or "").startswith(text):
            return SHOWN + row["id"]
    raise AssertionError(f"{text!r} was not shown to {user.id}")


def dora_of(app: Desk, agent: User) -> int:
    return app.query("SELECT d.client_id FROM dialogs AS d JOIN clients AS c ON c.user_id = d.client_id"
                     " WHERE d.agent_id = ? AND d.status = 'open' AND c.name = 'Dora'", agent.id)[0][0]


def history_text(app: Desk, client_id: int) -> str:
    out = io.BytesIO()
    write_history(app.conn, db.get_client(app.conn, client_id), "en", app.now, out)
    return out.getvalue().decode("utf-8")


def restart(app: Desk, **overrides: Any) -> Desk:
    """A new process over the same database with other settings; start-up runs as bot.main runs it."""
    new = Desk(app.conn, dataclasses.replace(app.settings, **overrides))
    new.now = app.now
    new.update_ids = itertools.count(10_000)           # Telegram's update ids go on, never restart
    new.message_ids = app.message_ids
    new.messages = app.messages
    with db.atomic(new.conn):
        new.dispatcher.start(new.now)
    return new


def alert(app: Desk, now: float | None = None, **overrides: Any) -> int:
    """Run the timed queue-alert job once, as the timers thread runs it."""
    config = dataclasses.replace(app.settings, **overrides) if overrides else app.settings
    with db.atomic(app.conn):
        return queue.alert_long_waits(Rules(app.conn, config, app.now if now is None else now))


# --- /queue ---------------------------------------------------------------------------------------


def test_queue_when_nobody_waits_says_so(team, crew):
    agent = crew.agent()
    agent.send("/queue")
    assert agent.texts() == [t("en", "queue_empty")]


def test_queue_lists_position_name_id_wait_and_first_words(team, crew):
    agent = crew.agent("Agatha")
    fill(crew, agent, "C1", "C2", "C3")
    wanda = waiting(crew, "Wanda", "first waiting " + "x" * 100, "a later message")
    team.tick(65)
    xena = waiting(crew, "Xena", "  Where\n\nis   my\torder?  ")
    team.tick(3600)
    yuri = waiting(crew, "Yuri", "y" * 60)
    zoe = waiting(crew, "Zoe", "z" * 61)
    agent.send("/queue")
    lines = [
        t("en", "queue_line", position=1, name="Wanda", client_id=wanda.id, waited="1:01:05",
          preview="first waiting " + "x" * 45 + "…"),
        t("en", "queue_line", position=2, name="Xena", client_id=xena.id, waited="1:00:00",
          preview="Where is my order?"),
        t("en", "queue_line", position=3, name="Yuri", client_id=yuri.id, waited="0:00:00", preview="y" * 60),
        t("en", "queue_line", position=4, name="Zoe", client_id=zoe.id, waited="0:00:00", preview="z" * 59 + "…"),
    ]
    assert agent.texts() == [t("en", "queue_title", count=4, lines="\n".join(lines))]
    previews = [line.split(": ", 1)[1] for line in lines]
    assert [len(p) for p in previews] == [60, 18, 60, 60]


def test_queue_is_open_to_admins_and_refused_to_clients(team, crew):
    agent = crew.agent("Agatha")
    agent.send("/available")
    wanda = waiting(crew, "Wanda", "hi")
    admin = team.user(900, "Ada")
    admin.send("/queue")
    assert admin.texts() == [t("en", "queue_title", count=1, lines=t(
        "en", "queue_line", position=1, name="Wanda", client_id=wanda.id, waited="0:00:00", preview="hi"))]
    client = crew.client("Carl")
    client.send("/queue")
    assert client.texts() == [t("en", "agent_only")]
    assert status(team, client) is None            # the command was not taken as a message


# --- /take ----------------------------------------------------------------------------------------


def test_take_without_id_takes_the_longest_waiting_with_their_messages_in_order(team, crew):
    agent = crew.agent("Agatha")
    fill(crew, agent, "C1", "C2")
    agent.send("/available")                                 # off: nobody is given automatically
    wanda = waiting(crew, "Wanda", "one", "two")
    team.tick(30)
    xena = waiting(crew, "Xena", "later")
    wanda.send(**media("photo", caption="three"))
    wanda.send(**media("sticker"))
    wanda.send("four")
    team.tick(150)
    agent.clear()
    agent.send("/take")
    assert owner(team, wanda) == agent.id and status(team, xena) == "queued"
    assert agent.texts() == [notice(wanda, "Wanda"), t("en", "waited", minutes=3),
                             relayed("Wanda", "one"), relayed("Wanda", "two"), relayed("Wanda", "three"),
                             RELAY_HEADER.format(name="Wanda"), "", relayed("Wanda", "four")]
    assert [c["method"] for c in agent.calls()][4:7] == ["copyMessage", "sendMessage", "copyMessage"]
    assert wanda.texts() == [t("en", "connected", agent="Agatha")]
    assert xena.texts() == []


def test_take_with_an_id_takes_that_client_out_of_turn(team, crew):
    agent = crew.agent("Agatha")
    agent.send("/available")
    wanda = waiting(crew, "Wanda", "first in line")
    xena = waiting(crew, "Xena", "second in line", "more")
    agent.clear()
    agent.send(f"/take {xena.id}")
    assert owner(team, xena) == agent.id
    assert agent.texts() == [notice(xena, "Xena"), t("en", "waited", minutes=1),
                             relayed("Xena", "second in line"), relayed("Xena", "more")]
    assert xena.texts() == [t("en", "connected", agent="Agatha")]
    assert queue_order(team) == [wanda.id] and wanda.texts() == []


def test_take_works_while_unavailable_and_availability_stays_off(team, crew):
    agent = crew.agent("Agatha")
    agent.send("/available")
    wanda = waiting(crew, "Wanda", "hi")
    agent.send(f"/take {wanda.id}")
    assert owner(team, wanda) == agent.id
    assert team.query("SELECT is_available FROM support_agents WHERE user_id = ?", agent.id)[0][0] == 0


def test_take_without_room_is_refused_and_nothing_changes(team, crew):
    agent = crew.agent("Agatha")
    fill(crew, agent, "C1", "C2", "C3")
    wanda = waiting(crew, "Wanda", "hi")
    before = state(team)
    for command in ("/take", f"/take {wanda.id}"):
        agent.send(command)
        assert agent.last() == t("en", "take_full", limit=LIMIT)
    assert state(team) == before and wanda.texts() == []


def test_take_with_an_empty_queue_says_nobody_waits(team, crew):
    agent = crew.agent("Agatha")
    agent.send("/take")
    assert agent.texts() == [t("en", "queue_empty")]


@pytest.mark.parametrize("arg", ["abc", "-1", "0", "1.5", "@wanda", "12345678901234567890"])
def test_take_with_a_malformed_id_explains_its_usage(team, crew, arg):
    agent = crew.agent("Agatha")
    agent.send("/available")
    waiting(crew, "Wanda", "hi")
    before = state(team)
    agent.send(f"/take {arg}")
    assert agent.last() == t("en", "take_usage")
    assert state(team) == before


def test_take_of_a_client_who_is_not_waiting_is_refused_and_nothing_changes(team, crew):
    a, b = crew.agent("Agatha"), crew.agent("Boris")
    mine = crew.client_in_dialog(a, name="Mine")
    theirs = crew.client_in_dialog(b, name="Theirs")
    a.send("/available")
    b.send("/available")
    wanda = waiting(crew, "Wanda", "hi")
    b.send(f"/take {wanda.id}")                        # Boris takes her a moment before Agatha tries
    assert owner(team, wanda) == b.id
    named = waiting(crew, "Nameless")                  # known, but never wrote: not in the queue
    for client in (wanda, theirs, mine, named):
        client.clear()
    before = state(team)
    a.clear()
    for client_id in (wanda.id, theirs.id, mine.id, named.id, 424242, b.id):
        a.send(f"/take {client_id}")
        assert a.last() == t("en", "take_not_waiting", client_id=client_id)
    assert state(team) == before
    assert wanda.texts() == theirs.texts() == mine.texts() == named.texts() == []
    assert len(a.texts()) == 6


def test_take_is_for_agents_only(team, crew):
    a = crew.agent("Agatha")
    a.send("/available")
    wanda = waiting(crew, "Wanda", "hi")
    admin = team.user(900, "Ada")
    client = crew.client("Carl")
    before = state(team)
    admin.send(f"/take {wanda.id}")
    client.send("/take")
    assert admin.texts() == [t("en", "agent_only")] and client.texts() == [t("en", "agent_only")]
    assert state(team) == before


# --- /transfer ------------------------------------------------------------------------------------


def test_transfer_by_id_hands_the_dialog_over_with_the_history(team, crew):
    a, b = crew.agent("Agatha"), crew.agent("Boris")
    carl = crew.client_in_dialog(a, name="Carl", first="hello")
    carl.send("my order is late")
    a.send("looking into it")
    a.send("/note refund likely")
    b.clear()
    carl.clear()
    a.clear()
    a.send(f"/transfer {b.id}")
    dialog = dialog_of(team, carl)
    assert (dialog["agent_id"], dialog["transferred_from"], dialog["status"]) == (b.id, a.id, "open")
    calls = b.calls()
    assert [c["method"] for c in calls] == ["sendMessage", "sendHistory"]
    assert calls[0]["text"] == t("en", "new_client_transfer", agent="Agatha", name="Carl", client_id=carl.id,
                                 username="", language="en")
    assert calls[0]["link"] == {"source_chat_id": carl.id, "source_message_id": None, "dialog_id": dialog["id"]}
    assert calls[1]["client_id"] == carl.id and calls[1]["lang"] == "en"
    history = history_text(team, carl.id)
    for line in ("hello", "my order is late", "looking into it", "refund likely"):
        assert line in history
    assert carl.texts() == [t("en", "connected", agent="Boris")]
    assert a.texts() == [t("en", "transfer_done", name="Carl", agent="Boris")]
    assert open_count(team, a) == 0 and open_count(team, b) == 1


def test_transfer_by_username_ignores_case_and_the_new_agent_can_reply_to_the_notice(team, crew):
    a, b = crew.agent("Agatha"), crew.agent("Boris", username="BorisTheAgent")
    carl = crew.client_in_dialog(a, name="Carl")
    crew.client_in_dialog(b, name="Dora")
    a.send("/transfer @boristheagent")
    assert owner(team, carl) == b.id
    card = shown(team, b, t("en", "new_client_transfer", agent="Agatha", name="Carl", client_id=carl.id,
                            username="", language="en"))
    b.send("Boris here", reply_to=card)               # Boris has two clients: the reply decides
    assert carl.texts()[-1] == "Boris here"
    b.send(f"/focus {dora_of(team, b)}")
    b.send("about your history", reply_to=shown(team, b, method="sendHistory"))   # the file is Carl's too
    assert carl.texts()[-1] == "about your history"


def test_transfer_to_an_unavailable_colleague_with_room_is_allowed(team, crew):
    a, b = crew.agent("Agatha"), crew.agent("Boris")
    carl = crew.client_in_dialog(a, name="Carl")
    b.send("/available")
    a.send(f"/transfer {b.id}")
    assert owner(team, carl) == b.id


def test_after_a_transfer_the_first_agents_messages_no_longer_reach_the_client(team, crew):
    a, b = crew.agent("Agatha"), crew.agent("Boris")
    carl = crew.client_in_dialog(a, name="Carl")
    carl.send("question")
    old = shown(team, a, relayed("Carl", "question"))
    a.send(f"/transfer {b.id}")
    carl.clear()
    a.clear()
    b.clear()
    a.send("plain")
    a.send("as a reply", reply_to=old)
    a.send(f"/reply {carl.id} one-off")
    a.send(f"/end_chat {carl.id}")
    a.send("/note about carl")
    assert carl.texts() == []
    assert a.texts() == [t("en", "agent_no_dialog", queue=0), t("en", "reply_closed", name="Carl"),
                         t("en", "not_your_client", client_id=carl.id),
                         t("en", "not_your_client", client_id=carl.id), t("en", "agent_no_dialog", queue=0)]
    assert owner(team, carl) == b.id
    assert team.query("SELECT COUNT(*) FROM chat_history WHERE agent_id = ?", a.id)[0][0] == 0
    carl.send("still there?")
    assert b.texts() == [relayed("Carl", "still there?")] and a.texts()[-1] != relayed("Carl", "still there?")


def test_transfer_with_a_remaining_client_sends_plain_messages_to_that_one(team, crew):
    a = crew.agent("Agatha")
    carl = crew.client_in_dialog(a, name="Carl")
    dora = crew.client_in_dialog(a, name="Dora")
    b = crew.agent("Boris")
    a.send(f"/focus {carl.id}")
    a.send(f"/transfer {b.id}")
    a.send("for the one left")
    assert dora.texts() == ["for the one left"]
    assert "for the one left" not in carl.texts()


def test_transfer_of_the_client_replied_to(team, crew):
    a = crew.agent("Agatha")
    carl = crew.client_in_dialog(a, name="Carl", first="carl here")
    dora = crew.client_in_dialog(a, name="Dora", first="dora here")
    b = crew.agent("Boris")
    a.send(f"/focus {carl.id}")
    a.send(f"/transfer {b.id}", reply_to=shown(team, a, relayed("Dora", "dora here")))
    assert owner(team, dora) == b.id and owner(team, carl) == a.id


def transfer_refused(team: Desk, a: User, command: str, answer: str) -> None:
    before = state(team)
    a.clear()
    a.send(command)
    assert a.texts() == [answer], command
    assert state(team) == before, command


def test_transfer_refusals_say_why_and_change_nothing(team, crew):
    a = crew.agent("Agatha", username="agatha")
    b = crew.agent("Boris", username="boris")
    gone = crew.agent("Gone", username="gone")
    admin = team.user(900, "Ada")
    admin.send(f"/remove_support {gone.id}")
    carl = crew.client_in_dialog(a, name="Carl")
    a.send("/available")
    fill(crew, b, "D1", "D2", "D3")
    outsider = crew.client("Olga", username="olga")
    refusals = [
        (f"/transfer {a.id}", t("en", "transfer_self")),
        ("/transfer @Agatha", t("en", "transfer_self")),
        ("/transfer 12345", t("en", "transfer_unknown", target="12345")),
        (f"/transfer {carl.id}", t("en", "transfer_unknown", target=str(carl.id))),
        ("/transfer @olga", t("en", "transfer_unknown", target="@olga")),
        ("/transfer @nobody", t("en", "transfer_unknown", target="@nobody")),
        (f"/transfer {gone.id}", t("en", "transfer_unknown", target=str(gone.id))),
        ("/transfer @gone", t("en", "transfer_unknown", target="@gone")),
        (f"/transfer {admin.id}", t("en", "transfer_unknown", target=str(admin.id))),
        ("/transfer 0", t("en", "transfer_unknown", target="0")),
        (f"/transfer {b.id}", t("en", "transfer_full", agent="Boris")),
        ("/transfer @boris", t("en", "transfer_full", agent="Boris")),
    ]
    for command, answer in refusals:
        transfer_refused(team, a, command, answer)
    for command in ("/transfer", "/transfer abc", "/transfer @", "/transfer -5", "/transfer 1.5",
                    f"/transfer {b.id} {a.id}", "/transfer @boris now"):
        transfer_refused(team, a, command, t("en", "transfer_usage"))
    assert owner(team, carl) == a.id and carl.texts() == [] and outsider.texts() == []


def test_transfer_with_no_dialog_or_with_several_and_no_focus_changes_nothing(team, crew):
    a, b = crew.agent("Agatha"), crew.agent("Boris")
    transfer_refused(team, a, f"/transfer {b.id}", t("en", "agent_no_dialog", queue=0))
    b.send("/available")
    carl = crew.client_in_dialog(a, name="Carl")
    dora = crew.client_in_dialog(a, name="Dora")
    before = state(team)
    sent = a.send(f"/transfer {b.id}")
    answer = a.calls("sendMessage")[-1]
    assert answer["text"].startswith(t("en", "which_client", clients="").rstrip())
    assert answer["reply_parameters"]["message_id"] == sent["message_id"]
    assert state(team) == before
    assert owner(team, carl) == owner(team, dora) == a.id


def test_transfer_is_for_agents_only(team, crew):
    a = crew.agent("Agatha")
    crew.client_in_dialog(a, name="Carl")
    admin = team.user(900, "Ada")
    before = state(team)
    admin.send(f"/transfer {a.id}")
    assert admin.texts() == [t("en", "agent_only")] and state(team) == before


# --- The queue is served whenever an agent gains room ----------------------------------------------


def test_ending_a_dialog_serves_the_queue(team, crew):
    agent = crew.agent("Agatha")
    c1, _, _ = fill(crew, agent, "C1", "C2", "C3")
    wanda = waiting(crew, "Wanda", "w1", "w2")
    xena = waiting(crew, "Xena", "x1")
    team.tick(120)
    agent.send(f"/end_chat {c1.id}")
    assert owner(team, wanda) == agent.id and status(team, xena) == "queued"
    assert agent.texts() == [t("en", "end_done", name="C1"), notice(wanda, "Wanda"), t("en", "waited", minutes=2),
                             relayed("Wanda", "w1"), relayed("Wanda", "w2")]
    assert wanda.texts() == [t("en", "connected", agent="Agatha")]
    assert xena.texts() == []


def test_available_on_serves_the_queue_up_to_the_limit_in_order(team, crew):
    agent = crew.agent("Agatha")
    agent.send("/available")
    clients = [waiting(crew, f"W{i}", f"from w{i}") for i in range(4)]
    agent.clear()
    agent.send("/available")
    assert [owner(team, c) for c in clients] == [agent.id] * 3 + [None]
    shown_texts = agent.texts()
    assert shown_texts[0] == t("en", "available_on")
    assert [s for s in shown_texts if s.startswith(RELAY_HEADER.format(name=""))] == [
        relayed(f"W{i}", f"from w{i}") for i in range(3)]
    assert queue_order(team) == [clients[3].id]


def test_registration_serves_the_queue(team, crew):
    first = crew.agent("Agatha")
    fill(crew, first, "C1", "C2", "C3")
    w = [waiting(crew, f"W{i}", f"hi {i}") for i in range(2)]
    boris = team.user(77, "Boris")
    boris.send(f"/register_support {SUPPORT_TOKEN}")
    assert [owner(team, c) for c in w] == [boris.id, boris.id]
    assert [text for text in boris.texts() if text.startswith(RELAY_HEADER.format(name=""))] == [
        relayed("W0", "hi 0"), relayed("W1", "hi 1")]


def test_a_transfer_away_serves_the_queue(team, crew):
    a, b = crew.agent("Agatha"), crew.agent("Boris")
    b.send("/available")                                  # Boris takes no one automatically
    c1, _, _ = fill(crew, a, "C1", "C2", "C3")
    wanda = waiting(crew, "Wanda", "hi")
    a.send(f"/transfer {b.id}", reply_to=shown(team, a, notice(c1, "C1")))
    assert owner(team, c1) == b.id
    assert owner(team, wanda) == a.id                       # Agatha had room again at once
    assert open_count(team, a) == 3 and open_count(team, b) == 1


def test_a_ban_frees_room_and_serves_the_queue(team, crew):
    agent = crew.agent("Agatha")
    c1, _, _ = fill(crew, agent, "C1", "C2", "C3")
    wanda = waiting(crew, "Wanda", "hi")
    agent.send(f"/ban {c1.id}")
    assert owner(team, wanda) == agent.id


def test_a_limit_raised_at_restart_serves_the_queue(team, crew):
    agent = crew.agent("Agatha")
    fill(crew, agent, "C1", "C2", "C3")
    w = [waiting(crew, f"W{i}", f"hi {i}") for i in range(3)]
    team.tick(60)
    mark = team.last_call_id()
    bigger = restart(team, max_chats_per_agent=5)
    assert [owner(bigger, c) for c in w] == [agent.id, agent.id, None]
    assert team.query("SELECT max_chats_per_agent FROM desk_limits")[0][0] == 5
    again = bigger.user(agent.id, "Agatha")
    bigger.seen[agent.id] = mark
    assert [text for text in again.texts() if text.startswith(RELAY_HEADER.format(name=""))] == [
        relayed("W0", "hi 0"), relayed("W1", "hi 1")]
    assert queue_order(bigger) == [w[2].id]


def test_a_limit_raised_at_restart_shares_the_queue_between_agents_in_turn(team, crew):
    one = restart(team, max_chats_per_agent=1)
    people = People(one)
    a, b = people.agent("Agatha"), people.agent("Boris")
    people.client_in_dialog(a, name="C1")
    people.client_in_dialog(b, name="C2")
    w = []
    for i in range(4):
        client = people.client(f"W{i}")
        client.send("hi")
        w.append(client)
    assert [owner(one, c) for c in w] == [None] * 4
    bigger = restart(one, max_chats_per_agent=3)
    assert [owner(bigger, c) for c in w] == [a.id, b.id, a.id, b.id]


def test_the_schema_follows_a_limit_lowered_at_restart(team, crew):
    agent = crew.agent("Agatha")
    fill(crew, agent, "C1", "C2", "C3")
    smaller = restart(team, max_chats_per_agent=1)
    assert open_count(smaller, agent) == 3                 # nobody is dropped
    late = People(smaller).client("Late")
    late.send("hi")
    assert status(smaller, late) == "queued"
    with pytest.raises(Exception, match="no room"):
        with db.atomic(smaller.conn):
            db.assign_client(smaller.conn, late.id, agent.id, smaller.now)


# --- Queue alerts ---------------------------------------------------------------------------------


def test_a_long_wait_alerts_each_admin_once_per_waiting_period(team, crew):
    admin = team.user(900, "Ada")
    agent = crew.agent("Agatha")
    agent.send("/available")
    agent.clear()
    wanda = waiting(crew, "Wanda", "help")
    limit = team.settings.queue_alert_seconds
    assert limit == 600
    assert alert(team, team.now + limit) == 0               # not longer than the limit yet
    assert admin.texts() == []
    assert alert(team, team.now + limit + 1) == 1
    assert admin.texts() == [t("en", "queue_alert", name="Wanda", client_id=wanda.id, waited="0:10:01")]
    assert agent.texts() == [] and wanda.texts() == []
    assert alert(team, team.now + 5 * limit) == 0           # once per waiting period
    assert len(admin.texts()) == 1
    # Served, closed, and queued again: a new waiting period, a new alert.
    team.tick(5 * limit)
    agent.send(f"/take {wanda.id}")
    agent.send(f"/end_chat {wanda.id}")
    wanda.send("me again")
    assert status(team, wanda) == "queued"
    assert alert(team, team.now + limit + 30) == 1
    assert admin.texts()[-1] == t("en", "queue_alert", name="Wanda", client_id=wanda.id, waited="0:10:30")


def test_each_long_waiting_client_gets_an_alert(team, crew):
    admin = team.user(900, "Ada")
    agent = crew.agent("Agatha")
    agent.send("/available")
    wanda = waiting(crew, "Wanda", "help")
    team.tick(100)
    xena = waiting(crew, "Xena", "help too")
    team.tick(100)
    yuri = waiting(crew, "Yuri", "me three")
    assert alert(team, team.now + 550) == 2
    assert admin.texts() == [t("en", "queue_alert", name="Wanda", client_id=wanda.id, waited="0:12:30"),
                             t("en", "queue_alert", name="Xena", client_id=xena.id, waited="0:10:50")]
    assert alert(team, team.now + 601) == 1
    assert admin.texts()[-1] == t("en", "queue_alert", name="Yuri", client_id=yuri.id, waited="0:10:01")


def test_without_admins_every_available_agent_is_alerted(conn, tmp_path):
    app = Desk(conn, settings(str(tmp_path / "unit.db"), max_chats_per_agent=LIMIT))
    crew = People(app)
    a = crew.agent("Agatha")
    fill(crew, a, "A1", "A2", "A3")                      # available but full: still alerted
    b = crew.agent("Boris", language_code="ru")
    fill(crew, b, "B1", "B2", "B3")
    c = crew.agent("Cyril")
    c.send("/available")
    away = crew.agent("Away")
    away.send("/available")
    wanda = waiting(crew, "Wanda", "help")
    for agent in (a, b, c, away):
        agent.clear()
    assert alert(app, app.now + 601) == 1
    assert a.texts() == [t("en", "queue_alert", name="Wanda", client_id=wanda.id, waited="0:10:01")]
    assert b.texts() == [t("ru", "queue_alert", name="Wanda", client_id=wanda.id, waited="0:10:01")]
    assert c.texts() == [] and away.texts() == []
    assert alert(app, app.now + 1200) == 0


def test_queue_alerts_are_off_with_zero(team, crew):
    admin = team.user(900, "Ada")
    agent = crew.agent("Agatha")
    agent.send("/available")
    agent.clear()
    waiting(crew, "Wanda", "help")
    assert alert(team, team.now + 10 * 24 * 3600, queue_alert_seconds=0) == 0
    assert admin.texts() == [] and agent.texts() == []


def test_a_client_handed_back_by_a_removed_agent_starts_a_new_waiting_period(team, crew):
    admin = team.user(900, "Ada")
    a = crew.agent("Agatha")
    wanda = waiting(crew, "Wanda", "help")
    assert owner(team, wanda) == a.id
    team.tick(10_000)
    admin.send(f"/remove_support {a.id}")
    admin.clear()
    assert status(team, wanda) == "queued"
    assert alert(team, team.now + 599) == 0               # the wait counts from the hand-back
    assert alert(team, team.now + 601) == 1
    assert admin.texts() == [t("en", "queue_alert", name="Wanda", client_id=wanda.id, waited="0:10:01")]
