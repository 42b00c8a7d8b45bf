"""End to end: what users send that they should not — the desk answers clearly, loses nothing, lives on."""

from __future__ import annotations

import pytest
from harness import register_agent

from handlers.table import help_text
from texts import RELAY_HEADER, t


@pytest.mark.parametrize("command", ["/foo", "/START_NOW", "/register", "/end", "/help@other_bot extra"])
def test_unknown_commands_get_help_and_are_not_relayed(fake, desk, command):
    agent, client = fake.user(1, "Agatha"), fake.user(10, "Carl")
    register_agent(desk, agent)
    client.send("hello")
    desk.settle()
    before = len(agent.inbox())
    client.send(command)
    desk.settle()
    if command.startswith("/help"):
        assert client.texts()[-1] == help_text("client", "en")
    else:
        assert client.texts()[-1] == t("en", "unknown_command") + "\n\n" + help_text("client", "en")
    assert len(agent.inbox()) == before


def test_unknown_command_from_an_agent_gets_the_agent_help(fake, desk):
    agent = fake.user(1, "Agatha")
    register_agent(desk, agent)
    agent.send("/endchat")
    desk.settle()
    assert agent.texts()[-1] == t("en", "unknown_command") + "\n\n" + help_text("agent", "en")


def test_text_that_only_looks_like_a_path_is_a_normal_message(fake, desk):
    agent, client = fake.user(1, "Agatha"), fake.user(10, "Carl")
    register_agent(desk, agent)
    client.send("/usr/bin is missing on my server", entities=[])   # Telegram marked no command
    desk.settle()
    assert agent.texts()[-1] == RELAY_HEADER.format(name="Carl") + "\n/usr/bin is missing on my server"


def test_start_with_a_deep_link_payload_works_like_start(fake, desk):
    client = fake.user(10, "Carl")
    client.send("/start promo_2026")
    desk.settle()
    assert client.texts() == [t("en", "ask_name")]


def test_strange_updates_are_ignored_and_the_desk_goes_on(fake, desk):
    agent, client = fake.user(1, "Agatha"), fake.user(10, "Carl")
    register_agent(desk, agent)
    group = {"id": -100123, "type": "supergroup", "title": "Shop chat"}
    fake.push_message(group, client.as_user(), {"text": "hi group"})
    fake.push_message(group, client.as_user(), {"text": "/end_chat", "entities": [
        {"type": "bot_command", "offset": 0, "length": 9}]})
    fake.push_message({"id": -200, "type": "group", "title": "g"}, None, {"text": "no sender"})
    fake.push_raw({"channel_post": {"message_id": 1, "date": 0, "chat": {"id": -300, "type": "channel"},
                                    "text": "news"}})
    fake.push_raw({"edited_message": {"message_id": 1, "date": 0, "edit_date": 1,
                                      "chat": {"id": 10, "type": "private"}, "from": client.as_user(), "text": "x"}})
    fake.push_raw({"my_chat_member": {"chat": {"id": 10, "type": "private"}, "from": client.as_user(), "date": 0,
                                      "old_chat_member": {"status": "member", "user": client.as_user()},
                                      "new_chat_member": {"status": "kicked", "user": client.as_user(),
                                                          "until_date": 0}}})
    fake.push_raw({"some_future_update_kind": {"x": 1}})
    fake.push_message({"id": 77, "type": "private", "first_name": "Bot"},
                      {"id": 77, "is_bot": True, "first_name": "OtherBot"}, {"text": "beep"})
    client.send("real question")
    desk.settle()
    assert agent.texts()[-1] == RELAY_HEADER.format(name="Carl") + "\nreal question"
    assert not fake.inbox(-100123) and not fake.inbox(-200) and not fake.inbox(-300) and not fake.inbox(77)
    assert not desk.query("SELECT * FROM failed_updates")
    assert [r[0] for r in desk.query("SELECT client_id FROM dialogs")] == [10]


def test_a_service_message_in_private_is_ignored(fake, desk):
    client = fake.user(10, "Carl")
    fake.push_message({"id": 10, "type": "private", "first_name": "Carl"}, client.as_user(),
                      {"pinned_message": {"message_id": 1, "date": 0, "chat": {"id": 10, "type": "private"}}})
    client.send("/start")
    desk.settle()
    assert client.texts() == [t("en", "ask_name")]


@pytest.mark.parametrize("answer, is_name", [("x" * 64, True), ("x" * 65, False)])
def test_a_name_is_at_most_64_characters_and_a_longer_answer_is_a_question(fake, desk, answer, is_name):
    agent, client = fake.user(1, "Agatha"), fake.user(10, "Carl")
    register_agent(desk, agent)
    client.send("/start")
    client.send(answer)
    desk.settle()
    if is_name:
        assert client.texts()[-1] == t("en", "name_saved", name=answer)
        assert desk.query("SELECT name FROM clients WHERE user_id = 10")[0][0] == answer
    else:
        assert agent.texts()[-1] == RELAY_HEADER.format(name="Carl") + "\n" + answer


def test_a_message_that_cannot_be_copied_is_reported_to_its_author(fake, desk):
    agent, client = fake.user(1, "Agatha"), fake.user(10, "Carl")
    register_agent(desk, agent)
    client.send("hello")
    desk.settle()
    sent = agent.send("I will delete this")
    fake.user_messages.pop((1, sent["message_id"]))        # gone before it could be copied
    desk.settle()
    notice = agent.inbox()[-1]
    assert notice["text"] == t("en", "delivery_failed", reason="400 Bad Request: message to copy not found")
    agent.send("second try")                              # the chat is not stuck behind it
    desk.settle()
    assert client.inbox()[-1]["copied"]["text"] == "second try"
