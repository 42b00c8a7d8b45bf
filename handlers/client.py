"""Messages that are not commands, and the client's /start."""

from __future__ import annotations

from telebot import types

from desk import Desk, agents, clients, messages, team
from handlers import table
from handlers.guards import client_command
from handlers.incoming import argument, content_of, person_of


@client_command
def cmd_start(desk: Desk, m: types.Message) -> None:
    """Greet a client and ask their name once; remind an agent what they can do."""
    person = person_of(m)
    if agents.seen_agent(desk, person) is not None or team.is_admin(desk, person.id):
        table.send_help(desk, m.chat.id, desk.lang(person.language_code))
        return
    # t.me/<bot>?start=<payload> arrives as "/start <payload>": everything after "/start ".
    clients.start(desk, person, argument(m))


def on_message(desk: Desk, m: types.Message) -> None:
    """Relay any other message: an agent's to their client, a client's to their agent or the queue."""
    person = person_of(m)
    agent = agents.seen_agent(desk, person)
    if agent is None:
        clients.client_message(desk, person, content_of(m))
    else:
        messages.agent_message(desk, agent, content_of(m))
