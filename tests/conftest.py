"""Shared fixtures: a fresh database per test; the desk in-process; the real bot process.

Most tests use `app` (tests/inproc.py: update dicts through bot.handle_update, answers read from
the outbox) and `people` (ready agents and clients). End-to-end tests (`fake` and `desk`) run
`bot.py` as a subprocess, exactly as an operator would, with TELEGRAM_API_URL pointing at
tests/fake_telegram.py on 127.0.0.1; they are kept for what needs the process, and `pair` gives
them an agent and a client already talking. No test touches the internet.

End-to-end tests send at SEND_RATE=1000 calls a second, so that the production pacing (28 a
second) does not make them wait; a test about pacing, 429s or Telegram's rate limits is marked
`@pytest.mark.production_pace` and runs the desk at the default rate.
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
from harness import BOT_TOKEN, FAST_SENDS, BotProcess, Pair, open_pair, stop_cleanly  # noqa: E402
from inproc import Desk, People, settings  # noqa: E402
from teamkit import ADMIN, LIMIT  # noqa: E402

import db  # noqa: E402


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "production_pace: run the bot at the default SEND_RATE, "
                                       "for tests about pacing, 429s and Telegram's rate limits")


@pytest.fixture
def conn(tmp_path: Path) -> Iterator[sqlite3.Connection]:
    """A new database built from schema.sql."""
    connection = db.connect(tmp_path / "unit.db")
    db.init_db(connection)
    yield connection
    connection.close()


@pytest.fixture
def app(conn: sqlite3.Connection, tmp_path: Path) -> Iterator[Desk]:
    """The desk in this process over the fresh database, its clock at inproc.START."""
    desk = Desk(conn, settings(str(tmp_path / "unit.db")))
    yield desk
    desk.check_calls()              # calls queued outside an update (start_up) meet the rules too
    desk.close()


@pytest.fixture
def people(app: Desk) -> People:
    """Ready-made agents and clients of `app`."""
    return People(app)


@pytest.fixture
def team(conn: sqlite3.Connection, tmp_path: Path) -> Desk:
    """A team desk in-process: three open dialogs per agent (teamkit.LIMIT), one admin (teamkit.ADMIN)."""
    return Desk(conn, settings(str(tmp_path / "unit.db"), max_chats_per_agent=LIMIT, admin_ids=frozenset({ADMIN})))


@pytest.fixture
def crew(team: Desk) -> People:
    """Ready-made agents and clients of `team`."""
    return People(team)


@pytest.fixture
def fake() -> Iterator[FakeTelegram]:
    """A fake Bot API server, fault-free unless the test changes fake.faults."""
    with FakeTelegram(BOT_TOKEN, Faults()) as server:
        yield server


def bot_env(request: pytest.FixtureRequest) -> dict[str, str]:
    """The environment a test's bot gets on top of harness.BotProcess's: fast sends unless marked."""
    return {} if request.node.get_closest_marker("production_pace") else dict(FAST_SENDS)


@pytest.fixture
def desk(fake: FakeTelegram, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[BotProcess]:
    """The running bot; stopped with SIGTERM afterwards, which must be clean and leak no secret."""
    bot = BotProcess(fake, tmp_path, **bot_env(request)).start()
    yield bot
    stop_cleanly(bot)


@pytest.fixture
def pair(fake: FakeTelegram, desk: BotProcess) -> Pair:
    """End to end: agent Agatha (id 1) and client Carl (id 10, named through /start), in an open
    dialog that Carl began with "hello"; every greeting and that first relay already delivered."""
    return open_pair(fake, desk)
