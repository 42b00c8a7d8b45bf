"""The intake questionnaire (INTAKE_FILE): questions before a new dialog reaches an agent, the card
the agent gets, progress kept across a restart, and malformed files refused at start-up."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from fake_telegram import media
from harness import BOT_TOKEN, ROOT, SUPPORT_TOKEN
from inproc import Desk, People, settings

import config
import db
from desk import Desk as RuleDesk
from desk import intake
from texts import RELAY_HEADER, t

TWO = """
[[questions]]
key = "topic"
text = { ru = "О чём ваш вопрос?", en = "What is your question about?" }
choices = [{ ru = "Доставка", en = "Delivery" }, { ru = "Оплата", en = "Payment" }, "Other"]

[[questions]]
key = "order"
text = { ru = "Номер заказа, если есть", en = "Your order number, if you have one" }
optional = true
"""

REQUIRED = """
[[questions]]
key = "city"
text = "Which city are you in?"
"""


def desk_with(conn, tmp_path: Path, toml: str = TWO, **overrides) -> tuple[Desk, People]:
    path = tmp_path / "intake.toml"
    path.write_text(toml, encoding="utf-8")
    app = Desk(conn, settings(str(tmp_path / "unit.db"), intake_questions=config.load_intake(str(path)),
                              **overrides))
    return app, People(app)


def step_of(app: Desk, client) -> int | None:
    return app.query("SELECT intake_step FROM dialogs WHERE client_id = ? AND status <> 'closed'", client.id)[0][0]


def status_of(app: Desk, client) -> str:
    return app.query("SELECT status FROM dialogs WHERE client_id = ? ORDER BY id DESC", client.id)[0][0]


def relays(agent, name: str = "Carl") -> list[str]:
    """The client's messages the agent got, without the name header, in order."""
    prefix = RELAY_HEADER.format(name=name) + "\n"
    return [x[len(prefix):] for x in agent.texts() if x.startswith(prefix)]


def question(number: int, total: int, text: str, lang: str = "en") -> str:
    return t(lang, "intake_question", number=number, total=total, text=text)


# --- The questions ------------------------------------------------------------------------------


def test_the_client_answers_and_the_agent_gets_the_card_then_the_messages_in_order(conn, tmp_path):
    app, people = desk_with(conn, tmp_path)
    agent = people.agent()
    client = people.client()
    client.send("Hi, my parcel is late")
    # Asked before anything reaches an agent: the dialog is not even in the queue yet.
    assert step_of(app, client) == 0 and status_of(app, client) == "queued"
    assert agent.texts() == []
    first = client.calls("sendMessage")[-1]
    assert first["text"] == (t("en", "intake_intro", count=2) + "\n\n"
                             + question(1, 2, "What is your question about?"))
    keyboard = first["reply_markup"]
    assert [b["text"] for row in keyboard["keyboard"] for b in row] == ["Delivery", "Payment", "Other"]
    assert keyboard["one_time_keyboard"] is True
    client.clear()

    client.send("Delivery")                                   # a press of the button sends its text
    second = client.calls("sendMessage")[-1]
    assert second["text"] == (question(2, 2, "Your order number, if you have one") + "\n"
                              + t("en", "intake_optional", skip=t("en", "intake_skip_button")))
    assert second["reply_markup"]["keyboard"] == [[{"text": t("en", "intake_skip_button")}]]
    assert step_of(app, client) == 1 and agent.texts() == []

    client.send("A-1234")
    assert step_of(app, client) is None and status_of(app, client) == "open"
    assert t("en", "intake_done") in client.texts()
    assert client.texts()[-1] == t("en", "connected", agent="Agatha")
    notice, card, *rest = agent.texts()
    assert notice.startswith("New client: Carl")
    assert card == ("📋 Carl answered:\n• What is your question about?\n  Delivery\n"
                    "• Your order number, if you have one\n  A-1234")
    # The first message follows the card; the answers are on the card only, not relayed twice.
    assert rest == [RELAY_HEADER.format(name="Carl") + "\nHi, my parcel is late"]
    answers = app.query("SELECT key, answer FROM intake_answers ORDER BY position")
    assert [tuple(r) for r in answers] == [("topic", "Delivery"), ("order", "A-1234")]
    # Every message is stored, answers included (the history file shows them).
    stored = app.query("SELECT text, relayed_at IS NOT NULL FROM chat_history WHERE client_id = ? ORDER BY id",
                       client.id)
    assert [tuple(r) for r in stored] == [("Hi, my parcel is late", 1), ("Delivery", 1), ("A-1234", 1)]


def test_a_typed_choice_counts_ignoring_case_and_anything_else_is_asked_again(conn, tmp_path):
    app, people = desk_with(conn, tmp_path)
    agent = people.agent()
    client = people.client()
    client.send("hello")
    client.clear()
    client.send("my order is lost")                         # not a choice: asked again, with a hint
    assert client.texts() == [t("en", "intake_pick_choice") + "\n\n"
                              + question(1, 2, "What is your question about?")]
    assert step_of(app, client) == 0
    client.send("  pAYMENT ")
    assert step_of(app, client) == 1
    client.send("/skip")
    assert [tuple(r) for r in app.query("SELECT key, answer FROM intake_answers ORDER BY position")] == [
        ("topic", "Payment"), ("order", None)]
    card = agent.texts()[1]
    assert "  Payment" in card and f"  {t('en', 'intake_skipped')}" in card
    # What was not an answer reaches the agent after the card, in order with the first message.
    assert relays(agent) == ["hello", "my order is lost"]


def test_a_russian_client_is_asked_in_russian_and_an_english_agent_reads_english(conn, tmp_path):
    app, people = desk_with(conn, tmp_path)
    agent = people.agent()
    client = app.user(300, "Кирилл", "ru")
    client.send("Здравствуйте")
    assert client.texts()[-1].endswith(question(1, 2, "О чём ваш вопрос?", "ru"))
    assert [b["text"] for b in client.calls("sendMessage")[-1]["reply_markup"]["keyboard"][0]] == [
        "Доставка", "Оплата", "Other"]
    client.send("доставка")
    client.send(t("ru", "intake_skip_button"))              # the Skip button, in Russian
    card = agent.texts()[1]
    assert card.startswith("📋 Кирилл answered:\n• What is your question about?\n  Доставка")
    assert t("en", "intake_skipped") in card
    assert relays(agent, "Кирилл") == ["Здравствуйте"]       # the Skip press is not relayed


def test_media_during_the_questions_are_kept_and_follow_the_card_in_order(conn, tmp_path):
    app, people = desk_with(conn, tmp_path)
    agent = people.agent()
    client = people.client()
    client.send("hello")
    client.clear()
    client.send(**media("document", caption="the invoice"))
    hint = t("en", "intake_text_only") + "\n\n" + question(1, 2, "What is your question about?")
    assert client.texts() == [hint]
    for n in (1, 2, 3):                                     # an album: asked again once, not per part
        client.send(**media("photo", n, media_group_id="alb"))
    assert client.texts() == [hint, hint]
    client.send("Other")
    client.send("no order")
    assert agent.methods()[-2:] == ["sendMessage", "copyMessages"]     # the album's header and the album
    assert relays(agent)[:2] == ["hello", "the invoice"]
    assert agent.calls("copyMessages")[0]["message_ids"] == [5, 6, 7]      # /start, Carl, hello, the document
    unrelayed = app.query("SELECT COUNT(*) FROM chat_history WHERE relayed_at IS NULL")[0][0]
    assert unrelayed == 0


def test_optional_questions_only_are_skipped(conn, tmp_path):
    app, people = desk_with(conn, tmp_path, toml=REQUIRED)
    people.agent()
    client = people.client()
    client.send("/skip")
    assert client.last() == t("en", "intake_nothing_to_skip")
    client.send("hello")
    client.send("/skip")
    assert client.last() == t("en", "intake_required") + "\n\n" + question(1, 1, "Which city are you in?")
    assert client.calls("sendMessage")[-1]["reply_markup"] == {"remove_keyboard": True}
    client.send(t("en", "intake_skip_button"))              # not optional: "Skip" is an answer here
    assert [tuple(r) for r in app.query("SELECT key, answer FROM intake_answers")] == [("city", "Skip")]
    assert status_of(app, client) == "open"


def test_start_in_the_middle_asks_the_current_question_again(conn, tmp_path):
    app, people = desk_with(conn, tmp_path)
    people.agent()
    client = people.client()
    client.send("hello")
    client.send("Delivery")
    client.clear()
    client.send("/start")
    assert client.texts() == [question(2, 2, "Your order number, if you have one") + "\n"
                              + t("en", "intake_optional", skip=t("en", "intake_skip_button"))]
    assert step_of(app, client) == 1


def test_a_restart_in_the_middle_goes_on_from_the_same_question(conn, tmp_path):
    app, people = desk_with(conn, tmp_path)
    agent = people.agent()
    client = people.client()
    client.send("hello")
    client.send("Delivery")
    app.restart()                                           # a new process: new connection and dispatcher
    assert step_of(app, client) == 1
    client.clear()
    client.send("A-77")
    assert status_of(app, client) == "open"
    assert agent.texts()[1].endswith("Delivery\n• Your order number, if you have one\n  A-77")
    assert relays(agent) == ["hello"]


def test_a_second_desk_over_the_same_database_goes_on_too(conn, tmp_path):
    app, people = desk_with(conn, tmp_path)
    agent = people.agent()
    client = people.client()
    client.send("hello")
    second = Desk(app.conn, app.settings)                   # what the next process sees
    second.message_ids, second.messages, second.update_ids = app.message_ids, app.messages, app.update_ids
    second.checked = app.checked
    client2, agent2 = second.user(client.id, "Carl"), second.user(agent.id, "Agatha")
    agent2.clear()
    client2.send("Payment")
    assert client2.texts()[-1].startswith(question(2, 2, "Your order number, if you have one"))
    client2.send("/skip")
    assert [tuple(r) for r in second.query("SELECT key, answer FROM intake_answers ORDER BY position")] == [
        ("topic", "Payment"), ("order", None)]
    assert agent2.texts()[1].startswith("📋 Carl answered:")


def test_without_agents_the_client_waits_after_the_answers_and_the_card_comes_with_the_queue(conn, tmp_path):
    app, people = desk_with(conn, tmp_path)
    client = people.client()
    client.send("hello")
    client.send("Delivery")
    assert app.query("SELECT COUNT(*) FROM dialogs WHERE status = 'queued' AND intake_step IS NULL")[0][0] == 0
    client.send("/skip")
    assert client.last() == t("en", "queued", position=1)
    agent = app.user(1, "Agatha")
    agent.send(f"/register_support {SUPPORT_TOKEN}")       # registering serves the queue
    texts = agent.texts()
    card = next(x for x in texts if x.startswith("📋"))
    assert texts.index(card) < texts.index(RELAY_HEADER.format(name="Carl") + "\nhello")


def test_the_card_names_the_link_the_client_came_from(conn, tmp_path):
    app, people = desk_with(conn, tmp_path)
    agent = people.agent()
    client = people.client()
    client.send("/start promo_spring")
    client.send("hello")
    client.send("Other")
    client.send("/skip")
    card = agent.texts()[1]
    assert card.splitlines()[:2] == ["📋 Carl answered:", t("en", "context_line", context="promo_spring")]


def test_a_long_answer_is_clipped_on_the_card_and_follows_in_full(conn, tmp_path):
    app, people = desk_with(conn, tmp_path)
    agent = people.agent()
    client = people.client()
    client.send("hello")
    client.send("Other")
    long = "order " + "x" * 400
    client.send(long)
    card = agent.texts()[1]
    assert t("en", "intake_clipped") in card and len(card) < 4096 and long not in card
    assert relays(agent) == ["hello", long]


def test_no_questions_configured_means_no_questions(app, people):
    agent = people.agent()
    client = people.client()
    client.send("hello")
    assert relays(agent) == ["hello"]
    assert app.query("SELECT COUNT(*) FROM intake_answers")[0][0] == 0


def test_the_card_is_none_without_answers(conn, tmp_path):
    app, people = desk_with(conn, tmp_path)
    client = people.client()
    client.send("hello")
    desk = RuleDesk(app.conn, app.settings, app.now)
    dialog = db.live_dialog_for_client(app.conn, client.id)
    assert intake.card(desk, db.get_client(app.conn, client.id), dialog, "en") is None


# --- Malformed files ----------------------------------------------------------------------------

BAD = [
    ("[[questions]\nkey = 'a'", "not valid TOML"),
    ("", "no [[questions]]"),
    ("title = 'x'", "unknown key 'title'"),
    ("[[questions]]\nkey = 'a'\ntext = ''", "text is empty"),
    ("[[questions]]\nkey = 'a'\ntext = '   '", "text is empty"),
    ("[[questions]]\nkey = 'a'\ntext = { ru = 'Вопрос', en = '' }", "text (en) is empty"),
    ("[[questions]]\nkey = 'a'\ntext = { de = 'Frage' }", "unknown language 'de'"),
    ("[[questions]]\nkey = 'a'\ntext = 42", "must be a text"),
    ("[[questions]]\nkey = 'a'", "text is missing"),
    ("[[questions]]\ntext = 'Q'", "key must be"),
    ("[[questions]]\nkey = 'a b'\ntext = 'Q'", "key must be"),
    ("[[questions]]\nkey = 'a'\ntext = 'Q'\n[[questions]]\nkey = 'a'\ntext = 'R'", "used twice"),
    ("[[questions]]\nkey = 'a'\ntext = 'Q'\nchoices = 'Yes'", "choices must be a list"),
    ("[[questions]]\nkey = 'a'\ntext = 'Q'\nchoices = []", "choices must be a list"),
    ("[[questions]]\nkey = 'a'\ntext = 'Q'\nchoices = ['Yes', '']", "choice 2 is empty"),
    ("[[questions]]\nkey = 'a'\ntext = 'Q'\nchoices = ['Yes', 'yes']", "given twice"),
    ("[[questions]]\nkey = 'a'\ntext = 'Q'\nchoices = ['Yes', 3]", "choice 2 must be a text"),
    ("[[questions]]\nkey = 'a'\ntext = 'Q'\nchoices = ['" + "y" * 65 + "']", "longer than 64"),
    ("[[questions]]\nkey = 'a'\ntext = 'Q'\noptional = 'yes'", "optional must be true or false"),
    ("[[questions]]\nkey = 'a'\ntext = 'Q'\noptinal = true", "unknown key 'optinal'"),
    ("".join(f"[[questions]]\nkey = 'q{i}'\ntext = 'Q'\n" for i in range(11)), "more than 10"),
]


@pytest.mark.parametrize("toml, problem", BAD)
def test_a_malformed_intake_file_is_refused_naming_the_variable_the_file_and_the_problem(tmp_path, toml, problem):
    path = tmp_path / "intake.toml"
    path.write_text(toml, encoding="utf-8")
    env = {"BOT_TOKEN": "1:abc", "SUPPORT_TOKEN": "x" * 16, "INTAKE_FILE": str(path)}
    with pytest.raises(config.ConfigError) as caught:
        config.load_settings(env)
    message = str(caught.value)
    assert message.startswith("INTAKE_FILE") and str(path) in message and problem in message, message
    assert "\n" not in message


def test_a_missing_or_unreadable_intake_file_is_refused(tmp_path):
    base = {"BOT_TOKEN": "1:abc", "SUPPORT_TOKEN": "x" * 16}
    with pytest.raises(config.ConfigError, match="INTAKE_FILE: there is no file .*nowhere.toml"):
        config.load_settings({**base, "INTAKE_FILE": str(tmp_path / "nowhere.toml")})
    with pytest.raises(config.ConfigError, match="INTAKE_FILE: .* is a folder"):
        config.load_settings({**base, "INTAKE_FILE": str(tmp_path)})
    (tmp_path / "latin1.toml").write_bytes("[[questions]]\nkey = 'a'\ntext = 'Caf\xe9'\n".encode("latin-1"))
    with pytest.raises(config.ConfigError, match="INTAKE_FILE .*latin1.toml"):
        config.load_settings({**base, "INTAKE_FILE": str(tmp_path / "latin1.toml")})


def test_the_shipped_example_is_valid_and_unset_means_no_questions():
    questions = config.load_intake(str(ROOT / "intake.example.toml"))
    assert [q.key for q in questions] == ["topic", "order"]
    assert questions[0].text.get("ru") == "О чём ваш вопрос?" and questions[1].optional
    assert config.load_settings({"BOT_TOKEN": "1:abc", "SUPPORT_TOKEN": "x" * 16}).intake_questions == ()


def test_the_desk_exits_2_with_one_line_for_a_malformed_intake_file(tmp_path):
    bad = tmp_path / "intake.toml"
    bad.write_text("[[questions]]\nkey = 'topic'\ntext = ''\n", encoding="utf-8")
    result = subprocess.run([sys.executable, str(ROOT / "bot.py"), "check"], cwd=tmp_path, capture_output=True,
                            text=True, timeout=60, stdin=subprocess.DEVNULL,
                            env={"PATH": "/usr/bin:/bin", "BOT_TOKEN": BOT_TOKEN, "SUPPORT_TOKEN": SUPPORT_TOKEN,
                                 "INTAKE_FILE": str(bad), "DATABASE_PATH": str(tmp_path / "d.db")})
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "INTAKE_FILE" in lines[0] and "text is empty" in lines[0], result.stderr
    assert BOT_TOKEN not in result.stderr + result.stdout


def test_a_client_answering_the_questions_cannot_be_taken_out_of_turn(conn, tmp_path):
    app, people = desk_with(conn, tmp_path, max_chats_per_agent=3)
    agent = people.agent()
    client = people.client()
    client.send("hello")
    agent.send(f"/take {client.id}")
    assert agent.texts() == [t("en", "take_not_waiting", client_id=client.id)]
    agent.clear()
    client.send("Delivery")
    client.send("/skip")                                    # the questions end as usual
    assert status_of(app, client) == "open" and agent.texts()[1].startswith("📋 Carl answered:")


def test_the_questions_end_when_the_file_lost_them_after_a_restart(conn, tmp_path):
    app, people = desk_with(conn, tmp_path)
    agent = people.agent()
    client = people.client()
    client.send("hello")
    client.send("Other")                                    # now at question 2 of 2
    app.settings = settings(app.settings.database_path, intake_questions=app.settings.intake_questions[:1])
    app.restart()
    client.send("A-1")
    assert status_of(app, client) == "open"
    assert relays(agent) == ["hello", "A-1"]                # nothing asked, nothing lost
