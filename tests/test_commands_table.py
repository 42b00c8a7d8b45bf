"""handlers/table.py: one row per command, and registration, menus, /help and guards all follow it.

The expected menus are worked out here from each row's role, independently of table.visible():
clients see client commands, agents agent and staff commands, admins admin and staff commands,
everyone the commands for everyone, and the saved-reply managers are the admins when ADMIN_IDS is
set, otherwise the agents. A row whose role disagrees with its handler's guard cannot be loaded.
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from fake_telegram import check_commands
from harness import SUPPORT_TOKEN
from inproc import Desk, People, settings

import db
import texts
from handlers import table
from handlers.guards import ADMIN, AGENT, CLIENT, EVERYONE, MANAGER, STAFF

ADMIN_ID = 7
ROLES = {"client": frozenset({CLIENT}), "agent": frozenset({AGENT}), "admin": frozenset({ADMIN}),
         "agent and admin": frozenset({AGENT, ADMIN})}
REFUSALS = {texts.t("en", "agent_only"), texts.t("en", "admin_only")}


def expected_names(roles: frozenset[str], admins_configured: bool) -> list[str]:
    """The commands someone with these roles should see, in table order."""
    sees = {EVERYONE} | roles
    if roles & {AGENT, ADMIN}:
        sees.add(STAFF)
    if (ADMIN if admins_configured else AGENT) in roles:
        sees.add(MANAGER)
    return [c.name for c in table.COMMANDS if c.menu and c.role in sees]


@pytest.fixture
def team(tmp_path: Path) -> Iterator[Desk]:
    """An in-process desk with an admin (ADMIN_ID) configured."""
    path = tmp_path / "team.db"
    conn = db.connect(path)
    db.init_db(conn)
    desk = Desk(conn, settings(str(path), admin_ids=frozenset({ADMIN_ID})))
    yield desk
    desk.check_calls()
    desk.close()
    conn.close()


def test_every_command_has_a_known_role_texts_in_both_languages_and_a_valid_menu_entry():
    names = [c.name for c in table.COMMANDS]
    assert len(names) == len(set(names))
    for command in table.COMMANDS:
        assert command.role in (CLIENT, AGENT, ADMIN, STAFF, MANAGER, EVERYONE), command
        for lang in texts.LANGUAGES:
            check_commands([(command.name, texts.t(lang, f"cmd_{command.name}"))])   # as Telegram checks them
    assert "help" in names and "start" in names
    assert not table.COMMANDS[names.index("register_support")].menu   # the token command is never shown


@pytest.mark.parametrize("who", ROLES)
@pytest.mark.parametrize("admins_configured", [False, True])
@pytest.mark.parametrize("lang", texts.LANGUAGES)
def test_menus_and_help_follow_the_table_for_each_role(app, team, who, admins_configured, lang):
    roles = ROLES[who]
    desk = (team if admins_configured else app).dispatcher.desk(app.now)
    names = expected_names(roles, admins_configured)
    assert "help" in names and ("start" in names) == (roles == {CLIENT})
    assert table.menu(desk, roles, lang) == [(name, texts.t(lang, f"cmd_{name}")) for name in names]
    rows = {c.name: c for c in table.COMMANDS}
    lines = [f"/{name}{' ' + rows[name].args if rows[name].args else ''} — {texts.t(lang, f'cmd_{name}')}"
             for name in names]
    help_text = table.help_text(roles, lang, admins_configured)
    assert help_text.endswith("\n\n" + "\n".join(lines))
    for role in roles:
        assert texts.t(lang, f"help_{role}") in help_text


def test_each_person_gets_the_menu_and_help_of_their_roles(team):
    people = People(team)
    client = team.user(10, "Carl")
    agent = people.agent()
    admin = team.user(ADMIN_ID, "Ada")
    for user, roles in ((client, ROLES["client"]), (agent, ROLES["agent"]), (admin, ROLES["admin"])):
        user.send("/help")
        assert user.texts() == [table.help_text(roles, "en", True)]
    # The admin registers as an agent too: their menu and help now hold both roles' commands.
    admin.clear()
    admin.send(f"/register_support {SUPPORT_TOKEN}")
    [menu] = admin.calls("setMyCommands")
    assert [name for name, _ in menu["commands"]] == expected_names(ROLES["agent and admin"], True)
    assert admin.texts()[-1] == table.help_text(ROLES["agent and admin"], "en", True)
    assert team.query("SELECT 1 FROM support_agents WHERE user_id = ?", ADMIN_ID)


def test_every_command_in_the_table_is_registered(app, people):
    # Anything registered is answered by its own handler (or its guard), never as an unknown command.
    unknown = texts.t("en", "unknown_command")
    agent = people.agent()
    client = app.user(10, "Carl")
    for command in table.COMMANDS:
        for user in (client, agent):
            user.clear()
            user.send(f"/{command.name}")
            assert not any(text.startswith(unknown) for text in user.texts()), (command.name, user.first_name)
    client.clear()
    client.send("/no_such_command")
    assert client.texts()[0].startswith(unknown)


RESTRICTED = [c.name for c in table.COMMANDS if c.role in (AGENT, STAFF, ADMIN, MANAGER)]


@pytest.mark.parametrize("name", RESTRICTED)
def test_a_client_is_refused_every_staff_command_and_nothing_changes(app, people, name):
    agent = people.agent()
    client = people.client_in_dialog(agent, user_id=10)
    before = [app.query(f"SELECT COUNT(*) FROM {t}")[0][0] for t in ("chat_history", "dialogs", "clients")]
    client.send(f"/{name} 10 some words")
    assert len(client.texts()) == 1 and client.texts()[0] in REFUSALS
    assert agent.calls() == []
    assert [app.query(f"SELECT COUNT(*) FROM {t}")[0][0] for t in ("chat_history", "dialogs", "clients")] == before
    assert app.query("SELECT status FROM dialogs WHERE client_id = 10")[0][0] == "open"


@pytest.mark.parametrize("name", [c.name for c in table.COMMANDS if c.role == ADMIN])
def test_an_agent_is_refused_every_admin_command(team, name):
    agent = People(team).agent()
    agent.send(f"/{name} 1")
    assert agent.texts() == [texts.t("en", "admin_only")]


# --- The check at import -------------------------------------------------------------------------


def load_table() -> object:
    """handlers/table.py executed afresh as a module of its own (handlers.table is left alone)."""
    spec = importlib.util.spec_from_file_location("table_under_test", table.__file__)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module            # @dataclass looks its module up there
    try:
        spec.loader.exec_module(module)
    finally:
        del sys.modules[spec.name]
    return module


def test_the_table_as_it_is_loads():
    assert [c.name for c in load_table().COMMANDS] == [c.name for c in table.COMMANDS]


@pytest.mark.parametrize("role, wrong", [(AGENT, CLIENT), (ADMIN, AGENT), (STAFF, AGENT), (CLIENT, EVERYONE)])
def test_a_row_whose_role_disagrees_with_its_handlers_guard_is_refused_at_import(monkeypatch, role, wrong):
    row = next(c for c in table.COMMANDS if c.role == role)
    monkeypatch.setattr(row.handler, "role", wrong)
    with pytest.raises(TypeError, match=f"/{row.name}:"):
        load_table()


def test_a_handler_without_a_guard_is_refused_at_import(monkeypatch):
    row = next(c for c in table.COMMANDS if c.role == AGENT)
    monkeypatch.delattr(row.handler, "role")
    with pytest.raises(TypeError, match=f"/{row.name}:"):
        load_table()
