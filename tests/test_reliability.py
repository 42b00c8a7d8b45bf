"""Lose nothing: the real bot process under Telegram's faults, limits, crashes and restarts.

Each test injects one kind of trouble through the fake Bot API and then checks what reached the
users: everything, in order, and duplicated only where a crash makes that unavoidable. `pair`
(conftest.py) is an agent and a client already talking. Tests about 429s and rate limits run the
bot at production pace; the others send as fast as the fake answers.
"""

from __future__ import annotations

import threading
import time

import pytest
from harness import FAST_SENDS, BotProcess, assert_no_secrets, register_agent

from texts import RELAY_HEADER, t


def relays(user, name: str) -> list[str]:
    """What a user received as relayed text from `name`, in order, without the name header."""
    prefix = RELAY_HEADER.format(name=name) + "\n"
    return [x[len(prefix):] for x in user.texts() if x.startswith(prefix)]


def test_a_redelivered_update_is_neither_stored_nor_relayed_twice(fake, desk, pair):
    agent, client = pair
    client.send("only once")
    desk.settle()
    # Telegram offers the update again, as after a crash between our commit and its confirmation.
    fake.redeliver(fake.history[-1])
    client.send("next")
    desk.settle()
    assert relays(agent, "Carl") == ["hello", "only once", "next"]
    assert len(desk.query("SELECT * FROM chat_history WHERE text = 'only once'")) == 1
    assert "already processed" in desk.log()


def test_sigkill_three_times_during_a_stream_loses_nothing_and_keeps_order(fake, desk, pair):
    # Two dialogs, 12 messages each over the six seconds of the three kills: 24 in all, and each
    # agent chat stays within its burst, so the test waits for the kills rather than for pacing
    # (which the sender keeps across restarts).
    agent, client = pair
    agent2, client2 = fake.user(2, "Boris"), fake.user(11, "Dora")
    register_agent(desk, agent2)
    client2.send("hello")
    desk.settle()
    assert desk.query("SELECT agent_id FROM dialogs WHERE client_id = 11 AND status = 'open'")[0][0] == 2
    count = 12

    def stream():
        for i in range(count):
            client.send(f"m{i}")
            client2.send(f"m{i}")
            time.sleep(0.5)

    sender = threading.Thread(target=stream)
    sender.start()
    for _ in range(3):
        time.sleep(1.5)
        desk.kill()
        time.sleep(0.3)                                   # messages keep coming while it is down
        desk.start()
    sender.join()
    desk.settle(timeout=90)
    for each_agent, each_client in ((agent, client), (agent2, client2)):
        received = [x for x in relays(each_agent, each_client.first_name) if x.startswith("m")]
        deduplicated = [x for i, x in enumerate(received) if i == 0 or x != received[i - 1]]
        assert deduplicated == [f"m{i}" for i in range(count)]        # nothing lost, order kept
        assert len(received) - count <= 3                              # at most one repeat per kill
        rows = desk.query("SELECT text FROM chat_history WHERE client_id = ? AND text LIKE 'm%' ORDER BY id",
                          each_client.id)
        assert [r[0] for r in rows] == [f"m{i}" for i in range(count)]  # stored exactly once each


@pytest.mark.production_pace
def test_with_30_percent_429s_everything_arrives_in_order_without_duplicates(fake, desk, pair):
    agent, client = pair
    fake.faults.share_429, fake.faults.retry_after = 0.3, 1
    for i in range(12):
        client.send(f"m{i}")
    for i in range(12):
        agent.send(f"r{i}")
    desk.settle(timeout=90)
    assert fake.injected["429"] > 0
    assert relays(agent, "Carl")[1:] == [f"m{i}" for i in range(12)]
    assert [d["copied"]["text"] for d in client.inbox() if d["method"] == "copyMessage"] == [
        f"r{i}" for i in range(12)]


def test_with_20_percent_5xx_and_dropped_connections_everything_arrives_once(fake, desk):
    # Three dialogs rather than one: each chat's retries wait out their own backoff side by side,
    # and every chat must still get each of its messages once, in order.
    agents = [fake.user(i, f"Agent{i}") for i in (1, 2, 3)]
    clients = [fake.user(10 + i, f"Client{i}") for i in (1, 2, 3)]
    for agent in agents:
        register_agent(desk, agent)
    for client in clients:
        client.send("start")
    desk.settle()
    agent_of = {r[0]: r[1] for r in desk.query("SELECT client_id, agent_id FROM dialogs WHERE status = 'open'")}
    fake.faults.share_5xx, fake.faults.share_drop = 0.1, 0.1
    for i in range(10):
        for client in clients:
            client.send(f"m{i}")
    desk.settle(timeout=120)
    assert fake.injected["5xx"] > 0 and fake.injected["drop"] > 0
    for client in clients:
        agent = next(a for a in agents if a.id == agent_of[client.id])
        assert relays(agent, client.first_name) == ["start"] + [f"m{i}" for i in range(10)]
    log = desk.log()
    assert "[REDACTED]" in log or "RemoteDisconnected" in log or "ConnectionError" in log
    assert_no_secrets(log)


@pytest.mark.production_pace
def test_a_429_holds_back_only_its_own_chat_for_retry_after(fake, desk):
    a1, a2 = fake.user(1, "Agatha"), fake.user(2, "Boris")
    register_agent(desk, a1)
    register_agent(desk, a2)
    c1, c2 = fake.user(10, "Carl"), fake.user(11, "Dora")
    c1.send("first")
    c2.send("second")
    desk.settle()
    fake.faults.throttled[1] = time.time() + 3
    started = time.time()
    c1.send("to the limited chat")
    c2.send("to the free chat")
    fake.wait_for(lambda: "to the free chat" in relays(a2, "Dora"), 2, "the free chat's message")
    assert time.time() - started < 2
    assert "to the limited chat" not in relays(a1, "Carl")
    fake.wait_for(lambda: "to the limited chat" in relays(a1, "Carl"), 10, "the limited chat's message")
    assert time.time() - started >= 2.9                               # it waited out retry_after
    tries = [p for p in fake.sent_calls("sendMessage", since=started) if p.get("chat_id") == "1"]
    assert len(tries) <= 3                                            # no hammering while limited


@pytest.mark.production_pace
def test_telegrams_rate_limits_are_never_crossed(fake, desk):
    fake.faults.rate_limits = True
    agents = [fake.user(i, f"Agent{i}") for i in range(1, 5)]
    clients = [fake.user(100 + i, f"Client{i}") for i in range(1, 5)]
    for agent in agents:
        register_agent(desk, agent)
    for client in clients:
        client.send("start")
    desk.settle()
    for client in clients:
        # With the 6 calls of setting up the dialog, 26 in each agent chat: past the fake's (and
        # Telegram's) per-chat burst of 20, and 104 in all, past 30 a second.
        for i in range(20):
            client.send(f"m{i}")
    desk.settle(timeout=90)
    for agent, client in zip(agents, clients, strict=True):
        assert relays(agent, client.first_name) == ["start"] + [f"m{i}" for i in range(20)]
    assert fake.count_429 == 0


def test_a_client_who_blocked_the_bot_closes_only_their_dialog(fake, desk):
    a1, a2 = fake.user(1, "Agatha"), fake.user(2, "Boris")
    register_agent(desk, a1)
    register_agent(desk, a2)
    c1, c2 = fake.user(10, "Carl"), fake.user(11, "Dora")
    c1.send("hi")
    c2.send("hello")
    desk.settle()
    fake.faults.blocked.add(10)
    a1.send("are you there?")
    a1.send("and this?")
    a2.send("answer for Dora")
    desk.settle()
    assert a1.texts()[-1] == t("en", "client_blocked", name="Carl")
    assert desk.query("SELECT status FROM dialogs WHERE client_id = 10")[0][0] == "closed"
    assert c2.inbox()[-1]["copied"]["text"] == "answer for Dora"
    assert desk.query("SELECT status FROM dialogs WHERE client_id = 11")[0][0] == "open"
    failed = desk.query("SELECT COUNT(*) FROM outbox WHERE chat_id = 10 AND status = 'failed'")[0][0]
    assert failed == 2 and len(fake.sent_calls("copyMessage")) < 10   # not retried


def test_an_agent_who_blocked_the_bot_is_taken_off_duty_and_the_client_told(fake, desk, pair):
    agent, client = pair
    fake.faults.blocked.add(1)
    client.send("anyone?")
    desk.settle()
    assert client.texts()[-1] == t("en", "agent_unreachable")
    assert desk.query("SELECT is_available FROM support_agents WHERE user_id = 1")[0][0] == 0
    backup = fake.user(2, "Boris")
    register_agent(desk, backup)
    client.send("again")                                 # a new ticket goes to a reachable agent
    desk.settle()
    assert relays(backup, "Carl") == ["again"]


def test_messages_sent_during_a_getupdates_outage_arrive_after_it(fake, desk, pair):
    agent, client = pair
    fake.faults.getupdates_down_until = time.time() + 1.2
    time.sleep(0.3)                                       # the bot is failing to get updates now
    for i in range(3):
        client.send(f"during outage {i}")
    desk.settle(timeout=40)
    assert relays(agent, "Carl")[-3:] == [f"during outage {i}" for i in range(3)]
    assert "getUpdates failed" in desk.log()


def test_pending_messages_survive_a_restart(fake, desk, pair):
    agent, client = pair
    fake.faults.share_5xx = 1.0                           # nothing gets through for now
    client.send("kept 1")
    client.send("kept 2")
    fake.wait_for(lambda: fake.pending_updates() == 0, 10, "the updates to be confirmed")
    assert desk.stop() == 0
    pending = desk.query("SELECT COUNT(*) FROM outbox WHERE status = 'pending'")[0][0]
    assert pending >= 2
    fake.faults.share_5xx = 0.0
    desk.start()
    desk.settle(timeout=60)
    assert relays(agent, "Carl") == ["hello", "kept 1", "kept 2"]


def test_sigterm_with_sends_in_flight_finishes_them_and_loses_nothing(fake, desk, pair):
    agent, client = pair
    fake.faults.latency = 0.8
    for i in range(5):
        client.send(f"m{i}")
    fake.wait_for(lambda: fake.pending_updates() == 0, 10, "the updates to be confirmed")
    time.sleep(0.3)                                       # a send is in flight now
    assert desk.stop() == 0
    fake.faults.latency = 0.0
    desk.start()
    desk.settle(timeout=30)
    assert relays(agent, "Carl") == ["hello"] + [f"m{i}" for i in range(5)]   # no loss, no repeat


def test_a_process_killed_before_handling_gets_the_update_again(fake, tmp_path):
    # The bot is not running when the message comes; nothing was confirmed, so it is offered later.
    desk = BotProcess(fake, tmp_path, **FAST_SENDS).start()
    agent = fake.user(1, "Agatha")
    register_agent(desk, agent)
    desk.kill()
    client = fake.user(10, "Carl")
    client.send("while down")
    desk.start()
    desk.settle()
    assert relays(agent, "Carl") == ["while down"]
    assert desk.stop() == 0
    assert_no_secrets(desk.log())
