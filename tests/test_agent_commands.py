"""End to end: the agent's commands — registration, availability, closing, history, stats, help."""

from __future__ import annotations

import pytest
from harness import SUPPORT_TOKEN, name_client, register_agent

from handlers.table import help_text
from texts import RELAY_HEADER, t

AGENT_HELP = help_text("agent", "en")


def test_registration_with_the_right_token_removes_the_secret_from_the_chat(fake, desk):
    agent = fake.user(1, "Agatha")
    message = agent.send(f"/register_support {SUPPORT_TOKEN}")
    desk.settle()
    assert agent.texts() == [t("en", "register_ok"), AGENT_HELP]
    deleted = [d for d in agent.inbox() if d["method"] == "deleteMessage"]
    assert deleted == [{"method": "deleteMessage", "message_id": message["message_id"]}]
    assert desk.query("SELECT is_available FROM support_agents WHERE user_id = 1")[0][0] == 1
    # Agents get their own command menu; the default menu is the clients'.
    assert [c["command"] for c in fake.commands[(1, None)]] == ["available", "end_chat", "history", "stats", "help"]
    assert [c["command"] for c in fake.commands[(0, "en")]] == ["start", "help"]
    assert [c["command"] for c in fake.commands[(0, "ru")]] == ["start", "help"]


def test_register_without_token_explains_usage(fake, desk):
    user = fake.user(1, "Agatha")
    user.send("/register_support")
    user.send("/register_support    ")
    desk.settle()
    assert user.texts() == [t("en", "register_usage")] * 2
    assert not desk.query("SELECT * FROM support_agents")


def test_registering_twice_says_so(fake, desk):
    agent = fake.user(1, "Agatha")
    register_agent(desk, agent)
    agent.send(f"/register_support {SUPPORT_TOKEN}")
    desk.settle()
    assert agent.texts()[-1] == t("en", "register_already")


def test_five_wrong_tokens_lock_the_user_out_even_for_the_right_one(fake, desk):
    user = fake.user(1, "Mallory")
    for i in range(5):
        user.send(f"/register_support guess-{i}")
    user.send(f"/register_support {SUPPORT_TOKEN}")
    desk.settle()
    minutes = 15
    assert user.texts() == [t("en", "register_wrong", left=left, minutes=minutes) for left in (4, 3, 2, 1)] + [
        t("en", "register_locked", minutes=minutes), t("en", "register_locked", minutes=minutes)]
    assert not desk.query("SELECT * FROM support_agents")
    # The lockout is in the database, so a restart does not reset it.
    assert desk.query("SELECT locked_until FROM register_attempts WHERE user_id = 1")[0][0] is not None
    # Every attempt's message, guesses included, is removed from the chat.
    assert sum(d["method"] == "deleteMessage" for d in user.inbox()) == 6


def test_available_toggles_and_unavailable_agents_get_no_clients(fake, desk):
    agent = fake.user(1, "Agatha")
    register_agent(desk, agent)
    agent.send("/available")
    desk.settle()
    assert agent.texts()[-1] == t("en", "available_off")
    client = fake.user(10, "Carl")
    client.send("hello?")
    desk.settle()
    assert client.texts()[-1] == t("en", "queued", position=1)
    agent.send("/available")                               # back on: takes the waiting client
    desk.settle()
    assert agent.texts()[-4:] == [t("en", "available_on"),
                                  t("en", "new_client", name="Carl", client_id=10, username="", language="en"),
                                  t("en", "waited", minutes=1),
                                  RELAY_HEADER.format(name="Carl") + "\nhello?"]


def test_going_unavailable_during_a_dialog_keeps_the_dialog(fake, desk):
    agent = fake.user(1, "Agatha")
    register_agent(desk, agent)
    client = fake.user(10, "Carl")
    client.send("hello")
    desk.settle()
    agent.send("/available")
    agent.send("still here")
    desk.settle()
    assert t("en", "available_off_in_dialog") in agent.texts()
    assert client.inbox()[-1]["method"] == "copyMessage"


def test_end_chat_closes_the_ticket_and_tells_the_client(fake, desk):
    agent = fake.user(1, "Agatha")
    register_agent(desk, agent)
    client = fake.user(10, "Carl")
    name_client(desk, client)
    client.send("hello")
    desk.settle()
    agent.send("/end_chat")
    desk.settle()
    assert client.texts()[-1] == t("en", "ticket_closed")
    assert agent.texts()[-1] == t("en", "end_done", name="Carl")
    agent.send("/end_chat")
    agent.send("anyone?")
    desk.settle()
    assert agent.texts()[-2:] == [t("en", "end_no_dialog"), t("en", "agent_no_dialog", queue=0)]


def history_file(agent) -> str:
    [doc] = [d for d in agent.inbox() if d["method"] == "sendDocument"][-1:]
    assert doc["file_name"].endswith(".txt")
    return doc["document"].decode("utf-8")


def test_history_sends_the_whole_history_as_a_file_and_keeps_the_dialog(fake, desk):
    agent = fake.user(1, "Agatha")
    register_agent(desk, agent)
    client = fake.user(10, "Carl")
    client.send("first visit")
    desk.settle()
    agent.send("answer one")
    agent.send("/end_chat")
    client.send("second visit")
    desk.settle()
    agent.send("/history")
    desk.settle()
    content = history_file(agent)
    assert [line.split("] ", 1)[1] for line in content.splitlines() if line.startswith("[")] == [
        "Client Carl: first visit", "Agent Agatha: answer one", "Client Carl: second visit"]
    assert content.count("--- Dialog #") == 2
    client.send("still talking")                          # /history did not end the dialog
    desk.settle()
    assert agent.texts()[-1] == RELAY_HEADER.format(name="Carl") + "\nstill talking"


def test_history_of_any_client_by_id(fake, desk):
    agent = fake.user(1, "Agatha")
    register_agent(desk, agent)
    client = fake.user(10, "Carl")
    client.send("hello from Carl")
    desk.settle()
    agent.send("/end_chat")
    agent.send("/history 10")
    desk.settle()
    assert "Client Carl: hello from Carl" in history_file(agent)


@pytest.mark.parametrize("command, key", [
    ("/history abc", "history_usage"),
    ("/history 10 11", "history_usage"),
    ("/history -5", "history_usage"),
    ("/history 99999999999999999999999", "history_usage"),
    ("/history 123", "history_unknown"),
    ("/history", "history_no_dialog"),
])
def test_history_with_a_bad_or_missing_target_explains(fake, desk, command, key):
    agent = fake.user(1, "Agatha")
    register_agent(desk, agent)
    agent.send(command)
    desk.settle()
    assert agent.texts()[-1] == t("en", key, client_id=123)
    assert not [d for d in agent.inbox() if d["method"] == "sendDocument"]


def test_stats_counts_the_agents_work_and_the_desk(fake, desk):
    agent, other = fake.user(1, "Agatha"), fake.user(2, "Boris")
    register_agent(desk, agent)
    register_agent(desk, other)
    other.send("/available")                              # Boris steps away
    c1, c2 = fake.user(10, "Carl"), fake.user(11, "Dora")
    c1.send("q1")
    desk.settle()
    agent.send("a1")
    agent.send("a2")
    agent.send("/end_chat")
    desk.settle()
    c1.send("again")                                      # Agatha takes Carl again
    c2.send("q2")                                         # nobody free: Dora waits
    agent.send("/stats")
    desk.settle()
    stats = agent.texts()[-1]
    assert "Dialogs closed: 1 (today: 1)" in stats
    assert "Messages sent to clients: 2" in stats
    assert "Now: with Carl" in stats
    assert "Clients in the queue: 1" in stats
    assert "Agents available: 1" in stats
    assert "Average first response: 0:00:0" in stats


@pytest.mark.parametrize("command", ["/available", "/end_chat", "/history", "/history 10", "/stats"])
def test_agent_commands_from_a_client_are_politely_refused_and_change_nothing(fake, desk, command):
    agent = fake.user(1, "Agatha")
    register_agent(desk, agent)
    client = fake.user(10, "Carl")
    client.send("hello")
    desk.settle()
    before = len(agent.inbox())
    client.send(command)
    desk.settle()
    assert client.texts()[-1] == t("en", "agent_only")
    assert len(agent.inbox()) == before                   # nothing relayed, nothing closed
    assert desk.query("SELECT status FROM dialogs WHERE client_id = 10")[0][0] == "open"


def test_help_depends_on_the_role(fake, desk):
    agent, client = fake.user(1, "Agatha"), fake.user(10, "Carl")
    register_agent(desk, agent)
    agent.send("/help")
    client.send("/help")
    desk.settle()
    assert agent.texts()[-1] == AGENT_HELP
    assert client.texts() == [help_text("client", "en")]
    agent.send("/start")
    desk.settle()
    assert agent.texts()[-1] == AGENT_HELP


def test_a_client_who_becomes_an_agent_ends_their_own_ticket(fake, desk):
    agent, client = fake.user(1, "Agatha"), fake.user(10, "Carl")
    register_agent(desk, agent)
    client.send("hello")
    desk.settle()
    register_agent(desk, client)
    assert agent.texts()[-1] == t("en", "end_done", name="Carl")
    assert desk.query("SELECT status FROM dialogs WHERE client_id = 10")[0][0] == "closed"
