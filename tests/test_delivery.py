"""delivery.py without a network: relay shapes, error classification, pacing, the history file."""

from __future__ import annotations

import io
from types import SimpleNamespace

import pytest
import requests
from telebot import apihelper

import db
import delivery
import texts


def test_text_gets_the_name_in_bold_and_keeps_its_formatting_shifted():
    entities = [{"type": "italic", "offset": 0, "length": 5}]
    [(method, p)] = delivery.relay_to_agent(5, 10, "text", "hello world", entities, "Ann")
    assert method == "sendMessage"
    assert p["text"] == "👤 Ann\nhello world"
    header_len = delivery.utf16_len("👤 Ann")                      # the emoji is 2 UTF-16 units
    assert p["entities"] == [{"type": "bold", "offset": 0, "length": header_len},
                             {"type": "italic", "offset": header_len + 1, "length": 5}]
    assert "parse_mode" not in p                                     # never markup


@pytest.mark.parametrize("name", ["<b>x</b>", "*_[`", "Ann & <Co>", "😀" * 30])
def test_names_are_plain_text(name):
    [(_, p)] = delivery.relay_to_agent(5, 10, "text", "hi", None, name)
    assert p["text"].startswith(f"👤 {name}\n")


def test_text_that_would_overflow_with_the_name_is_copied_whole_after_a_header():
    text = "x" * 4096
    calls = delivery.relay_to_agent(5, 10, "text", text, None, "Ann")
    assert [m for m, _ in calls] == ["sendMessage", "copyMessage"]
    assert calls[0][1]["text"] == "👤 Ann"
    assert calls[1][1] == {"from_chat_id": 5, "message_id": 10}


def test_text_right_at_the_limit_with_the_name_fits_in_one_message():
    prefix = "👤 Ann\n"
    text = "y" * (4096 - delivery.utf16_len(prefix))
    [(method, p)] = delivery.relay_to_agent(5, 10, "text", text, None, "Ann")
    assert method == "sendMessage" and delivery.utf16_len(p["text"]) == 4096


@pytest.mark.parametrize("kind", sorted(delivery.CAPTIONED_TYPES))
def test_captioned_media_carry_the_name_in_the_caption(kind):
    entities = [{"type": "bold", "offset": 0, "length": 3}]
    [(method, p)] = delivery.relay_to_agent(5, 10, kind, "see this", entities, "Ann")
    assert method == "copyMessage"
    assert p["caption"] == "👤 Ann\nsee this"
    assert p["caption_entities"][1]["offset"] == delivery.utf16_len("👤 Ann\n")


def test_media_without_caption_get_the_name_as_caption():
    [(_, p)] = delivery.relay_to_agent(5, 10, "photo", None, None, "Ann")
    assert p["caption"] == "👤 Ann"


def test_long_caption_is_kept_whole_and_the_name_goes_before():
    calls = delivery.relay_to_agent(5, 10, "photo", "c" * 1020, None, "Ann")
    assert [m for m, _ in calls] == ["sendMessage", "copyMessage"]
    assert "caption" not in calls[1][1]


@pytest.mark.parametrize("kind", ["sticker", "location", "contact", "video_note", "venue", "dice", "poll"])
def test_media_that_cannot_have_a_caption_get_a_header_message(kind):
    calls = delivery.relay_to_agent(5, 10, kind, None, None, "Ann")
    assert calls == [("sendMessage", {"text": "👤 Ann", "entities": [{"type": "bold", "offset": 0, "length": 6}]}),
                     ("copyMessage", {"from_chat_id": 5, "message_id": 10})]


def telegram_error(code, description, retry_after=None):
    answer = {"ok": False, "error_code": code, "description": description}
    if retry_after is not None:
        answer["parameters"] = {"retry_after": retry_after}
    return apihelper.ApiTelegramException("sendMessage", None, answer)


@pytest.mark.parametrize("exc, outcome, delay", [
    (telegram_error(429, "Too Many Requests: retry after 7", 7), delivery.RETRY, 7.0),
    (telegram_error(403, "Forbidden: bot was blocked by the user"), delivery.UNREACHABLE, None),
    (telegram_error(403, "Forbidden: user is deactivated"), delivery.UNREACHABLE, None),
    (telegram_error(400, "Bad Request: chat not found"), delivery.UNREACHABLE, None),
    (telegram_error(400, "Bad Request: message to copy not found"), delivery.FAILED, None),
    (telegram_error(413, "Request Entity Too Large"), delivery.FAILED, None),
    (apihelper.ApiHTTPException("sendDocument", SimpleNamespace(status_code=413, reason="Too Large", text="<html>")),
     delivery.FAILED, None),
    (apihelper.ApiHTTPException("sendMessage", SimpleNamespace(status_code=502, reason="Bad Gateway", text="<html>")),
     delivery.RETRY, None),
    (telegram_error(500, "Internal Server Error"), delivery.RETRY, None),
    (telegram_error(502, "Bad Gateway"), delivery.RETRY, None),
    (requests.ConnectionError("reset"), delivery.RETRY, None),
    (requests.Timeout("slow"), delivery.RETRY, None),
])
def test_errors_are_classified(exc, outcome, delay):
    got_outcome, got_delay, _reason = delivery.classify_error(exc)
    assert (got_outcome, got_delay) == (outcome, delay)


def test_backoff_grows_and_is_capped():
    assert [delivery.backoff(n) for n in (1, 2, 3, 4)] == [1, 2, 4, 8]
    assert delivery.backoff(30) == delivery.MAX_BACKOFF


def test_rate_limiter_spaces_calls_evenly_at_the_overall_rate():
    limiter = delivery.RateLimiter(per_second=4, chat_burst=100)
    assert limiter.global_wait(10.0) == 0                      # after a quiet spell: at once
    limiter.take(1, 10.0)
    assert limiter.global_wait(10.0) == pytest.approx(0.25)    # then one per 1/4 s, not a burst
    assert limiter.global_wait(10.1) == pytest.approx(0.15)
    limiter.take(2, 10.25)
    assert limiter.global_wait(10.3) == pytest.approx(0.2)
    assert limiter.global_wait(10.5) == 0
    limiter.take(3, 20.0)                                       # idle time is not saved up
    assert limiter.global_wait(20.0) == pytest.approx(0.25)


def test_rate_limiter_never_lets_more_than_the_rate_into_any_second():
    limiter = delivery.RateLimiter(per_second=28, chat_burst=1000)
    now, sent = 0.0, []
    while now < 5.0:
        wait = limiter.global_wait(now)
        if wait == 0:
            limiter.take(len(sent), now)
            sent.append(now)
        now += max(wait, 0.001)
    worst = max(sum(1 for t in sent if start - 1.0 + 1e-9 < t <= start) for start in sent)   # 1e-9: float rounding
    assert worst <= 28
    assert len(sent) >= 5 * 28 - 1                              # and it does not under-use the rate


def test_rate_limiter_lets_a_chat_burst_then_one_per_second():
    limiter = delivery.RateLimiter(per_second=1000, chat_burst=3, chat_rate=1.0)
    for _ in range(3):
        assert limiter.chat_wait(7, 0.0) == 0
        limiter.take(7, 0.0)
    assert limiter.chat_wait(7, 0.0) == pytest.approx(1.0)
    assert limiter.chat_wait(8, 0.0) == 0                      # other chats are not slowed
    assert limiter.chat_wait(7, 1.0) == 0


def test_history_file_lists_every_message_of_every_dialog_in_order(conn):
    db.add_client(conn, 50, "Zoë <b>", None, "en", 0)
    db.register_agent(conn, 1, "Agatha", None, "en", 0)
    first = db.assign_client(conn, 50, 1, 100)
    db.add_message(conn, dialog_id=first, client_id=50, sender="client", agent_id=None, message_id=1,
                   content_type="text", text="Привет, my order?", entities=None, details=None, now=100)
    db.add_message(conn, dialog_id=first, client_id=50, sender="agent", agent_id=1, message_id=2,
                   content_type="text", text="On its way", entities=None, details=None, now=160)
    db.close_dialog(conn, first, 200)
    second = db.assign_client(conn, 50, 1, 300)
    db.add_message(conn, dialog_id=second, client_id=50, sender="client", agent_id=None, message_id=3,
                   content_type="document", text="the invoice", entities=None, details="inv.pdf", now=300)
    out = io.BytesIO()
    count = delivery.write_history(conn, db.get_client(conn, 50), "en", out)
    lines = out.getvalue().decode("utf-8").splitlines()
    assert count == 3
    assert lines[0].startswith("Support history of Zoë <b> (id 50)")
    body = [line for line in lines[1:] if line]
    assert body == [
        texts.t("en", "history_dialog", dialog_id=first),
        "[1970-01-01 00:01:40] Client Zoë <b>: Привет, my order?",
        "[1970-01-01 00:02:40] Agent Agatha: On its way",
        texts.t("en", "history_dialog", dialog_id=second),
        "[1970-01-01 00:05:00] Client Zoë <b>: [document] inv.pdf the invoice",
    ]


def test_history_file_of_a_silent_client_says_so(conn):
    db.add_client(conn, 50, "Ann", None, "ru", 0)
    out = io.BytesIO()
    assert delivery.write_history(conn, db.get_client(conn, 50), "ru", out) == 0
    assert texts.t("ru", "history_empty") in out.getvalue().decode("utf-8")
