"""Commands for everyone: /help, and the answer to a command the desk does not know."""

from __future__ import annotations

from telebot import types

import texts
from desk import Desk, agents
from handlers import table
from handlers.guards import everyone_command
from handlers.incoming import person_of


def role_of(desk: Desk, m: types.Message) -> str:
    """The sender's role for menus and help (refreshing an agent's last-seen time)."""
    return table.AGENT if agents.seen_agent(desk, person_of(m)) is not None else table.CLIENT


@everyone_command
def cmd_help(desk: Desk, m: types.Message) -> None:
    """Show the commands of the user's role."""
    table.send_help(desk, m.chat.id, role_of(desk, m), desk.lang(m.from_user.language_code))


def cmd_unknown(desk: Desk, m: types.Message) -> None:
    """Answer a command the desk does not know with the help of the user's role."""
    lang = desk.lang(m.from_user.language_code)
    text = texts.t(lang, "unknown_command") + "\n\n" + table.help_text(role_of(desk, m), lang)
    desk.call(m.chat.id, "sendMessage", {"text": text})
