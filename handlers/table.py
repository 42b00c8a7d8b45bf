"""Every command, listed once: its name, who may use it, its handler, and how /help shows it.

Registration (handlers/__init__.py), each role's command menu and each role's /help are all made
from COMMANDS, so a new command is one row here, its handler, and its texts (`cmd_<name>`).
"""

from __future__ import annotations

from dataclasses import dataclass

import texts
from desk import Desk
from handlers import agent, client, common
from handlers.guards import AGENT, CLIENT, EVERYONE, Handler


@dataclass(frozen=True)
class Command:
    """One row of the command table."""

    name: str
    role: str                 # CLIENT, AGENT or EVERYONE; the handler's guard enforces it
    handler: Handler
    args: str = ""            # shown after the name in /help, e.g. "[client_id]"
    menu: bool = True         # listed in the role's command menu and /help


# Each role's menu and /help list its commands in this order.
COMMANDS: tuple[Command, ...] = (
    Command("start", CLIENT, client.cmd_start),
    Command("register_support", EVERYONE, agent.cmd_register_support, "<token>", menu=False),
    Command("available", AGENT, agent.cmd_available),
    Command("end_chat", AGENT, agent.cmd_end_chat),
    Command("history", AGENT, agent.cmd_history, "[client_id]"),
    Command("stats", AGENT, agent.cmd_stats),
    Command("help", EVERYONE, common.cmd_help),
)

for _row in COMMANDS:
    # The guard on the handler and the role in the table must say the same thing.
    if getattr(_row.handler, "role", None) != _row.role:
        raise TypeError(f"/{_row.name}: the table says {_row.role}, the handler's guard does not")


def for_role(role: str) -> list[Command]:
    """The commands a role sees in its menu and /help, in table order."""
    return [c for c in COMMANDS if c.menu and c.role in (role, EVERYONE)]


def menu(role: str, lang: str) -> list[tuple[str, str]]:
    """A role's command menu: (name, description) pairs for setMyCommands."""
    return [(c.name, texts.t(lang, f"cmd_{c.name}")) for c in for_role(role)]


def help_text(role: str, lang: str) -> str:
    """A role's /help: a short introduction, then one line per command."""
    lines = [f"/{c.name}{' ' + c.args if c.args else ''} — {texts.t(lang, f'cmd_{c.name}')}" for c in for_role(role)]
    return texts.t(lang, f"help_{role}") + "\n\n" + "\n".join(lines)


def send_help(desk: Desk, chat_id: int, role: str, lang: str) -> None:
    """Queue a role's /help for a chat."""
    desk.call(chat_id, "sendMessage", {"text": help_text(role, lang)})


def queue_default_menus(desk: Desk) -> None:
    """Queue the default command menu (the clients'), in each language and for unknown languages."""
    for lang in texts.LANGUAGES:
        desk.call(0, "setMyCommands", {"commands": menu(CLIENT, lang), "language_code": lang})
    desk.call(0, "setMyCommands", {"commands": menu(CLIENT, desk.settings.default_language)})
