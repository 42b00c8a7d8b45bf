"""What a client experiences — greeting, name, assignment, queue, closing, language — in-process."""

from __future__ import annotations

from fake_telegram import media
from harness import SUPPORT_TOKEN

from texts import RELAY_HEADER, t


def relayed(name: str, text: str) -> str:
    return RELAY_HEADER.format(name=name) + "\n" + text


def test_start_asks_the_name_once_offering_the_telegram_name(app):
    client = app.user(10, "Carl")
    client.send("/start")
    [ask] = client.calls()
    assert ask["text"] == t("en", "ask_name")
    assert ask["reply_markup"]["keyboard"] == [[{"text": "Carl"}]]
    client.send("  Mr.   Carl  Jr ")
    saved = client.calls()[1]
    assert saved["text"] == t("en", "name_saved", name="Mr. Carl Jr")
    assert saved["reply_markup"] == {"remove_keyboard": True}
    assert tuple(app.query("SELECT name, awaiting_name FROM clients WHERE user_id = 10")[0]) == ("Mr. Carl Jr", 0)
    client.send("/start")                                  # asked once: now greeted by name
    assert client.last() == t("en", "welcome_back", name="Mr. Carl Jr")
    assert len(client.calls()) == 3


def test_agent_sees_the_chosen_name_on_every_message(app, people):
    agent = people.agent()
    client = app.user(10, "Carl", username="carl_k")
    client.send("/start")
    client.send("Carlos")
    client.send("my order is late")
    client.send("order 42")
    assert agent.texts() == [t("en", "new_client", name="Carlos", client_id=10, username=", @carl_k", language="en"),
                             relayed("Carlos", "my order is late"), relayed("Carlos", "order 42")]
    assert client.last() == t("en", "connected", agent="Agatha")


def test_a_client_who_just_writes_is_greeted_and_the_message_is_not_lost(app, people):
    agent = people.agent()
    client = app.user(10, "Dana")
    client.send("hi, is anyone there?")
    assert client.texts() == [t("en", "greet_first_message", name="Dana"), t("en", "connected", agent="Agatha")]
    assert agent.last() == relayed("Dana", "hi, is anyone there?")
    assert [r[0] for r in app.query("SELECT text FROM chat_history WHERE client_id = 10")] == ["hi, is anyone there?"]


def test_a_long_answer_to_the_name_question_is_a_question_and_is_relayed(app, people):
    agent = people.agent()
    client = app.user(10, "Eve")
    client.send("/start")
    question = "Hello, I bought a kettle last week and it stopped working, what can I do about it?"
    client.send(question)
    assert agent.last() == relayed("Eve", question)
    assert app.query("SELECT name FROM clients WHERE user_id = 10")[0][0] == "Eve"


def test_media_instead_of_a_name_is_relayed_under_the_telegram_name(app, people):
    agent = people.agent()
    client = app.user(10, "Eve")
    client.send("/start")
    photo = client.send(**media("photo", caption="this is broken"))
    last = agent.calls()[-1]
    assert last["method"] == "copyMessage" and last["message_id"] == photo["message_id"]
    assert last["caption"] == relayed("Eve", "this is broken")


def test_with_nobody_free_clients_queue_in_order_and_are_served_in_order(app, people):
    first, second = app.user(10, "First"), app.user(11, "Second")
    first.send("question one")
    second.send("question two")
    first.send("more detail")
    assert first.last() == t("en", "queued", position=1)
    assert second.last() == t("en", "queued", position=2)
    assert first.texts().count(t("en", "queued", position=1)) == 1  # told once, not per message

    agent = app.user(1, "Agatha")
    agent.send(f"/register_support {SUPPORT_TOKEN}")       # a new agent takes the longest waiting
    texts = agent.texts()
    assert texts[-3] == t("en", "waited", minutes=1)       # under a minute still reads as 1 min
    assert texts[-2:] == [relayed("First", "question one"), relayed("First", "more detail")]
    assert first.last() == t("en", "connected", agent="Agatha")
    assert second.last() == t("en", "queued", position=2)  # still waiting

    agent.send("/end_chat")                               # freed: the next one comes automatically
    assert first.last() == t("en", "ticket_closed")
    assert agent.last() == relayed("Second", "question two")
    assert second.last() == t("en", "connected", agent="Agatha")


def test_start_while_queued_or_in_a_dialog_says_where_the_client_stands(app, people):
    client = app.user(10, "Carl")
    client.send("help")
    client.send("/start")
    assert client.last() == t("en", "queued", position=1)
    people.agent()
    client.send("/start")
    assert client.last() == t("en", "in_dialog")


def test_after_the_ticket_closes_the_client_can_come_back_any_time(app, people):
    agent = people.agent()
    client = app.user(10, "Carl")
    client.send("first question")
    agent.send("/end_chat")
    app.tick(3 * 24 * 3600)
    client.send("second question")
    assert agent.last() == relayed("Carl", "second question")
    assert [r[0] for r in app.query("SELECT status FROM dialogs WHERE client_id = 10 ORDER BY id")] == [
        "closed", "open"]


def test_two_clients_go_to_two_different_agents(app, people):
    a1, a2 = people.agent("Agatha", user_id=1), people.agent("Boris", user_id=2)
    c1, c2 = app.user(10, "Carl"), app.user(11, "Dora")
    c1.send("one")
    c2.send("two")
    open_dialogs = app.query("SELECT client_id, agent_id FROM dialogs WHERE status = 'open' ORDER BY client_id")
    assert [tuple(r) for r in open_dialogs] == [(10, 1), (11, 2)]   # never-busy agent 1 first, then 2
    assert a1.last() == relayed("Carl", "one") and a2.last() == relayed("Dora", "two")


def test_russian_users_get_russian_and_others_the_default(app):
    ru = app.user(10, "Иван", language_code="ru")
    de = app.user(11, "Hans", language_code="de")
    none = app.user(12, "Nobody", language_code=None)
    for user in (ru, de, none):
        user.send("/start")
    assert ru.texts() == [t("ru", "ask_name")]
    assert de.texts() == [t("en", "ask_name")]            # DEFAULT_LANGUAGE=en in the tests
    assert none.texts() == [t("en", "ask_name")]


def test_an_agent_is_told_in_their_own_language(app, people):
    agent = people.agent("Агата", language_code="ru-RU")
    client = app.user(10, "Carl", language_code="en")
    client.send("hello")
    assert t("ru", "new_client", name="Carl", client_id=10, username="", language="en") in agent.texts()
    assert client.last() == t("en", "connected", agent="Агата")
