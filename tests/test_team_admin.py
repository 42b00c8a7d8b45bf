"""Issue 9, keeping order: notes, saved replies, bans, admins, roles and menus, the schema's limit, settings.

Independent tests of the team desk in-process (tests/inproc.py). The `team` desk allows three open
dialogs per agent and has one admin (id 900); `open_desk` has no admins at all.
"""

from __future__ import annotations

import io
import json
from typing import Any

import pytest
from fake_telegram import media
from harness import BOT_TOKEN, SUPPORT_TOKEN
from inproc import START, Desk, People, settings
from teamkit import ADMIN, LIMIT, dialog_of, owner, relayed

import bot
import db
from config import ConfigError, load_settings
from desk import clock
from desk.history import write_history
from texts import t


@pytest.fixture
def open_desk(conn, tmp_path) -> Desk:
    """The same desk without ADMIN_IDS."""
    return Desk(conn, settings(str(tmp_path / "unit.db"), max_chats_per_agent=LIMIT))


# --- Helpers ---------------------------------------------------------------------------------------


def state(app: Desk) -> list[Any]:
    """Dialogs, agents, clients, history and saved replies: what a refused command must not touch."""
    return [[tuple(r) for r in app.query(sql)] for sql in (
        "SELECT * FROM dialogs ORDER BY id",
        "SELECT user_id, name, is_available, open_dialogs, focus_client_id, removed_at FROM support_agents"
        " ORDER BY user_id",
        "SELECT user_id, banned_at, ban_notified FROM clients ORDER BY user_id",
        "SELECT id, kind, text FROM chat_history ORDER BY id",
        "SELECT * FROM saved_replies ORDER BY name",
    )]


def history_text(app: Desk, client_id: int) -> str:
    out = io.BytesIO()
    write_history(app.conn, db.get_client(app.conn, client_id), "en", app.now, out)
    return out.getvalue().decode("utf-8")


def header_line(when: float, who: str, text: str) -> str:
    return f"[{clock.stamp(when)}] {who}: {text}"


# --- Notes ------------------------------------------------------------------------------------------


def test_a_note_is_kept_in_the_history_file_marked_as_a_note_and_never_sent(team, crew):
    agent = crew.agent("Agatha")
    carl = crew.client_in_dialog(agent, name="Carl", first="hello")
    team.tick(5)
    agent.send("/note VIP customer, be gentle")
    assert agent.texts() == [t("en", "note_saved", name="Carl")]
    assert carl.calls() == []
    assert not any("VIP customer" in row["payload"] for row in team.query(
        "SELECT payload FROM outbox WHERE chat_id <> ?", agent.id))
    [row] = team.query("SELECT dialog_id, sender, agent_id, kind, text FROM chat_history WHERE kind = 'note'")
    assert tuple(row) == (dialog_of(team, carl)["id"], "agent", agent.id, "note", "VIP customer, be gentle")
    text = history_text(team, carl.id)
    assert header_line(team.now, t("en", "who_note") + " Agatha", "VIP customer, be gentle") in text.splitlines()
    assert header_line(team.now - 5, t("en", "who_client") + " Carl", "hello") in text.splitlines()
    agent.send("/history")
    assert [c["client_id"] for c in agent.calls("sendHistory")] == [carl.id]


def test_a_note_is_not_an_answer(team, crew):
    agent = crew.agent("Agatha")
    carl = crew.client_in_dialog(agent, name="Carl")
    agent.send("/note only internal")
    assert dialog_of(team, carl)["first_response_at"] is None
    agent.send("/stats")
    assert agent.last().startswith(t("en", "stats", dialogs_total=0, dialogs_today=0, messages=0,
                                     avg_first_response="—", avg_duration="—",
                                     current=t("en", "stats_current", name="Carl"), queue=0, available=1))


def test_a_note_goes_on_the_focused_or_replied_to_dialog(team, crew):
    agent = crew.agent("Agatha")
    carl = crew.client_in_dialog(agent, name="Carl")
    dora = crew.client_in_dialog(agent, name="Dora")
    agent.send(f"/focus {dora.id}")
    agent.send("/note for dora")
    rows = team.query("SELECT client_id, text FROM chat_history WHERE kind = 'note'")
    assert [tuple(r) for r in rows] == [(dora.id, "for dora")]
    assert carl.calls() == [] and dora.calls() == []


def test_a_note_as_a_reply_goes_on_the_dialog_replied_to(team, crew):
    agent = crew.agent("Agatha")
    carl = crew.client_in_dialog(agent, name="Carl", first="carl here")
    dora = crew.client_in_dialog(agent, name="Dora")
    agent.send(f"/focus {dora.id}")
    relay = team.query("SELECT id FROM outbox WHERE chat_id = ? AND payload LIKE '%carl here%'", agent.id)[0][0]
    db.link_message(team.conn, agent.id, 100_000 + relay, carl.id,
                    team.query("SELECT message_id FROM chat_history WHERE text = 'carl here'")[0][0],
                    dialog_of(team, carl)["id"], team.now)        # as the sender records the delivered relay
    agent.send("/note about carl", reply_to=100_000 + relay)
    rows = team.query("SELECT client_id, text FROM chat_history WHERE kind = 'note'")
    assert [tuple(r) for r in rows] == [(carl.id, "about carl")]
    assert carl.calls() == [] and dora.calls() == []


def test_a_note_with_several_dialogs_and_no_focus_or_none_at_all_is_not_kept(team, crew):
    agent = crew.agent("Agatha")
    agent.send("/note lonely")
    assert agent.texts() == [t("en", "agent_no_dialog", queue=0)]
    crew.client_in_dialog(agent, name="Carl")
    crew.client_in_dialog(agent, name="Dora")
    sent = agent.send("/note where?")
    answer = agent.calls()[-1]
    assert answer["text"].startswith(t("en", "which_client", clients="").rstrip())
    assert answer["reply_parameters"]["message_id"] == sent["message_id"]
    agent.send("/note")
    assert agent.last() == t("en", "note_usage")
    assert team.query("SELECT COUNT(*) FROM chat_history WHERE kind = 'note'")[0][0] == 0


# --- Saved replies ----------------------------------------------------------------------------------


def test_saved_replies_are_listed_sent_as_the_agents_message_and_stored(team, crew):
    admin = team.user(ADMIN, "Ada")
    agent = crew.agent("Agatha")
    carl = crew.client_in_dialog(agent, name="Carl")
    agent.send("/t")
    assert agent.last() == t("en", "replies_none")
    long_text = "Thank you for waiting, " + "we are looking into it " * 5
    admin.send(f"/t_add thanks {long_text}")
    admin.send("/t_add bye Goodbye!\nHave a nice day.")
    assert admin.texts() == [t("en", "reply_added", name="thanks"), t("en", "reply_added", name="bye")]
    agent.send("/t")
    preview = " ".join(long_text.split())[:59].rstrip() + "…"
    assert agent.last() == t("en", "replies_title", lines=f"• bye — Goodbye! Have a nice day.\n• thanks — {preview}")
    team.tick(20)
    sent = agent.send("/t bye")
    assert carl.texts() == ["Goodbye!\nHave a nice day."]
    [row] = team.query("SELECT dialog_id, agent_id, kind, message_id, text FROM chat_history WHERE sender = 'agent'")
    assert tuple(row) == (dialog_of(team, carl)["id"], agent.id, "message", sent["message_id"],
                          "Goodbye!\nHave a nice day.")
    d = dialog_of(team, carl)
    assert d["first_response_at"] - d["assigned_at"] == 20
    agent.send("/t THANKS")                              # names are lower-case; what is typed is folded
    assert carl.last() == long_text.strip()
    assert header_line(team.now, t("en", "who_agent") + " Agatha", "Goodbye!\nHave a nice day.") in history_text(
        team, carl.id)


def test_a_saved_reply_goes_to_the_focus_and_never_guesses(team, crew):
    admin = team.user(ADMIN, "Ada")
    admin.send("/t_add hi Hello there")
    agent = crew.agent("Agatha")
    carl = crew.client_in_dialog(agent, name="Carl")
    dora = crew.client_in_dialog(agent, name="Dora")
    agent.send("/t hi")
    assert agent.last().startswith(t("en", "which_client", clients="").rstrip())
    assert carl.texts() == [] and dora.texts() == []
    agent.send(f"/focus {dora.id}")
    agent.send("/t hi")
    assert dora.texts() == ["Hello there"] and carl.texts() == []


def test_an_unknown_saved_reply_is_refused_and_nothing_is_sent(team, crew):
    agent = crew.agent("Agatha")
    carl = crew.client_in_dialog(agent, name="Carl")
    agent.send("/t nope")
    assert agent.texts() == [t("en", "reply_unknown", name="nope")]
    assert carl.calls() == [] and team.query("SELECT COUNT(*) FROM chat_history WHERE sender = 'agent'")[0][0] == 0


@pytest.mark.parametrize("name", ["a", "x" * 32, "my-reply_2", "0"])
def test_saved_reply_names_of_a_to_z_digits_dash_and_underscore_are_accepted(team, name):
    admin = team.user(ADMIN, "Ada")
    admin.send(f"/t_add {name} text")
    assert admin.texts() == [t("en", "reply_added", name=name)]


@pytest.mark.parametrize("command", ["/t_add", "/t_add name", "/t_add Bad!Name text", "/t_add UPPER text",
                                     "/t_add " + "x" * 33 + " text", "/t_add naïve text", "/t_add a.b text",
                                     "/t_add name " + "y" * 4097])
def test_t_add_with_a_bad_name_or_text_explains_and_saves_nothing(team, command):
    admin = team.user(ADMIN, "Ada")
    admin.send(command)
    assert admin.texts() == [t("en", "reply_add_usage")]
    assert team.query("SELECT COUNT(*) FROM saved_replies")[0][0] == 0


def test_t_add_takes_a_text_of_4096_characters_and_replaces_by_name(team):
    admin = team.user(ADMIN, "Ada")
    admin.send("/t_add long " + "y" * 4096)
    admin.send("/t_add long shorter now")
    assert admin.texts() == [t("en", "reply_added", name="long"), t("en", "reply_replaced", name="long")]
    assert [tuple(r) for r in team.query("SELECT name, text FROM saved_replies")] == [("long", "shorter now")]


def test_t_del_deletes_and_explains(team):
    admin = team.user(ADMIN, "Ada")
    admin.send("/t_add hi Hello")
    admin.send("/t_del hi")
    admin.send("/t_del hi")
    admin.send("/t_del")
    assert admin.texts()[1:] == [t("en", "reply_deleted", name="hi"), t("en", "reply_unknown", name="hi"),
                                 t("en", "reply_del_usage")]
    assert team.query("SELECT COUNT(*) FROM saved_replies")[0][0] == 0


def test_with_admin_ids_only_admins_manage_saved_replies(team, crew):
    admin = team.user(ADMIN, "Ada")
    admin.send("/t_add keep Kept")
    agent = crew.agent("Agatha")
    client = crew.client("Carl")
    before = state(team)
    for user in (agent, client):
        user.send("/t_add mine Mine")
        user.send("/t_del keep")
        assert user.texts() == [t("en", "admin_only")] * 2
    assert state(team) == before
    admin.send("/t")                                         # listing and sending are agents' commands
    assert admin.last() == t("en", "agent_only")


def test_without_admin_ids_any_agent_manages_saved_replies_and_clients_cannot(open_desk):
    crew = People(open_desk)
    agent, other = crew.agent("Agatha"), crew.agent("Boris")
    client = crew.client("Carl")
    agent.send("/t_add hi Hello")
    other.send("/t_add hi Hello again")
    assert agent.texts() == [t("en", "reply_added", name="hi")]
    assert other.texts() == [t("en", "reply_replaced", name="hi")]
    client.send("/t_add evil Evil")
    client.send("/t_del hi")
    assert client.texts() == [t("en", "agent_only")] * 2
    other.send("/t_del hi")
    assert other.last() == t("en", "reply_deleted", name="hi")
    assert open_desk.query("SELECT COUNT(*) FROM saved_replies")[0][0] == 0
    assert open_desk.query("SELECT COUNT(*) FROM dialogs")[0][0] == 0


@pytest.mark.parametrize(("command", "name", "text"), [
    pytest.param("/t_add greeting\nHello!\nHow can I help?", "greeting", "Hello!\nHow can I help?"),
    ("/t_add greeting Hello!\nHow can I help?", "greeting", "Hello!\nHow can I help?"),
])
def test_a_multi_line_saved_reply_can_be_added(team, command, name, text):
    admin = team.user(ADMIN, "Ada")
    admin.send(command)
    assert admin.texts() == [t("en", "reply_added", name=name)]
    assert [tuple(r) for r in team.query("SELECT name, text FROM saved_replies")] == [(name, text)]


# --- Bans -------------------------------------------------------------------------------------------


def test_a_ban_by_an_admin_closes_the_dialog_and_tells_its_agent(team, crew):
    admin = team.user(ADMIN, "Ada")
    agent = crew.agent("Agatha")
    carl = crew.client_in_dialog(agent, name="Carl")
    admin.send(f"/ban {carl.id} rude language")
    assert admin.texts() == [t("en", "ban_done", name="Carl", client_id=carl.id)]
    assert agent.texts() == [t("en", "ban_closed_dialog", name="Carl")]
    assert dialog_of(team, carl) is None
    assert team.query("SELECT open_dialogs FROM support_agents WHERE user_id = ?", agent.id)[0][0] == 0
    assert carl.texts() == []


def test_a_ban_by_another_agent_tells_the_dialogs_agent(team, crew):
    a = crew.agent("Agatha")
    carl = crew.client_in_dialog(a, name="Carl")
    b = crew.agent("Boris")
    b.send(f"/ban {carl.id}")
    assert b.texts() == [t("en", "ban_done", name="Carl", client_id=carl.id)]
    assert a.texts() == [t("en", "ban_closed_dialog", name="Carl")]


def test_a_banned_clients_messages_are_stored_but_never_relayed_queued_or_answered(team, crew):
    agent = crew.agent("Agatha")
    carl = crew.client_in_dialog(agent, name="Carl")
    agent.send(f"/ban {carl.id}")
    agent.clear()
    carl.send("let me in")
    carl.send(**media("photo", caption="look"))
    carl.send("/start")
    carl.send("still here")
    assert carl.texts() == [t("en", "banned_notice")]
    assert agent.calls() == []
    rows = team.query("SELECT sender, content_type, text FROM chat_history WHERE client_id = ? ORDER BY id"
                      " LIMIT -1 OFFSET 1", carl.id)
    assert [tuple(r) for r in rows] == [("client", "text", "let me in"), ("client", "photo", "look"),
                                        ("client", "text", "still here")]
    assert team.query("SELECT COUNT(*) FROM dialogs WHERE client_id = ? AND status <> 'closed'", carl.id)[0][0] == 0
    agent.send("/queue")
    assert agent.last() == t("en", "queue_empty")
    assert "let me in" in history_text(team, carl.id)


def test_a_client_banned_before_ever_writing_is_kept_out_too(team, crew):
    admin = team.user(ADMIN, "Ada")
    crew.agent("Agatha")
    carl = crew.client("Carl")
    admin.send(f"/ban {carl.id} spam")
    carl.send("hello?")
    carl.send("hello??")
    assert carl.texts() == [t("en", "banned_notice")]
    assert team.query("SELECT COUNT(*) FROM chat_history WHERE client_id = ?", carl.id)[0][0] == 2
    assert team.query("SELECT COUNT(*) FROM dialogs WHERE client_id = ? AND status <> 'closed'", carl.id)[0][0] == 0


def test_a_ban_takes_a_waiting_client_out_of_the_queue(team, crew):
    agent = crew.agent("Agatha")
    agent.send("/available")
    wanda, xena = crew.client("Wanda"), crew.client("Xena")
    wanda.send("one")
    xena.send("two")
    agent.send(f"/ban {wanda.id}")
    assert [r["client_id"] for r in db.list_queue(team.conn)] == [xena.id]
    agent.send("/available")
    assert owner(team, xena) == agent.id and owner(team, wanda) is None


def test_a_banned_clients_commands_are_not_answered_either(team, crew):
    agent = crew.agent("Agatha")
    carl = crew.client_in_dialog(agent, name="Carl")
    agent.send(f"/ban {carl.id}")
    carl.send("hi")
    carl.clear()
    carl.send("/help")
    carl.send("/whatever")
    assert carl.calls() == []


def test_unban_lets_the_client_back_and_a_new_ban_gives_one_new_notice(team, crew):
    admin = team.user(ADMIN, "Ada")
    agent = crew.agent("Agatha")
    carl = crew.client_in_dialog(agent, name="Carl")
    admin.send(f"/ban {carl.id}")
    carl.send("x")
    admin.send(f"/unban {carl.id}")
    assert admin.last() == t("en", "unban_done", name="Carl", client_id=carl.id)
    carl.send("sorry")
    assert owner(team, carl) == agent.id
    assert agent.texts()[-1] == relayed("Carl", "sorry")
    admin.send(f"/ban {carl.id} again")
    carl.clear()
    carl.send("y")
    carl.send("z")
    assert carl.texts() == [t("en", "banned_notice")]


def test_banned_lists_banned_clients_with_reasons(team, crew):
    admin = team.user(ADMIN, "Ada")
    admin.send("/banned")
    assert admin.last() == t("en", "banned_none")
    carl, dora = crew.client("Carl"), crew.client("Dora")
    admin.send(f"/ban {carl.id} rude")
    team.tick(10)
    admin.send(f"/ban {dora.id}")
    agent = crew.agent("Agatha")
    agent.send("/banned")
    assert agent.last() == t("en", "banned_title", lines=f"• Dora (id {dora.id})\n• Carl (id {carl.id}) — rude")
    admin.send(f"/unban {dora.id}")
    admin.send("/banned")
    assert admin.last() == t("en", "banned_title", lines=f"• Carl (id {carl.id}) — rude")


def test_ban_and_unban_refusals(team, crew):
    admin = team.user(ADMIN, "Ada")
    agent = crew.agent("Agatha")
    carl = crew.client("Carl")
    admin.send(f"/ban {carl.id}")
    before = state(team)
    for command, answer in [
        ("/ban", t("en", "ban_usage")), ("/ban abc", t("en", "ban_usage")), ("/ban -5 x", t("en", "ban_usage")),
        ("/ban 0", t("en", "ban_usage")), ("/ban 424242", t("en", "client_unknown", client_id=424242)),
        (f"/ban {agent.id}", t("en", "client_unknown", client_id=agent.id)),
        (f"/ban {carl.id}", t("en", "ban_already", name="Carl", client_id=carl.id)),
        ("/unban", t("en", "unban_usage")), ("/unban x", t("en", "unban_usage")),
        ("/unban 424242", t("en", "unban_not_banned", client_id=424242)),
    ]:
        agent.send(command)
        assert agent.last() == answer, command
    assert state(team) == before
    dora = crew.client("Dora")
    dora.send(f"/ban {carl.id}")
    dora.send(f"/unban {carl.id}")
    dora.send("/banned")
    assert dora.texts() == [t("en", "agent_only")] * 3
    assert team.query("SELECT banned_at IS NOT NULL FROM clients WHERE user_id = ?", carl.id)[0][0] == 1


# --- /agents ---------------------------------------------------------------------------------------


def test_agents_lists_every_agent_with_state_load_and_last_seen(team, crew):
    admin = team.user(ADMIN, "Ada")
    admin.send("/agents")
    assert admin.last() == t("en", "agents_none")
    boris = crew.agent("Boris", username="boris_b")
    crew.client_in_dialog(boris, name="C1")
    team.tick(3600)
    agatha = crew.agent("Agatha")
    crew.client_in_dialog(agatha, name="C2")
    agatha.send("/available")
    crew.client_in_dialog(boris, name="C3")
    gone = crew.agent("Gone")
    admin.send(f"/remove_support {gone.id}")
    admin.clear()
    admin.send("/agents")
    lines = [
        t("en", "agents_line", name="Agatha", agent_id=agatha.id, username="", state=t("en", "agents_away"),
          open=1, limit=LIMIT, seen=clock.stamp(team.now)[:16]),
        t("en", "agents_line", name="Boris", agent_id=boris.id, username=" @boris_b",
          state=t("en", "agents_available"), open=2, limit=LIMIT, seen=clock.stamp(START)[:16]),
    ]
    assert admin.texts() == [t("en", "agents_title", lines="\n".join(lines))]
    assert "2027-01-15 09:00" in lines[0] and "2027-01-15 08:00" in lines[1]


# --- /remove_support -------------------------------------------------------------------------------


def test_remove_support_requeues_at_the_head_in_order_and_tells_everyone(team, crew):
    admin = team.user(ADMIN, "Ada")
    a = crew.agent("Agatha")
    carl = crew.client_in_dialog(a, name="Carl", first="carl 1")
    team.tick(10)
    dora = crew.client_in_dialog(a, name="Dora", first="dora 1")
    team.tick(10)
    emil = crew.client_in_dialog(a, name="Emil", first="emil 1")
    wanda = crew.client("Wanda")
    wanda.send("waiting first")                          # queued before the hand-back
    wanda.clear()
    admin.send(f"/remove_support {a.id}")
    assert admin.texts() == [t("en", "remove_done", name="Agatha", agent_id=a.id)]
    assert [r["client_id"] for r in db.list_queue(team.conn)] == [carl.id, dora.id, emil.id, wanda.id]
    for client in (carl, dora, emil):
        assert client.texts() == [t("en", "reconnecting")]
    assert wanda.texts() == []
    assert t("en", "removed_notice") in a.texts()
    [menu] = a.calls("setMyCommands")
    assert team_part({c[0] for c in menu["commands"]}) == set() and menu["commands"]
    assert db.get_agent(team.conn, a.id) is None


def test_a_handed_back_client_goes_before_clients_who_waited_longer(team, crew):
    admin = team.user(ADMIN, "Ada")
    a = crew.agent("Agatha")
    a.send("/available")
    wanda = crew.client("Wanda")
    wanda.send("first in line")
    team.tick(10)
    xena = crew.client("Xena")
    xena.send("second in line")
    team.tick(10)
    a.send(f"/take {xena.id}")                           # out of turn: Wanda still waits
    team.tick(10)
    admin.send(f"/remove_support {a.id}")
    assert [r["client_id"] for r in db.list_queue(team.conn)] == [xena.id, wanda.id]
    b = team.user(77, "Boris")
    b.send(f"/register_support {SUPPORT_TOKEN}")         # served in queue order: Xena first
    notices = [text.split(" (id")[0] for text in b.texts() if text.startswith("New client: ")]
    assert notices == ["New client: Xena", "New client: Wanda"]
    assert owner(team, xena) == owner(team, wanda) == b.id


def test_remove_support_loses_nothing_and_serves_the_clients_at_once(team, crew):
    admin = team.user(ADMIN, "Ada")
    a = crew.agent("Agatha")
    carl = crew.client_in_dialog(a, name="Carl", first="before")
    a.send("an answer")
    dora = crew.client_in_dialog(a, name="Dora", first="dora before")
    a.send("/available")
    b = crew.agent("Boris")
    b.send("/available")
    team.tick(5)
    admin.send(f"/remove_support {a.id}")
    carl.send("during the wait")
    b.clear()
    b.send("/available")                                   # Boris has room: both come back to him
    assert owner(team, carl) == b.id and owner(team, dora) == b.id
    calls = b.calls()
    shown = b.texts()
    assert shown[0] == t("en", "available_on")
    assert [c["client_id"] for c in calls if c["method"] == "sendHistory"] == [carl.id, dora.id]
    assert relayed("Carl", "during the wait") in shown
    assert relayed("Carl", "before") not in shown          # already in the history file, not repeated
    history = history_text(team, carl.id)
    for line in ("before", "an answer", "during the wait"):
        assert line in history
    assert carl.texts()[-1] == t("en", "connected", agent="Boris")


def test_remove_support_with_another_agent_with_room_serves_at_once(team, crew):
    admin = team.user(ADMIN, "Ada")
    a = crew.agent("Agatha")
    carl = crew.client_in_dialog(a, name="Carl")
    b = crew.agent("Boris")
    admin.send(f"/remove_support {a.id}")
    assert owner(team, carl) == b.id
    assert carl.texts() == [t("en", "reconnecting"), t("en", "connected", agent="Boris")]


def test_a_removed_person_can_no_longer_use_agent_commands(team, crew):
    admin = team.user(ADMIN, "Ada")
    a = crew.agent("Agatha")
    carl = crew.client_in_dialog(a, name="Carl")
    admin.send(f"/remove_support {a.id}")
    a.clear()
    before = state(team)
    for command in ("/clients", "/take", f"/end_chat {carl.id}", "/available", "/queue", f"/reply {carl.id} hi",
                    "/note x", "/transfer 1", f"/focus {carl.id}", "/t", "/stats", f"/ban {carl.id}", "/history"):
        a.send(command)
    assert a.texts() == [t("en", "agent_only")] * 13
    assert state(team) == before
    a.send("hello carl?")                                   # not a command: it reaches no former client
    assert carl.texts() == [t("en", "reconnecting")]
    assert team.query("SELECT COUNT(*) FROM chat_history WHERE agent_id = ?", a.id)[0][0] == 0


def test_remove_support_refusals(team, crew):
    admin = team.user(ADMIN, "Ada")
    a = crew.agent("Agatha")
    carl = crew.client("Carl")
    for command, answer in [("/remove_support", t("en", "remove_usage")),
                            ("/remove_support abc", t("en", "remove_usage")),
                            ("/remove_support -1", t("en", "remove_usage")),
                            ("/remove_support 424242", t("en", "remove_unknown", agent_id=424242)),
                            (f"/remove_support {carl.id}", t("en", "remove_unknown", agent_id=carl.id))]:
        admin.send(command)
        assert admin.last() == answer, command
    assert db.get_agent(team.conn, a.id) is not None


def test_a_removed_agent_may_register_again(team, crew):
    admin = team.user(ADMIN, "Ada")
    a = crew.agent("Agatha")
    crew.client_in_dialog(a, name="Carl")
    admin.send(f"/remove_support {a.id}")
    a.send(f"/register_support {SUPPORT_TOKEN}")
    assert t("en", "register_ok") in a.texts()
    row = db.get_agent(team.conn, a.id)
    assert (row["is_available"], row["open_dialogs"]) == (1, 1)   # Carl came straight back to her


# --- /stats all ----------------------------------------------------------------------------------------


def assert_team_report(shown: list[str], expected_lines: list[str], queue: int, longest: str) -> None:
    """One /stats all answer: a line per agent starting with its figures, then the queue."""
    [report] = shown
    lines = report.split("\n\n")[0].splitlines()[1:]
    assert len(lines) == len(expected_lines)
    for line, expected in zip(lines, expected_lines, strict=True):
        assert line.startswith(expected)
    assert report.startswith(t("en", "team_stats", lines="\n".join(lines), queue=queue, longest=longest))


def test_stats_all_shows_each_agents_figures_and_the_queue(team, crew):
    admin = team.user(ADMIN, "Ada")
    team.now = START - 86400                             # yesterday
    a = crew.agent("Agatha")
    crew.client_in_dialog(a, name="Carl")
    team.tick(60)
    a.send("hi carl")
    team.tick(240)
    a.send("/end_chat")                                  # first response 60 s, length 300 s, yesterday
    team.now = START
    crew.client_in_dialog(a, name="Dora")
    team.tick(30)
    a.send("hi dora")
    team.tick(70)
    a.send("/end_chat")                                  # 30 s, 100 s, today
    b = crew.agent("Boris")
    finn = crew.client_in_dialog(b, name="Finn")         # Boris never finished one: he is first
    assert owner(team, finn) == b.id
    team.tick(60)
    b.send("/end_chat")                                  # no answer, 60 s, today
    a.send("/available")
    b.send("/available")
    team.tick(140)
    crew.client("Wanda").send("waiting")
    team.tick(100)
    admin.send("/stats all")
    expected = [t("en", "team_line", name="Agatha", agent_id=a.id, today=1, total=2, first="0:00:45",
                  length="0:03:20", open=0),
                t("en", "team_line", name="Boris", agent_id=b.id, today=1, total=1, first="—", length="0:01:00",
                  open=0)]
    assert_team_report(admin.texts(), expected, queue=1, longest="0:01:40")
    admin.clear()
    admin.send("/stats")                                 # an admin who is no agent: the team too
    assert_team_report(admin.texts(), expected, queue=1, longest="0:01:40")
    a.clear()
    a.send("/stats")                                     # her own figures only
    [own] = a.texts()
    assert own.startswith(t("en", "stats", dialogs_total=2, dialogs_today=1, messages=2,
                                avg_first_response="0:00:45", avg_duration="0:03:20",
                                current=t("en", "stats_idle"), queue=1, available=0))
    assert "Boris" not in own


def test_stats_all_is_for_admins_only(team, crew):
    a = crew.agent("Agatha")
    a.send("/available")
    b = crew.agent("Boris")
    crew.client_in_dialog(b, name="Carl")
    client = crew.client("Dora")
    a.clear()
    a.send("/stats all")
    a.send("/stats ALL")
    client.send("/stats all")
    client.send("/stats")
    assert a.texts() == [t("en", "admin_only")] * 2
    assert client.texts() == [t("en", "agent_only")] * 2
    a.send("/stats")
    assert "Boris" not in a.last() and "Carl" not in a.last()
    a.send("/stats everything")
    assert a.last() == t("en", "stats_usage")


def test_an_admin_who_is_an_agent_gets_both(team, crew):
    admin_agent = crew.agent("Ada", user_id=ADMIN)
    admin_agent.send("/stats")
    assert admin_agent.last().startswith(t("en", "stats", dialogs_total=0, dialogs_today=0, messages=0,
                                           avg_first_response="—", avg_duration="—", current="",
                                           queue=0, available=1).split("\n")[0])
    admin_agent.send("/stats all")
    assert admin_agent.last().startswith(t("en", "team_stats", lines="", queue=0, longest="—").split("\n")[0])


@pytest.mark.parametrize("how", ["transfer", "remove_support"])
def test_first_response_figures_are_never_negative_after_a_hand_over(team, crew, how):
    admin = team.user(ADMIN, "Ada")
    a = crew.agent("Agatha")
    carl = crew.client_in_dialog(a, name="Carl")
    team.tick(10)
    a.send("first answer")
    team.tick(90)
    b = crew.agent("Boris") if how == "transfer" else None
    if how == "transfer":
        a.send(f"/transfer {b.id}")
    else:
        admin.send(f"/remove_support {a.id}")
        team.tick(100)
        b = crew.agent("Boris")
    assert owner(team, carl) == b.id
    team.tick(100)
    b.send("/end_chat")
    rows = {r["user_id"]: r for r in db.team_stats(team.conn, clock.day_start(team.now))}
    first = rows[b.id]["avg_first_response"]
    assert first is None or first >= 0
    admin.send("/stats all")
    assert "first response -" not in admin.last()


# --- Roles: refusals, menus and /help -----------------------------------------------------------------


@pytest.mark.parametrize("command", ["/agents", "/remove_support {agent}", "/stats all"])
def test_admin_commands_from_agents_and_clients_are_refused_and_nothing_else_happens(team, crew, command):
    agent = crew.agent("Agatha")
    carl = crew.client_in_dialog(agent, name="Carl")
    stranger = team.user(5555, "Stan")
    before = state(team)
    for user, answer in ((agent, "admin_only"), (carl, "admin_only" if "stats" not in command else "agent_only"),
                         (stranger, "admin_only" if "stats" not in command else "agent_only")):
        mark = team.last_call_id()
        user.send(command.format(agent=agent.id))
        new = team.query("SELECT chat_id, payload FROM outbox WHERE id > ?", mark)
        assert [(r["chat_id"], json.loads(r["payload"])["text"]) for r in new] == [(user.id, t("en", answer))]
    assert state(team) == before
    assert db.get_client(team.conn, stranger.id) is None      # not even taken for a new client


# The commands of issue 9, by who may use them; other features add commands of their own.
AGENT_ONLY = {"clients", "focus", "reply", "take", "transfer", "note", "t", "end_chat", "available"}
STAFF = {"queue", "history", "ban", "unban", "banned", "stats"}
ADMIN_ONLY = {"agents", "remove_support"}
MANAGERS = {"t_add", "t_del"}
TEAM = AGENT_ONLY | STAFF | ADMIN_ONLY | MANAGERS


def team_part(commands: list[str] | set[str]) -> set[str]:
    return set(commands) & TEAM


def help_commands(text: str) -> list[str]:
    return [line.split()[0][1:] for line in text.splitlines() if line.startswith("/")]


def test_each_role_has_its_own_help(team, crew):
    agent = crew.agent("Agatha")
    admin = team.user(ADMIN, "Ada")
    client = crew.client("Carl")
    for user in (agent, admin, client):
        user.clear()
        user.send("/help")
    assert team_part(help_commands(client.last())) == set()
    assert {"start", "help"} <= set(help_commands(client.last()))
    assert team_part(help_commands(agent.last())) == AGENT_ONLY | STAFF
    assert team_part(help_commands(admin.last())) == STAFF | ADMIN_ONLY | MANAGERS
    assert client.last().startswith(t("en", "help_client"))
    assert agent.last().startswith(t("en", "help_agent")) and t("en", "help_admin") not in agent.last()
    assert admin.last().startswith(t("en", "help_admin")) and t("en", "help_agent") not in admin.last()


def test_an_admin_who_is_also_an_agent_sees_both_menus(conn, tmp_path):
    app = Desk(conn, settings(str(tmp_path / "unit.db"), max_chats_per_agent=LIMIT, admin_ids=frozenset({7})))
    both = People(app).agent("Ada", user_id=7)
    both.send("/help")
    assert team_part(help_commands(both.last())) == TEAM
    assert both.last().startswith(t("en", "help_agent") + "\n\n" + t("en", "help_admin"))


def test_without_admins_agents_see_the_saved_reply_commands(open_desk):
    agent = People(open_desk).agent("Agatha")
    agent.send("/help")
    assert team_part(help_commands(agent.last())) == AGENT_ONLY | STAFF | MANAGERS


def test_menus_follow_roles(team, crew):
    with db.atomic(team.conn):
        team.dispatcher.start(team.now)             # start-up, as bot.main runs it
    admin = team.user(ADMIN, "Ada")
    [*_, admin_menu] = admin.calls("setMyCommands")
    assert team_part({c[0] for c in admin_menu["commands"]}) == STAFF | ADMIN_ONLY | MANAGERS
    default = team.calls(0, "setMyCommands")
    assert default and all(team_part({c[0] for c in call["commands"]}) == set() for call in default)
    agent = team.user(42, "Agatha")
    agent.send(f"/register_support {SUPPORT_TOKEN}")
    [agent_menu] = agent.calls("setMyCommands")
    assert team_part({c[0] for c in agent_menu["commands"]}) == AGENT_ONLY | STAFF
    assert "chat_id" not in agent_menu and "scope" not in agent_menu or agent_menu.get("scope", {}).get(
        "chat_id", agent.id) == agent.id
    help_lines = help_commands(agent.texts()[-1])
    assert help_lines == [c[0] for c in agent_menu["commands"]]   # /help and the menu agree, in order


def test_start_from_an_agent_or_an_admin_shows_their_help(team, crew):
    agent = crew.agent("Agatha")
    admin = team.user(ADMIN, "Ada")
    for user in (agent, admin):
        user.send("/start")
    assert agent.texts()[-1].startswith(t("en", "help_agent"))
    assert admin.texts()[-1].startswith(t("en", "help_admin"))
    assert db.get_client(team.conn, ADMIN) is None and db.get_client(team.conn, agent.id) is None


def test_every_text_of_the_team_desk_is_in_both_languages_with_the_same_values():
    import string

    from texts import MESSAGES

    assert set(MESSAGES["en"]) == set(MESSAGES["ru"])
    for key, text in MESSAGES["en"].items():
        fields = {f for _, f, _, _ in string.Formatter().parse(text) if f}
        assert fields == {f for _, f, _, _ in string.Formatter().parse(MESSAGES["ru"][key]) if f}, key


def test_long_waits_are_looked_for_every_few_seconds():
    assert 0 < bot.QUEUE_ALERT_CHECK <= 10


def test_allowed_updates_is_an_explicit_list_of_what_the_desk_handles():
    assert isinstance(bot.ALLOWED_UPDATES, list) and "message" in bot.ALLOWED_UPDATES


# --- The schema's limit ---------------------------------------------------------------------------


def test_the_schema_refuses_a_fourth_open_dialog_even_straight_through_db(team, crew):
    agent = crew.agent("Agatha")
    for name in ("C1", "C2", "C3"):
        crew.client_in_dialog(agent, name=name)
    waiting = crew.client("Wanda")
    waiting.send("queued")                       # a queued dialog: assign_client's UPDATE path
    fresh = crew.client("Xena")                  # no dialog at all: assign_client's INSERT path
    before = state(team)
    for client in (waiting, fresh):
        with pytest.raises(Exception, match="no room") as caught:
            with db.atomic(team.conn):
                db.assign_client(team.conn, client.id, agent.id, team.now)
        assert "IntegrityError" in type(caught.value).__name__
    assert state(team) == before
    boris = crew.agent("Boris")                  # registering serves the queue: Wanda is his now
    mine = dialog_of(team, waiting)
    assert mine["agent_id"] == boris.id
    before = state(team)
    with pytest.raises(Exception, match="no room"):
        with db.atomic(team.conn):
            db.transfer_dialog(team.conn, mine["id"], agent.id, team.now)
    assert state(team) == before
    assert team.query("SELECT open_dialogs FROM support_agents WHERE user_id = ?", agent.id)[0][0] == 3
    assert team.query("SELECT COUNT(*) FROM dialogs WHERE agent_id = ? AND status = 'open'", agent.id)[0][0] == 3


def test_the_schema_keeps_one_live_dialog_per_client(team, crew):
    agent = crew.agent("Agatha")
    carl = crew.client_in_dialog(agent, name="Carl")
    other = crew.agent("Boris")
    for write in (lambda: db.enqueue_client(team.conn, carl.id, team.now),
                  lambda: db.assign_client(team.conn, carl.id, other.id, team.now)):
        with pytest.raises(Exception, match="UNIQUE"):
            with db.atomic(team.conn):
                write()
    assert team.query("SELECT COUNT(*) FROM dialogs WHERE client_id = ?", carl.id)[0][0] == 1


def test_the_open_dialog_count_stays_true_through_every_move(team, crew):
    admin = team.user(ADMIN, "Ada")
    a, b = crew.agent("Agatha"), crew.agent("Boris")
    clients = [crew.client(f"C{i}") for i in range(5)]
    for c in clients:
        c.send("hi")
    a.send(f"/end_chat {clients[0].id}")
    b.send(f"/ban {clients[1].id}")
    admin.send(f"/remove_support {a.id}")
    counted = {r[0]: r[1] for r in team.query(
        "SELECT a.user_id, (SELECT COUNT(*) FROM dialogs d WHERE d.agent_id = a.user_id AND d.status = 'open')"
        " FROM support_agents a")}
    stored = {r[0]: r[1] for r in team.query("SELECT user_id, open_dialogs FROM support_agents")}
    assert counted == stored
    assert stored[b.id] <= LIMIT


# --- Settings ---------------------------------------------------------------------------------------

BASE = {"BOT_TOKEN": BOT_TOKEN, "SUPPORT_TOKEN": SUPPORT_TOKEN}


def test_team_settings_defaults():
    s = load_settings(dict(BASE))
    assert (s.max_chats_per_agent, s.admin_ids, s.queue_alert_seconds) == (1, frozenset(), 600)


@pytest.mark.parametrize(("name", "value", "expected"), [
    ("MAX_CHATS_PER_AGENT", "1", 1), ("MAX_CHATS_PER_AGENT", "20", 20), ("MAX_CHATS_PER_AGENT", " 3 ", 3),
    ("MAX_CHATS_PER_AGENT", "", 1),
    ("ADMIN_IDS", "42", frozenset({42})), ("ADMIN_IDS", "1,2, 3", frozenset({1, 2, 3})),
    ("ADMIN_IDS", " 7 , 7 ", frozenset({7})), ("ADMIN_IDS", "", frozenset()),
    ("ADMIN_IDS", "1234567890123", frozenset({1234567890123})),
    ("QUEUE_ALERT_SECONDS", "0", 0), ("QUEUE_ALERT_SECONDS", "30", 30), ("QUEUE_ALERT_SECONDS", "", 600),
])
def test_team_settings_good_values(name, value, expected):
    s = load_settings({**BASE, name: value})
    field = {"MAX_CHATS_PER_AGENT": "max_chats_per_agent", "ADMIN_IDS": "admin_ids",
             "QUEUE_ALERT_SECONDS": "queue_alert_seconds"}[name]
    assert getattr(s, field) == expected


BAD_SETTINGS = [
    ("MAX_CHATS_PER_AGENT", v) for v in ("0", "21", "-1", "abc", "2.5", "1e1", "+3", "3 chats", "100")
] + [
    ("ADMIN_IDS", v) for v in ("abc", "1;2", "-5", "0", "1 2", "@admin", "1,x", "12345678901234567890", "1.5")
] + [
    ("QUEUE_ALERT_SECONDS", v) for v in ("-1", "abc", "1.5", "10m", "1e3")
]


@pytest.mark.parametrize(("name", "value"), BAD_SETTINGS)
def test_team_settings_bad_values_raise_config_error_naming_the_variable(name, value):
    with pytest.raises(ConfigError) as caught:
        load_settings({**BASE, name: value})
    assert name in str(caught.value)
    assert BOT_TOKEN not in str(caught.value) and SUPPORT_TOKEN not in str(caught.value)
