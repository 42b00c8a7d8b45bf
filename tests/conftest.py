"""Shared fixtures: a fresh database per test; the desk in-process; the real bot process.

Most tests use `app` (tests/inproc.py: update dicts through bot.handle_update, answers read from
the outbox) and `people` (ready agents and clients). End-to-end tests (`fake` and `desk`) run
`bot.py` as a subprocess, exactly as an operator would, with TELEGRAM_API_URL pointing at
tests/fake_telegram.py on 127.0.0.1; they are kept for what needs the process. No test touches
the internet.
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
from inproc import Desk, People, settings  # noqa: E402

import db  # noqa: E402


@pytest.fixture
def conn(tmp_path: Path) -> Iterator[sqlite3.Connection]:
    """A new database built from schema.sql."""
    connection = db.connect(tmp_path / "unit.db")
    db.init_db(connection)
    yield connection
    connection.close()


@pytest.fixture
def app(conn: sqlite3.Connection, tmp_path: Path) -> Desk:
    """The desk in this process over the fresh database, its clock at inproc.START."""
    return Desk(conn, settings(str(tmp_path / "unit.db")))


@pytest.fixture
def people(app: Desk) -> People:
    """Ready-made agents and clients of `app`."""
    return People(app)


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

