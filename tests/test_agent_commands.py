"""The agent's commands — registration, availability, closing, history, stats, help — in-process.

Each test feeds updates through bot.handle_update and reads what the desk queued in the outbox
(tests/inproc.py); that the queued calls reach Telegram is tested end to end in test_relay.py and
test_startup.py.
"""

from __future__ import annotations

import pytest
from harness import SUPPORT_TOKEN

from handlers import table
from handlers.guards import AGENT, CLIENT
from handlers.table import help_text
from texts import RELAY_HEADER, t

AGENT_HELP = help_text("agent", "en")
# The agent's menu is the table's (test_commands_table.py); at least these, never the clients' /start.
AGENT_MENU = [c.name for c in table.for_roles(frozenset({AGENT}), False)]
AGENT_BASICS = {"available", "end_chat", "history", "stats", "help"}
CLIENT_MENU = [c.name for c in table.for_roles(frozenset({CLIENT}), False)]


def menu_names(call) -> list[str]:
    return [name for name, _description in call["commands"]]


def test_registration_with_the_right_token_removes_the_secret_from_the_chat(app):
    agent = app.user(1, "Agatha")
    message = agent.send(f"/register_support {SUPPORT_TOKEN}")
    assert agent.texts() == [t("en", "register_ok"), AGENT_HELP]
    assert agent.methods() == ["deleteMessage", "sendMessage", "sendMessage", "setMyCommands"]
    assert agent.calls("deleteMessage") == [{"method": "deleteMessage", "message_id": message["message_id"]}]
    assert app.query("SELECT is_available FROM support_agents WHERE user_id = 1")[0][0] == 1
    # Agents get their own command menu, for their chat only (no language: it is in theirs).
    [menu] = agent.calls("setMyCommands")
    assert menu_names(menu) == AGENT_MENU and "language_code" not in menu
    assert AGENT_BASICS <= set(AGENT_MENU) and "start" not in AGENT_MENU
    assert menu["commands"] == [[name, t("en", f"cmd_{name}")] for name in AGENT_MENU]
    # The default menu, queued at start-up, is the clients', in each language and without one.
    assert {"start", "help"} <= set(CLIENT_MENU) and not (AGENT_BASICS - {"help"}) & set(CLIENT_MENU)
    defaults = app.calls(0, "setMyCommands")
    assert [(c.get("language_code"), menu_names(c)) for c in defaults] == [
        ("ru", CLIENT_MENU), ("en", CLIENT_MENU), (None, CLIENT_MENU)]
    assert defaults[0]["commands"] == [[name, t("ru", f"cmd_{name}")] for name in CLIENT_MENU]


def test_register_without_token_explains_usage(app):
    user = app.user(1, "Agatha")
    user.send("/register_support")
    user.send("/register_support    ")
    assert user.texts() == [t("en", "register_usage")] * 2
    assert user.methods() == ["sendMessage"] * 2             # nothing to delete, no menu
    assert not app.query("SELECT * FROM support_agents")


def test_registering_twice_says_so(app, people):
    agent = people.agent()
    agent.send(f"/register_support {SUPPORT_TOKEN}")
    assert agent.texts() == [t("en", "register_already")]
    assert agent.methods() == ["deleteMessage", "sendMessage"]   # the token is removed all the same


def test_five_wrong_tokens_lock_the_user_out_even_for_the_right_one(app):
    user = app.user(1, "Mallory")
    sent = [user.send(f"/register_support guess-{i}") for i in range(5)]
    sent.append(user.send(f"/register_support {SUPPORT_TOKEN}"))
    minutes = 15
    assert user.texts() == [t("en", "register_wrong", left=left, minutes=minutes) for left in (4, 3, 2, 1)] + [
        t("en", "register_locked", minutes=minutes), t("en", "register_locked", minutes=minutes)]
    assert not app.query("SELECT * FROM support_agents")
    # Every attempt's message, guesses included, is removed from the chat.
    assert [c["message_id"] for c in user.calls("deleteMessage")] == [m["message_id"] for m in sent]
    # The lockout is in the database, so a restart does not reset it...
    assert app.query("SELECT locked_until FROM register_attempts WHERE user_id = 1")[0][0] is not None
    app.restart()
    app.tick(minutes * 60 - 60)
    user.clear()
    user.send(f"/register_support {SUPPORT_TOKEN}")
    assert user.texts() == [t("en", "register_locked", minutes=1)]
    # ...and it ends when its time is up.
    app.tick(60)
    user.clear()
    user.send(f"/register_support {SUPPORT_TOKEN}")
    assert user.texts() == [t("en", "register_ok"), AGENT_HELP]


def test_available_toggles_and_unavailable_agents_get_no_clients(app, people):
    agent = people.agent()
    agent.send("/available")
    assert agent.texts() == [t("en", "available_off")]
    assert app.query("SELECT is_available FROM support_agents WHERE user_id = ?", agent.id)[0][0] == 0
    client = app.user(10, "Carl")
    client.send("hello?")
    assert client.last() == t("en", "queued", position=1)
    app.tick(3 * 60)
    agent.clear()
    agent.send("/available")                               # back on: takes the waiting client
    assert agent.texts() == [t("en", "available_on"),
                             t("en", "new_client", name="Carl", client_id=10, username="", language="en"),
                             t("en", "waited", minutes=3),
                             RELAY_HEADER.format(name="Carl") + "\nhello?"]


def test_going_unavailable_during_a_dialog_keeps_the_dialog(app, people):
    agent = people.agent()
    client = people.client_in_dialog(agent)
    agent.send("/available")
    agent.send("still here")
    assert agent.texts() == [t("en", "available_off_in_dialog")]
    assert client.calls()[-1]["method"] == "copyMessage" and client.texts() == ["still here"]
    assert app.query("SELECT status FROM dialogs WHERE client_id = ?", client.id)[0][0] == "open"


def test_end_chat_closes_the_ticket_and_tells_the_client(app, people):
    agent = people.agent()
    client = people.client_in_dialog(agent)
    agent.send("/end_chat")
    assert client.texts() == [t("en", "ticket_closed")]
    assert agent.texts() == [t("en", "end_done", name="Carl")]
    assert app.query("SELECT status FROM dialogs WHERE client_id = ?", client.id)[0][0] == "closed"
    agent.clear()
    agent.send("/end_chat")
    agent.send("anyone?")
    assert agent.texts() == [t("en", "end_no_dialog"), t("en", "agent_no_dialog", queue=0)]


def history_file(app, agent) -> str:
    """The last /history file the agent was sent, as the sender writes it."""
    [call] = agent.calls("sendHistory")[-1:]
    assert call["lang"] == "en"
    return app.history_file(call)


def test_history_sends_the_whole_history_as_a_file_and_keeps_the_dialog(app, people):
    agent = people.agent()
    client = app.user(10, "Carl")
    client.send("first visit")
    agent.send("answer one")
    agent.send("/end_chat")
    client.send("second visit")
    agent.send("/history")
    assert [(c["client_id"], c["lang"]) for c in agent.calls("sendHistory")] == [(10, "en")]
    content = history_file(app, agent)
    assert [line.split("] ", 1)[1] for line in content.splitlines() if line.startswith("[")] == [
        "Client Carl: first visit", "Agent Agatha: answer one", "Client Carl: second visit"]
    assert content.count("--- Dialog #") == 2
    client.send("still talking")                          # /history did not end the dialog
    assert agent.last() == RELAY_HEADER.format(name="Carl") + "\nstill talking"


def test_history_of_any_client_by_id(app, people):
    agent = people.agent()
    client = app.user(10, "Carl")
    client.send("hello from Carl")
    agent.send("/end_chat")
    agent.send("/history 10")
    assert agent.calls("sendHistory")[-1]["client_id"] == 10
    assert "Client Carl: hello from Carl" in history_file(app, agent)


@pytest.mark.parametrize("command, key", [
    ("/history abc", "history_usage"),
    ("/history 10 11", "history_usage"),
    ("/history -5", "history_usage"),
    ("/history 99999999999999999999999", "history_usage"),
    ("/history 123", "history_unknown"),
    ("/history", "history_no_dialog"),
])
def test_history_with_a_bad_or_missing_target_explains(app, people, command, key):
    agent = people.agent()
    agent.send(command)
    assert agent.texts() == [t("en", key, client_id=123)]
    assert not agent.calls("sendHistory")


def test_stats_counts_the_agents_work_and_the_desk(app, people):
    agent, other = people.agent("Agatha"), people.agent("Boris")
    other.send("/available")                              # Boris steps away
    c1, c2 = app.user(10, "Carl"), app.user(11, "Dora")
    c1.send("q1")
    app.tick(7)
    agent.send("a1")
    agent.send("a2")
    agent.send("/end_chat")
    c1.send("again")                                      # Agatha takes Carl again
    c2.send("q2")                                         # nobody free: Dora waits
    agent.clear()
    agent.send("/stats")
    [stats] = agent.texts()
    assert "Dialogs closed: 1 (today: 1)" in stats
    assert "Messages sent to clients: 2" in stats
    assert "Now: with Carl" in stats
    assert "Clients in the queue: 1" in stats
    assert "Agents available: 1" in stats
    assert "Average first response: 0:00:07" in stats
    assert "Average dialog length: 0:00:07" in stats


@pytest.mark.parametrize("command", ["/available", "/end_chat", "/history", "/history 10", "/stats"])
def test_agent_commands_from_a_client_are_politely_refused_and_change_nothing(app, people, command):
    agent = people.agent()
    client = people.client_in_dialog(agent, user_id=10)
    client.send(command)
    assert client.texts() == [t("en", "agent_only")]
    assert agent.calls() == []                            # nothing relayed, nothing closed
    assert app.query("SELECT status FROM dialogs WHERE client_id = 10")[0][0] == "open"
    assert app.query("SELECT COUNT(*) FROM chat_history")[0][0] == 1   # the command is no message


def test_help_depends_on_the_role(app, people):
    agent, client = people.agent(), app.user(10, "Carl")
    agent.send("/help")
    client.send("/help")
    assert agent.texts() == [AGENT_HELP]
    assert client.texts() == [help_text("client", "en")]
    agent.send("/start")
    assert agent.texts() == [AGENT_HELP, AGENT_HELP]
    assert not app.query("SELECT * FROM clients WHERE user_id = ?", agent.id)   # /start made no client of them


def test_a_client_who_becomes_an_agent_ends_their_own_ticket(app, people):
    agent = people.agent()
    client = people.client_in_dialog(agent, user_id=10)
    client.send(f"/register_support {SUPPORT_TOKEN}")
    assert agent.texts() == [t("en", "end_done", name="Carl")]
    assert client.texts() == [t("en", "ticket_closed"), t("en", "register_ok"), AGENT_HELP]
    assert app.query("SELECT status FROM dialogs WHERE client_id = 10")[0][0] == "closed"
    assert app.query("SELECT 1 FROM support_agents WHERE user_id = 10")
