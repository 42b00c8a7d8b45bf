"""Issue 9, routing: who gets a new client, and which client an agent's words reach.

Independent tests of the team desk in-process (tests/inproc.py). The `team` desk allows three open
dialogs per agent and has one admin (id 900). Replies are routed through message_links, which the
sender writes when a linked call is delivered; `deliver` records them the same way, giving each
message the bot showed in a chat the id SHOWN + its outbox id.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from fake_telegram import media
from inproc import Desk, People, User
from teamkit import LIMIT, dialog_of, owner, relayed

import db
from desk import clock
from texts import RELAY_HEADER, t

SHOWN = 100_000           # ids of the bot's messages in a chat, far from the users' own 1, 2, 3...


# --- Helpers ---------------------------------------------------------------------------------------


def deliver(app: Desk) -> None:
    """Record every linked call as the sender does once Telegram accepted it."""
    for row in app.query("SELECT id, chat_id, payload FROM outbox ORDER BY id"):
        link = json.loads(row["payload"]).get("link")
        if link:
            db.link_message(app.conn, row["chat_id"], SHOWN + row["id"], link["source_chat_id"],
                            link.get("source_message_id"), link["dialog_id"], app.now)


def shown(app: Desk, user: User, text: str | None = None, method: str | None = None) -> int:
    """The id, in the user's chat, of the last message the bot showed there starting with `text`."""
    deliver(app)
    for row in reversed(app.query("SELECT id, method, payload FROM outbox WHERE chat_id = ? ORDER BY id", user.id)):
        payload = json.loads(row["payload"])
        if method is not None and row["method"] != method:
            continue
        if text is not None and not (payload.get("text") or payload.get("caption") or "").startswith(text):
            continue
        return SHOWN + row["id"]
    raise AssertionError(f"nothing like {text!r} / {method} was shown to {user.id}")


def focus_of(app: Desk, agent: User) -> int | None:
    return app.query("SELECT focus_client_id FROM support_agents WHERE user_id = ?", agent.id)[0][0]


def agent_rows(app: Desk) -> int:
    return app.query("SELECT COUNT(*) FROM chat_history WHERE sender = 'agent'")[0][0]


def clients_lines(app: Desk, agent: User, focus: int | None = None, waiting: tuple[int, ...] = ()) -> str:
    """The /clients list as the issue describes it, built from the database independently."""
    lines = []
    for d in app.query("SELECT d.client_id, d.assigned_at, c.name FROM dialogs AS d JOIN clients AS c"
                       " ON c.user_id = d.client_id WHERE d.agent_id = ? AND d.status = 'open'"
                       " ORDER BY d.assigned_at, d.id", agent.id):
        marks = ""
        if d["client_id"] in waiting:
            marks += " · " + t("en", "clients_waiting")
        if d["client_id"] == focus:
            marks += " · " + t("en", "clients_focus")
        lines.append(t("en", "clients_line", name=d["name"], client_id=d["client_id"],
                       since=clock.stamp(d["assigned_at"])[:16], marks=marks))
    return "\n".join(lines)


def which(app: Desk, agent: User, **kw: Any) -> str:
    return t("en", "which_client", clients=clients_lines(app, agent, **kw))


# --- find_available_support, at the database level ------------------------------------------------

NOW = 1_800_000_000.0
WINDOW = 300


def db_agent(conn, user_id: int, seen: float = NOW, available: bool = True) -> None:
    db.register_agent(conn, user_id, f"A{user_id}", None, "en", seen)
    if not available:
        db.set_agent_available(conn, user_id, False)


def db_dialogs(conn, agent_id: int, n: int, ended_at: float | None = None) -> None:
    """Give the agent n open dialogs (and, with ended_at, one more that ended then)."""
    for _ in range(n):
        client_id = 10_000 + conn.execute("SELECT COUNT(*) FROM clients").fetchone()[0]
        db.add_client(conn, client_id, "C", None, "en", NOW)
        db.assign_client(conn, client_id, agent_id, NOW)
    if ended_at is not None:
        client_id = 10_000 + conn.execute("SELECT COUNT(*) FROM clients").fetchone()[0]
        db.add_client(conn, client_id, "C", None, "en", NOW)
        dialog_id = db.assign_client(conn, client_id, agent_id, ended_at - 10)
        db.close_dialog(conn, dialog_id, ended_at)


def pick(conn, max_chats: int = LIMIT, now: float = NOW) -> int | None:
    row = db.find_available_support(conn, now, WINDOW, max_chats)
    return row["user_id"] if row is not None else None


@pytest.fixture
def limits(conn):
    db.set_max_chats(conn, LIMIT)
    return conn


def test_db_nobody_available_means_nobody(limits):
    assert pick(limits) is None
    db_agent(limits, 1, available=False)
    assert pick(limits) is None


def test_db_agents_at_the_limit_are_skipped_whatever_else(limits):
    db_agent(limits, 1)
    db_dialogs(limits, 1, LIMIT)
    assert pick(limits) is None
    db_agent(limits, 2, seen=NOW - 10 * WINDOW)           # long unseen, but with room
    assert pick(limits) == 2
    assert pick(limits, max_chats=LIMIT + 1) == 1          # a higher limit gives agent 1 room again


def test_db_agents_seen_within_the_window_come_first_even_when_busier(limits):
    db_agent(limits, 1, seen=NOW - WINDOW - 1)             # idle, but not seen lately
    db_agent(limits, 2, seen=NOW - WINDOW)                 # on the window's edge: still online
    db_dialogs(limits, 2, 2)
    assert pick(limits) == 2


def test_db_within_a_tier_the_fewest_open_dialogs_win(limits):
    for agent_id, load in ((1, 2), (2, 1), (3, 2)):
        db_agent(limits, agent_id)
        db_dialogs(limits, agent_id, load)
    assert pick(limits) == 2


def test_db_the_same_rules_order_the_second_tier(limits):
    for agent_id, load in ((1, 2), (2, 1), (3, 1)):
        db_agent(limits, agent_id, seen=NOW - 10 * WINDOW)
        db_dialogs(limits, agent_id, load, ended_at=NOW - 100 if agent_id == 2 else None)
    assert pick(limits) == 3          # 2 and 3 carry one each; 3 never finished one


def test_db_equal_load_never_ended_first_then_longest_since_the_last_end_then_lower_id(limits):
    db_agent(limits, 1)
    db_dialogs(limits, 1, 1, ended_at=NOW - 50)
    db_agent(limits, 2)
    db_dialogs(limits, 2, 1, ended_at=NOW - 500)
    db_agent(limits, 3)
    db_dialogs(limits, 3, 1, ended_at=NOW - 500)
    assert pick(limits) == 2                               # ended longest ago; 2 < 3 on a tie
    db_agent(limits, 4)
    db_dialogs(limits, 4, 1)                                # never ended one: first of all
    assert pick(limits) == 4
    db_agent(limits, 5)
    db_dialogs(limits, 5, 1)
    assert pick(limits) == 4                               # two who never ended: the lower id


def test_db_unavailable_and_removed_agents_are_never_picked(limits):
    db_agent(limits, 1, available=False)
    db_agent(limits, 2)
    db.remove_agent(limits, 2, NOW)
    assert pick(limits) is None
    db_agent(limits, 3, seen=NOW - 10 * WINDOW)
    db_dialogs(limits, 3, 2)
    assert pick(limits) == 3


# --- Assignment through the bot -------------------------------------------------------------------


def test_three_agents_get_new_clients_in_turn(team, crew):
    agents = [crew.agent(n) for n in ("Agatha", "Boris", "Cyril")]
    owners = []
    for i in range(6):
        c = crew.client(f"C{i}")
        c.send("hi")
        owners.append(owner(team, c))
    assert owners == [a.id for a in agents] * 2


def test_after_a_dialog_ends_the_agent_who_never_finished_one_goes_first(team, crew):
    a, b = crew.agent("Agatha"), crew.agent("Boris")
    c1 = crew.client_in_dialog(a, name="C1")
    crew.client_in_dialog(b, name="C2")
    crew.client_in_dialog(a, name="C3")
    team.tick(10)
    a.send(f"/end_chat {c1.id}")                 # both hold one now; Agatha just finished one
    c4 = crew.client("C4")
    c4.send("hi")
    assert owner(team, c4) == b.id
    c5 = crew.client("C5")
    c5.send("hi")
    assert owner(team, c5) == a.id                # never one filling up while the other idles


def test_an_agent_seen_lately_is_preferred_to_an_idle_one_not_seen(team, crew):
    a, b = crew.agent("Agatha"), crew.agent("Boris")
    a.send("/available")                          # off while Boris takes two
    crew.client_in_dialog(b, name="C1")
    crew.client_in_dialog(b, name="C2")
    a.send("/available")
    team.tick(1000)                               # past ONLINE_WINDOW_SECONDS (300)
    b.send("/clients")                            # Boris is active; Agatha has not been seen since
    c3 = crew.client("C3")
    c3.send("hi")
    assert owner(team, c3) == b.id                # tier 1 beats fewer dialogs in tier 2
    c4 = crew.client("C4")
    c4.send("hi")
    assert owner(team, c4) == a.id                # Boris is full: the other tier serves


def test_full_and_unavailable_agents_are_skipped_and_the_queue_is_numbered(team, crew):
    a, b = crew.agent("Agatha"), crew.agent("Boris")
    b.send("/available")
    for n in ("C1", "C2", "C3"):
        crew.client_in_dialog(a, name=n)
    w1, w2 = crew.client("W1"), crew.client("W2")
    w1.send("one")
    w2.send("two")
    assert w1.texts() == [t("en", "queued", position=1)]
    assert w2.texts() == [t("en", "queued", position=2)]
    assert owner(team, w1) is None and owner(team, w2) is None
    assert b.texts() == [t("en", "available_off")]


def test_the_new_client_notice_and_the_connected_message(team, crew):
    agent = crew.agent("Agatha")
    carl = crew.client("Carl", username="carl")
    carl.send("hello")
    assert agent.texts() == [t("en", "new_client", name="Carl", client_id=carl.id, username=", @carl",
                                 language="en"), relayed("Carl", "hello")]
    assert carl.texts() == [t("en", "connected", agent="Agatha")]


# --- Reply routing ---------------------------------------------------------------------------------


def two_clients(team: Desk, crew: People) -> tuple[User, User, User]:
    agent = crew.agent("Agatha")
    carl = crew.client_in_dialog(agent, name="Carl", first="hello from carl")
    dora = crew.client_in_dialog(agent, name="Dora", first="hello from dora")
    return agent, carl, dora


def test_a_reply_to_a_relayed_message_reaches_that_client_whatever_the_focus(team, crew):
    agent, carl, dora = two_clients(team, crew)
    carl.send("carl asks")
    dora.send("dora asks")
    agent.send(f"/focus {dora.id}")
    agent.send("for carl", reply_to=shown(team, agent, relayed("Carl", "carl asks")))
    assert carl.texts() == ["for carl"] and dora.texts() == []
    assert focus_of(team, agent) == carl.id                 # replying made Carl the focus
    agent.send("still carl")
    assert carl.texts() == ["for carl", "still carl"] and dora.texts() == []
    stored = team.query("SELECT dialog_id, text FROM chat_history WHERE sender = 'agent' ORDER BY id")
    assert [tuple(r) for r in stored] == [(dialog_of(team, carl)["id"], "for carl"),
                                          (dialog_of(team, carl)["id"], "still carl")]


def test_a_reply_to_the_first_relayed_message_of_a_dialog_works_too(team, crew):
    agent, carl, dora = two_clients(team, crew)
    agent.send("hi dora", reply_to=shown(team, agent, relayed("Dora", "hello from dora")))
    assert dora.texts() == ["hi dora"] and carl.texts() == []


def test_a_reply_to_the_new_client_notice_reaches_that_client(team, crew):
    agent, carl, dora = two_clients(team, crew)
    notice = shown(team, agent, t("en", "new_client", name="Carl", client_id=carl.id, username="",
                                  language="en"))
    agent.send("welcome carl", reply_to=notice)
    assert carl.texts() == ["welcome carl"] and dora.texts() == []
    assert focus_of(team, agent) == carl.id


def test_a_reply_to_the_name_header_or_the_copy_of_uncaptioned_media_reaches_that_client(team, crew):
    agent, carl, dora = two_clients(team, crew)
    carl.send(**media("sticker"))
    assert [c["method"] for c in agent.calls()] == ["sendMessage", "copyMessage"]
    header = shown(team, agent, RELAY_HEADER.format(name="Carl"), method="sendMessage")
    agent.send("nice sticker", reply_to=header)
    assert carl.texts() == ["nice sticker"]
    agent.send(f"/focus {dora.id}")
    agent.send("and again", reply_to=shown(team, agent, method="copyMessage"))
    assert carl.texts() == ["nice sticker", "and again"] and dora.texts() == []


def test_a_reply_to_a_captioned_media_relay_reaches_that_client(team, crew):
    agent, carl, dora = two_clients(team, crew)
    dora.send(**media("photo", caption="my receipt"))
    agent.send("got it", reply_to=shown(team, agent, relayed("Dora", "my receipt"), method="copyMessage"))
    assert dora.texts() == ["got it"] and carl.texts() == []


def test_a_reply_to_the_agents_own_earlier_message_reaches_the_same_client(team, crew):
    agent, carl, dora = two_clients(team, crew)
    agent.send(f"/focus {carl.id}")
    first = agent.send("first answer to carl")
    deliver(team)                                     # the copy reached Carl: its link is recorded
    agent.send(f"/focus {dora.id}")
    agent.send("follow-up", reply_to=first["message_id"])
    assert carl.texts() == ["first answer to carl", "follow-up"] and dora.texts() == []


def test_a_reply_to_a_message_of_a_closed_dialog_goes_nowhere_and_says_so(team, crew):
    agent, carl, dora = two_clients(team, crew)
    old = shown(team, agent, relayed("Carl", "hello from carl"))
    agent.send(f"/end_chat {carl.id}")
    carl.clear()
    agent.clear()
    sent = agent.send("too late", reply_to=old)
    assert carl.texts() == [] and dora.texts() == []
    assert agent.texts() == [t("en", "reply_closed", name="Carl")]
    assert agent_rows(team) == 0
    assert sent["message_id"] > 0


def test_a_reply_to_an_earlier_dialogs_message_reaches_the_client_back_with_the_same_agent(team, crew):
    agent, carl, dora = two_clients(team, crew)
    old = shown(team, agent, relayed("Carl", "hello from carl"))
    agent.send(f"/end_chat {carl.id}")
    carl.send("me again")                             # a new dialog: Agatha has room, so Carl is hers
    assert owner(team, carl) == agent.id
    carl.clear()
    agent.send("welcome back", reply_to=old)
    assert carl.texts() == ["welcome back"] and dora.texts() == []


@pytest.mark.parametrize("what", [
    pytest.param("waited"),
    pytest.param("history"),
])
def test_a_reply_to_other_messages_shown_for_a_client_reaches_that_client(team, crew, what):
    agent = crew.agent("Agatha")
    agent.send("/available")
    carl = crew.client("Carl")
    carl.send("waiting")
    agent.send(f"/take {carl.id}")                    # Carl waited: the 'waited' notice is shown
    agent.send("/available")
    dora = crew.client_in_dialog(agent, name="Dora")
    carl.clear()
    if what == "waited":
        target = shown(team, agent, t("en", "waited", minutes=1))
    else:
        agent.send(f"/history {carl.id}")
        target = shown(team, agent, method="sendHistory")
    agent.send("for carl", reply_to=target)
    assert carl.texts() == ["for carl"] and dora.texts() == []


def test_a_reply_to_a_bot_message_of_no_dialog_counts_as_no_reply(team, crew):
    agent, carl, dora = two_clients(team, crew)
    agent.send("/clients")
    listing = shown(team, agent, t("en", "clients_title", clients="")[:10])
    agent.clear()
    sent = agent.send("who?", reply_to=listing)
    assert carl.texts() == [] and dora.texts() == []
    answer = agent.calls("sendMessage")[-1]
    assert answer["text"] == which(team, agent, waiting=(carl.id, dora.id))
    assert answer["reply_parameters"]["message_id"] == sent["message_id"]
    agent.send(f"/end_chat {dora.id}")
    agent.send("now only carl", reply_to=listing)
    assert carl.texts() == ["now only carl"]


def test_a_reply_in_another_agents_chat_never_crosses_over(team, crew):
    a, b = crew.agent("Agatha"), crew.agent("Boris")
    carl = crew.client_in_dialog(a, name="Carl")
    dora = crew.client_in_dialog(b, name="Dora")
    carl.send("carl asks")
    relay_id = shown(team, a, relayed("Carl", "carl asks"))
    b.send("hijack", reply_to=relay_id)           # the same id means another message in Boris' chat
    assert carl.texts() == []
    assert dora.texts() == ["hijack"]             # Boris' only client: the reply matched nothing of his


# --- Focus and plain messages ---------------------------------------------------------------------


def test_a_plain_message_with_no_dialog_goes_nowhere_and_says_how_many_wait(team, crew):
    agent = crew.agent("Agatha")
    agent.send("/available")
    w = crew.client("Wanda")
    w.send("help")
    agent.clear()
    w.clear()
    agent.send("hello?")
    assert agent.texts() == [t("en", "agent_no_dialog", queue=1)]
    assert w.texts() == [] and agent_rows(team) == 0


def test_a_plain_message_with_one_dialog_goes_to_that_client_as_a_copy(team, crew):
    agent = crew.agent("Agatha")
    carl = crew.client_in_dialog(agent, name="Carl")
    sent = agent.send("the only one")
    assert carl.calls() == [{"method": "copyMessage", "from_chat_id": agent.id, "message_id": sent["message_id"],
                             "origin": {"chat_id": agent.id, "message_id": sent["message_id"], "lang": "en"},
                             "link": {"source_chat_id": agent.id, "source_message_id": sent["message_id"],
                                      "dialog_id": dialog_of(team, carl)["id"]}}]
    assert agent.texts() == []


@pytest.mark.parametrize("content", [{"text": "who gets this?"}, media("photo", caption="a picture")])
def test_a_plain_message_with_two_dialogs_and_no_focus_is_never_guessed(team, crew, content):
    agent, carl, dora = two_clients(team, crew)
    sent = agent.send(**content)
    assert carl.calls() == [] and dora.calls() == []
    [answer] = agent.calls()
    assert answer["text"] == which(team, agent, waiting=(carl.id, dora.id))
    assert "Carl" in answer["text"] and "Dora" in answer["text"]
    assert answer["reply_parameters"]["message_id"] == sent["message_id"]
    assert agent_rows(team) == 0
    assert focus_of(team, agent) is None


def test_an_album_with_two_dialogs_and_no_focus_is_answered_once_not_once_per_part(team, crew):
    agent, carl, dora = two_clients(team, crew)
    parts = [agent.send(**media("photo", n, media_group_id="agent-album")) for n in (1, 2, 3)]
    [answer] = agent.calls()
    assert answer["text"] == which(team, agent, waiting=(carl.id, dora.id))
    assert answer["reply_parameters"]["message_id"] == parts[0]["message_id"]
    # Sent by now: a late part of the same album still gets no answer of its own.
    with db.atomic(team.conn):
        team.conn.execute("UPDATE outbox SET status = 'sent', done_at = ? WHERE status = 'pending'", (team.now,))
    team.tick(5)
    agent.send(**media("photo", 4, media_group_id="agent-album"))
    assert len(agent.calls()) == 1
    # Another album, or a plain message, is answered as before; nothing reached a client.
    agent.send(**media("photo", 5, media_group_id="next-album"))
    agent.send(**media("photo", 6, media_group_id="next-album"))
    agent.send("and who gets this?")
    assert [c["text"] for c in agent.calls()] == [which(team, agent, waiting=(carl.id, dora.id))] * 3
    assert carl.calls() == [] and dora.calls() == [] and agent_rows(team) == 0


def test_an_album_from_an_agent_without_clients_is_answered_once(team, crew):
    agent = crew.agent("Agatha")
    for n in (1, 2, 3):
        agent.send(**media("photo", n, media_group_id="agent-album"))
    assert agent.texts() == [t("en", "agent_no_dialog", queue=0)]


def test_focus_sends_plain_messages_to_that_client_and_can_be_moved(team, crew):
    agent, carl, dora = two_clients(team, crew)
    agent.send(f"/focus {dora.id}")
    assert agent.last() == t("en", "focus_set", name="Dora", client_id=dora.id)
    agent.send("to dora")
    agent.send(f"/focus {carl.id}")
    agent.send("to carl")
    assert dora.texts() == ["to dora"] and carl.texts() == ["to carl"]


@pytest.mark.parametrize("arg", ["abc", "-5", "0", "1.5", "12345678901234567890", "", "@carl"])
def test_focus_with_a_malformed_id_explains_its_usage(team, crew, arg):
    agent, carl, dora = two_clients(team, crew)
    agent.send(f"/focus {arg}".strip())
    assert agent.texts() == [t("en", "focus_usage")]
    assert focus_of(team, agent) is None


def test_focus_on_anyone_but_ones_own_client_is_refused(team, crew):
    agent, carl, dora = two_clients(team, crew)
    boris = crew.agent("Boris")
    erin = crew.client_in_dialog(boris, name="Erin")
    boris.send("/available")
    agent.send("/available")
    waiting = crew.client("Wanda")
    waiting.send("queued")
    stranger = 987654321
    for client_id in (erin.id, waiting.id, stranger, boris.id, agent.id):
        agent.send(f"/focus {client_id}")
        assert agent.last() == t("en", "not_your_client", client_id=client_id)
    assert focus_of(team, agent) is None
    assert owner(team, erin) == boris.id and owner(team, waiting) is None


def test_when_the_focused_dialog_ends_plain_messages_are_never_guessed(team, crew):
    agent, carl, dora = two_clients(team, crew)
    emil = crew.client_in_dialog(agent, name="Emil")
    agent.send(f"/focus {emil.id}")
    agent.send(f"/end_chat {emil.id}")
    assert focus_of(team, agent) is None
    agent.clear()
    agent.send("to whom?")
    assert carl.texts() == [] and dora.texts() == []
    assert agent.texts() == [which(team, agent, waiting=(carl.id, dora.id))]


def test_when_the_focused_client_is_banned_the_one_left_gets_plain_messages(team, crew):
    agent, carl, dora = two_clients(team, crew)
    admin = team.user(900, "Ada")
    agent.send(f"/focus {carl.id}")
    admin.send(f"/ban {carl.id}")
    assert focus_of(team, agent) is None
    agent.send("only dora now")
    assert dora.texts() == ["only dora now"]
    assert carl.texts() == []


def test_when_the_focused_client_is_handed_over_the_focus_goes_with_them(team, crew):
    agent, carl, dora = two_clients(team, crew)
    emil = crew.client_in_dialog(agent, name="Emil")
    boris = crew.agent("Boris")
    agent.send(f"/focus {carl.id}")
    agent.send(f"/transfer {boris.id}")
    assert owner(team, carl) == boris.id
    assert focus_of(team, agent) is None and focus_of(team, boris) is None
    agent.clear()
    agent.send("whose?")
    assert agent.texts() == [which(team, agent, waiting=(dora.id, emil.id))]
    assert carl.texts()[-1] == t("en", "connected", agent="Boris")


# --- /clients ------------------------------------------------------------------------------------


def test_clients_lists_each_open_dialog_with_since_waiting_and_focus(team, crew):
    agent = crew.agent("Agatha")
    carl = crew.client_in_dialog(agent, name="Carl")
    team.tick(125)
    dora = crew.client_in_dialog(agent, name="Dora")
    team.tick(3600)
    emil = crew.client_in_dialog(agent, name="Emil")
    agent.send(f"/reply {dora.id} answered")          # Dora no longer waits for an answer
    agent.send(f"/focus {emil.id}")
    agent.send("/note internal only")                   # a note is not an answer: Emil still waits
    agent.clear()
    agent.send("/clients")
    expected = t("en", "clients_title", clients="\n".join([
        t("en", "clients_line", name="Carl", client_id=carl.id, since=clock.stamp(team.now - 3725)[:16],
          marks=" · " + t("en", "clients_waiting")),
        t("en", "clients_line", name="Dora", client_id=dora.id, since=clock.stamp(team.now - 3600)[:16], marks=""),
        t("en", "clients_line", name="Emil", client_id=emil.id, since=clock.stamp(team.now)[:16],
          marks=" · " + t("en", "clients_waiting") + " · " + t("en", "clients_focus")),
    ]))
    assert agent.texts() == [expected]
    assert "2027-01-15 08:00" in expected and "2027-01-15 09:02" in expected


def test_clients_with_no_dialog_says_so_and_counts_the_queue(team, crew):
    agent = crew.agent("Agatha")
    agent.send("/available")
    crew.client("Wanda").send("waiting")
    crew.client("Xena").send("waiting too")
    agent.clear()
    agent.send("/clients")
    assert agent.texts() == [t("en", "clients_none", queue=2)]


# --- /reply --------------------------------------------------------------------------------------


def test_reply_sends_a_one_off_text_to_one_of_the_agents_clients(team, crew):
    agent, carl, dora = two_clients(team, crew)
    team.tick(42)
    agent.send(f"/reply {dora.id} line one\nline two")
    assert dora.texts() == ["line one\nline two"] and carl.texts() == []
    [row] = team.query("SELECT dialog_id, agent_id, text, kind FROM chat_history WHERE sender = 'agent'")
    assert tuple(row) == (dialog_of(team, dora)["id"], agent.id, "line one\nline two", "message")
    d = dialog_of(team, dora)
    assert d["first_response_at"] - d["assigned_at"] == 42
    assert agent.texts() == []


def test_reply_with_the_text_on_the_next_line(team, crew):
    agent, carl, dora = two_clients(team, crew)
    agent.send(f"/reply {carl.id}\nhello Carl")
    assert carl.texts() == ["hello Carl"]


@pytest.mark.parametrize("command", ["/reply", "/reply abc hi", "/reply 5", "/reply -5 hi", "/reply 0 hi",
                                     "/reply {carl}", "/reply {carl}    "])
def test_reply_with_bad_arguments_explains_its_usage(team, crew, command):
    agent, carl, dora = two_clients(team, crew)
    agent.send(command.format(carl=carl.id))
    assert agent.texts() == [t("en", "reply_usage")]
    assert carl.texts() == [] and agent_rows(team) == 0


def test_reply_to_someone_elses_queued_or_unknown_client_is_refused(team, crew):
    agent, carl, dora = two_clients(team, crew)
    boris = crew.agent("Boris")
    erin = crew.client_in_dialog(boris, name="Erin")
    agent.send("/available")
    boris.send("/available")
    wanda = crew.client("Wanda")
    wanda.send("waiting")
    for client_id in (erin.id, wanda.id, 55555):
        agent.send(f"/reply {client_id} psst")
        assert agent.last() == t("en", "not_your_client", client_id=client_id)
    assert erin.texts() == [] and wanda.texts() == [t("en", "queued", position=1)]
    assert agent_rows(team) == 0


# --- /end_chat ------------------------------------------------------------------------------------


def test_end_chat_without_argument_closes_the_only_dialog(team, crew):
    agent = crew.agent("Agatha")
    carl = crew.client_in_dialog(agent, name="Carl")
    agent.send("/end_chat")
    assert carl.texts() == [t("en", "ticket_closed")]
    assert agent.texts() == [t("en", "end_done", name="Carl")]
    assert dialog_of(team, carl) is None


def test_end_chat_without_argument_and_several_dialogs_asks_which(team, crew):
    agent, carl, dora = two_clients(team, crew)
    sent = agent.send("/end_chat")
    [answer] = agent.calls()
    assert answer["text"] == which(team, agent, waiting=(carl.id, dora.id))
    assert answer["reply_parameters"]["message_id"] == sent["message_id"]
    assert owner(team, carl) == agent.id and owner(team, dora) == agent.id
    assert carl.texts() == [] and dora.texts() == []


def test_end_chat_without_argument_closes_the_focus_only(team, crew):
    agent, carl, dora = two_clients(team, crew)
    agent.send(f"/focus {dora.id}")
    agent.send("/end_chat")
    assert dialog_of(team, dora) is None and owner(team, carl) == agent.id
    assert dora.texts() == [t("en", "ticket_closed")] and carl.texts() == []


def test_end_chat_as_a_reply_closes_the_client_replied_to(team, crew):
    agent, carl, dora = two_clients(team, crew)
    agent.send(f"/focus {dora.id}")
    agent.send("/end_chat", reply_to=shown(team, agent, relayed("Carl", "hello from carl")))
    assert dialog_of(team, carl) is None and owner(team, dora) == agent.id


def test_end_chat_with_a_client_id_closes_that_one(team, crew):
    agent, carl, dora = two_clients(team, crew)
    agent.send(f"/end_chat {carl.id}")
    assert dialog_of(team, carl) is None and owner(team, dora) == agent.id
    assert agent.texts() == [t("en", "end_done", name="Carl")]


def test_end_chat_of_someone_elses_client_or_a_bad_id_changes_nothing(team, crew):
    agent, carl, dora = two_clients(team, crew)
    boris = crew.agent("Boris")
    erin = crew.client_in_dialog(boris, name="Erin")
    agent.send(f"/end_chat {erin.id}")
    assert agent.last() == t("en", "not_your_client", client_id=erin.id)
    for bad in ("abc", "-1", "0"):
        agent.send(f"/end_chat {bad}")
        assert agent.last() == t("en", "end_usage")
    assert owner(team, erin) == boris.id and erin.texts() == []
    assert owner(team, carl) == agent.id and owner(team, dora) == agent.id


def test_end_chat_with_no_dialog_says_there_is_none_to_close(team, crew):
    agent = crew.agent("Agatha")
    agent.send("/end_chat")
    assert agent.texts() == [t("en", "end_no_dialog")]


# --- /history -------------------------------------------------------------------------------------


def history_calls(user: User) -> list[dict[str, Any]]:
    return [{k: v for k, v in c.items() if k in ("client_id", "lang")} for c in user.calls("sendHistory")]


def test_history_without_argument_is_the_only_dialogs_or_the_focus(team, crew):
    agent = crew.agent("Agatha")
    carl = crew.client_in_dialog(agent, name="Carl")
    agent.send("/history")
    assert history_calls(agent) == [{"client_id": carl.id, "lang": "en"}]
    dora = crew.client_in_dialog(agent, name="Dora")
    agent.send(f"/focus {dora.id}")
    agent.clear()
    agent.send("/history")
    assert history_calls(agent) == [{"client_id": dora.id, "lang": "en"}]


def test_history_without_argument_and_several_dialogs_asks_which(team, crew):
    agent, carl, dora = two_clients(team, crew)
    sent = agent.send("/history")
    [answer] = agent.calls()
    assert answer["method"] == "sendMessage"
    assert answer["text"] == which(team, agent, waiting=(carl.id, dora.id))
    assert answer["reply_parameters"]["message_id"] == sent["message_id"]


def test_history_with_a_client_id_works_for_any_known_client(team, crew):
    agent, carl, dora = two_clients(team, crew)
    boris = crew.agent("Boris")
    erin = crew.client_in_dialog(boris, name="Erin")
    agent.send(f"/history {erin.id}")
    agent.send(f"/history {carl.id}")
    assert history_calls(agent) == [{"client_id": erin.id, "lang": "en"}, {"client_id": carl.id, "lang": "en"}]


def test_history_with_a_bad_or_unknown_id_explains(team, crew):
    agent, carl, dora = two_clients(team, crew)
    agent.send("/history 55555")
    assert agent.last() == t("en", "history_unknown", client_id=55555)
    for bad in ("abc", "-3", "0", "1 2"):
        agent.send(f"/history {bad}")
        assert agent.last() == t("en", "history_usage")
    assert history_calls(agent) == []


def test_history_for_an_admin_who_is_no_agent_needs_a_client_id(team, crew):
    agent, carl, dora = two_clients(team, crew)
    admin = team.user(900, "Ada")
    admin.send("/history")
    assert admin.texts() == [t("en", "history_usage")]
    admin.clear()
    admin.send(f"/history {carl.id}")
    assert history_calls(admin) == [{"client_id": carl.id, "lang": "en"}]


def test_history_with_no_dialog_says_to_name_a_client(team, crew):
    agent = crew.agent("Agatha")
    agent.send("/history")
    assert agent.texts() == [t("en", "history_no_dialog")]
