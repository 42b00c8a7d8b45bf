"""What users send that they should not — the desk answers clearly, loses nothing, lives on — in-process.

That a message Telegram refuses to copy is reported to its author needs the sender and the Bot
API, so it is tested end to end in test_relay.py.
"""

from __future__ import annotations

import pytest

from handlers.table import help_text
from texts import RELAY_HEADER, t


@pytest.mark.parametrize("command", ["/foo", "/START_NOW", "/register", "/end", "/help@other_bot extra"])
def test_unknown_commands_get_help_and_are_not_relayed(app, people, command):
    agent = people.agent()
    client = people.client_in_dialog(agent)
    client.send(command)
    if command.startswith("/help"):
        assert client.texts() == [help_text("client", "en")]
    else:
        assert client.texts() == [t("en", "unknown_command") + "\n\n" + help_text("client", "en")]
    assert agent.calls() == []
    assert [r[0] for r in app.query("SELECT text FROM chat_history")] == ["hello"]


def test_unknown_command_from_an_agent_gets_the_agent_help(app, people):
    agent = people.agent()
    agent.send("/endchat")
    assert agent.texts() == [t("en", "unknown_command") + "\n\n" + help_text("agent", "en")]


def test_text_that_only_looks_like_a_path_is_a_normal_message(app, people):
    agent = people.agent()
    client = app.user(10, "Carl")
    client.send("/usr/bin is missing on my server", entities=[])   # Telegram marked no command
    assert agent.last() == RELAY_HEADER.format(name="Carl") + "\n/usr/bin is missing on my server"


def test_start_with_a_deep_link_payload_works_like_start(app):
    client = app.user(10, "Carl")
    client.send("/start promo_2026")
    assert client.texts() == [t("en", "ask_name")]


def test_strange_updates_are_ignored_and_the_desk_goes_on(app, people):
    agent = people.agent()
    client = app.user(10, "Carl")
    group = {"id": -100123, "type": "supergroup", "title": "Shop chat"}
    app.push_message(group, client.as_user(), {"text": "hi group"})
    app.push_message(group, client.as_user(), {"text": "/end_chat", "entities": [
        {"type": "bot_command", "offset": 0, "length": 9}]})
    app.push_message(group, agent.as_user(), {"text": "/stats", "entities": [
        {"type": "bot_command", "offset": 0, "length": 6}]})
    app.push_message({"id": -200, "type": "group", "title": "g"}, None, {"text": "no sender"})
    app.push({"channel_post": {"message_id": 1, "date": 0, "chat": {"id": -300, "type": "channel"},
                               "text": "news"}})
    app.push({"edited_message": {"message_id": 1, "date": 0, "edit_date": 1,
                                 "chat": {"id": 10, "type": "private"}, "from": client.as_user(), "text": "x"}})
    app.push({"my_chat_member": {"chat": {"id": 10, "type": "private"}, "from": client.as_user(), "date": 0,
                                 "old_chat_member": {"status": "member", "user": client.as_user()},
                                 "new_chat_member": {"status": "kicked", "user": client.as_user(),
                                                     "until_date": 0}}})
    app.push({"some_future_update_kind": {"x": 1}})
    app.push_message({"id": 77, "type": "private", "first_name": "Bot"},
                     {"id": 77, "is_bot": True, "first_name": "OtherBot"}, {"text": "beep"})
    # Nothing was said anywhere, stored, or started, and no update failed (app.push checks that).
    assert app.query("SELECT DISTINCT chat_id FROM outbox WHERE chat_id <> 0 AND chat_id <> ?", agent.id) == []
    assert app.query("SELECT * FROM chat_history") == [] and app.query("SELECT * FROM clients") == []
    client.send("real question")
    assert agent.last() == RELAY_HEADER.format(name="Carl") + "\nreal question"
    assert not app.calls(-100123) and not app.calls(-200) and not app.calls(-300) and not app.calls(77)
    assert not app.query("SELECT * FROM failed_updates")
    assert [r[0] for r in app.query("SELECT client_id FROM dialogs")] == [10]


def test_a_service_message_in_private_is_ignored(app):
    client = app.user(10, "Carl")
    app.push_message(client.chat(), client.as_user(),
                     {"pinned_message": {"message_id": 1, "date": 0, "chat": {"id": 10, "type": "private"}}})
    assert client.calls() == [] and app.query("SELECT * FROM clients") == []
    client.send("/start")
    assert client.texts() == [t("en", "ask_name")]


@pytest.mark.parametrize("answer, is_name", [("x" * 64, True), ("x" * 65, False)])
def test_a_name_is_at_most_64_characters_and_a_longer_answer_is_a_question(app, people, answer, is_name):
    agent = people.agent()
    client = app.user(10, "Carl")
    client.send("/start")
    client.send(answer)
    if is_name:
        assert client.last() == t("en", "name_saved", name=answer)
        assert app.query("SELECT name FROM clients WHERE user_id = 10")[0][0] == answer
        assert agent.calls() == []
    else:
        assert agent.last() == RELAY_HEADER.format(name="Carl") + "\n" + answer
        assert app.query("SELECT name FROM clients WHERE user_id = 10")[0][0] == "Carl"
