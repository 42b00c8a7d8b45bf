"""The in-process harness itself: a client reaches an agent and back, all through handle_update."""

from __future__ import annotations

from texts import RELAY_HEADER


def test_a_client_reaches_an_agent_and_the_answer_comes_back(app, people):
    agent = people.agent()
    client = people.client_in_dialog(agent, first="hello")
    client.send("where is my order?")
    assert agent.texts() == [RELAY_HEADER.format(name="Carl") + "\nwhere is my order?"]
    agent.send("on its way")
    assert client.texts() == ["on its way"]
    assert app.query("SELECT COUNT(*) FROM chat_history")[0][0] == 3
