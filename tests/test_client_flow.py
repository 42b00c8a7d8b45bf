"""End to end: what a client experiences — greeting, name, assignment, queue, closing, language."""

from __future__ import annotations

from harness import name_client, register_agent

from texts import RELAY_HEADER, t


def relayed(name: str, text: str) -> str:
    return RELAY_HEADER.format(name=name) + "\n" + text


def test_start_asks_the_name_once_offering_the_telegram_name(fake, desk):
    client = fake.user(10, "Carl")
    client.send("/start")
    [ask] = fake.wait_inbox(10, 1)
    assert ask["text"] == t("en", "ask_name")
    assert ask["reply_markup"]["keyboard"] == [[{"text": "Carl"}]]
    client.send("  Mr.   Carl  Jr ")
    desk.settle()
    saved = client.inbox()[1]
    assert saved["text"] == t("en", "name_saved", name="Mr. Carl Jr")
    assert saved["reply_markup"] == {"remove_keyboard": True}
    client.send("/start")                                  # asked once: now greeted by name
    desk.settle()
    assert client.texts()[-1] == t("en", "welcome_back", name="Mr. Carl Jr")


def test_agent_sees_the_chosen_name_on_every_message(fake, desk):
    agent = fake.user(1, "Agatha")
    register_agent(desk, agent)
    client = fake.user(10, "Carl", username="carl_k")
    name_client(desk, client, "Carlos")
    client.send("my order is late")
    client.send("order 42")
    desk.settle()
    texts = agent.texts()
    assert t("en", "new_client", name="Carlos", client_id=10, username=", @carl_k", language="en") in texts
    assert texts[-2:] == [relayed("Carlos", "my order is late"), relayed("Carlos", "order 42")]
    assert client.texts()[-1] == t("en", "connected", agent="Agatha")


def test_a_client_who_just_writes_is_greeted_and_the_message_is_not_lost(fake, desk):
    agent = fake.user(1, "Agatha")
    register_agent(desk, agent)
    client = fake.user(10, "Dana")
    client.send("hi, is anyone there?")
    desk.settle()
    assert client.texts() == [t("en", "greet_first_message", name="Dana"), t("en", "connected", agent="Agatha")]
    assert agent.texts()[-1] == relayed("Dana", "hi, is anyone there?")


def test_a_long_answer_to_the_name_question_is_a_question_and_is_relayed(fake, desk):
    agent = fake.user(1, "Agatha")
    register_agent(desk, agent)
    client = fake.user(10, "Eve")
    client.send("/start")
    question = "Hello, I bought a kettle last week and it stopped working, what can I do about it?"
    client.send(question)
    desk.settle()
    assert agent.texts()[-1] == relayed("Eve", question)


def test_media_instead_of_a_name_is_relayed_under_the_telegram_name(fake, desk):
    from fake_telegram import media
    agent = fake.user(1, "Agatha")
    register_agent(desk, agent)
    client = fake.user(10, "Eve")
    client.send("/start")
    client.send(**media("photo", caption="this is broken"))
    desk.settle()
    assert agent.inbox()[-1]["caption"] == relayed("Eve", "this is broken")


def test_with_nobody_free_clients_queue_in_order_and_are_served_in_order(fake, desk):
    first, second = fake.user(10, "First"), fake.user(11, "Second")
    first.send("question one")
    desk.settle()
    second.send("question two")
    first.send("more detail")
    desk.settle()
    assert first.texts()[-1] == t("en", "queued", position=1)
    assert second.texts()[-1] == t("en", "queued", position=2)
    assert first.texts().count(t("en", "queued", position=1)) == 1  # told once, not per message

    agent = fake.user(1, "Agatha")
    register_agent(desk, agent)                           # a new agent takes the longest waiting
    texts = agent.texts()
    assert texts[-3] == t("en", "waited", minutes=1)
    assert texts[-2:] == [relayed("First", "question one"), relayed("First", "more detail")]
    assert first.texts()[-1] == t("en", "connected", agent="Agatha")

    agent.send("/end_chat")                               # freed: the next one comes automatically
    desk.settle()
    assert first.texts()[-1] == t("en", "ticket_closed")
    assert agent.texts()[-1] == relayed("Second", "question two")
    assert second.texts()[-1] == t("en", "connected", agent="Agatha")


def test_start_while_queued_or_in_a_dialog_says_where_the_client_stands(fake, desk):
    client = fake.user(10, "Carl")
    client.send("help")
    client.send("/start")
    desk.settle()
    assert client.texts()[-1] == t("en", "queued", position=1)
    agent = fake.user(1, "Agatha")
    register_agent(desk, agent)
    client.send("/start")
    desk.settle()
    assert client.texts()[-1] == t("en", "in_dialog")


def test_after_the_ticket_closes_the_client_can_come_back_any_time(fake, desk):
    agent = fake.user(1, "Agatha")
    register_agent(desk, agent)
    client = fake.user(10, "Carl")
    client.send("first question")
    desk.settle()
    agent.send("/end_chat")
    desk.settle()
    client.send("second question")
    desk.settle()
    assert agent.texts()[-1] == relayed("Carl", "second question")
    assert len(desk.query("SELECT * FROM dialogs WHERE client_id = 10")) == 2


def test_two_clients_go_to_two_different_agents(fake, desk):
    a1, a2 = fake.user(1, "Agatha"), fake.user(2, "Boris")
    register_agent(desk, a1)
    register_agent(desk, a2)
    c1, c2 = fake.user(10, "Carl"), fake.user(11, "Dora")
    c1.send("one")
    c2.send("two")
    desk.settle()
    open_dialogs = desk.query("SELECT client_id, agent_id FROM dialogs WHERE status = 'open' ORDER BY client_id")
    assert [tuple(r) for r in open_dialogs] == [(10, 1), (11, 2)]   # never-busy agent 1 first, then 2


def test_russian_users_get_russian_and_others_the_default(fake, desk):
    ru = fake.user(10, "Иван", language_code="ru")
    de = fake.user(11, "Hans", language_code="de")
    none = fake.user(12, "Nobody", language_code=None)
    for user in (ru, de, none):
        user.send("/start")
    desk.settle()
    assert ru.texts() == [t("ru", "ask_name")]
    assert de.texts() == [t("en", "ask_name")]            # DEFAULT_LANGUAGE=en in the tests
    assert none.texts() == [t("en", "ask_name")]


def test_an_agent_is_told_in_their_own_language(fake, desk):
    agent = fake.user(1, "Агата", language_code="ru-RU")
    register_agent(desk, agent)
    client = fake.user(10, "Carl", language_code="en")
    client.send("hello")
    desk.settle()
    assert t("ru", "new_client", name="Carl", client_id=10, username="", language="en") in agent.texts()
    assert client.texts()[-1] == t("en", "connected", agent="Агата")
