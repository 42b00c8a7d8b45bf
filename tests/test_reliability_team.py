"""Lose nothing with the team desk switched on: one agent serving three clients at once
(MAX_CHATS_PER_AGENT=3), with the shipped intake questions and FAQ configured, under crashes, 429s,
5xx answers and dropped connections.

The real bot process against the fake Bot API, as in test_reliability.py (which runs the same
faults with today's defaults). Every client's messages must reach the one agent in order and
exactly once (a crash may repeat at most the call in flight per kill); the agent's answers, routed
by /reply to each client, likewise.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
from harness import FAST_SENDS, BotProcess, register_agent, stop_cleanly

from texts import RELAY_HEADER

ROOT = Path(__file__).resolve().parent.parent
TEAM = {"MAX_CHATS_PER_AGENT": "3", "INTAKE_FILE": str(ROOT / "intake.example.toml"),
        "FAQ_FILE": str(ROOT / "faq.example.toml"), "QUEUE_ALERT_SECONDS": "0"}
NAMES = ("Carl", "Dora", "Emil")


@pytest.fixture
def team_desk(fake, tmp_path, request):
    """The bot with three dialogs per agent and the journey files; production pace when marked."""
    env = {} if request.node.get_closest_marker("production_pace") else dict(FAST_SENDS)
    bot = BotProcess(fake, tmp_path, **env, **TEAM).start()
    yield bot
    stop_cleanly(bot)


@pytest.fixture
def three(fake, team_desk):
    """Agent Agatha (id 1) with three clients in open dialogs, each past the intake questions."""
    agent = fake.user(1, "Agatha")
    register_agent(team_desk, agent)
    clients = [fake.user(10 + i, name) for i, name in enumerate(NAMES)]
    for client in clients:
        client.send("start")
        client.send("Delivery")            # intake question 1: a choice
        client.send("/skip")               # question 2 is optional
    team_desk.settle()
    owners = {r[0]: r[1] for r in team_desk.query("SELECT client_id, agent_id FROM dialogs WHERE status = 'open'")}
    assert owners == {c.id: 1 for c in clients}, "one agent should hold all three dialogs"
    assert team_desk.query("SELECT COUNT(*) FROM intake_answers")[0][0] == 6
    return agent, clients


def relays(user, name: str) -> list[str]:
    """What the agent received as relayed text from `name`, in order, without the name header."""
    prefix = RELAY_HEADER.format(name=name) + "\n"
    return [x[len(prefix):] for x in user.texts() if x.startswith(prefix)]


def answers(client) -> list[str]:
    """The texts the client received from /reply, in order."""
    return [d["text"] for d in client.inbox() if d["method"] == "sendMessage" and d["text"].startswith("r")]


def check_each_client(team_desk, agent, clients, expected: list[str], repeats_allowed: int) -> None:
    for client in clients:
        received = [x for x in relays(agent, client.first_name) if x != "start"]
        once = [x for i, x in enumerate(received) if i == 0 or x != received[i - 1]]
        assert once == expected, client.first_name                       # nothing lost, order kept
        assert len(received) - len(expected) <= repeats_allowed           # repeats only from crashes
        rows = team_desk.query("SELECT text FROM chat_history WHERE client_id = ? AND text LIKE 'm%' ORDER BY id",
                               client.id)
        assert [r[0] for r in rows] == expected                           # stored exactly once each


def test_sigkill_three_times_while_one_agent_serves_three_clients(fake, team_desk, three):
    agent, clients = three
    count = 5

    def stream():
        for i in range(count):
            for client in clients:
                client.send(f"m{i}")
            for client in clients:
                agent.send(f"/reply {client.id} r{i}")
            time.sleep(0.5)

    sender = threading.Thread(target=stream)
    sender.start()
    for _ in range(3):
        time.sleep(0.8)
        team_desk.kill()
        time.sleep(0.3)
        team_desk.start()
    sender.join()
    team_desk.settle(timeout=90)
    check_each_client(team_desk, agent, clients, [f"m{i}" for i in range(count)], repeats_allowed=3)
    for client in clients:
        got = answers(client)
        assert [x for i, x in enumerate(got) if i == 0 or x != got[i - 1]] == [f"r{i}" for i in range(count)]
        assert len(got) - count <= 3


@pytest.mark.production_pace
def test_with_30_percent_429s_three_clients_and_one_agent_get_everything_once_in_order(fake, team_desk, three):
    agent, clients = three
    fake.faults.share_429, fake.faults.retry_after = 0.3, 1
    for i in range(4):
        for client in clients:
            client.send(f"m{i}")
            agent.send(f"/reply {client.id} r{i}")
    team_desk.settle(timeout=90)
    assert fake.injected["429"] > 0
    check_each_client(team_desk, agent, clients, [f"m{i}" for i in range(4)], repeats_allowed=0)
    for client in clients:
        assert answers(client) == [f"r{i}" for i in range(4)]


def test_with_5xx_and_dropped_connections_three_clients_and_one_agent_get_everything_once(fake, team_desk, three):
    agent, clients = three
    fake.faults.share_5xx, fake.faults.share_drop = 0.1, 0.1
    for i in range(4):
        for client in clients:
            client.send(f"m{i}")
            agent.send(f"/reply {client.id} r{i}")
    team_desk.settle(timeout=120)
    assert fake.injected["5xx"] + fake.injected["drop"] > 0
    check_each_client(team_desk, agent, clients, [f"m{i}" for i in range(4)], repeats_allowed=0)
    for client in clients:
        assert answers(client) == [f"r{i}" for i in range(4)]


def test_a_plain_message_with_three_dialogs_goes_nowhere_and_a_restart_keeps_the_focus(fake, team_desk, three):
    agent, clients = three
    before = [len(c.inbox()) for c in clients]
    agent.send("for whom?")
    team_desk.settle()
    assert [len(c.inbox()) for c in clients] == before               # never guessed
    agent.send(f"/focus {clients[1].id}")
    team_desk.settle()
    team_desk.kill()
    team_desk.start()
    agent.send("after the restart")
    team_desk.settle()
    assert [d.get("copied", {}).get("text") for d in clients[1].inbox()][-1] == "after the restart"
    assert [len(c.inbox()) for c in (clients[0], clients[2])] == [before[0], before[2]]
