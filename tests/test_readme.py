"""README tells the truth: its command tables list exactly each role's menu, and every setting."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from handlers import table
from handlers.guards import ADMIN, AGENT, CLIENT

README = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")


def commands_in_table(heading: str) -> set[str]:
    """The /commands named in the first column of the table after `heading`."""
    section = README.split(heading, 1)[1].split("\n\n", 2)[1]
    names = set()
    for row in section.splitlines()[2:]:
        first = row.split("|")[1]
        names |= set(re.findall(r"`/([a-z_]+)", first))
    return names


@pytest.mark.parametrize("heading, role", [("For clients:", CLIENT), ("For support agents:", AGENT),
                                           ("For admins (`ADMIN_IDS`):", ADMIN)])
def test_each_roles_table_lists_exactly_its_menu(heading, role):
    # Admins are documented as configured (ADMIN_IDS set), so saved replies are theirs to manage.
    menu = {c.name for c in table.for_roles(frozenset({role}), admins_configured=role == ADMIN)}
    listed = commands_in_table(heading)
    if role == AGENT:
        listed -= {"register_support"}          # hidden from menus on purpose, documented all the same
        menu |= {"t_add", "t_del"}              # an agent's when no admins are configured
    assert listed == menu


def test_every_setting_is_documented_in_readme_and_env_example():
    import config
    source = Path(config.__file__).read_text(encoding="utf-8")
    names = set(re.findall(r'get\("([A-Z_]+)"', source)) | set(re.findall(r'env\.get\("([A-Z_]+)"', source))
    example = (Path(config.__file__).with_name(".env.example")).read_text(encoding="utf-8")
    for name in names:
        assert f"`{name}`" in README, f"{name} is not in README's configuration table"
        assert name in example, f"{name} is not in .env.example"
