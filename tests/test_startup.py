"""Start-up: configuration, a rejected token, .env, one instance per database, clean shutdown."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest
from harness import BOT_TOKEN, FAST_SENDS, ROOT, SUPPORT_TOKEN, BotProcess, assert_no_secrets, register_agent

import config
import texts
from handlers import table
from handlers.guards import AGENT, CLIENT


def run_bot(env: dict[str, str], cwd, timeout: float = 20) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(ROOT / "bot.py")], cwd=cwd, env={"PATH": "/usr/bin:/bin", **env},
                          capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)


GOOD = {"BOT_TOKEN": BOT_TOKEN, "SUPPORT_TOKEN": SUPPORT_TOKEN}


@pytest.mark.parametrize("env, variable", [
    ({}, "BOT_TOKEN"),
    ({"SUPPORT_TOKEN": SUPPORT_TOKEN}, "BOT_TOKEN"),
    ({"BOT_TOKEN": BOT_TOKEN}, "SUPPORT_TOKEN"),
    ({**GOOD, "BOT_TOKEN": "not-a-token"}, "BOT_TOKEN"),
    ({**GOOD, "SUPPORT_TOKEN": "short"}, "SUPPORT_TOKEN"),
    ({**GOOD, "ONLINE_WINDOW_SECONDS": "five"}, "ONLINE_WINDOW_SECONDS"),
    ({**GOOD, "ONLINE_WINDOW_SECONDS": "0"}, "ONLINE_WINDOW_SECONDS"),
    ({**GOOD, "DEFAULT_LANGUAGE": "fr"}, "DEFAULT_LANGUAGE"),
    ({**GOOD, "LOG_LEVEL": "LOUD"}, "LOG_LEVEL"),
    ({**GOOD, "TELEGRAM_API_URL": "api.telegram.org"}, "TELEGRAM_API_URL"),
])
def test_a_missing_or_malformed_setting_exits_2_naming_it(tmp_path, env, variable):
    result = run_bot(env, tmp_path)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and variable in lines[0]
    assert_no_secrets(result.stdout + result.stderr)


def test_defaults():
    settings = config.load_settings(GOOD)
    assert (settings.database_path, settings.api_url, settings.online_window, settings.default_language,
            settings.log_level) == ("support.db", "https://api.telegram.org", 300, "ru", "INFO")
    assert SUPPORT_TOKEN not in repr(settings) and BOT_TOKEN not in repr(settings)


def test_a_token_telegram_rejects_stops_with_a_clear_message(fake, tmp_path):
    fake.faults.reject_token = True
    started = time.time()
    result = run_bot({**GOOD, "TELEGRAM_API_URL": fake.url, "DATABASE_PATH": str(tmp_path / "d.db")}, tmp_path)
    assert result.returncode != 0
    assert "rejected BOT_TOKEN" in result.stderr
    assert time.time() - started < 15                      # no retry loop
    assert_no_secrets(result.stdout + result.stderr)


def test_env_file_in_the_working_directory_is_read_and_the_environment_wins(fake, tmp_path):
    (tmp_path / ".env").write_text(
        f"BOT_TOKEN={BOT_TOKEN}\nSUPPORT_TOKEN={SUPPORT_TOKEN}\nTELEGRAM_API_URL=http://127.0.0.1:9\n"
        f"DATABASE_PATH=from_env_file.db\n")
    desk = BotProcess(fake, tmp_path)
    desk.env = {"PATH": desk.env["PATH"], "TELEGRAM_API_URL": fake.url}   # the real environment wins
    desk.start()
    assert desk.stop() == 0
    assert (tmp_path / "from_env_file.db").exists()


def test_a_second_instance_on_the_same_database_refuses_to_run(fake, desk, tmp_path):
    result = run_bot({**GOOD, "TELEGRAM_API_URL": fake.url, "DATABASE_PATH": str(desk.db_path)}, tmp_path)
    assert result.returncode != 0
    assert "another instance" in result.stderr
    assert desk.proc.poll() is None                        # the first one is unharmed


def test_sigterm_during_a_long_poll_stops_at_once_and_cleanly(fake, desk):
    time.sleep(0.3)                                        # the bot is now waiting in getUpdates
    started = time.time()
    assert desk.stop() == 0
    assert time.time() - started < 5
    assert "desk stopped" in desk.log()


def test_a_409_conflict_is_logged_clearly_and_the_bot_keeps_trying(fake, desk):
    fake.faults.conflict = True
    fake.wait_for(lambda: "409 Conflict" in desk.log(), 10, "the 409 to be logged")
    fake.faults.conflict = False
    client = fake.user(10, "Carl")
    client.send("/start")
    desk.settle(timeout=40)
    assert client.texts() == [texts.t("en", "ask_name")]


def test_data_survives_a_restart(fake, tmp_path):
    desk = BotProcess(fake, tmp_path, **FAST_SENDS).start()
    agent = fake.user(1, "Agatha")
    agent.send(f"/register_support {SUPPORT_TOKEN}")
    desk.settle()
    assert desk.stop() == 0
    desk.start()
    agent.send("/stats")
    desk.settle()
    assert "Agents available: 1" in agent.texts()[-1]
    assert desk.stop() == 0


def test_command_menus_reach_telegram_the_clients_by_default_an_agents_in_their_chat(fake, desk):
    # What the menus hold is tested in-process (test_commands_table.py); this is the way they go.
    fake.wait_for(lambda: {(0, "en"), (0, "ru"), (0, None)} <= set(fake.commands), 10, "the default menus")
    client_menu = [c.name for c in table.for_roles(frozenset({CLIENT}), False)]
    for lang in ("en", "ru", None):
        assert fake.commands[(0, lang)] == [{"command": name, "description": texts.t(lang or "en", f"cmd_{name}")}
                                            for name in client_menu]
    agent = fake.user(1, "Agatha")
    register_agent(desk, agent)
    agent_menu = [c.name for c in table.for_roles(frozenset({AGENT}), False)]
    assert [c["command"] for c in fake.commands[(1, None)]] == agent_menu
    # The token message was deleted from the chat in Telegram itself.
    assert [d["method"] for d in agent.inbox()][:1] == ["deleteMessage"]
    assert not [k for k in fake.user_messages if k[0] == 1]
