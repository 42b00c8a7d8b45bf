"""The bot as an operator runs it, for end-to-end tests and benchmarks alike.

`BotProcess` starts `python bot.py` in its own working directory with TELEGRAM_API_URL pointing at
a FakeTelegram server on 127.0.0.1, and offers what a test needs to drive and inspect it.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import NamedTuple

from fake_telegram import FakeTelegram, FakeUser

ROOT = Path(__file__).resolve().parent.parent

# Test-only secrets. The teardown of every end-to-end test greps the bot's log for them.
BOT_TOKEN = "4242:TEST_bot_token_secret_part_xyz"
SUPPORT_TOKEN = "test-support-token-0123456789"
# For end-to-end tests where pacing is not the point: SEND_RATE's highest value (calls a second).
FAST_SENDS = {"SEND_RATE": "1000"}


class BotProcess:
    """The desk as an operator runs it: `python bot.py` in its own working directory."""

    def __init__(self, fake: FakeTelegram, workdir: Path, **env: str) -> None:
        self.fake = fake
        self.workdir = workdir
        self.db_path = workdir / "desk.db"
        self.log_path = workdir / "bot.log"
        self.env = {
            "PATH": os.environ.get("PATH", ""),
            "BOT_TOKEN": BOT_TOKEN,
            "SUPPORT_TOKEN": SUPPORT_TOKEN,
            "TELEGRAM_API_URL": fake.url,
            "DATABASE_PATH": str(self.db_path),
            "LOG_LEVEL": "DEBUG",
            "DEFAULT_LANGUAGE": "en",
            **env,
        }
        self.proc: subprocess.Popen | None = None
        self.logs: list[str] = []

    def start(self, wait: bool = True) -> BotProcess:
        log = open(self.log_path, "a")
        calls_before = self.fake.getupdates_calls
        self.proc = subprocess.Popen([sys.executable, str(ROOT / "bot.py")], cwd=self.workdir, env=self.env,
                                     stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        log.close()
        if wait:
            self.fake.wait_for(lambda: self.fake.getupdates_calls > calls_before or self.proc.poll() is not None,
                               20, "the bot's first getUpdates")
            assert self.proc.poll() is None, f"the bot exited early:\n{self.log()}"
        return self

    def stop(self, timeout: float = 20) -> int:
        """SIGTERM, as systemd sends; returns the exit status."""
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout)

    def kill(self) -> None:
        """SIGKILL: no chance to clean up, as in an OOM kill or a power cut of the process."""
        assert self.proc is not None
        self.proc.kill()
        self.proc.wait(10)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def query(self, sql: str, *args: object) -> list[sqlite3.Row]:
        """Read the bot's database (WAL lets a reader look while the bot writes)."""
        c = sqlite3.connect(self.db_path, timeout=10)
        c.row_factory = sqlite3.Row
        try:
            return c.execute(sql, args).fetchall()
        finally:
            c.close()

    def settle(self, timeout: float = 20) -> None:
        """Wait until every update is confirmed and every queued call is done."""
        deadline = time.time() + timeout
        self.fake.wait_for(lambda: self.fake.pending_updates() == 0, timeout, "the bot to confirm all updates")
        # Confirmed means committed, outbox rows included; now wait for the sender to drain them.
        # One reader connection, looked at every 10 ms: the bot's WAL lets it read while it writes.
        c = sqlite3.connect(self.db_path, timeout=10)
        try:
            while c.execute("SELECT COUNT(*) FROM outbox WHERE status = 'pending'").fetchone()[0]:
                if time.time() >= deadline:
                    raise AssertionError(f"outbox did not drain:\n{self.log()[-3000:]}")
                time.sleep(0.01)
        finally:
            c.close()


def stop_cleanly(bot: BotProcess) -> None:
    """SIGTERM the bot: it must stop cleanly, with no secret and no traceback in its log."""
    status = bot.stop()
    log = bot.log()
    assert status == 0, f"the bot did not stop cleanly ({status}):\n{log[-3000:]}"
    assert_no_secrets(log)
    assert "Traceback" not in log, log[-3000:]


class Pair(NamedTuple):
    agent: FakeUser
    client: FakeUser


def open_pair(fake: FakeTelegram, desk: BotProcess, agent_id: int = 1, client_id: int = 10) -> Pair:
    """Agent Agatha (agent_id) and client Carl (client_id, named through /start) in an open dialog
    that Carl began with "hello"; every greeting and that first relay already delivered."""
    agent, client = fake.user(agent_id, "Agatha"), fake.user(client_id, "Carl")
    register_agent(desk, agent)
    client.send("/start")
    client.send("Carl")
    client.send("hello")
    desk.settle()
    assert desk.query("SELECT agent_id FROM dialogs WHERE client_id = ? AND status = 'open'", client_id)[0][0] == agent_id
    return Pair(agent, client)


def assert_no_secrets(text: str) -> None:
    """Neither the bot token, nor its secret half, nor the support token may appear."""
    for secret in (BOT_TOKEN, BOT_TOKEN.split(":")[1], SUPPORT_TOKEN):
        assert secret not in text, "a secret leaked into the output"


def register_agent(desk: BotProcess, user) -> None:
    """Make `user` an agent and wait until the desk has answered."""
    user.send(f"/register_support {SUPPORT_TOKEN}")
    desk.settle()


def name_client(desk: BotProcess, user, name: str | None = None) -> None:
    """Take `user` through /start and naming."""
    user.send("/start")
    user.send(name or user.first_name)
    desk.settle()
