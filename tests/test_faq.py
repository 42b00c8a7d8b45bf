"""FAQ answers while waiting (FAQ_FILE): matching with a real stemmer on realistic Russian and
English questions, automatic answers in the queue that the agent later sees, /faq with buttons,
and malformed files refused at start-up."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from fake_telegram import media
from harness import ROOT, SUPPORT_TOKEN
from inproc import Desk, People, settings

import config
from desk import faq
from texts import RELAY_HEADER, t

SHIPPED = config.load_faq(str(ROOT / "faq.example.toml"))
TRACK, DELIVERY_COST, RETURN = 0, 1, 2

FAQ = """
[[faq]]
question = "Как отследить заказ?"
keywords = ["отследить", "трек", "где заказ"]
answer = "Трек-номер приходит в SMS в день отправки."

[[faq]]
question = { ru = "Когда будет доставка?", en = "When will it be delivered?" }
keywords = ["доставка", "delivery"]
answer = { ru = "Доставка занимает 2–5 дней.", en = "Delivery takes 2 to 5 days." }
"""


def desk_with(conn, tmp_path: Path, toml: str = FAQ, intake: str | None = None, **overrides) -> tuple[Desk, People]:
    path = tmp_path / "faq.toml"
    path.write_text(toml, encoding="utf-8")
    if intake is not None:
        (tmp_path / "intake.toml").write_text(intake, encoding="utf-8")
        overrides["intake_questions"] = config.load_intake(str(tmp_path / "intake.toml"))
    app = Desk(conn, settings(str(tmp_path / "unit.db"), faq=config.load_faq(str(path)), **overrides))
    return app, People(app)


def automatic(lang: str, question: str, answer: str) -> str:
    return t(lang, "faq_auto", question=question, answer=answer)


# --- Matching -----------------------------------------------------------------------------------


@pytest.mark.parametrize("text, entry", [
    ("Где мой заказ?", TRACK),
    ("ГДЕ, мой ЗАКАЗ?!", TRACK),                                   # case and punctuation
    ("Здравствуйте! Заказ оформил неделю назад, где он сейчас?", TRACK),   # words in any order
    ("Подскажите, как отследить посылку", TRACK),
    ("Не приходит трек-номер", TRACK),
    ("Где заказы, которые я оплатил?", TRACK),                     # "заказы" is "заказ"
    ("Какая стоимость доставки в Казань?", DELIVERY_COST),         # "доставки" is "доставка"
    ("Сколько стоит доставка курьером?", DELIVERY_COST),
    ("Цена доставки до Москвы", DELIVERY_COST),
    ("Хочу вернуть товар, он не подошёл", RETURN),
    ("Как оформить возврат?", RETURN),
    ("Когда вернут деньги за возврат?", RETURN),
    ("Where is my order?", TRACK),
    ("How can I track the parcel?", TRACK),
    ("I want a refund", RETURN),
    ("What is the shipping cost?", DELIVERY_COST),
])
def test_realistic_questions_find_their_answer(text, entry):
    assert faq.match(SHIPPED, text) == entry


@pytest.mark.parametrize("text", [
    "Здравствуйте!",
    "Хочу оплатить заказ картой",              # "заказ" alone is not "где заказ"
    "Где ваш офис?",                           # "где" alone neither
    "Трекер активности не работает",           # "трекер" is not "трек"
    "Доставили не тот товар",                  # "доставили" is not "доставка", "товар" alone is not "вернуть товар"
    "Сколько стоит iPhone?",
    "Можно поговорить с человеком?",
    "Order 12345",
    "",
    "?!…",
])
def test_questions_about_something_else_find_nothing(text):
    assert faq.match(SHIPPED, text) is None


def test_inflection_uses_a_real_stemmer():
    entry = config.FaqEntry(config.Localized((("", "Q"),)), ("доставка",), config.Localized((("", "A"),)))
    for text in ("доставки", "доставку", "Доставкой", "о доставке"):
        assert faq.match((entry,), text) == 0, text
    assert faq.stems("Ёлки, ЗАКАЗЫ!") == faq.stems("елка заказ")


def test_the_most_specific_keyword_wins_then_the_first_entry():
    def entry(*keywords: str) -> config.FaqEntry:
        return config.FaqEntry(config.Localized((("", "Q"),)), keywords, config.Localized((("", "A"),)))
    entries = (entry("заказ"), entry("отменить заказ"), entry("заказ"))
    assert faq.match(entries, "Как отменить заказ?") == 1
    assert faq.match(entries, "Мой заказ") == 0


# --- Automatic answers in the queue -------------------------------------------------------------


def test_a_waiting_client_gets_an_automatic_answer_and_the_agent_sees_it_later(conn, tmp_path):
    app, people = desk_with(conn, tmp_path)
    client = people.client(language_code="ru", name="Кира")
    message = client.send("Где мой заказ? Жду уже неделю")
    assert client.texts() == [t("ru", "queued", position=1),
                              automatic("ru", "Как отследить заказ?", "Трек-номер приходит в SMS в день отправки.")]
    reply = client.calls("sendMessage")[-1]["reply_parameters"]
    assert reply["message_id"] == message["message_id"]                 # the answer says what it answers
    assert app.query("SELECT status FROM dialogs")[0][0] == "queued"    # still waiting
    client.send("спасибо, но я всё равно подожду")
    agent = app.user(1, "Agatha")
    agent.send(f"/register_support {SUPPORT_TOKEN}")                    # the queue is served
    shown = agent.texts()
    card = next(x for x in shown if x.startswith("🤖"))
    assert card == (t("en", "faq_card") + "\n"
                    + t("en", "faq_card_line", question="Как отследить заказ?", message="Где мой заказ? Жду уже неделю"))
    prefix = RELAY_HEADER.format(name="Кира") + "\n"
    relayed = [x[len(prefix):] for x in shown if x.startswith(prefix)]
    assert relayed == ["Где мой заказ? Жду уже неделю", "спасибо, но я всё равно подожду"]   # nothing held back
    assert shown.index(card) < shown.index(prefix + relayed[0])


def test_each_answer_is_given_once_per_dialog_and_other_messages_get_none(conn, tmp_path):
    app, people = desk_with(conn, tmp_path)
    client = people.client()
    client.send("Where is the delivery?")
    client.send("Delivery???")
    client.send("hello, anyone?")
    client.send(**media("photo", caption="delivery label"))             # media are not matched
    answers = [x for x in client.texts() if x.startswith("🤖")]
    assert answers == [automatic("en", "When will it be delivered?", "Delivery takes 2 to 5 days.")]
    client.send("где заказ")
    assert client.last() == automatic("en", "Как отследить заказ?", "Трек-номер приходит в SMS в день отправки.")


def test_no_automatic_answers_during_the_questions_then_the_first_message_is_answered(conn, tmp_path):
    intake = '[[questions]]\nkey = "topic"\ntext = "What is it about?"\n'
    app, people = desk_with(conn, tmp_path, intake=intake)
    client = people.client()
    client.send("где мой заказ")                     # starts the questions: no answer yet
    assert not [x for x in client.texts() if x.startswith("🤖")]
    client.send("доставка")                          # the answer to the question is not an FAQ question
    assert client.texts()[-2:] == [t("en", "queued", position=1),
                                   automatic("en", "Как отследить заказ?", "Трек-номер приходит в SMS в день отправки.")]
    agent = app.user(1, "Agatha")
    agent.send(f"/register_support {SUPPORT_TOKEN}")
    card = next(x for x in agent.texts() if x.startswith("📋"))
    assert card.endswith("\n\n" + t("en", "faq_card") + "\n"
                         + t("en", "faq_card_line", question="Как отследить заказ?", message="где мой заказ"))


def test_no_automatic_answers_while_talking_with_an_agent(conn, tmp_path):
    app, people = desk_with(conn, tmp_path)
    client = people.client_in_dialog()
    client.send("где мой заказ?")                    # the agent answers this one
    assert client.texts() == []


def test_outside_working_hours_the_waiting_client_is_answered_too(conn, tmp_path):
    app, people = desk_with(conn, tmp_path, working_hours=config.parse_working_hours("Mon-Fri 09:00-18:00"))
    people.agent()                                   # available, but the desk is closed
    app.now = datetime(2027, 1, 16, 12, 0, tzinfo=ZoneInfo("UTC")).timestamp()      # a Saturday
    client = people.client()
    client.send("когда доставка?")
    assert client.last() == automatic("en", "When will it be delivered?", "Delivery takes 2 to 5 days.")
    assert app.query("SELECT status FROM dialogs")[0][0] == "queued"


def test_without_an_faq_nothing_is_answered(app, people):
    client = people.client()
    client.send("где мой заказ")
    assert client.texts() == [t("en", "queued", position=1)]
    client.send("/faq")
    assert client.last() == t("en", "faq_none")


# --- /faq ---------------------------------------------------------------------------------------


def press(app: Desk, user, data: str, callback_id: str = "cb1") -> None:
    app.push({"callback_query": {"id": callback_id, "from": user.as_user(), "chat_instance": "x", "data": data,
                                 "message": {"message_id": 50, "date": int(app.now), "chat": user.chat(),
                                             "text": "faq"}}})


def test_faq_lists_the_questions_and_a_press_shows_the_answer(conn, tmp_path):
    app, people = desk_with(conn, tmp_path)
    client = people.client(language_code="ru", name="Кира")
    client.send("/faq")
    listing = client.calls("sendMessage")[-1]
    assert listing["text"] == t("ru", "faq_list")
    buttons = [row[0] for row in listing["reply_markup"]["inline_keyboard"]]
    assert [b["text"] for b in buttons] == ["Как отследить заказ?", "Когда будет доставка?"]
    assert all(b["callback_data"].startswith(f"faq:{i}:") and len(b["callback_data"].encode()) <= 64
               for i, b in enumerate(buttons))
    client.clear()
    press(app, client, buttons[1]["callback_data"])
    assert client.calls() == [
        {"method": "answerCallbackQuery", "callback_query_id": "cb1"},
        {"method": "sendMessage", "text": t("ru", "faq_answer", question="Когда будет доставка?",
                                            answer="Доставка занимает 2–5 дней.")}]
    assert app.query("SELECT COUNT(*) FROM dialogs")[0][0] == 0          # a look at the FAQ opens no ticket


@pytest.mark.parametrize("data", ["faq:", "faq:9", "faq:-1", "faq:x", "faq:0:forged", "faq:99999999999:a",
                                  "faq:1:" + "z" * 60])
def test_a_forged_press_stops_the_spinner_and_shows_nothing(conn, tmp_path, data):
    app, people = desk_with(conn, tmp_path)
    client = people.client()
    press(app, client, data)
    assert client.calls() == [{"method": "answerCallbackQuery", "callback_query_id": "cb1",
                               "text": t("en", "faq_gone")}]


def test_a_press_on_an_old_list_after_the_file_changed_never_shows_the_wrong_answer(conn, tmp_path):
    app, people = desk_with(conn, tmp_path)
    client = people.client()
    client.send("/faq")
    old = [row[0]["callback_data"] for row in client.calls("sendMessage")[-1]["reply_markup"]["inline_keyboard"]]
    reordered = FAQ.split("[[faq]]")
    app.settings = app.dispatcher.settings = settings(
        app.settings.database_path, faq=config.load_faq(str(write(tmp_path, "[[faq]]" + reordered[2]))))
    client.clear()
    press(app, client, old[1])                        # the delivery question moved to the first place
    assert client.last() == t("en", "faq_answer", question="When will it be delivered?",
                              answer="Delivery takes 2 to 5 days.")
    client.clear()
    press(app, client, old[0], "cb2")                 # the tracking question is gone
    assert client.calls() == [{"method": "answerCallbackQuery", "callback_query_id": "cb2",
                               "text": t("en", "faq_gone")}]


def test_a_banned_client_gets_no_faq(conn, tmp_path):
    app, people = desk_with(conn, tmp_path)
    agent = people.agent()
    client = people.client()
    agent.send(f"/ban {client.id}")
    client.send("/faq")
    client.send("/skip")
    press(app, client, "faq:0")
    assert client.calls() == [{"method": "sendMessage", "text": t("en", "banned_notice")},
                              {"method": "answerCallbackQuery", "callback_query_id": "cb1"}]


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "new-faq.toml"
    path.write_text(text, encoding="utf-8")
    return path


# --- Malformed files ----------------------------------------------------------------------------

ENTRY = "[[faq]]\nquestion = 'Q?'\nkeywords = ['word']\nanswer = 'A.'\n"
BAD = [
    ("[[faq]\n", "not valid TOML"),
    ("", "no [[faq]]"),
    ("[faq]\nquestion = 'Q'", "no [[faq]]"),
    ("[[faq]]\nkeywords = ['a']\nanswer = 'A'", "question is missing"),
    ("[[faq]]\nquestion = 'Q'\nanswer = 'A'", "keywords is missing"),
    ("[[faq]]\nquestion = 'Q'\nkeywords = ['a']", "answer is missing"),
    ("[[faq]]\nquestion = ''\nkeywords = ['a']\nanswer = 'A'", "question is empty"),
    ("[[faq]]\nquestion = 'Q'\nkeywords = ['a']\nanswer = { ru = '' }", "answer (ru) is empty"),
    ("[[faq]]\nquestion = 'Q'\nkeywords = []\nanswer = 'A'", "keywords must be a list"),
    ("[[faq]]\nquestion = 'Q'\nkeywords = 'a'\nanswer = 'A'", "keywords must be a list"),
    ("[[faq]]\nquestion = 'Q'\nkeywords = ['a', 2]\nanswer = 'A'", "keywords must be a list"),
    ("[[faq]]\nquestion = 'Q'\nkeywords = ['?!']\nanswer = 'A'", "the keyword '?!' must have a word"),
    ("[[faq]]\nquestion = 'Q'\nkeywords = ['a']\nanswer = 'A'\nanwser = 'B'", "unknown key 'anwser'"),
    ("[[faq]]\nquestion = '" + "q" * 121 + "'\nkeywords = ['a']\nanswer = 'A'", "longer than 120"),
    (ENTRY * 51, "more than 50"),
]


@pytest.mark.parametrize("toml, problem", BAD)
def test_a_malformed_faq_file_is_refused_naming_the_variable_the_file_and_the_problem(tmp_path, toml, problem):
    path = tmp_path / "faq.toml"
    path.write_text(toml, encoding="utf-8")
    with pytest.raises(config.ConfigError) as caught:
        config.load_settings({"BOT_TOKEN": "1:abc", "SUPPORT_TOKEN": "x" * 16, "FAQ_FILE": str(path)})
    message = str(caught.value)
    assert message.startswith("FAQ_FILE") and str(path) in message and problem in message, message
    assert "\n" not in message


def test_a_missing_faq_file_is_refused_and_unset_means_none(tmp_path):
    base = {"BOT_TOKEN": "1:abc", "SUPPORT_TOKEN": "x" * 16}
    with pytest.raises(config.ConfigError, match="FAQ_FILE: there is no file"):
        config.load_settings({**base, "FAQ_FILE": str(tmp_path / "faq.toml")})
    assert config.load_settings(base).faq == ()


def test_the_shipped_example_is_valid():
    assert [e.question.get("ru") for e in SHIPPED] == ["Как отследить заказ?", "Сколько стоит доставка?",
                                                       "Как вернуть товар?"]
    assert all(e.answer.get("en") != e.answer.get("ru") for e in SHIPPED)
