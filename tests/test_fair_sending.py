"""The sender's choice of who goes next, driven step by step with a fake clock and a fake Bot API.

No thread sleeps and nothing is timed: each test enqueues calls, runs the dispatcher's steps by
hand (Sender.step), moves the fake clock by the wait each step asks for, and checks the order in
which chats were served. Per-chat order, one call in flight per chat, 429s and the chats' own
limits are checked alongside fairness; the last test restarts the real bot in a chat's burst.
"""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from harness import register_agent

import db
import delivery
from texts import RELAY_HEADER

START = 1_000_000.0


class Clock:
    """A clock that moves only when told."""

    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> float:
        return self.now


class FakeApi:
    """Answers every call at once (or as `answer` says) and remembers what was sent, in order."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.sent: list[tuple[int, str, float]] = []     # (chat, text, fake time)
        self.lock = threading.Lock()
        self.answer = lambda chat_id, text: None          # may raise, or block

    def call(self, method: str, params: dict) -> dict:
        self.answer(params["chat_id"], params["text"])
        with self.lock:
            self.sent.append((params["chat_id"], params["text"], self.clock.now))
            return {"message_id": len(self.sent)}

    def chats(self) -> list[int]:
        return [chat for chat, _text, _at in self.sent]

    def texts(self, chat_id: int) -> list[str]:
        return [text for chat, text, _at in self.sent if chat == chat_id]


@pytest.fixture
def rig(conn, tmp_path: Path):
    clock = Clock()
    api = FakeApi(clock)
    sender = delivery.Sender(api, str(tmp_path / "unit.db"), on_unreachable=lambda *_: None,
                             limiter=delivery.RateLimiter(per_second=10, chat_burst=100), clock=clock)
    yield conn, clock, api, sender
    sender.stop(timeout=5)


def enqueue(conn, chat_id: int, count: int, at: float = START) -> None:
    for i in range(count):
        db.enqueue_call(conn, chat_id, "sendMessage", {"text": f"{chat_id}-{i}"}, at)


def step(conn, clock: Clock, sender: delivery.Sender) -> None:
    """One dispatcher pass; every call it started finishes at once; then the clock moves on."""
    wait = sender.step(conn)
    if sender.wait_in_flight(timeout=5) and wait > delivery.RECORD_DELAY:
        wait = 0.0                    # a finished call wakes a dispatcher that means to sleep long
    clock.now += wait


def run(conn, clock: Clock, api: FakeApi, sender: delivery.Sender, calls: int) -> None:
    """Step the dispatcher until `calls` more calls were sent."""
    target = len(api.sent) + calls
    for _ in range(2000):
        if len(api.sent) >= target:
            return
        step(conn, clock, sender)
    raise AssertionError(f"only {len(api.sent)} of {target} calls were sent")


def drain(conn, clock: Clock, api: FakeApi, sender: delivery.Sender) -> None:
    """Step the dispatcher until nothing is pending (every call sent and recorded)."""
    for _ in range(2000):
        if db.count_pending_calls(conn) == 0:
            return
        step(conn, clock, sender)
    raise AssertionError("the outbox did not drain")


def test_chats_with_a_backlog_take_turns_instead_of_oldest_call_first(rig):
    conn, clock, api, sender = rig
    for chat in range(1, 6):
        enqueue(conn, chat, 4)       # chat 1's calls are all older than chat 2's, and so on
    drain(conn, clock, api, sender)
    assert api.chats() == [1, 2, 3, 4, 5] * 4
    for chat in range(1, 6):
        assert api.texts(chat) == [f"{chat}-{i}" for i in range(4)]       # each chat in its own order


def test_a_quiet_chat_is_served_within_a_few_slots_whatever_the_backlogs(rig):
    conn, clock, api, sender = rig
    for chat in range(1, 11):
        enqueue(conn, chat, 20)      # ten chats with 20 calls each
    run(conn, clock, api, sender, 15)
    enqueue(conn, 99, 1, at=clock.now)
    sender.wake()
    run(conn, clock, api, sender, 2)
    assert 99 in api.chats()[15:17]   # the very next slot or the one after, not after 185 others
    drain(conn, clock, api, sender)
    assert len(api.sent) == 201


def test_a_chat_out_of_its_own_allowance_lets_the_others_go(conn, tmp_path):
    clock = Clock()
    api = FakeApi(clock)
    limiter = delivery.RateLimiter(per_second=10, chat_burst=2, chat_rate=1.0)
    sender = delivery.Sender(api, str(tmp_path / "unit.db"), lambda *_: None, limiter=limiter, clock=clock)
    try:
        enqueue(conn, 1, 5)
        enqueue(conn, 2, 1)
        run(conn, clock, api, sender, 3)
        assert api.chats() == [1, 2, 1]          # chat 2 goes between chat 1's two burst calls
        drain(conn, clock, api, sender)
        assert api.texts(1) == [f"1-{i}" for i in range(5)]
        times = [at for chat, _text, at in api.sent if chat == 1]
        # A burst of two, then one call per second as its bucket refills, never more.
        assert times[1] - times[0] < 1.0
        assert times[2] - times[0] >= 1.0 - 1e-9
        assert all(later - earlier >= 1.0 - 1e-9 for earlier, later in zip(times[2:], times[3:], strict=False))
    finally:
        sender.stop(timeout=5)


def test_a_429_holds_back_only_its_chat_and_keeps_its_order(rig):
    conn, clock, api, sender = rig
    refused = []

    def answer(chat_id, text):
        if text == "1-0" and not refused:
            refused.append(clock.now)
            raise delivery.TelegramError("sendMessage", 429, "Too Many Requests: retry after 7", 7)

    api.answer = answer
    enqueue(conn, 1, 3)
    enqueue(conn, 2, 4)
    drain(conn, clock, api, sender)
    assert api.texts(1) == ["1-0", "1-1", "1-2"]                  # the refused call went first again
    first_of_1 = next(at for chat, _text, at in api.sent if chat == 1)
    assert first_of_1 >= refused[0] + 7                            # after retry_after, not before
    assert api.chats()[:4] == [2, 2, 2, 2]                         # chat 2 did not wait for it
    row = conn.execute("SELECT attempts, status FROM outbox WHERE payload LIKE '%1-0%'").fetchone()
    assert tuple(row) == (2, "sent")


def test_only_one_call_per_chat_is_in_flight(rig):
    conn, clock, api, sender = rig
    release = threading.Event()
    in_flight: dict[int, int] = {}
    worst = []
    lock = threading.Lock()

    def answer(chat_id, text):
        with lock:
            in_flight[chat_id] = in_flight.get(chat_id, 0) + 1
            worst.append(in_flight[chat_id])
        if chat_id == 1:
            release.wait(5)           # chat 1's first call hangs until released
        with lock:
            in_flight[chat_id] -= 1

    api.answer = answer
    enqueue(conn, 1, 3)
    enqueue(conn, 2, 3)
    for _ in range(40):              # many slots pass while chat 1's call hangs
        clock.now += sender.step(conn)
        sender.wait_in_flight(timeout=0.2)    # chat 2's call finishes; chat 1's goes on hanging
        if len(api.texts(2)) == 3:
            break
    assert api.texts(2) == ["2-0", "2-1", "2-2"] and api.texts(1) == []
    release.set()
    drain(conn, clock, api, sender)
    assert api.texts(1) == ["1-0", "1-1", "1-2"]
    assert max(worst) == 1


def test_the_sent_mark_and_the_copys_link_are_recorded(rig):
    conn, clock, api, sender = rig
    db.register_agent(conn, 1, "Agatha", None, "en", START)
    db.add_client(conn, 10, "Carl", None, "en", START)
    dialog_id = db.assign_client(conn, 10, 1, START)
    link = {"source_chat_id": 10, "source_message_id": 5, "dialog_id": dialog_id}
    db.enqueue_call(conn, 1, "sendMessage", {"text": "hello", "link": link}, START)
    drain(conn, clock, api, sender)
    assert db.count_pending_calls(conn) == 0
    copy = db.linked_message(conn, 1, 1)            # the fake answered message_id 1
    assert (copy["source_chat_id"], copy["source_message_id"], copy["dialog_id"]) == (10, 5, dialog_id)


def test_turns_put_the_chat_served_last_at_the_back_and_a_new_one_in_front():
    turns = delivery.Turns()
    heads = [{"chat_id": c, "id": i} for i, c in enumerate((5, 6, 7), start=1)]
    assert [h["chat_id"] for h in turns.order(heads)] == [5, 6, 7]     # never served: oldest call first
    turns.served(5)
    turns.served(6)
    assert [h["chat_id"] for h in turns.order(heads)] == [7, 5, 6]
    heads.append({"chat_id": 8, "id": 99})
    assert [h["chat_id"] for h in turns.order(heads)][0] in (7, 8)     # a newcomer is not behind 5 and 6
    assert [h["chat_id"] for h in turns.order(heads)][2:] == [5, 6]


def relays(user, name: str) -> list[str]:
    """What a user received as relayed text from `name`, in order, without the name header."""
    prefix = RELAY_HEADER.format(name=name) + "\n"
    return [x[len(prefix):] for x in user.texts() if x.startswith(prefix)]


def test_a_restart_in_the_middle_of_a_chats_burst_provokes_no_429(fake, desk):
    # Telegram counts a chat's messages across the desk's restarts; the desk's pacing must too.
    agent, client = fake.user(1, "Agatha"), fake.user(10, "Carl")
    register_agent(desk, agent)
    client.send("hello")
    desk.settle()
    fake.faults.rate_limits = True                # 20 at once per chat, then 1 a second
    for i in range(24):
        client.send(f"m{i}")
    fake.wait_for(lambda: len(relays(agent, "Carl")) >= 12, 30, "half of the burst")
    assert desk.stop() == 0
    desk.start()
    desk.settle(timeout=90)
    assert relays(agent, "Carl") == ["hello"] + [f"m{i}" for i in range(24)]
    assert fake.count_429 == 0
