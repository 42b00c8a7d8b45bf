"""The team desk, in-process: several clients per agent, reply routing, focus, and what goes wrong."""

from __future__ import annotations

import pytest
from teamkit import relayed

import db
from handlers.table import help_text
from texts import t


def open_count(app, agent) -> int:
    return app.query("SELECT open_dialogs FROM support_agents WHERE user_id = ?", agent.id)[0][0]


def test_one_agent_serves_three_clients_and_the_fourth_waits(team, crew):
    agent = crew.agent()
    clients = [crew.client_in_dialog(agent, name=n) for n in ("Carl", "Dora", "Emil")]
    fourth = crew.client("Finn")
    fourth.send("anyone?")
    assert fourth.last() == t("en", "queued", position=1)
    assert open_count(team, agent) == 3
    assert len(clients) == 3


def test_two_agents_get_new_clients_in_turn(team, crew):
    a, b = crew.agent("Agatha"), crew.agent("Boris")
    owners = []
    for name in ("C1", "C2", "C3", "C4"):
        c = crew.client(name)
        c.send("hi")
        owners.append(team.query("SELECT agent_id FROM dialogs WHERE client_id = ?", c.id)[0][0])
    assert owners == [a.id, b.id, a.id, b.id]


def test_a_reply_goes_to_the_client_replied_to_and_sets_the_focus(team, crew):
    agent = crew.agent()
    carl = crew.client_in_dialog(agent, name="Carl")
    dora = crew.client_in_dialog(agent, name="Dora")
    carl.send("question from carl")
    dora.send("question from dora")
    # Pretend the sender delivered the relays: record their ids as delivery would.
    relays = team.query("SELECT id, chat_id, payload FROM outbox WHERE chat_id = ? AND method = 'sendMessage'"
                        " ORDER BY id", agent.id)
    copy_ids = {}
    for i, row in enumerate(relays, start=500):
        import json
        link = json.loads(row["payload"]).get("link")
        if link and link["source_message_id"]:
            db.link_message(team.conn, agent.id, i, link["source_chat_id"], link["source_message_id"],
                            link["dialog_id"], team.now)
            copy_ids[link["source_chat_id"]] = i
    agent.send("answer for carl", reply_to=copy_ids[carl.id])
    assert carl.texts() == ["answer for carl"]
    assert dora.texts() == []
    assert team.query("SELECT focus_client_id FROM support_agents WHERE user_id = ?", agent.id)[0][0] == carl.id
    agent.send("more for carl")                        # not a reply: the focus
    assert carl.texts() == ["answer for carl", "more for carl"]


def test_a_plain_message_with_two_dialogs_and_no_focus_goes_nowhere(team, crew):
    agent = crew.agent()
    carl = crew.client_in_dialog(agent, name="Carl")
    dora = crew.client_in_dialog(agent, name="Dora")
    sent = agent.send("who gets this?")
    assert carl.texts() == [] and dora.texts() == []
    answer = agent.calls("sendMessage")[-1]
    assert answer["reply_parameters"]["message_id"] == sent["message_id"]
    assert "Carl" in answer["text"] and "Dora" in answer["text"]
    assert answer["text"].startswith(t("en", "which_client", clients="").rstrip())
    assert team.query("SELECT COUNT(*) FROM chat_history WHERE sender = 'agent'")[0][0] == 0


def test_focus_then_plain_messages_go_to_the_focus_and_a_closed_focus_is_forgotten(team, crew):
    agent = crew.agent()
    carl = crew.client_in_dialog(agent, name="Carl")
    dora = crew.client_in_dialog(agent, name="Dora")
    emil = crew.client_in_dialog(agent, name="Emil")
    agent.send(f"/focus {dora.id}")
    assert agent.last() == t("en", "focus_set", name="Dora", client_id=dora.id)
    agent.send("for dora")
    assert dora.texts() == ["for dora"]
    agent.send(f"/end_chat {dora.id}")
    assert dora.last() == t("en", "ticket_closed")
    agent.clear()
    agent.send("for whom?")
    assert carl.texts() == [] and emil.texts() == []
    assert agent.calls("sendMessage")[-1]["text"].startswith(t("en", "which_client", clients="").rstrip())


@pytest.mark.parametrize("arg", ["abc", "-5", "999999", ""])
def test_focus_on_someone_elses_or_no_client_is_refused(team, crew, arg):
    agent, other = crew.agent("Agatha"), crew.agent("Boris")
    crew.client_in_dialog(agent, name="Carl")
    boris_client = crew.client_in_dialog(other, name="Dora")
    for a in (arg, str(boris_client.id)):
        agent.send(f"/focus {a}".strip())
        expected = (t("en", "not_your_client", client_id=int(a)) if a.isdigit()
                    else t("en", "focus_usage"))
        assert agent.last() == expected


def test_clients_lists_open_dialogs_with_waiting_and_focus(team, crew):
    agent = crew.agent()
    carl = crew.client_in_dialog(agent, name="Carl")
    crew.client_in_dialog(agent, name="Dora")
    agent.send(f"/reply {carl.id} hello Carl")
    assert carl.texts() == ["hello Carl"]
    agent.send(f"/focus {carl.id}")
    agent.send("/clients")
    text = agent.last()
    carl_line = next(line for line in text.splitlines() if "Carl" in line)
    dora_line = next(line for line in text.splitlines() if "Dora" in line)
    assert t("en", "clients_focus") in carl_line and t("en", "clients_waiting") not in carl_line
    assert t("en", "clients_waiting") in dora_line and t("en", "clients_focus") not in dora_line


def test_queue_take_and_take_a_client_someone_took(team, crew):
    a = crew.agent("Agatha")
    team.dispatcher.settings  # noqa: B018
    for name in ("C1", "C2", "C3"):
        crew.client_in_dialog(a, name=name)
    w1, w2 = crew.client("Wanda"), crew.client("Xena")
    w1.send("first waiting " + "x" * 100)
    team.tick(120)
    w2.send("second waiting")
    a.send("/queue")
    lines = a.last().splitlines()
    assert lines[0] == t("en", "queue_title", count=2, lines="").splitlines()[0]
    assert lines[1].startswith(f"1. Wanda (id {w1.id}), waiting 0:02:00: first waiting xxx")
    assert len(lines[1].split(": ", 1)[1]) == 60
    b = crew.agent("Boris")           # registering serves the queue: Wanda goes to Boris
    assert team.query("SELECT agent_id FROM dialogs WHERE client_id = ?", w1.id)[0][0] == b.id
    b.send(f"/take {w1.id}")
    assert b.last() == t("en", "take_not_waiting", client_id=w1.id)


def test_bad_input_for_team_commands(team, crew):
    agent = crew.agent()
    for command, key in [("/take abc", "take_usage"), ("/transfer", "transfer_usage"),
                         ("/reply", "reply_usage"), ("/reply 5", "reply_usage"), ("/note", "note_usage"),
                         ("/t_add name text", "admin_only"),
                         ("/ban", "ban_usage"), ("/unban x", "unban_usage"), ("/stats everything", "stats_usage")]:
        agent.send(command)
        assert agent.last() == t("en", key), command
    agent.send("/agents")
    assert agent.last() == t("en", "admin_only")
    admin = team.user(900, "Ada")
    for command in ("/t_add Bad!Name text", "/t_add name", "/t_add " + "x" * 33 + " text"):
        admin.send(command)
        assert admin.last() == t("en", "reply_add_usage"), command
    assert not team.query("SELECT * FROM saved_replies")


def test_transfer_hands_the_dialog_over_with_its_history(team, crew):
    a, b = crew.agent("Agatha"), crew.agent("Boris", username="boris")
    carl = crew.client_in_dialog(a, name="Carl")
    carl.send("my order is late")
    a.send("looking")
    a.send("/transfer @Boris")
    assert b.calls()[0]["text"].startswith(t("en", "new_client_transfer", agent="Agatha", name="Carl",
                                                   client_id=carl.id, username="", language="en")[:40])
    assert [c["method"] for c in b.calls()] == ["sendMessage", "sendHistory"]
    assert carl.last() == t("en", "connected", agent="Boris")
    assert a.last() == t("en", "transfer_done", name="Carl", agent="Boris")
    a.send("are you there?")              # Agatha has no dialog now: it goes nowhere
    assert carl.last() == t("en", "connected", agent="Boris")
    b.send("hello from boris")
    assert carl.last() == "hello from boris"


def test_transfer_refusals(team, crew):
    a, b = crew.agent("Agatha"), crew.agent("Boris")
    carl = crew.client_in_dialog(a, name="Carl")
    a.send("/available")                         # off while Boris fills up
    for name in ("D1", "D2", "D3"):
        crew.client_in_dialog(b, name=name)
    a.send(f"/transfer {a.id}")
    assert a.last() == t("en", "transfer_self")
    a.send("/transfer 12345")
    assert a.last() == t("en", "transfer_unknown", target="12345")
    a.send(f"/transfer {carl.id}")
    assert a.last() == t("en", "transfer_unknown", target=str(carl.id))
    a.send(f"/transfer {b.id}")
    assert a.last() == t("en", "transfer_full", agent="Boris")
    assert team.query("SELECT agent_id FROM dialogs WHERE client_id = ?", carl.id)[0][0] == a.id


def test_notes_saved_replies_and_bans(team, crew):
    admin = team.user(900, "Ada")
    agent = crew.agent()
    carl = crew.client_in_dialog(agent, name="Carl")
    agent.send("/note VIP customer")
    assert agent.last() == t("en", "note_saved", name="Carl")
    assert carl.texts() == []
    admin.send("/t_add thanks Thank you for waiting!")
    assert admin.last() == t("en", "reply_added", name="thanks")
    agent.send("/t")
    assert "thanks — Thank you for waiting!" in agent.last()
    agent.send("/t thanks")
    assert carl.last() == "Thank you for waiting!"
    agent.send("/t nope")
    assert agent.last() == t("en", "reply_unknown", name="nope")
    rows = team.query("SELECT kind, text FROM chat_history WHERE sender = 'agent' ORDER BY id")
    assert [tuple(r) for r in rows] == [("note", "VIP customer"), ("message", "Thank you for waiting!")]
    agent.send(f"/ban {carl.id} rude")
    assert agent.last() == t("en", "ban_done", name="Carl", client_id=carl.id)
    carl.send("hey!")
    carl.send("hey again")
    assert carl.texts()[-1] == t("en", "banned_notice")
    assert carl.texts().count(t("en", "banned_notice")) == 1
    assert team.query("SELECT COUNT(*) FROM chat_history WHERE client_id = ? AND text LIKE 'hey%'", carl.id)[0][0] == 2
    agent.send("/banned")
    assert f"Carl (id {carl.id}) — rude" in agent.last()
    admin.send(f"/unban {carl.id}")
    assert admin.last() == t("en", "unban_done", name="Carl", client_id=carl.id)
    carl.send("sorry")
    assert agent.last() == relayed("Carl", "sorry")


def test_remove_support_requeues_at_the_head_and_serves(team, crew):
    admin = team.user(900, "Ada")
    a = crew.agent("Agatha")
    carl = crew.client_in_dialog(a, name="Carl")
    dora = crew.client_in_dialog(a, name="Dora")
    a.send("/available")                     # off: nobody is served automatically
    admin.send(f"/remove_support {a.id}")
    assert admin.last() == t("en", "remove_done", name="Agatha", agent_id=a.id)
    assert carl.last() == t("en", "reconnecting") and dora.last() == t("en", "reconnecting")
    assert a.last() == t("en", "removed_notice")
    erin = crew.client("Erin")
    erin.send("me too")
    queue = [r[0] for r in team.query("SELECT client_id FROM dialogs WHERE status = 'queued'"
                                      " ORDER BY requeued DESC, created_at, id")]
    assert queue == [carl.id, dora.id, erin.id]
    b = crew.agent("Boris")
    assert [r[0] for r in team.query("SELECT client_id FROM dialogs WHERE agent_id = ? AND status = 'open'"
                                     " ORDER BY assigned_at, id", b.id)] == [carl.id, dora.id, erin.id]
    a.send("/clients")
    assert a.last() == t("en", "agent_only")


def test_stats_all_for_admins_only_and_queue_alerts(team, crew):
    from desk import Desk as Rules
    from desk import queue as queue_rules
    admin = team.user(900, "Ada")
    agent = crew.agent()
    agent.send("/stats all")
    assert agent.last() == t("en", "admin_only")
    admin.send("/stats all")
    assert "Agatha" in admin.last()
    agent.send("/available")
    w = crew.client("Wanda")
    w.send("help")
    team.tick(601)
    with db.atomic(team.conn):
        assert queue_rules.alert_long_waits(Rules(team.conn, team.settings, team.now)) == 1
        assert queue_rules.alert_long_waits(Rules(team.conn, team.settings, team.now + 60)) == 0
    assert admin.last().startswith("Wanda (id")


def test_help_differs_for_clients_agents_and_admins(team, crew):
    agent = crew.agent()
    admin = team.user(900, "Ada")
    client = crew.client()
    for user in (agent, admin, client):
        user.send("/help")
    assert "/agents" in admin.last() and "/agents" not in agent.last() and "/take" in agent.last()
    assert "/take" not in client.last() and "/start" in client.last()
    assert help_text is not None
