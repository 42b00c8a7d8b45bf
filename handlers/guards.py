"""Role guards for command handlers, in the spirit of Flask's login_required.

Each guard lets its handler run only for the right people and politely refuses everyone else,
with nothing else happening. It marks the handler with its role, which handlers/table.py checks
against its own column:
- @agent_command: registered agents (last seen refreshed); the handler gets the agent's row.
- @admin_command: ADMIN_IDS.
- @staff_command: agents and admins; the handler gets the agent's row, or None for an admin.
- @manager_command: admins when ADMIN_IDS is set, otherwise agents (saved replies).
- @client_command, @everyone_command: open to all (the role only places them in menus).
"""

from __future__ import annotations

import functools
import sqlite3
from collections.abc import Callable

from telebot import types

from desk import Desk, agents, team
from handlers.incoming import person_of

CLIENT, AGENT, ADMIN, STAFF, MANAGER, EVERYONE = "client", "agent", "admin", "staff", "manager", "everyone"

Handler = Callable[[Desk, types.Message], None]
AgentHandler = Callable[[Desk, types.Message, sqlite3.Row], None]
StaffHandler = Callable[[Desk, types.Message, "sqlite3.Row | None"], None]


def _refuse(desk: Desk, m: types.Message, key: str) -> None:
    desk.say(m.chat.id, desk.lang(m.from_user.language_code), key)


def agent_command(handler: AgentHandler) -> Handler:
    """Run the handler for agents only, with the agent's row as a third argument."""
    @functools.wraps(handler)
    def guarded(desk: Desk, m: types.Message) -> None:
        agent = agents.seen_agent(desk, person_of(m))
        if agent is None:
            _refuse(desk, m, "agent_only")
            return
        handler(desk, m, agent)

    guarded.role = AGENT
    return guarded


def admin_command(handler: Handler) -> Handler:
    """Run the handler for admins only."""
    @functools.wraps(handler)
    def guarded(desk: Desk, m: types.Message) -> None:
        if not team.is_admin(desk, m.from_user.id):
            _refuse(desk, m, "admin_only")
            return
        handler(desk, m)

    guarded.role = ADMIN
    return guarded


def staff_command(handler: StaffHandler) -> Handler:
    """Run the handler for agents and admins; the third argument is the agent's row or None."""
    @functools.wraps(handler)
    def guarded(desk: Desk, m: types.Message) -> None:
        agent = agents.seen_agent(desk, person_of(m))
        if agent is None and not team.is_admin(desk, m.from_user.id):
            _refuse(desk, m, "agent_only")
            return
        handler(desk, m, agent)

    guarded.role = STAFF
    return guarded


def manager_command(handler: Handler) -> Handler:
    """Run the handler for admins when there are any, otherwise for agents."""
    @functools.wraps(handler)
    def guarded(desk: Desk, m: types.Message) -> None:
        if desk.settings.admin_ids:
            allowed, refusal = team.is_admin(desk, m.from_user.id), "admin_only"
        else:
            allowed, refusal = agents.seen_agent(desk, person_of(m)) is not None, "agent_only"
        if not allowed:
            _refuse(desk, m, refusal)
            return
        handler(desk, m)

    guarded.role = MANAGER
    return guarded


def everyone_command(handler: Handler) -> Handler:
    """Mark a handler open to everyone (it decides by role itself, if at all)."""
    handler.role = EVERYONE
    return handler


def client_command(handler: Handler) -> Handler:
    """Mark a handler as a client's command (agents may use it too; the menu is the clients')."""
    handler.role = CLIENT
    return handler
