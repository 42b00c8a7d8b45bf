"""Commands for everyone: /help, and the answer to a command the desk does not know."""

from __future__ import annotations

from telebot import types

import texts
from desk import Desk, agents, clients
from handlers import table
from handlers.guards import everyone_command
from handlers.incoming import person_of


@everyone_command
def cmd_help(desk: Desk, m: types.Message) -> None:
    """Show the commands of the user's roles."""
    if agents.seen_agent(desk, person_of(m)) is None and clients.silenced(desk, person_of(m)):
        return
    table.send_help(desk, m.chat.id, desk.lang(m.from_user.language_code))


def cmd_unknown(desk: Desk, m: types.Message) -> None:
    """Answer a command the desk does not know with the sender's /help."""
    if agents.seen_agent(desk, person_of(m)) is None and clients.silenced(desk, person_of(m)):
        return
    lang = desk.lang(m.from_user.language_code)
    text = texts.t(lang, "unknown_command") + "\n\n" + table.help_for(desk, m.chat.id, lang)
    desk.send_text(m.chat.id, text)
