"""Every command, listed once: its name, who may use it, its handler, and how /help shows it.

The dispatch (handlers/__init__.py), each person's command menu and /help are all made from
COMMANDS, so a new command is one row here, its handler, and its texts (`cmd_<name>`).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

import texts
from desk import Desk, agents, team
from handlers import admin, agent, client, common, journey, queue, replies
from handlers.guards import ADMIN, AGENT, CLIENT, EVERYONE, MANAGER, STAFF, Handler


@dataclass(frozen=True)
class Command:
    """One row of the command table."""

    name: str
    role: str                 # who may use it; the handler's guard enforces it
    handler: Handler
    args: str = ""            # shown after the name in /help, e.g. "[client_id]"
    menu: bool = True         # listed in menus and /help


# Menus and /help list commands in this order.
COMMANDS: tuple[Command, ...] = (
    Command("start", CLIENT, client.cmd_start),
    Command("faq", CLIENT, journey.cmd_faq),
    Command("skip", CLIENT, journey.cmd_skip),
    Command("register_support", EVERYONE, agent.cmd_register_support, "<token>", menu=False),
    Command("clients", AGENT, agent.cmd_clients),
    Command("focus", AGENT, agent.cmd_focus, "<client_id>"),
    Command("reply", AGENT, agent.cmd_reply, "<client_id> <text>"),
    Command("queue", STAFF, queue.cmd_queue),
    Command("take", AGENT, queue.cmd_take, "[client_id]"),
    Command("transfer", AGENT, queue.cmd_transfer, "<agent_id | @username>"),
    Command("note", AGENT, agent.cmd_note, "<text>"),
    Command("t", AGENT, replies.cmd_t, "[name]"),
    Command("t_add", MANAGER, replies.cmd_t_add, "<name> <text>"),
    Command("t_del", MANAGER, replies.cmd_t_del, "<name>"),
    Command("end_chat", AGENT, agent.cmd_end_chat, "[client_id]"),
    Command("history", STAFF, agent.cmd_history, "[client_id]"),
    Command("available", AGENT, agent.cmd_available),
    Command("ban", STAFF, admin.cmd_ban, "<client_id> [reason]"),
    Command("unban", STAFF, admin.cmd_unban, "<client_id>"),
    Command("banned", STAFF, admin.cmd_banned),
    Command("stats", STAFF, agent.cmd_stats, "[all]"),
    Command("agents", ADMIN, admin.cmd_agents),
    Command("health", ADMIN, admin.cmd_health),
    Command("export", ADMIN, admin.cmd_export, "[days]"),
    Command("remove_support", ADMIN, admin.cmd_remove_support, "<agent_id>"),
    Command("help", EVERYONE, common.cmd_help),
)

for _row in COMMANDS:
    # The guard on the handler and the role in the table must say the same thing.
    if getattr(_row.handler, "role", None) != _row.role:
        raise TypeError(f"/{_row.name}: the table says {_row.role}, the handler's guard does not")


def roles_of(desk: Desk, user_id: int) -> frozenset[str]:
    """A person's roles: agent and/or admin, or client."""
    roles = set()
    if agents.is_agent(desk, user_id):
        roles.add(AGENT)
    if team.is_admin(desk, user_id):
        roles.add(ADMIN)
    return frozenset(roles or {CLIENT})


def visible(command: Command, roles: frozenset[str], admins_configured: bool) -> bool:
    """Whether a command belongs in the menu and /help of someone with these roles."""
    if not command.menu:
        return False
    if command.role == EVERYONE or command.role in roles:
        return True
    if command.role == STAFF:
        return bool(roles & {AGENT, ADMIN})
    if command.role == MANAGER:
        return (ADMIN if admins_configured else AGENT) in roles
    return False


def for_roles(roles: frozenset[str], admins_configured: bool) -> list[Command]:
    """The commands someone with these roles sees, in table order."""
    return [c for c in COMMANDS if visible(c, roles, admins_configured)]


def menu(desk: Desk, roles: frozenset[str], lang: str) -> list[tuple[str, str]]:
    """A command menu: (name, description) pairs for setMyCommands."""
    return [(c.name, texts.t(lang, f"cmd_{c.name}")) for c in for_roles(roles, bool(desk.settings.admin_ids))]


def help_text(roles: frozenset[str] | str, lang: str, admins_configured: bool = False) -> str:
    """/help: a short introduction for each role, then one line per command."""
    roles = frozenset({roles}) if isinstance(roles, str) else roles
    intro = [texts.t(lang, f"help_{role}") for role in (CLIENT, AGENT, ADMIN) if role in roles]
    lines = [f"/{c.name}{' ' + c.args if c.args else ''} — {texts.t(lang, f'cmd_{c.name}')}"
             for c in for_roles(roles, admins_configured)]
    return "\n\n".join(intro) + "\n\n" + "\n".join(lines)


def help_for(desk: Desk, chat_id: int, lang: str) -> str:
    """The /help of the chat's person."""
    return help_text(roles_of(desk, chat_id), lang, bool(desk.settings.admin_ids))


def send_help(desk: Desk, chat_id: int, lang: str) -> None:
    """Queue the /help of the chat's person."""
    desk.send_text(chat_id, help_for(desk, chat_id, lang))


def set_menu(desk: Desk, chat_id: int, lang: str) -> None:
    """Queue the command menu of the chat's person, for their chat only."""
    desk.call(chat_id, "setMyCommands", {"commands": menu(desk, roles_of(desk, chat_id), lang)})


def menus_fingerprint(desk: Desk) -> str:
    """What every menu depends on: the table, the texts, the admins."""
    shown = [(c.name, c.role, c.menu, [texts.t(lang, f"cmd_{c.name}") for lang in texts.LANGUAGES])
             for c in COMMANDS]
    source = json.dumps([shown, sorted(desk.settings.admin_ids), desk.settings.default_language])
    return hashlib.sha256(source.encode()).hexdigest()[:16]


def queue_menus(desk: Desk) -> None:
    """At start-up: the default menu (the clients'), in each language; every agent's and admin's own
    when the commands, their texts or the admins changed since they were last sent."""
    clients = frozenset({CLIENT})
    for lang in texts.LANGUAGES:
        desk.call(0, "setMyCommands", {"commands": menu(desk, clients, lang), "language_code": lang})
    desk.call(0, "setMyCommands", {"commands": menu(desk, clients, desk.settings.default_language)})
    version = menus_fingerprint(desk)
    if agents.menus_version(desk) != version:
        for user_id in sorted(set(agents.agent_ids(desk)) | desk.settings.admin_ids):
            set_menu(desk, user_id, agents.language_of(desk, user_id))
        agents.set_menus_version(desk, version)
