"""db.atomic(): a nested block is a savepoint of its own, and a failed COMMIT leaves nothing half-open.

handle_update's promise (an update's effects and its processed mark commit together, exactly
once) rests on these. What is committed is always read through a second connection: the
connection that wrote can see its own uncommitted work.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from inproc import Desk, People, settings

import bot
import db
from texts import RELAY_HEADER

NOW = 1_800_000_000.0


class FlakyCommit(sqlite3.Connection):
    """A connection whose next `fail_commits` COMMITs fail as on a full disk, the transaction left open."""

    fail_commits = 0
    commits = 0

    def execute(self, sql: str, parameters=(), /) -> sqlite3.Cursor:
        if sql.strip().upper() == "COMMIT":
            if self.fail_commits:
                self.fail_commits -= 1
                raise sqlite3.OperationalError("database or disk is full")
            self.commits += 1
        return super().execute(sql, parameters)


def open_flaky(path: Path) -> FlakyCommit:
    """Opened as db.connect opens the desk's database, through the flaky class."""
    conn = sqlite3.connect(path, isolation_level=None, timeout=10, factory=FlakyCommit)
    conn.row_factory = sqlite3.Row
    for pragma in ("foreign_keys = ON", "busy_timeout = 10000", "journal_mode = WAL", "synchronous = FULL"):
        conn.execute(f"PRAGMA {pragma}")
    db.init_db(conn)
    return conn


@pytest.fixture
def flaky(tmp_path: Path) -> Iterator[FlakyCommit]:
    conn = open_flaky(tmp_path / "flaky.db")
    yield conn
    conn.close()


@pytest.fixture
def other(flaky: FlakyCommit, tmp_path: Path) -> Iterator[sqlite3.Connection]:
    """A second connection to the same database: it sees only what was committed."""
    conn = db.connect(tmp_path / "flaky.db")
    yield conn
    conn.close()


def processed(conn: sqlite3.Connection) -> list[int]:
    return [r[0] for r in conn.execute("SELECT update_id FROM processed_updates ORDER BY 1")]


# --- Nesting -------------------------------------------------------------------------------------


def test_a_failing_inner_block_rolls_back_only_itself_and_the_outer_one_goes_on(flaky, other):
    with db.atomic(flaky):
        db.claim_update(flaky, 1, NOW)
        with pytest.raises(RuntimeError):
            with db.atomic(flaky):
                db.claim_update(flaky, 2, NOW)
                raise RuntimeError("the inner block fails")
        assert flaky.in_transaction                       # the outer transaction is still open
        assert processed(flaky) == [1]                    # the inner block's write is gone, the outer's kept
        db.claim_update(flaky, 3, NOW)
        assert processed(other) == []                     # nothing is committed before the outer block ends
    assert processed(other) == [1, 3]
    assert not flaky.in_transaction


def test_a_constraint_caught_inside_an_update_undoes_only_its_own_statements(flaky, other):
    # db.assign_client is itself atomic(): when the schema refuses the assignment, whatever it
    # did before the refusal is undone, and the update around it carries on.
    db.register_agent(flaky, 1, "Agatha", None, "en", NOW)
    db.add_client(flaky, 50, "Carl", None, "en", NOW)
    db.enqueue_client(flaky, 50, NOW)
    with db.atomic(flaky):
        db.claim_update(flaky, 1, NOW)
        db.add_client(flaky, 51, "Dora", None, "en", NOW)
        with pytest.raises(sqlite3.IntegrityError):
            with db.atomic(flaky):
                db.assign_client(flaky, 50, 1, NOW)       # fine on its own...
                db.enqueue_client(flaky, 50, NOW)         # ...but a second live dialog is refused
        assert db.live_dialog_for_client(flaky, 50)["status"] == "queued"
    assert processed(other) == [1]
    assert db.get_client(other, 51)["name"] == "Dora"
    assert db.live_dialog_for_client(other, 50)["status"] == "queued"
    assert db.count_open_dialogs(other, 1) == 0


def test_an_inner_block_that_succeeded_is_undone_with_the_outer_one(flaky, other):
    with pytest.raises(RuntimeError):
        with db.atomic(flaky):
            db.claim_update(flaky, 1, NOW)
            with db.atomic(flaky):
                db.claim_update(flaky, 2, NOW)
            raise RuntimeError("the outer block fails after the inner one succeeded")
    assert processed(other) == [] and processed(flaky) == []
    assert not flaky.in_transaction


def test_three_levels_each_roll_back_only_themselves(flaky, other):
    with db.atomic(flaky):
        db.claim_update(flaky, 1, NOW)
        with db.atomic(flaky):
            db.claim_update(flaky, 2, NOW)
            with pytest.raises(RuntimeError):
                with db.atomic(flaky):
                    db.claim_update(flaky, 3, NOW)
                    raise RuntimeError("innermost")
            db.claim_update(flaky, 4, NOW)
        with pytest.raises(RuntimeError):
            with db.atomic(flaky):
                db.claim_update(flaky, 5, NOW)
                with db.atomic(flaky):
                    db.claim_update(flaky, 6, NOW)
                raise RuntimeError("middle, after its own inner block succeeded")
    assert processed(other) == [1, 2, 4]


# --- A COMMIT that fails -------------------------------------------------------------------------


def test_a_failed_commit_rolls_back_and_leaves_the_connection_usable(flaky, other):
    flaky.fail_commits = 1
    with pytest.raises(sqlite3.OperationalError):
        with db.atomic(flaky):
            db.claim_update(flaky, 7, NOW)
    assert not flaky.in_transaction                       # not left open for the next block to join
    assert not db.is_update_processed(flaky, 7) and not db.is_update_processed(other, 7)
    with db.atomic(flaky):                                # the next block is a transaction of its own
        assert db.claim_update(flaky, 7, NOW)
    assert db.is_update_processed(other, 7)


def test_a_commit_refused_by_a_deferred_constraint_rolls_back(flaky, other):
    # A real failing COMMIT, no stand-in: a foreign key checked only at COMMIT (as a deferred
    # constraint is), which SQLite refuses while keeping the transaction open.
    with pytest.raises(sqlite3.IntegrityError):
        with db.atomic(flaky):
            flaky.execute("PRAGMA defer_foreign_keys = ON")
            db.claim_update(flaky, 8, NOW)
            db.enqueue_client(flaky, 404, NOW)            # no such client: the foreign key fails at COMMIT
    assert not flaky.in_transaction
    assert not db.is_update_processed(other, 8) and db.queue_length(flaky) == 0
    with db.atomic(flaky):
        db.claim_update(flaky, 8, NOW)
    assert db.is_update_processed(other, 8)


def test_handle_update_retries_a_failed_commit_and_applies_the_update_exactly_once(flaky, other, tmp_path,
                                                                                   monkeypatch):
    # With an atomic() that left the transaction open after the failed COMMIT, the retry joined
    # it, found the update "already processed", and nothing of it was ever committed.
    app = Desk(flaky, settings(str(tmp_path / "flaky.db")))
    people = People(app)
    agent = people.agent()
    client = people.client_in_dialog(agent)
    waits: list[float] = []
    monkeypatch.setattr(bot.time, "sleep", waits.append)   # the retry's pause, without the wait
    commits = flaky.commits
    flaky.fail_commits = 1
    client.send("my order is late")                       # the first COMMIT fails, the retry commits
    assert flaky.fail_commits == 0 and flaky.commits == commits + 1 and waits == [0.5]
    assert not flaky.in_transaction
    # Committed, and exactly once: the message, its relay, and the update's processed mark.
    assert [r[0] for r in other.execute("SELECT text FROM chat_history WHERE client_id = ? ORDER BY id",
                                        (client.id,))] == ["hello", "my order is late"]
    relayed = RELAY_HEADER.format(name="Carl") + "\nmy order is late"
    assert agent.texts() == [relayed]
    assert other.execute("SELECT COUNT(*) FROM outbox WHERE chat_id = ? AND payload LIKE ?",
                         (agent.id, "%my order is late%")).fetchone()[0] == 1
    assert processed(other)[-1] == app.last_update
    assert not other.execute("SELECT * FROM failed_updates").fetchall()
    # A redelivery of that update is recognised, and the desk goes on.
    app.push({"message": app.messages[(client.id, max(m for c, m in app.messages if c == client.id))]},
             update_id=app.last_update)
    client.send("and one more thing")
    assert agent.texts() == [relayed, RELAY_HEADER.format(name="Carl") + "\nand one more thing"]
    assert other.execute("SELECT COUNT(*) FROM chat_history WHERE client_id = ?", (client.id,)).fetchone()[0] == 3


def test_a_handler_that_fails_half_way_leaves_nothing_behind_but_the_failed_update(app, monkeypatch):
    people_before = app.query("SELECT COUNT(*) FROM clients")[0][0]
    calls = app.last_call_id()

    def broken(*args, **kwargs):
        raise RuntimeError("the outbox broke after the client was stored")

    monkeypatch.setattr(db, "enqueue_call", broken)
    newcomer = app.user(10, "Carl")
    app.push_message(newcomer.chat(), newcomer.as_user(), {"text": "hello?"}, may_fail=True)
    [failed] = app.query("SELECT update_id, payload, error FROM failed_updates")
    assert failed["update_id"] == app.last_update
    assert "hello?" in failed["payload"] and "the outbox broke" in failed["error"]
    # The client row written before the failure is undone with everything else.
    assert app.query("SELECT COUNT(*) FROM clients")[0][0] == people_before
    assert app.query("SELECT COUNT(*) FROM chat_history")[0][0] == 0
    assert app.last_call_id() == calls
    assert db.is_update_processed(app.conn, app.last_update)   # not offered to the handlers again
    assert not app.conn.in_transaction


# --- A getUpdates batch --------------------------------------------------------------------------


class SenderStub:
    """Stands in for the sender: records what was committed each time the poller wakes it."""

    def __init__(self, other: sqlite3.Connection) -> None:
        self.other = other
        self.wakes: list[int] = []

    def wake(self) -> None:
        self.wakes.append(len(processed(self.other)))


def client_updates(first_id: int, count: int) -> list[dict]:
    """`count` updates, each a new client's first message."""
    return [{"update_id": first_id + i,
             "message": {"message_id": 1, "date": int(NOW), "text": f"question {i}",
                         "chat": {"id": 5000 + i, "type": "private"},
                         "from": {"id": 5000 + i, "is_bot": False, "first_name": f"Client{i}"}}}
            for i in range(count)]


@pytest.fixture
def poller(flaky, other, tmp_path):
    app = Desk(flaky, settings(str(tmp_path / "flaky.db")))
    return bot.Poller(app.dispatcher, SenderStub(other))


def test_a_full_batch_is_committed_in_parts_and_the_sender_woken_after_each(poller, flaky, other):
    commits = flaky.commits
    handled = poller.handle_batch(client_updates(1, 40))
    assert [u["update_id"] for u in handled] == list(range(1, 41))
    # The first relays can leave once the first part is committed, not after the whole batch.
    assert poller.sender.wakes == [bot.COMMIT_EVERY, 2 * bot.COMMIT_EVERY, 40]
    assert flaky.commits == commits + 3
    assert other.execute("SELECT COUNT(*) FROM chat_history WHERE text LIKE 'question %'").fetchone()[0] == 40


def test_an_update_that_fails_in_a_batch_is_kept_alone_and_the_others_apply(poller, other):
    updates = client_updates(1, 20)
    updates[5] = {"update_id": 6, "message": "not a message at all"}
    handled = poller.handle_batch(updates)
    assert len(handled) == 20                             # all confirmed: the broken one is kept, not retried
    assert processed(other) == list(range(1, 21))
    assert [r[0] for r in other.execute("SELECT update_id FROM failed_updates")] == [6]
    assert other.execute("SELECT COUNT(*) FROM chat_history WHERE text LIKE 'question %'").fetchone()[0] == 19


def test_a_part_whose_commit_fails_is_applied_update_by_update_exactly_once(poller, flaky, other):
    flaky.fail_commits = 1                                # the first part's COMMIT fails
    handled = poller.handle_batch(client_updates(1, 20))
    assert len(handled) == 20 and processed(other) == list(range(1, 21))
    assert other.execute("SELECT COUNT(*) FROM chat_history WHERE text LIKE 'question %'").fetchone()[0] == 20
    assert not other.execute("SELECT * FROM failed_updates").fetchall()


def test_a_stop_mid_batch_confirms_only_what_was_committed(poller, other, monkeypatch):
    real = bot.handle_update

    def handle_then_stop(dispatcher, raw, now=None):
        real(dispatcher, raw, now)
        if raw["update_id"] == 20:
            poller.stopping.set()                         # SIGTERM while update 20 is handled

    monkeypatch.setattr(bot, "handle_update", handle_then_stop)
    handled = poller.handle_batch(client_updates(1, 40))
    assert [u["update_id"] for u in handled] == list(range(1, 21))   # the next getUpdates confirms these only
    assert processed(other) == list(range(1, 21))         # and exactly these are committed
