"""An agent's own commands: registration, availability, their clients, focus, one-off replies,
notes, closing a ticket, history and figures."""

from __future__ import annotations

import sqlite3

from telebot import types

from desk import Desk, agents, clients, focus, messages, routing, stats, team
from handlers import table
from handlers.guards import agent_command, everyone_command, staff_command
from handlers.incoming import argument, content_of, parse_id, person_of, split_argument


def _lang(desk: Desk, agent: sqlite3.Row) -> str:
    return desk.lang(agent["language_code"])


def _target(desk: Desk, m: types.Message, agent: sqlite3.Row, usage: str, none_key: str) -> sqlite3.Row | None:
    """The dialog a command acts on: [client_id], else the replied-to client, else focus or only."""
    arg = argument(m)
    if arg:
        client_id = parse_id(arg)
        if client_id is None:
            desk.say(m.chat.id, _lang(desk, agent), usage)
            return None
        return focus.target(desk, agent, client_id=client_id)
    return focus.target(desk, agent, reply_to=content_of(m).reply_to, answer_to=m.message_id, none_key=none_key)


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
        table.send_help(desk, m.chat.id, lang)
        table.set_menu(desk, m.chat.id, lang)
        routing.serve_queue(desk)


@agent_command
def cmd_available(desk: Desk, m: types.Message, agent: sqlite3.Row) -> None:
    """Toggle whether the agent takes new clients."""
    agents.toggle_available(desk, agent)


@agent_command
def cmd_clients(desk: Desk, m: types.Message, agent: sqlite3.Row) -> None:
    """List the agent's open dialogs."""
    focus.show_clients(desk, agent)


@agent_command
def cmd_focus(desk: Desk, m: types.Message, agent: sqlite3.Row) -> None:
    """Choose which client plain messages go to."""
    client_id = parse_id(argument(m))
    if client_id is None:
        desk.say(m.chat.id, _lang(desk, agent), "focus_usage")
        return
    focus.set_focus(desk, agent, client_id)


@agent_command
def cmd_reply(desk: Desk, m: types.Message, agent: sqlite3.Row) -> None:
    """Send a one-off text to one of the agent's clients."""
    first, text = split_argument(m)
    client_id = parse_id(first)
    if client_id is None or not text:
        desk.say(m.chat.id, _lang(desk, agent), "reply_usage")
        return
    dialog = focus.target(desk, agent, client_id=client_id)
    if dialog is not None:
        messages.send_text_to_client(desk, dialog, agent["user_id"], m.message_id, text)


@agent_command
def cmd_note(desk: Desk, m: types.Message, agent: sqlite3.Row) -> None:
    """Keep an internal note on the dialog; the client never sees it."""
    text = argument(m)
    if not text:
        desk.say(m.chat.id, _lang(desk, agent), "note_usage")
        return
    dialog = focus.target(desk, agent, reply_to=content_of(m).reply_to, answer_to=m.message_id)
    if dialog is not None:
        messages.add_note(desk, agent, dialog, m.message_id, text)


@agent_command
def cmd_end_chat(desk: Desk, m: types.Message, agent: sqlite3.Row) -> None:
    """Close a ticket: the named, replied-to, focused or only one."""
    dialog = _target(desk, m, agent, "end_usage", "end_no_dialog")
    if dialog is not None:
        routing.end_dialog(desk, dialog)


@staff_command
def cmd_history(desk: Desk, m: types.Message, agent: sqlite3.Row | None) -> None:
    """Send a client's whole history as a text file: any client by id, or the agent's current one."""
    lang = desk.lang(m.from_user.language_code)
    arg = argument(m)
    if arg:
        client_id = parse_id(arg)
        if client_id is None:
            desk.say(m.chat.id, lang, "history_usage")
            return
        if not clients.exists(desk, client_id):
            desk.say(m.chat.id, lang, "history_unknown", client_id=client_id)
            return
    elif agent is None:                           # an admin who is not an agent names the client
        desk.say(m.chat.id, lang, "history_usage")
        return
    else:
        dialog = focus.target(desk, agent, reply_to=content_of(m).reply_to, answer_to=m.message_id,
                              none_key="history_no_dialog")
        if dialog is None:
            return
        client_id = dialog["client_id"]
    # Linked to the agent's dialog with that client, if any, so a reply to the file reaches them.
    desk.send_history(m.chat.id, client_id, lang, focus.link_for(desk, m.chat.id, client_id))


@staff_command
def cmd_stats(desk: Desk, m: types.Message, agent: sqlite3.Row | None) -> None:
    """An agent's own figures; `/stats all` (admins) the team's."""
    lang = desk.lang(m.from_user.language_code)
    arg = argument(m).lower()
    if arg not in ("", "all"):
        desk.say(m.chat.id, lang, "stats_usage")
    elif arg == "all" or agent is None:
        if team.is_admin(desk, m.from_user.id):
            desk.send_text(m.chat.id, team.team_report(desk, lang))
        else:
            desk.say(m.chat.id, lang, "admin_only")
    else:
        desk.send_text(m.chat.id, stats.agent_report(desk, agent, lang))
