"""The client's journey, in-process: deep links, working hours, ratings, returning clients,
protected content and the time zone."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from inproc import Desk, People, settings

import config
import db
from desk import hours, ratings
from texts import t

BASE = {"BOT_TOKEN": "1:abc", "SUPPORT_TOKEN": "x" * 16}


def desk_with(conn, tmp_path, **overrides) -> tuple[Desk, People]:
    app = Desk(conn, settings(str(tmp_path / "unit.db"), **overrides))
    return app, People(app)


def at(app: Desk, text: str, zone: str = "UTC") -> None:
    """Set the clock to a local time, e.g. '2027-01-18 10:00' (a Monday)."""
    app.now = datetime.strptime(text, "%Y-%m-%d %H:%M").replace(tzinfo=ZoneInfo(zone)).timestamp()


# --- Deep links ---------------------------------------------------------------------------------


def test_a_deep_link_becomes_the_context_of_the_next_dialog(app, people):
    agent = people.agent()
    client = app.user(50, "Carl")
    client.send("/start promo_2026-x")
    assert client.texts() == [t("en", "ask_name")]           # greeted as usual
    client.send("Carl")
    client.send("hello")
    notice = agent.calls("sendMessage")[0]["text"]
    assert notice.endswith(t("en", "context_line", context="promo_2026-x"))
    assert app.query("SELECT context FROM dialogs")[0][0] == "promo_2026-x"
    assert app.query("SELECT next_context FROM clients WHERE user_id = 50")[0][0] is None


@pytest.mark.parametrize("payload", ["has space", "x" * 65, "кириллица", "a.b", "a/b"])
def test_other_payloads_are_ignored_and_nothing_breaks(app, people, payload):
    people.agent()
    client = app.user(50, "Carl")
    client.send(f"/start {payload}")
    assert client.texts() == [t("en", "ask_name")]
    client.send("Carl")
    client.send("hello")
    assert app.query("SELECT context FROM dialogs")[0][0] is None
    assert not app.query("SELECT * FROM failed_updates")


def test_a_deep_link_during_a_dialog_tells_its_agent(app, people):
    agent = people.agent()
    client = people.client_in_dialog(agent)
    client.send("/start order_77")
    assert agent.last() == t("en", "context_changed", name="Carl", context="order_77")
    assert app.query("SELECT context FROM dialogs")[0][0] == "order_77"


def test_stats_all_counts_dialogs_per_link_over_30_days(conn, tmp_path):
    app, people = desk_with(conn, tmp_path, admin_ids=frozenset({900}), max_chats_per_agent=5)
    agent = people.agent()
    for i, link in enumerate(["ads", "ads", "blog"]):
        c = app.user(60 + i, f"C{i}")
        c.send(f"/start {link}")
        c.send(f"C{i}")
        c.send("hi")
    old = app.user(70, "Old")
    app.now -= 31 * 86400
    old.send("/start ancient")
    old.send("Old")
    old.send("hi")
    app.now += 31 * 86400
    admin = app.user(900, "Ada")
    admin.send("/stats all")
    report = admin.last()
    assert t("en", "team_contexts", days=30, lines="• ads: 2\n• blog: 1") in report
    assert "ancient" not in report
    assert agent.id


# --- Working hours ------------------------------------------------------------------------------


@pytest.mark.parametrize("value, problem", [
    ("Mox 09:00-18:00", "unknown day"), ("Mon 09:00-25:00", "bad time"), ("Mon 18:00-09:00", "ends before"),
    ("Monday", "is not like"), ("Mon 9-18", "bad time"),
])
def test_malformed_working_hours_name_the_variable(value, problem):
    with pytest.raises(config.ConfigError, match="WORKING_HOURS") as error:
        config.load_settings({**BASE, "WORKING_HOURS": value})
    assert problem in str(error.value)


@pytest.mark.parametrize("name, value", [("TIMEZONE", "Mars/Olympus"), ("RATING", "sometimes"),
                                         ("PROTECT_CONTENT", "2"), ("RETURN_TO_AGENT_HOURS", "-1")])
def test_malformed_journey_settings_name_the_variable(name, value):
    with pytest.raises(config.ConfigError, match=name):
        config.load_settings({**BASE, name: value})


def test_working_hours_parse_ranges_and_whole_days():
    s = config.load_settings({**BASE, "WORKING_HOURS": "Fri-Mon 09:00-18:00, Wed 00:00-24:00",
                              "TIMEZONE": "Europe/Moscow"})
    assert [d for d, _s, _e in s.working_hours] == [0, 2, 4, 5, 6]
    assert (2, 0, 1440) in s.working_hours
    assert s.timezone == "Europe/Moscow"


def test_outside_hours_a_client_waits_is_told_when_we_are_back_and_is_served_when_hours_begin(conn, tmp_path):
    app, people = desk_with(conn, tmp_path, working_hours=((0, 9 * 60, 18 * 60),), timezone="Europe/Moscow")
    at(app, "2027-01-18 08:00", "Europe/Moscow")             # a Monday, before opening
    agent = people.agent()
    client = people.client()
    client.send("are you there?")
    assert client.last() == t("en", "closed_now", hours="Mon 09:00–18:00 (Europe/Moscow)", back="Mon 18.01 09:00")
    assert app.query("SELECT status FROM dialogs")[0][0] == "queued"
    agent.send(f"/take {client.id}")                          # agents can still take them
    assert app.query("SELECT status FROM dialogs")[0][0] == "open"


def test_the_queue_is_served_when_the_hours_begin(conn, tmp_path):
    from desk import Desk as Rules
    from desk import routing
    app, people = desk_with(conn, tmp_path, working_hours=((0, 9 * 60, 18 * 60),))
    at(app, "2027-01-18 18:30")
    agent = people.agent()
    client = people.client()
    client.send("evening question")
    assert app.query("SELECT status FROM dialogs")[0][0] == "queued"
    at(app, "2027-01-25 09:00")                               # next Monday's opening
    with db.atomic(conn):
        routing.serve_queue(Rules(conn, app.settings, app.now))
    assert app.query("SELECT agent_id FROM dialogs")[0][0] == agent.id


def test_next_opening_skips_to_the_next_working_day():
    s = config.load_settings({**BASE, "WORKING_HOURS": "Mon-Fri 09:00-18:00"})
    friday_evening = datetime(2027, 1, 22, 19, 0, tzinfo=ZoneInfo("UTC")).timestamp()
    assert not hours.is_open(s, friday_evening)
    assert hours.next_opening(s, friday_evening) == datetime(2027, 1, 25, 9, 0, tzinfo=ZoneInfo("UTC"))
    assert hours.is_open(s, friday_evening - 2 * 3600)


# --- Ratings ------------------------------------------------------------------------------------


def press(app: Desk, user, data: str, message_id: int = 77, callback_id: str = "cb1") -> None:
    app.push({"callback_query": {"id": callback_id, "from": user.as_user(), "chat_instance": "x", "data": data,
                                 "message": {"message_id": message_id, "date": int(app.now),
                                             "chat": user.chat(), "text": "rate"}}})


def rated(app: Desk) -> list[tuple]:
    return [tuple(r) for r in app.query("SELECT id, rating FROM dialogs ORDER BY id")]


def test_closing_offers_five_buttons_and_one_press_rates_once(conn, tmp_path):
    app, people = desk_with(conn, tmp_path, rating=True)
    agent = people.agent()
    client = people.client_in_dialog(agent)
    agent.send("/end_chat")
    prompt = client.calls("sendMessage")[-1]
    assert prompt["text"] == t("en", "rate_prompt")
    buttons = prompt["reply_markup"]["inline_keyboard"][0]
    dialog_id = app.query("SELECT id FROM dialogs")[0][0]
    assert [b["text"][0] for b in buttons] == ["1", "2", "3", "4", "5"]
    assert [b["callback_data"] for b in buttons] == [f"rate:{dialog_id}:{n}" for n in range(1, 6)]
    client.clear()
    press(app, client, f"rate:{dialog_id}:4")
    answer, edit = client.calls()[:2]
    assert answer == {"method": "answerCallbackQuery", "callback_query_id": "cb1", "text": t("en", "rate_thanks")}
    assert edit["method"] == "editMessageReplyMarkup" and edit["message_id"] == 77
    assert edit["reply_markup"] == ratings.keyboard(dialog_id, chosen=4)
    assert agent.last() == t("en", "rate_received", name="Carl", stars=4)
    client.clear()
    press(app, client, f"rate:{dialog_id}:1", callback_id="cb2")          # later presses change nothing
    assert client.calls() == [{"method": "answerCallbackQuery", "callback_query_id": "cb2",
                               "text": t("en", "rate_already")}]
    assert rated(app) == [(dialog_id, 4)]
    agent.send("/stats")
    assert t("en", "stats_rating", rating="4.0", count=1) in agent.last()


@pytest.mark.parametrize("data", ["rate:999:5", "rate:{d}:6", "rate:{d}:0", "rate:{d}:x", "rate:{d}", "rate:",
                                  "rate:-1:3", "bogus", "", "rate:{d}:55", "rate:" + "9" * 40 + ":1"])
def test_forged_or_foreign_rating_presses_change_nothing(conn, tmp_path, data):
    app, people = desk_with(conn, tmp_path, rating=True)
    agent = people.agent()
    client = people.client_in_dialog(agent)
    agent.send("/end_chat")
    dialog_id = app.query("SELECT id FROM dialogs")[0][0]
    stranger = app.user(555, "Mallory")
    for user in (client, stranger):
        user.clear()
        press(app, user, data.format(d=dialog_id))
        assert [c["method"] for c in user.calls()] == ["answerCallbackQuery"]
    press(app, stranger, f"rate:{dialog_id}:1")                  # someone else's dialog
    assert rated(app) == [(dialog_id, None)]
    assert not app.query("SELECT * FROM failed_updates")


def test_no_rating_buttons_when_rating_is_off(app, people):
    agent = people.agent()
    client = people.client_in_dialog(agent)
    agent.send("/end_chat")
    assert client.last() == t("en", "ticket_closed")
    assert all("reply_markup" not in c for c in client.calls())


def test_an_open_dialog_cannot_be_rated(conn, tmp_path):
    app, people = desk_with(conn, tmp_path, rating=True)
    client = people.client_in_dialog()
    dialog_id = app.query("SELECT id FROM dialogs")[0][0]
    press(app, client, f"rate:{dialog_id}:5")
    assert rated(app) == [(dialog_id, None)]


# --- Returning clients --------------------------------------------------------------------------


def test_a_client_who_returns_soon_goes_back_to_their_agent(conn, tmp_path):
    app, people = desk_with(conn, tmp_path)
    first = people.agent("Agatha")
    client = people.client_in_dialog(first)
    second = people.agent("Boris")          # never had a dialog: the usual choice would be Boris
    first.send("/end_chat")
    app.tick(3600)
    first.send("/clients")
    second.send("/clients")
    client.send("me again")
    assert app.query("SELECT agent_id FROM dialogs WHERE client_id = ? AND status = 'open'", client.id)[0][0] == first.id


def test_with_returning_off_the_usual_choice_applies(conn, tmp_path):
    app, people = desk_with(conn, tmp_path, return_to_agent_hours=0)
    first = people.agent("Agatha")
    client = people.client_in_dialog(first)
    second = people.agent("Boris")
    first.send("/end_chat")
    client.send("me again")
    assert app.query("SELECT agent_id FROM dialogs WHERE client_id = ? AND status = 'open'", client.id)[0][0] == second.id


def test_after_the_return_window_or_when_the_agent_is_away_the_usual_choice_applies(conn, tmp_path):
    app, people = desk_with(conn, tmp_path, return_to_agent_hours=1)
    first = people.agent("Agatha")
    client = people.client_in_dialog(first)
    first.send("/end_chat")
    first.send("/available")                                  # away
    second = people.agent("Boris")
    client.send("back")
    assert app.query("SELECT agent_id FROM dialogs WHERE status = 'open'")[0][0] == second.id
    second.send("/end_chat")
    first.send("/available")
    app.tick(2 * 3600)                                         # the window is over
    first.send("/clients")                                     # both online
    second.send("/clients")
    client.send("again")
    owner = app.query("SELECT agent_id FROM dialogs WHERE status = 'open'")[0][0]
    # Both free and online: the usual order decides, the one whose last dialog ended longest ago
    # (Agatha), not Boris, who served Carl last.
    assert owner == first.id


# --- Time zone ----------------------------------------------------------------------------------


def test_stats_today_follows_the_time_zone(conn, tmp_path):
    app, people = desk_with(conn, tmp_path, timezone="Asia/Tokyo")
    at(app, "2027-01-18 23:30", "Asia/Tokyo")
    agent = people.agent()
    people.client_in_dialog(agent)
    agent.send("/end_chat")
    at(app, "2027-01-19 00:30", "Asia/Tokyo")                 # a new day in Tokyo (still the 18th in UTC)
    agent.send("/stats")
    assert "(today: 0)" in agent.last()
