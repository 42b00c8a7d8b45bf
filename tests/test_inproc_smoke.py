"""The in-process harness itself: a client reaches an agent and back, all through handle_update."""

from __future__ import annotations

import pytest
from harness import SUPPORT_TOKEN

import db
from texts import RELAY_HEADER


def test_a_client_reaches_an_agent_and_the_answer_comes_back(app, people):
    agent = people.agent()
    client = people.client_in_dialog(agent, first="hello")
    client.send("where is my order?")
    assert agent.texts() == [RELAY_HEADER.format(name="Carl") + "\nwhere is my order?"]
    agent.send("on its way")
    assert client.texts() == ["on its way"]
    assert app.query("SELECT COUNT(*) FROM chat_history")[0][0] == 3


# The harness itself must be able to fail a test: a call Telegram would refuse, a secret in a
# call, or an update that ended in failed_updates.


def queue(app, chat_id, method, payload):
    with db.atomic(app.conn):
        app.dispatcher.desk(app.now).call(chat_id, method, payload)


@pytest.mark.parametrize("method, payload, reason", [
    ("sendMessage", {"text": "x" * 4097}, "message is too long"),
    ("sendMessage", {"text": "   "}, "message text is empty"),
    ("sendMessage", {"text": "hi", "entities": [{"type": "bold", "offset": 1, "length": 5}]}, "entities"),
    ("copyMessage", {"from_chat_id": 10, "message_id": 99}, "message to copy not found"),
    ("deleteMessage", {"message_id": 99}, "message to delete not found"),
    ("setMyCommands", {"commands": [["Start", "Begin"]]}, "BOT_COMMAND_INVALID"),
    ("sendMessage", {"text": "pick", "reply_markup": {"inline_keyboard": [[{"text": "a", "callback_data": "x" * 65}]]}},
     "BUTTON_DATA_INVALID"),
    ("sendPhoto", {"photo": "x"}, "knows no method"),
])
def test_a_call_telegram_would_refuse_fails_the_test(app, method, payload, reason):
    queue(app, 10, method, payload)
    with pytest.raises(AssertionError, match=reason):
        app.check_calls()
    app.checked = app.last_call_id()          # seen: the fixture's own check at the end passes it


def test_a_secret_in_a_call_fails_the_test(app):
    queue(app, 10, "sendMessage", {"text": f"the token is {SUPPORT_TOKEN}"})
    with pytest.raises(AssertionError, match="a secret"):
        app.check_calls()
    app.checked = app.last_call_id()


def test_an_update_that_fails_fails_the_test(app, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(db, "get_client", broken)
    with pytest.raises(AssertionError, match="boom"):
        app.user(10, "Carl").send("hello")
