"""Role guards for command handlers, in the spirit of Flask's login_required.

`@agent_command` lets a handler run only for a registered agent (whose last-seen time it
refreshes) and hands it the agent's row; anyone else gets a polite refusal and nothing happens.
Each guard marks the handler with its role, which handlers/table.py checks against its own column.
"""

from __future__ import annotations

import functools
import sqlite3
from collections.abc import Callable

from telebot import types

from desk import Desk, agents
from handlers.incoming import person_of

CLIENT, AGENT, EVERYONE = "client", "agent", "everyone"

Handler = Callable[[Desk, types.Message], None]


def agent_command(handler: Callable[[Desk, types.Message, sqlite3.Row], None]) -> Handler:
    """Run the handler for agents only, with the agent's row as a third argument."""
    @functools.wraps(handler)
    def guarded(desk: Desk, m: types.Message) -> None:
        agent = agents.seen_agent(desk, person_of(m))
        if agent is None:
            desk.say(m.chat.id, desk.lang(m.from_user.language_code), "agent_only")
            return
        handler(desk, m, agent)

    guarded.role = AGENT
    return guarded


def everyone_command(handler: Handler) -> Handler:
    """Mark a handler open to everyone (it decides by role itself, if at all)."""
    handler.role = EVERYONE
    return handler


def client_command(handler: Handler) -> Handler:
    """Mark a handler as a client's command (agents may use it too; the menu is the clients')."""
    handler.role = CLIENT
    return handler
