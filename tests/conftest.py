"""Shared fixtures: a fresh database per test, and the real bot process against a fake Bot API.

Every end-to-end test runs `bot.py` as a subprocess, exactly as an operator would, with
TELEGRAM_API_URL pointing at tests/fake_telegram.py on 127.0.0.1. No test touches the internet.
"""

from __future__ import annotations

import sqlite3
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from fake_telegram import FakeTelegram, Faults  # noqa: E402
from harness import BOT_TOKEN, BotProcess, assert_no_secrets  # noqa: E402

import db  # noqa: E402


@pytest.fixture
def conn(tmp_path: Path) -> Iterator[sqlite3.Connection]:
    """A new database built from schema.sql."""
    connection = db.connect(tmp_path / "unit.db")
    db.init_db(connection)
    yield connection
    connection.close()


@pytest.fixture
def fake() -> Iterator[FakeTelegram]:
    """A fake Bot API server, fault-free unless the test changes fake.faults."""
    with FakeTelegram(BOT_TOKEN, Faults()) as server:
        yield server


@pytest.fixture
def desk(fake: FakeTelegram, tmp_path: Path) -> Iterator[BotProcess]:
    """The running bot; stopped with SIGTERM afterwards, which must be clean and leak no secret."""
    bot = BotProcess(fake, tmp_path).start()
    yield bot
    status = bot.stop()
    log = bot.log()
    assert status == 0, f"the bot did not stop cleanly ({status}):\n{log[-3000:]}"
    assert_no_secrets(log)
    assert "Traceback" not in log, log[-3000:]

