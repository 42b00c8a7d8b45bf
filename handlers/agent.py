"""The agent's commands: registration, availability, closing a ticket, history, stats."""

from __future__ import annotations

import sqlite3

from telebot import types

from desk import Desk, agents, clients, routing, stats
from handlers import table
from handlers.guards import agent_command, everyone_command
from handlers.incoming import argument, person_of


@everyone_command
def cmd_register_support(desk: Desk, m: types.Message) -> None:
    """Make the user a support agent if they give the right token."""
    person = person_of(m)
    token = argument(m)
    if token:
        # The message holds a secret (or a guess at one): take it out of the chat.
        desk.call(m.chat.id, "deleteMessage", {"message_id": m.message_id})
    if agents.register(desk, person, token):
        lang = desk.lang(person.language_code)
        table.send_help(desk, m.chat.id, table.AGENT, lang)
        desk.call(m.chat.id, "setMyCommands", {"commands": table.menu(table.AGENT, lang)})
        routing.serve_queue(desk, person.id)


@agent_command
def cmd_available(desk: Desk, m: types.Message, agent: sqlite3.Row) -> None:
    """Toggle whether the agent takes new clients."""
    agents.toggle_available(desk, agent)


@agent_command
def cmd_end_chat(desk: Desk, m: types.Message, agent: sqlite3.Row) -> None:
    """Close the agent's current ticket."""
    if not routing.end_agents_dialog(desk, agent):
        desk.say(m.chat.id, desk.lang(agent["language_code"]), "end_no_dialog")


@agent_command
def cmd_history(desk: Desk, m: types.Message, agent: sqlite3.Row) -> None:
    """Send the current (or a named) client's whole history as a text file."""
    lang = desk.lang(agent["language_code"])
    arg = argument(m)
    if arg:
        if not arg.isdigit() or len(arg) > 19:
            desk.say(m.chat.id, lang, "history_usage")
            return
        client_id = int(arg)
        if not clients.exists(desk, client_id):
            desk.say(m.chat.id, lang, "history_unknown", client_id=client_id)
            return
    else:
        dialog = routing.agents_dialog(desk, agent)
        if dialog is None:
            desk.say(m.chat.id, lang, "history_no_dialog")
            return
        client_id = dialog["client_id"]
    # The file is built when it is sent, from the database, so it never sits in the outbox.
    desk.call(m.chat.id, "sendHistory", {"client_id": client_id, "lang": lang})


@agent_command
def cmd_stats(desk: Desk, m: types.Message, agent: sqlite3.Row) -> None:
    """Show the agent's work and the state of the desk."""
    desk.call(m.chat.id, "sendMessage", {"text": stats.agent_report(desk, agent, desk.lang(agent["language_code"]))})
