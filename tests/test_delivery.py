"""delivery.py without a network: error classification, backoff, pacing, links, PROTECT_CONTENT."""

from __future__ import annotations

import io
import random

import pytest
import requests

import db
import delivery


def telegram_error(code, description, retry_after=None):
    return delivery.TelegramError("sendMessage", code, description, retry_after)


@pytest.mark.parametrize("exc, outcome, delay", [
    (telegram_error(429, "Too Many Requests: retry after 7", 7), delivery.RETRY, 7.0),
    (telegram_error(403, "Forbidden: bot was blocked by the user"), delivery.UNREACHABLE, None),
    (telegram_error(403, "Forbidden: user is deactivated"), delivery.UNREACHABLE, None),
    (telegram_error(400, "Bad Request: chat not found"), delivery.UNREACHABLE, None),
    (telegram_error(400, "Bad Request: message to copy not found"), delivery.FAILED, None),
    (telegram_error(413, "Request Entity Too Large"), delivery.FAILED, None),
    (delivery.HttpError("sendDocument", 413), delivery.FAILED, None),
    (delivery.HttpError("sendMessage", 502), delivery.RETRY, None),
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


def test_rate_limiter_keeps_its_pace_when_every_call_leaves_a_little_late():
    # Each sending slot is taken up to 1.5 ms after it opens, as a woken thread is: the pace must
    # not sag by that much per call, and no second may hold more than the rate plus one.
    limiter = delivery.RateLimiter(per_second=28, chat_burst=1000)
    rng = random.Random(7)
    now, sent = 0.0, []
    while now < 10.0:
        now += limiter.global_wait(now) + rng.uniform(0.0001, 0.0015)
        limiter.take(len(sent), now)
        sent.append(now)
    worst = max(sum(1 for t in sent if start - 1.0 + 1e-9 < t <= start) for start in sent)
    assert worst <= 29
    assert len(sent) >= 10 * 28 - 1
    # A call far later than its slot (the desk was idle) starts the pace afresh from its own time.
    limiter.take(0, now + 5.0)
    assert limiter.global_wait(now + 5.0) == pytest.approx(1 / 28)


def test_rate_limiter_lets_a_chat_burst_then_one_per_second():
    limiter = delivery.RateLimiter(per_second=1000, chat_burst=3, chat_rate=1.0)
    for _ in range(3):
        assert limiter.chat_wait(7, 0.0) == 0
        limiter.take(7, 0.0)
    assert limiter.chat_wait(7, 0.0) == pytest.approx(1.0)
    assert limiter.chat_wait(8, 0.0) == 0                      # other chats are not slowed
    assert limiter.chat_wait(7, 1.0) == 0


def test_rate_limiter_restored_after_a_restart_gives_a_busy_chat_no_fresh_burst():
    limiter = delivery.RateLimiter(per_second=28, chat_burst=18, chat_rate=1.0)
    now = 1000.0
    burst = [(7, now - 2.0 + i * 0.05) for i in range(18)]        # chat 7 used its burst just now
    limiter.restore(burst + [(8, now - 30.0)], now)                  # chat 8 long ago: forgotten
    assert limiter.chat_wait(7, now) > 0
    assert limiter.chat_wait(8, now) == 0
    assert limiter.chat_wait(9, now) == 0
    assert limiter.global_wait(now - 2.0 + 17 * 0.05) > 0            # the overall pace resumes after the last


def test_rate_limiter_restore_does_not_hold_the_desk_back_for_calls_recorded_together():
    limiter = delivery.RateLimiter(per_second=28, chat_burst=18, chat_rate=1.0)
    limiter.restore([(chat, 999.0) for chat in range(500)], 1000.0)    # one batch, one timestamp
    assert limiter.global_wait(1000.0) == 0
    assert limiter.chat_wait(7, 1000.0) == 0                          # one call in 18 s: room left


def test_rate_limiter_restore_is_never_looser_than_the_calls_it_saw():
    # Whatever a chat sent in the window, the rebuilt bucket lets no more through than a bucket
    # that was full before the window would: an empty start is the strict side.
    sent = [(7, 1000.0 + i * 0.5) for i in range(12)]
    restored = delivery.RateLimiter(per_second=1000, chat_burst=18, chat_rate=1.0)
    restored.restore(sent, 1006.0)
    lived = delivery.RateLimiter(per_second=1000, chat_burst=18, chat_rate=1.0)
    for chat, at in sent:
        lived.take(chat, at)

    def allowance(limiter):
        taken = 0
        while limiter.chat_wait(7, 1006.0) == 0:
            limiter.take(7, 1006.0)
            taken += 1
        return taken

    assert allowance(restored) <= allowance(lived)


def test_the_sender_rebuilds_its_pacing_from_the_calls_sent_before_a_restart(conn, tmp_path):
    now = 5000.0
    for i in range(18):
        call = db.enqueue_call(conn, 7, "sendMessage", {"text": f"m{i}"}, now - 3)
        db.mark_call_sent(conn, call, now - 3 + i * 0.1)
    db.mark_call_sent(conn, db.enqueue_call(conn, 8, "sendMessage", {"text": "old"}, now - 60), now - 60)
    sender = delivery.Sender(None, str(tmp_path / "unit.db"), lambda *_: None, clock=lambda: now)
    try:
        sender.restore_pacing(conn)
        assert sender.limiter.chat_wait(7, now) > 0          # no second burst for chat 7
        assert sender.limiter.chat_wait(8, now) == 0
    finally:
        sender.stop(timeout=5)


# --- PROTECT_CONTENT ------------------------------------------------------------------------------


class RecordingApi:
    """Stands in for BotApi: records each call's method and parameters, answers like Telegram."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict]] = []

    def call(self, method: str, params: dict) -> dict:
        self.calls.append((method, params))
        return {"message_id": len(self.calls)}

    def upload(self, method: str, params: dict, field: str, file_name: str, write, content_type="text/plain"):
        write(io.BytesIO())
        self.calls.append((method, params))
        return {"message_id": len(self.calls)}


@pytest.mark.parametrize("protect", [True, False])
def test_protect_content_marks_every_message_the_sender_sends_and_nothing_else(conn, tmp_path, protect):
    db.add_client(conn, 10, "Carl", None, "en", 0)
    calls = [("sendMessage", {"text": "hi"}), ("copyMessage", {"from_chat_id": 10, "message_id": 1}),
             ("copyMessages", {"from_chat_id": 10, "message_ids": [1, 2]}),
             ("sendHistory", {"client_id": 10, "lang": "en"}), ("sendExport", {"since": 0, "days": 1, "lang": "en"}),
             ("deleteMessage", {"message_id": 3}), ("answerCallbackQuery", {"callback_query_id": "q"}),
             ("setMyCommands", {"commands": [["help", "Help"]]})]
    for method, payload in calls:
        db.enqueue_call(conn, 10, method, payload, 0)
    api = RecordingApi()
    sender = delivery.Sender(api, str(tmp_path / "unit.db"), lambda *_: None)
    sender.protect_content = protect
    try:
        for row in conn.execute("SELECT * FROM outbox ORDER BY id"):
            sender._perform(dict(row))
    finally:
        sender.stop(timeout=5)
    marked = {method: "protect_content" in params for method, params in api.calls}
    sending = {"sendMessage", "copyMessage", "copyMessages", "sendDocument"}
    assert marked == {m: protect and m in sending for m in marked}
    assert set(marked) >= sending | {"deleteMessage", "answerCallbackQuery", "setMyCommands"}
    assert "chat_id" not in dict(api.calls)["answerCallbackQuery"]           # it names no chat
