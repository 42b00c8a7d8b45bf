"""The desk's storage: a thin layer over the standard sqlite3 module.

Every SQL statement of the project lives here, one small function per query, named for what it
means. `schema.sql` is the single source of the schema. Writes that belong together run inside
`atomic()`, one explicit transaction; callers compose several functions inside one `atomic()`
block, which is how an inbound message, its relay in the outbox and the update's idempotency
mark are committed together or not at all.

Each thread uses its own connection (sqlite3 connections are not shared across threads).
"""

from __future__ import annotations

import itertools
import json
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

SCHEMA_PATH = Path(__file__).with_name("schema.sql")
SCHEMA_VERSION = 5

# Upgrades of an existing database: MIGRATIONS[n] takes a database from version n to n + 1. A
# migration does only what schema.sql's CREATE ... IF NOT EXISTS cannot (new columns, changed
# indexes, back-filled data); init_db() then re-applies schema.sql for the new indexes and triggers.
MIGRATIONS: dict[int, str] = {
    # 1 -> 2: agents carry is_busy, so find_available_support never steps over busy agents.
    1: """
        ALTER TABLE support_agents ADD COLUMN is_busy INTEGER NOT NULL DEFAULT 0 CHECK (is_busy IN (0, 1));
        UPDATE support_agents SET is_busy = EXISTS (
            SELECT 1 FROM dialogs WHERE agent_id = support_agents.user_id AND status = 'open');
        DROP INDEX agents_free_order;
    """,
    # 2 -> 3: message_links (a new table, created by schema.sql itself).
    2: "",
    # 3 -> 4: the team desk. Agents carry a count of open dialogs (several per agent now), a focus
    # and a removal time; clients can be banned; dialogs remember queueing, alerts and transfers;
    # history rows can be notes. saved_replies and desk_limits are new tables (schema.sql).
    3: """
        DROP TRIGGER IF EXISTS agent_busy_after_insert;
        DROP TRIGGER IF EXISTS agent_busy_after_update;
        DROP TRIGGER IF EXISTS agent_busy_after_delete;
        DROP INDEX IF EXISTS agents_free_order;
        DROP INDEX IF EXISTS one_open_dialog_per_agent;
        DROP INDEX IF EXISTS queue_order;
        ALTER TABLE support_agents ADD COLUMN open_dialogs INTEGER NOT NULL DEFAULT 0 CHECK (open_dialogs >= 0);
        ALTER TABLE support_agents ADD COLUMN focus_client_id INTEGER;
        ALTER TABLE support_agents ADD COLUMN removed_at REAL CHECK (removed_at IS NULL OR is_available = 0);
        UPDATE support_agents SET open_dialogs = (
            SELECT COUNT(*) FROM dialogs WHERE agent_id = support_agents.user_id AND status = 'open');
        ALTER TABLE support_agents DROP COLUMN is_busy;
        ALTER TABLE clients ADD COLUMN banned_at REAL;
        ALTER TABLE clients ADD COLUMN ban_reason TEXT;
        ALTER TABLE clients ADD COLUMN ban_notified INTEGER NOT NULL DEFAULT 0 CHECK (ban_notified IN (0, 1));
        ALTER TABLE dialogs ADD COLUMN queued_at REAL;
        ALTER TABLE dialogs ADD COLUMN requeued INTEGER NOT NULL DEFAULT 0 CHECK (requeued IN (0, 1));
        ALTER TABLE dialogs ADD COLUMN alerted_at REAL;
        ALTER TABLE dialogs ADD COLUMN transferred_from INTEGER;
        UPDATE dialogs SET queued_at = created_at WHERE status = 'queued';
        ALTER TABLE chat_history ADD COLUMN kind TEXT NOT NULL DEFAULT 'message' CHECK (kind IN ('message', 'note'));
    """,
    # 4 -> 5: the client's journey. Deep-link context, intake progress and ratings on dialogs;
    # albums and "relayed yet?" on messages (everything stored so far was relayed, except what
    # waits in the queue); message_edits and intake_answers are new tables (schema.sql).
    4: """
        DROP INDEX IF EXISTS queue_order;
        ALTER TABLE clients ADD COLUMN next_context TEXT;
        ALTER TABLE dialogs ADD COLUMN context TEXT;
        ALTER TABLE dialogs ADD COLUMN intake_step INTEGER;
        ALTER TABLE dialogs ADD COLUMN rating INTEGER CHECK (rating BETWEEN 1 AND 5);
        ALTER TABLE dialogs ADD COLUMN rated_at REAL;
        ALTER TABLE chat_history ADD COLUMN media_group_id TEXT;
        ALTER TABLE chat_history ADD COLUMN relayed_at REAL;
        UPDATE chat_history SET relayed_at = created_at
         WHERE dialog_id NOT IN (SELECT id FROM dialogs WHERE status = 'queued');
    """,
}


class SchemaError(RuntimeError):
    """The database file was written by a newer version of the desk."""


def connect(path: str | Path) -> sqlite3.Connection:
    """Open the database with the settings every connection of the desk needs."""
    # isolation_level=None: no implicit transactions; atomic() says exactly where one begins.
    conn = sqlite3.connect(path, isolation_level=None, timeout=10)
    conn.row_factory = sqlite3.Row
    conn.execute("PRAGMA foreign_keys = ON")
    conn.execute("PRAGMA busy_timeout = 10000")
    conn.execute("PRAGMA journal_mode = WAL")
    # FULL syncs the WAL at each commit: a committed message survives a power cut, not just a kill.
    conn.execute("PRAGMA synchronous = FULL")
    return conn


def init_db(conn: sqlite3.Connection) -> None:
    """Create the schema in a new database, or migrate an older one to SCHEMA_VERSION."""
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    if version > SCHEMA_VERSION:
        raise SchemaError(
            f"the database has schema version {version}, newer than this code's {SCHEMA_VERSION}"
        )
    schema = SCHEMA_PATH.read_text(encoding="utf-8")
    if version == 0:
        conn.executescript(f"BEGIN; {schema}; COMMIT;")
        return
    if version < SCHEMA_VERSION:
        # Every step, then the schema's new indexes and triggers and its version, in one
        # transaction: a crash half-way leaves the database as it was.
        steps = "".join(MIGRATIONS[v] for v in range(version, SCHEMA_VERSION))
        conn.executescript(f"BEGIN; {steps}; {schema}; COMMIT;")


_savepoints = itertools.count(1)


@contextmanager
def atomic(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """Run the block in one transaction; an inner atomic() is a SAVEPOINT that can fail on its own."""
    if conn.in_transaction:
        # Nested: an error inside rolls back only this block, and the outer one decides what to do.
        name = f"inner_{next(_savepoints)}"
        conn.execute(f"SAVEPOINT {name}")
        try:
            yield conn
        except BaseException:
            conn.execute(f"ROLLBACK TO {name}")
            conn.execute(f"RELEASE {name}")
            raise
        conn.execute(f"RELEASE {name}")
        return
    # IMMEDIATE takes the write lock up front, so a transaction never fails half-way on an upgrade.
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    try:
        conn.execute("COMMIT")
    except BaseException:
        # A COMMIT can fail (a deferred constraint, a full disk, a busy database) and leave the
        # transaction open; the next atomic() would then join it and nothing would ever commit.
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise


# --- Updates: idempotency and dead letters -------------------------------------------------------


def claim_update(conn: sqlite3.Connection, update_id: int, now: float) -> bool:
    """Mark an update as processed; False if it already was (a redelivery)."""
    cur = conn.execute(
        "INSERT OR IGNORE INTO processed_updates (update_id, processed_at) VALUES (?, ?)",
        (update_id, now),
    )
    return cur.rowcount == 1


def is_update_processed(conn: sqlite3.Connection, update_id: int) -> bool:
    """Whether an update's effects are already committed."""
    row = conn.execute("SELECT 1 FROM processed_updates WHERE update_id = ?", (update_id,)).fetchone()
    return row is not None


def prune_processed_updates(conn: sqlite3.Connection, before: float) -> int:
    """Forget idempotency marks older than `before`; returns how many were removed."""
    return conn.execute("DELETE FROM processed_updates WHERE processed_at < ?", (before,)).rowcount


def record_failed_update(
    conn: sqlite3.Connection, update_id: int, payload: str, error: str, now: float
) -> None:
    """Keep an update that could not be handled, whole, for the operator to look at."""
    conn.execute(
        "INSERT OR REPLACE INTO failed_updates (update_id, payload, error, failed_at) VALUES (?, ?, ?, ?)",
        (update_id, payload, error, now),
    )


# --- Support agents ------------------------------------------------------------------------------


def get_agent(conn: sqlite3.Connection, user_id: int) -> sqlite3.Row | None:
    """The agent with this Telegram id, or None (also for a removed agent)."""
    return conn.execute(
        "SELECT * FROM support_agents WHERE user_id = ? AND removed_at IS NULL", (user_id,)
    ).fetchone()


def find_agent_by_username(conn: sqlite3.Connection, username: str) -> sqlite3.Row | None:
    """The agent with this @username (case-insensitive), or None."""
    return conn.execute(
        "SELECT * FROM support_agents WHERE lower(username) = lower(?) AND removed_at IS NULL", (username,)
    ).fetchone()


def register_agent(
    conn: sqlite3.Connection, user_id: int, name: str, username: str | None,
    language_code: str | None, now: float,
) -> None:
    """Add a support agent, available at once (a removed agent comes back)."""
    conn.execute(
        "INSERT INTO support_agents (user_id, name, username, language_code, is_available,"
        " last_seen_at, registered_at) VALUES (?, ?, ?, ?, 1, ?, ?)"
        " ON CONFLICT (user_id) DO UPDATE SET name = excluded.name, username = excluded.username,"
        " language_code = excluded.language_code, is_available = 1, last_seen_at = excluded.last_seen_at,"
        " registered_at = excluded.registered_at, removed_at = NULL, focus_client_id = NULL",
        (user_id, name, username, language_code, now, now),
    )


def remove_agent(conn: sqlite3.Connection, user_id: int, now: float) -> None:
    """Stop a person being an agent; their row stays for the history's sake."""
    conn.execute(
        "UPDATE support_agents SET is_available = 0, removed_at = ?, focus_client_id = NULL WHERE user_id = ?",
        (now, user_id),
    )


def touch_agent(
    conn: sqlite3.Connection, user_id: int, username: str | None, language_code: str | None, now: float
) -> None:
    """Refresh an agent's last-seen time and Telegram profile details."""
    conn.execute(
        "UPDATE support_agents SET last_seen_at = ?, username = ?, language_code = ? WHERE user_id = ?",
        (now, username, language_code, user_id),
    )


def set_agent_available(conn: sqlite3.Connection, user_id: int, available: bool) -> None:
    """Switch an agent's availability for new clients."""
    conn.execute(
        "UPDATE support_agents SET is_available = ? WHERE user_id = ?", (int(available), user_id)
    )


def set_focus(conn: sqlite3.Connection, agent_id: int, client_id: int | None) -> None:
    """Make a client the agent's focus (None: no focus)."""
    conn.execute("UPDATE support_agents SET focus_client_id = ? WHERE user_id = ?", (client_id, agent_id))


def list_agent_ids(conn: sqlite3.Connection) -> list[int]:
    """Every current agent's id."""
    return [r[0] for r in conn.execute(
        "SELECT user_id FROM support_agents WHERE removed_at IS NULL ORDER BY user_id")]


def list_agents(conn: sqlite3.Connection) -> list[sqlite3.Row]:
    """Every current agent, by name."""
    return conn.execute(
        "SELECT * FROM support_agents WHERE removed_at IS NULL ORDER BY name, user_id"
    ).fetchall()


def list_available_agents(conn: sqlite3.Connection) -> list[sqlite3.Row]:
    """Agents switched to available."""
    return conn.execute("SELECT * FROM support_agents WHERE is_available = 1 ORDER BY user_id").fetchall()


def count_available_agents(conn: sqlite3.Connection) -> int:
    """How many agents are switched to available (with room or not)."""
    return conn.execute("SELECT COUNT(*) FROM support_agents WHERE is_available = 1").fetchone()[0]


def agents_with_room(conn: sqlite3.Connection, max_chats: int) -> list[int]:
    """Ids of available agents with fewer open dialogs than the limit."""
    return [r[0] for r in conn.execute(
        "SELECT user_id FROM support_agents WHERE is_available = 1 AND open_dialogs < ?", (max_chats,))]


def set_max_chats(conn: sqlite3.Connection, max_chats: int) -> None:
    """Record the limit of open dialogs per agent, which the schema's triggers enforce."""
    conn.execute(
        "INSERT INTO desk_limits (id, max_chats_per_agent) VALUES (1, ?)"
        " ON CONFLICT (id) DO UPDATE SET max_chats_per_agent = excluded.max_chats_per_agent",
        (max_chats,),
    )


def menus_version(conn: sqlite3.Connection) -> str | None:
    """The fingerprint of the command menus last queued for every agent and admin."""
    row = conn.execute("SELECT menus_version FROM desk_limits WHERE id = 1").fetchone()
    return row[0] if row else None


def set_menus_version(conn: sqlite3.Connection, version: str) -> None:
    """Remember which command menus were queued (set_max_chats runs first, so the row exists)."""
    conn.execute("UPDATE desk_limits SET menus_version = ? WHERE id = 1", (version,))


def find_available_support(
    conn: sqlite3.Connection, now: float, online_window: float, max_chats: int = 1
) -> sqlite3.Row | None:
    """The agent to take the next client: recently online first, then least loaded, then longest idle."""
    # Two tiers, each an ordered walk of the agents_by_load index that stops at the first agent with
    # room: (1) available and seen within the online window, (2) any available agent. Within a tier
    # the fewest open dialogs win, then the agent whose last dialog ended longest ago (NULL: never
    # had one, first), then the lower id.
    return conn.execute(
        "SELECT * FROM ("
        " SELECT 1 AS tier, * FROM (SELECT * FROM support_agents"
        "  WHERE is_available = 1 AND open_dialogs < ? AND last_seen_at >= ?"
        "  ORDER BY open_dialogs, last_dialog_ended_at, user_id LIMIT 1)"
        " UNION ALL"
        " SELECT 2 AS tier, * FROM (SELECT * FROM support_agents"
        "  WHERE is_available = 1 AND open_dialogs < ?"
        "  ORDER BY open_dialogs, last_dialog_ended_at, user_id LIMIT 1)"
        ") ORDER BY tier LIMIT 1",
        (max_chats, now - online_window, max_chats),
    ).fetchone()


# --- Register attempts (brute-force lockout) -----------------------------------------------------


def register_locked_until(conn: sqlite3.Connection, user_id: int, now: float) -> float | None:
    """When this user's lockout ends, or None if they may try a token now."""
    row = conn.execute(
        "SELECT locked_until FROM register_attempts WHERE user_id = ? AND locked_until > ?",
        (user_id, now),
    ).fetchone()
    return row[0] if row else None


def record_register_failure(
    conn: sqlite3.Connection, user_id: int, now: float, max_failures: int, lock_seconds: float
) -> int:
    """Count a wrong token; on the max_failures-th, lock the user out. Returns attempts left."""
    conn.execute(
        "INSERT INTO register_attempts (user_id, failures) VALUES (?, 1)"
        " ON CONFLICT (user_id) DO UPDATE SET failures = failures + 1",
        (user_id,),
    )
    failures = conn.execute(
        "SELECT failures FROM register_attempts WHERE user_id = ?", (user_id,)
    ).fetchone()[0]
    if failures >= max_failures:
        conn.execute(
            "UPDATE register_attempts SET failures = 0, locked_until = ? WHERE user_id = ?",
            (now + lock_seconds, user_id),
        )
        return 0
    return max_failures - failures


def clear_register_failures(conn: sqlite3.Connection, user_id: int) -> None:
    """Forget a user's wrong tokens after a successful registration."""
    conn.execute("DELETE FROM register_attempts WHERE user_id = ?", (user_id,))


# --- Clients -------------------------------------------------------------------------------------


def get_client(conn: sqlite3.Connection, user_id: int) -> sqlite3.Row | None:
    """The client with this Telegram id, or None."""
    return conn.execute("SELECT * FROM clients WHERE user_id = ?", (user_id,)).fetchone()


def add_client(
    conn: sqlite3.Connection, user_id: int, name: str, username: str | None,
    language_code: str | None, now: float,
) -> None:
    """Add a client, named provisionally (their Telegram first name)."""
    conn.execute(
        "INSERT INTO clients (user_id, name, username, language_code, created_at) VALUES (?, ?, ?, ?, ?)",
        (user_id, name, username, language_code, now),
    )


def update_client_profile(
    conn: sqlite3.Connection, user_id: int, username: str | None, language_code: str | None
) -> None:
    """Keep a client's username and language as Telegram last reported them."""
    conn.execute(
        "UPDATE clients SET username = ?, language_code = ? WHERE user_id = ?",
        (username, language_code, user_id),
    )


def set_client_awaiting_name(conn: sqlite3.Connection, user_id: int, awaiting: bool) -> None:
    """Mark whether the client's next text is their answer to 'how should we address you?'."""
    conn.execute(
        "UPDATE clients SET awaiting_name = ? WHERE user_id = ?", (int(awaiting), user_id)
    )


def set_client_name(conn: sqlite3.Connection, user_id: int, name: str) -> None:
    """Save the name a client asked to be addressed by."""
    conn.execute(
        "UPDATE clients SET name = ?, awaiting_name = 0 WHERE user_id = ?", (name, user_id)
    )


def ban_client(conn: sqlite3.Connection, user_id: int, reason: str | None, now: float) -> None:
    """Ban a client: from now on their messages are only stored."""
    conn.execute(
        "UPDATE clients SET banned_at = ?, ban_reason = ?, ban_notified = 0 WHERE user_id = ?",
        (now, reason, user_id),
    )


def unban_client(conn: sqlite3.Connection, user_id: int) -> None:
    """Lift a client's ban."""
    conn.execute(
        "UPDATE clients SET banned_at = NULL, ban_reason = NULL, ban_notified = 0 WHERE user_id = ?", (user_id,)
    )


def mark_ban_notified(conn: sqlite3.Connection, user_id: int) -> None:
    """Remember that a banned client was told once."""
    conn.execute("UPDATE clients SET ban_notified = 1 WHERE user_id = ?", (user_id,))


def list_banned(conn: sqlite3.Connection) -> list[sqlite3.Row]:
    """Banned clients, most recent ban first."""
    return conn.execute(
        "SELECT * FROM clients WHERE banned_at IS NOT NULL ORDER BY banned_at DESC, user_id"
    ).fetchall()


# --- Dialogs and the queue -----------------------------------------------------------------------


def get_dialog(conn: sqlite3.Connection, dialog_id: int) -> sqlite3.Row | None:
    """The dialog with this id, or None."""
    return conn.execute("SELECT * FROM dialogs WHERE id = ?", (dialog_id,)).fetchone()


def live_dialog_for_client(conn: sqlite3.Connection, client_id: int) -> sqlite3.Row | None:
    """The client's queued or open dialog, if any."""
    return conn.execute(
        "SELECT * FROM dialogs WHERE client_id = ? AND status <> 'closed'", (client_id,)
    ).fetchone()


def latest_dialog_for_client(conn: sqlite3.Connection, client_id: int) -> sqlite3.Row | None:
    """The client's most recent dialog, whatever its state."""
    return conn.execute(
        "SELECT * FROM dialogs WHERE client_id = ? ORDER BY id DESC LIMIT 1", (client_id,)
    ).fetchone()


def add_closed_dialog(conn: sqlite3.Connection, client_id: int, now: float) -> int:
    """A dialog that is closed from the start: where a banned client's messages are kept."""
    return conn.execute(
        "INSERT INTO dialogs (client_id, status, created_at, closed_at) VALUES (?, 'closed', ?, ?)",
        (client_id, now, now),
    ).lastrowid


def open_dialogs_for_agent(conn: sqlite3.Connection, agent_id: int) -> list[sqlite3.Row]:
    """The agent's open dialogs, oldest first, with the client's name and whether they await an answer."""
    return conn.execute(
        "SELECT d.*, c.name AS client_name,"
        " (SELECT h.sender FROM chat_history AS h WHERE h.dialog_id = d.id AND h.kind = 'message'"
        "  ORDER BY h.id DESC LIMIT 1) = 'client' AS awaiting_answer"
        " FROM dialogs AS d JOIN clients AS c ON c.user_id = d.client_id"
        " WHERE d.agent_id = ? AND d.status = 'open' ORDER BY d.assigned_at, d.id",
        (agent_id,),
    ).fetchall()


def open_dialog_for_agent(conn: sqlite3.Connection, agent_id: int) -> sqlite3.Row | None:
    """The agent's oldest open dialog, if any."""
    return conn.execute(
        "SELECT * FROM dialogs WHERE agent_id = ? AND status = 'open' ORDER BY assigned_at, id LIMIT 1",
        (agent_id,),
    ).fetchone()


def count_open_dialogs(conn: sqlite3.Connection, agent_id: int) -> int:
    """How many open dialogs the agent has."""
    return conn.execute(
        "SELECT open_dialogs FROM support_agents WHERE user_id = ?", (agent_id,)
    ).fetchone()[0]


def assign_client(conn: sqlite3.Connection, client_id: int, agent_id: int, now: float) -> int:
    """Give the client's queued dialog (or a new one) to the agent; returns the dialog id."""
    with atomic(conn):
        cur = conn.execute(
            "UPDATE dialogs SET agent_id = ?, status = 'open', assigned_at = ?"
            " WHERE client_id = ? AND status = 'queued'",
            (agent_id, now, client_id),
        )
        if cur.rowcount:
            return conn.execute(
                "SELECT id FROM dialogs WHERE client_id = ? AND status = 'open'", (client_id,)
            ).fetchone()[0]
        # The partial unique index rejects a second live dialog for the client; a trigger, an
        # agent beyond the limit.
        return conn.execute(
            "INSERT INTO dialogs (client_id, agent_id, status, created_at, assigned_at)"
            " VALUES (?, ?, 'open', ?, ?)",
            (client_id, agent_id, now, now),
        ).lastrowid


def enqueue_client(conn: sqlite3.Connection, client_id: int, now: float) -> int:
    """Put the client in the queue with a new dialog; returns the dialog id."""
    return conn.execute(
        "INSERT INTO dialogs (client_id, status, created_at, queued_at) VALUES (?, 'queued', ?, ?)",
        (client_id, now, now),
    ).lastrowid


def requeue_dialog(conn: sqlite3.Connection, dialog_id: int, now: float) -> None:
    """Hand an open dialog back to the head of the queue (its agent was removed)."""
    conn.execute(
        "UPDATE dialogs SET status = 'queued', agent_id = NULL, assigned_at = NULL, first_response_at = NULL,"
        " requeued = 1, queued_at = ?, alerted_at = NULL WHERE id = ? AND status = 'open'",
        (now, dialog_id),
    )


def transfer_dialog(conn: sqlite3.Connection, dialog_id: int, to_agent: int, now: float) -> None:
    """Move an open dialog to another agent (who must have room: the schema checks)."""
    conn.execute(
        "UPDATE dialogs SET transferred_from = agent_id, agent_id = ?, assigned_at = ?, first_response_at = NULL"
        " WHERE id = ? AND status = 'open'",
        (to_agent, now, dialog_id),
    )


def queue_position(conn: sqlite3.Connection, dialog_id: int) -> int:
    """1-based place of a queued dialog in the queue."""
    return conn.execute(
        "SELECT COUNT(*) FROM dialogs AS q, dialogs AS me WHERE me.id = ? AND q.status = 'queued'"
        " AND q.intake_step IS NULL"
        " AND (q.requeued > me.requeued OR (q.requeued = me.requeued AND (q.created_at < me.created_at"
        " OR (q.created_at = me.created_at AND q.id <= me.id))))",
        (dialog_id,),
    ).fetchone()[0]


def queue_length(conn: sqlite3.Connection) -> int:
    """How many clients are waiting for an agent."""
    return conn.execute(
        "SELECT COUNT(*) FROM dialogs WHERE status = 'queued' AND intake_step IS NULL"
    ).fetchone()[0]


def longest_wait_since(conn: sqlite3.Connection) -> float | None:
    """When the longest-waiting client entered the queue, or None if nobody waits."""
    return conn.execute(
        "SELECT MIN(queued_at) FROM dialogs WHERE status = 'queued' AND intake_step IS NULL"
    ).fetchone()[0]


def next_queued_dialog(conn: sqlite3.Connection) -> sqlite3.Row | None:
    """The dialog at the head of the queue, or None if the queue is empty."""
    return conn.execute(
        "SELECT * FROM dialogs WHERE status = 'queued' AND intake_step IS NULL"
        " ORDER BY requeued DESC, created_at, id LIMIT 1"
    ).fetchone()


def list_queue(conn: sqlite3.Connection) -> list[sqlite3.Row]:
    """The waiting clients in order, with their name and the first words of their first message."""
    return conn.execute(
        "SELECT d.*, c.name AS client_name,"
        " (SELECT COALESCE(h.text, h.details, h.content_type) FROM chat_history AS h"
        "  WHERE h.dialog_id = d.id AND h.sender = 'client' ORDER BY h.id LIMIT 1) AS first_text"
        " FROM dialogs AS d JOIN clients AS c ON c.user_id = d.client_id"
        " WHERE d.status = 'queued' AND d.intake_step IS NULL ORDER BY d.requeued DESC, d.created_at, d.id"
    ).fetchall()


def dialogs_waiting_since(conn: sqlite3.Connection, before: float) -> list[sqlite3.Row]:
    """Queued dialogs that entered the queue before `before` and no one was alerted about yet."""
    return conn.execute(
        "SELECT d.*, c.name AS client_name FROM dialogs AS d JOIN clients AS c ON c.user_id = d.client_id"
        " WHERE d.status = 'queued' AND d.intake_step IS NULL AND d.queued_at < ? AND d.alerted_at IS NULL"
        " ORDER BY d.requeued DESC, d.created_at, d.id",
        (before,),
    ).fetchall()


def mark_alerted(conn: sqlite3.Connection, dialog_id: int, now: float) -> None:
    """Remember that a long wait was reported."""
    conn.execute("UPDATE dialogs SET alerted_at = ? WHERE id = ?", (now, dialog_id))


def set_next_context(conn: sqlite3.Connection, client_id: int, context: str | None) -> None:
    """Remember the deep link a client came from, for their next dialog."""
    conn.execute("UPDATE clients SET next_context = ? WHERE user_id = ?", (context, client_id))


def set_dialog_context(conn: sqlite3.Connection, dialog_id: int, context: str | None) -> None:
    """Set the deep-link context of a dialog."""
    conn.execute("UPDATE dialogs SET context = ? WHERE id = ?", (context, dialog_id))


def set_intake_step(conn: sqlite3.Connection, dialog_id: int, step: int | None, now: float) -> None:
    """Move a dialog's intake to question `step`; None: the intake is over and it waits in the queue from now."""
    if step is None:
        conn.execute("UPDATE dialogs SET intake_step = NULL, queued_at = ? WHERE id = ?", (now, dialog_id))
    else:
        conn.execute("UPDATE dialogs SET intake_step = ? WHERE id = ?", (step, dialog_id))


def add_intake_answer(conn: sqlite3.Connection, dialog_id: int, position: int, key: str, question: str,
                      answer: str | None, now: float) -> None:
    """Keep the answer to one intake question (None: skipped)."""
    conn.execute(
        "INSERT OR REPLACE INTO intake_answers (dialog_id, position, key, question, answer, answered_at)"
        " VALUES (?, ?, ?, ?, ?, ?)",
        (dialog_id, position, key, question, answer, now),
    )


def intake_answers(conn: sqlite3.Connection, dialog_id: int) -> list[sqlite3.Row]:
    """A dialog's intake answers in the order asked."""
    return conn.execute(
        "SELECT * FROM intake_answers WHERE dialog_id = ? ORDER BY position", (dialog_id,)
    ).fetchall()


def rate_dialog(conn: sqlite3.Connection, dialog_id: int, rating: int, now: float) -> bool:
    """Store a closed dialog's rating, once; False if it was rated already."""
    return conn.execute(
        "UPDATE dialogs SET rating = ?, rated_at = ? WHERE id = ? AND status = 'closed' AND rating IS NULL",
        (rating, now, dialog_id),
    ).rowcount == 1


def last_dialog_for_client(conn: sqlite3.Connection, client_id: int) -> sqlite3.Row | None:
    """The client's most recent closed dialog that had an agent, if any."""
    return conn.execute(
        "SELECT * FROM dialogs WHERE client_id = ? AND status = 'closed' AND agent_id IS NOT NULL"
        " ORDER BY id DESC LIMIT 1",
        (client_id,),
    ).fetchone()


def contexts_since(conn: sqlite3.Connection, since: float) -> list[sqlite3.Row]:
    """How many dialogs began from each deep-link context since `since`, most first."""
    return conn.execute(
        "SELECT context, COUNT(*) AS dialogs FROM dialogs WHERE context IS NOT NULL AND created_at >= ?"
        " GROUP BY context ORDER BY dialogs DESC, context",
        (since,),
    ).fetchall()


def close_dialog(conn: sqlite3.Connection, dialog_id: int, now: float) -> None:
    """Close a dialog and note when its agent finished it."""
    with atomic(conn):
        conn.execute(
            "UPDATE dialogs SET status = 'closed', closed_at = ? WHERE id = ? AND status <> 'closed'",
            (now, dialog_id),
        )
        conn.execute(
            "UPDATE support_agents SET last_dialog_ended_at = ?"
            " WHERE user_id = (SELECT agent_id FROM dialogs WHERE id = ?)",
            (now, dialog_id),
        )


def mark_first_response(conn: sqlite3.Connection, dialog_id: int, now: float) -> None:
    """Remember when the agent first answered in this dialog."""
    conn.execute(
        "UPDATE dialogs SET first_response_at = ? WHERE id = ? AND first_response_at IS NULL",
        (now, dialog_id),
    )


# --- Chat history --------------------------------------------------------------------------------


def add_message(
    conn: sqlite3.Connection, *, dialog_id: int, client_id: int, sender: str, agent_id: int | None,
    message_id: int, content_type: str, text: str | None, entities: list[dict] | None,
    details: str | None, now: float, kind: str = "message", media_group_id: str | None = None,
    relayed_at: float | None = None,
) -> int:
    """Store one message (or an agent's note) of a dialog; returns its history id."""
    return conn.execute(
        "INSERT INTO chat_history (dialog_id, client_id, sender, kind, agent_id, message_id, content_type,"
        " text, entities, details, created_at, media_group_id, relayed_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (dialog_id, client_id, sender, kind, agent_id, message_id, content_type, text,
         json.dumps(entities, ensure_ascii=False) if entities else None, details, now, media_group_id, relayed_at),
    ).lastrowid


def unrelayed_messages(conn: sqlite3.Connection, dialog_id: int, sender: str) -> list[sqlite3.Row]:
    """A dialog's messages from one side that still wait to be relayed, in order."""
    return conn.execute(
        "SELECT * FROM chat_history WHERE dialog_id = ? AND relayed_at IS NULL AND sender = ? AND kind = 'message'"
        " ORDER BY id",
        (dialog_id, sender),
    ).fetchall()


def mark_relayed(conn: sqlite3.Connection, history_ids: list[int], now: float) -> None:
    """Record that these messages were handed to the outbox."""
    conn.executemany("UPDATE chat_history SET relayed_at = ? WHERE id = ?", [(now, i) for i in history_ids])


def dialogs_with_unrelayed(conn: sqlite3.Connection) -> list[sqlite3.Row]:
    """Open dialogs with messages waiting to be relayed: dialog, side, and when the last one came."""
    return conn.execute(
        # Driven by the open dialogs (few), never by every waiting row: a closed dialog's or a banned
        # client's messages that were never relayed stay so for good, and must not slow this down.
        "SELECT h.dialog_id, h.sender, MAX(h.created_at) AS last_at"
        " FROM dialogs AS d CROSS JOIN chat_history AS h ON h.dialog_id = d.id"
        " WHERE d.status = 'open' AND h.relayed_at IS NULL AND h.kind = 'message'"
        " GROUP BY h.dialog_id, h.sender"
    ).fetchall()


def any_waiting_in_open_dialogs(conn: sqlite3.Connection) -> bool:
    """Whether any open dialog has a message waiting to be relayed (the album timer's cheap look)."""
    return conn.execute(
        "SELECT EXISTS (SELECT 1 FROM dialogs AS d CROSS JOIN chat_history AS h ON h.dialog_id = d.id"
        " WHERE d.status = 'open' AND h.relayed_at IS NULL AND h.kind = 'message')"
    ).fetchone()[0] == 1


def find_history_message(conn: sqlite3.Connection, chat_id: int, message_id: int) -> sqlite3.Row | None:
    """The stored message that has this id in its author's chat (a client's or an agent's)."""
    return conn.execute(
        "SELECT * FROM chat_history WHERE sender = 'client' AND client_id = ? AND message_id = ?"
        " UNION ALL SELECT * FROM chat_history WHERE sender = 'agent' AND agent_id = ? AND message_id = ?"
        " LIMIT 1",
        (chat_id, message_id, chat_id, message_id),
    ).fetchone()


def add_edit(conn: sqlite3.Connection, history_id: int, text: str | None, entities: list[dict] | None,
             now: float) -> None:
    """Keep one edit of a stored message."""
    conn.execute(
        "INSERT INTO message_edits (history_id, text, entities, edited_at) VALUES (?, ?, ?, ?)",
        (history_id, text, json.dumps(entities, ensure_ascii=False) if entities else None, now),
    )


def edits_of(conn: sqlite3.Connection, history_id: int) -> list[sqlite3.Row]:
    """Every edit of a stored message, oldest first."""
    return conn.execute(
        "SELECT * FROM message_edits WHERE history_id = ? ORDER BY id", (history_id,)
    ).fetchall()


def last_edit(conn: sqlite3.Connection, history_id: int, until: float | None = None) -> sqlite3.Row | None:
    """The newest edit of a stored message (made at or before `until`, if given), or None."""
    return conn.execute(
        "SELECT * FROM message_edits WHERE history_id = ? AND edited_at <= COALESCE(?, edited_at)"
        " ORDER BY id DESC LIMIT 1",
        (history_id, until),
    ).fetchone()


def relayed_together(conn: sqlite3.Connection, message: sqlite3.Row) -> int:
    """How many parts of a message's album were relayed with it, in one call (itself included)."""
    if message["media_group_id"] is None or message["relayed_at"] is None:
        return 1
    return conn.execute(
        "SELECT COUNT(*) FROM chat_history WHERE dialog_id = ? AND sender = ? AND media_group_id = ?"
        " AND relayed_at = ?",
        (message["dialog_id"], message["sender"], message["media_group_id"], message["relayed_at"]),
    ).fetchone()[0]


def dialog_messages(conn: sqlite3.Connection, dialog_id: int) -> list[sqlite3.Row]:
    """A dialog's messages in the order they arrived."""
    return conn.execute(
        "SELECT * FROM chat_history WHERE dialog_id = ? ORDER BY id", (dialog_id,)
    ).fetchall()


def iter_client_history(conn: sqlite3.Connection, client_id: int) -> Iterator[sqlite3.Row]:
    """Every message of every dialog of a client, oldest first, read lazily."""
    # A cursor, not fetchall(): a history of 100,000 messages is streamed into the export file.
    return conn.execute(
        "SELECT h.id, h.created_at, h.dialog_id, h.sender, h.kind, h.content_type, h.text, h.details,"
        " c.name AS client_name, a.name AS agent_name, h.agent_id,"
        " (SELECT COUNT(*) FROM message_edits AS e WHERE e.history_id = h.id) AS edits,"
        " (SELECT context FROM dialogs WHERE id = h.dialog_id) AS context"
        " FROM chat_history AS h JOIN clients AS c ON c.user_id = h.client_id"
        " LEFT JOIN support_agents AS a ON a.user_id = h.agent_id"
        " WHERE h.client_id = ? ORDER BY h.id",
        (client_id,),
    )


def agent_stats(conn: sqlite3.Connection, agent_id: int, day_start: float) -> dict[str, Any]:
    """An agent's work: dialogs closed (all time and since day_start), messages, averages."""
    row = conn.execute(
        "SELECT COUNT(*) AS dialogs_total,"
        " COALESCE(SUM(closed_at >= ?), 0) AS dialogs_today,"
        " AVG(first_response_at - assigned_at) AS avg_first_response,"
        " AVG(closed_at - assigned_at) AS avg_duration,"
        " AVG(rating) AS avg_rating, COUNT(rating) AS ratings"
        " FROM dialogs WHERE agent_id = ? AND status = 'closed'",
        (day_start, agent_id),
    ).fetchone()
    messages = conn.execute(
        "SELECT COUNT(*) FROM chat_history WHERE agent_id = ? AND kind = 'message'", (agent_id,)
    ).fetchone()[0]
    return {**dict(row), "messages": messages}


# --- Saved replies -------------------------------------------------------------------------------


def save_reply(conn: sqlite3.Connection, name: str, text: str, author_id: int, now: float) -> None:
    """Add or replace a saved reply."""
    conn.execute(
        "INSERT INTO saved_replies (name, text, created_by, created_at) VALUES (?, ?, ?, ?)"
        " ON CONFLICT (name) DO UPDATE SET text = excluded.text, created_by = excluded.created_by,"
        " created_at = excluded.created_at",
        (name, text, author_id, now),
    )


def delete_reply(conn: sqlite3.Connection, name: str) -> bool:
    """Delete a saved reply; False if there was none by that name."""
    return conn.execute("DELETE FROM saved_replies WHERE name = ?", (name,)).rowcount == 1


def get_reply(conn: sqlite3.Connection, name: str) -> sqlite3.Row | None:
    """The saved reply with this name, or None."""
    return conn.execute("SELECT * FROM saved_replies WHERE name = ?", (name,)).fetchone()


def list_replies(conn: sqlite3.Connection) -> list[sqlite3.Row]:
    """Every saved reply, by name."""
    return conn.execute("SELECT * FROM saved_replies ORDER BY name").fetchall()


# --- Team figures --------------------------------------------------------------------------------


def team_stats(conn: sqlite3.Connection, day_start: float) -> list[sqlite3.Row]:
    """For every current agent: dialogs closed today and in total, average first response and length."""
    return conn.execute(
        "SELECT a.user_id, a.name, a.open_dialogs,"
        " COUNT(d.id) AS dialogs_total, COALESCE(SUM(d.closed_at >= ?), 0) AS dialogs_today,"
        " AVG(d.first_response_at - d.assigned_at) AS avg_first_response,"
        " AVG(d.closed_at - d.assigned_at) AS avg_duration,"
        " AVG(d.rating) AS avg_rating, COUNT(d.rating) AS ratings"
        " FROM support_agents AS a"
        " LEFT JOIN dialogs AS d ON d.agent_id = a.user_id AND d.status = 'closed'"
        " WHERE a.removed_at IS NULL GROUP BY a.user_id ORDER BY a.name, a.user_id",
        (day_start,),
    ).fetchall()


# --- Outbox --------------------------------------------------------------------------------------


def enqueue_call(
    conn: sqlite3.Connection, chat_id: int, method: str, payload: dict[str, Any], now: float
) -> int:
    """Record a Telegram call to make; delivery.Sender makes it, in order per chat."""
    return conn.execute(
        "INSERT INTO outbox (chat_id, method, payload, next_attempt_at, created_at) VALUES (?, ?, ?, ?, ?)",
        (chat_id, method, json.dumps(payload, ensure_ascii=False), now, now),
    ).lastrowid


def album_answered(conn: sqlite3.Connection, chat_id: int, album: str, since: float) -> bool:
    """Whether a text answering a part of `album` was queued for the chat (pending, or done since `since`)."""
    # Each half uses an index: the chat's pending calls, or the calls finished since `since`.
    return conn.execute(
        "SELECT EXISTS (SELECT 1 FROM outbox WHERE chat_id = ? AND status = 'pending'"
        "               AND json_extract(payload, '$.album') = ?)"
        " OR EXISTS (SELECT 1 FROM outbox WHERE status <> 'pending' AND done_at >= ? AND chat_id = ?"
        "            AND json_extract(payload, '$.album') = ?)",
        (chat_id, album, since, chat_id, album),
    ).fetchone()[0] == 1


def count_pending_calls(conn: sqlite3.Connection) -> int:
    """How many calls wait to be made."""
    return conn.execute("SELECT COUNT(*) FROM outbox WHERE status = 'pending'").fetchone()[0]


def outbox_heads(conn: sqlite3.Connection) -> list[sqlite3.Row]:
    """The oldest pending call of every chat, due or not."""
    return conn.execute(
        "SELECT o.* FROM (SELECT MIN(id) AS id FROM outbox WHERE status = 'pending' GROUP BY chat_id)"
        " AS h JOIN outbox AS o ON o.id = h.id"
    ).fetchall()


def outbox_head(conn: sqlite3.Connection, chat_id: int) -> sqlite3.Row | None:
    """The oldest pending call of one chat, or None."""
    return conn.execute(
        "SELECT * FROM outbox WHERE chat_id = ? AND status = 'pending' ORDER BY id LIMIT 1", (chat_id,)
    ).fetchone()


def newest_outbox_id(conn: sqlite3.Connection) -> int:
    """The highest call id so far (0 for an empty outbox)."""
    return conn.execute("SELECT COALESCE(MAX(id), 0) FROM outbox").fetchone()[0]


def pending_calls_after(conn: sqlite3.Connection, after_id: int) -> list[sqlite3.Row]:
    """Pending calls with an id above `after_id` (queued since the sender last looked), oldest first."""
    return conn.execute(
        "SELECT * FROM outbox WHERE id > ? AND status = 'pending' ORDER BY id", (after_id,)
    ).fetchall()


def recent_sent_calls(conn: sqlite3.Connection, since: float) -> list[tuple[int, float]]:
    """(chat, when) of every call Telegram accepted after `since`, in time order: pacing after a restart."""
    # "status <> 'pending'" repeats the condition of the outbox_done index, so that it is used.
    return [(row[0], row[1]) for row in conn.execute(
        "SELECT chat_id, done_at FROM outbox WHERE status <> 'pending' AND status = 'sent' AND done_at > ?"
        " ORDER BY done_at", (since,))]


def mark_call_sent(conn: sqlite3.Connection, call_id: int, now: float) -> None:
    """Record that Telegram accepted a call."""
    conn.execute(
        "UPDATE outbox SET status = 'sent', attempts = attempts + 1, done_at = ?, last_error = NULL"
        " WHERE id = ?",
        (now, call_id),
    )


def schedule_call_retry(conn: sqlite3.Connection, call_id: int, at: float, error: str) -> None:
    """Record a failed attempt and when to try again."""
    conn.execute(
        "UPDATE outbox SET attempts = attempts + 1, next_attempt_at = ?, last_error = ? WHERE id = ?",
        (at, error, call_id),
    )


def mark_call_failed(conn: sqlite3.Connection, call_id: int, error: str, now: float) -> None:
    """Give up on a call that can never succeed."""
    conn.execute(
        "UPDATE outbox SET status = 'failed', attempts = attempts + 1, done_at = ?, last_error = ?"
        " WHERE id = ?",
        (now, error, call_id),
    )


def fail_pending_calls_for_chat(conn: sqlite3.Connection, chat_id: int, error: str, now: float) -> int:
    """Give up on every pending call to a chat that can no longer be reached."""
    return conn.execute(
        "UPDATE outbox SET status = 'failed', done_at = ?, last_error = ?"
        " WHERE chat_id = ? AND status = 'pending'",
        (now, error, chat_id),
    ).rowcount


def link_message(
    conn: sqlite3.Connection, chat_id: int, message_id: int, source_chat_id: int,
    source_message_id: int | None, dialog_id: int, now: float,
) -> None:
    """Remember that message_id in chat_id is the desk's copy of a source message in a dialog."""
    conn.execute(
        "INSERT OR REPLACE INTO message_links (chat_id, message_id, source_chat_id, source_message_id,"
        " dialog_id, created_at) VALUES (?, ?, ?, ?, ?, ?)",
        (chat_id, message_id, source_chat_id, source_message_id, dialog_id, now),
    )


def linked_message(conn: sqlite3.Connection, chat_id: int, message_id: int) -> sqlite3.Row | None:
    """What a message the desk sent in chat_id was a copy of (source chat, message, dialog), or None."""
    return conn.execute(
        "SELECT * FROM message_links WHERE chat_id = ? AND message_id = ?", (chat_id, message_id)
    ).fetchone()


def copies_of(conn: sqlite3.Connection, source_chat_id: int, source_message_id: int) -> list[sqlite3.Row]:
    """Every copy the desk made of one source message, oldest first."""
    return conn.execute(
        "SELECT * FROM message_links WHERE source_chat_id = ? AND source_message_id = ? ORDER BY created_at",
        (source_chat_id, source_message_id),
    ).fetchall()


def copy_in_chat(conn: sqlite3.Connection, chat_id: int, source_chat_id: int, source_message_id: int) -> int | None:
    """The id of the desk's copy of a source message in one chat, or None; the newest if several."""
    # A name header sent before a copy is linked to the same source; the copy itself came after it.
    row = conn.execute(
        "SELECT MAX(message_id) FROM message_links WHERE source_chat_id = ? AND source_message_id = ?"
        " AND chat_id = ?",
        (source_chat_id, source_message_id, chat_id),
    ).fetchone()
    return row[0]


def prune_outbox(conn: sqlite3.Connection, before: float) -> int:
    """Delete finished calls older than `before`; the history itself lives in chat_history."""
    return conn.execute(
        "DELETE FROM outbox WHERE status <> 'pending' AND done_at < ?", (before,)
    ).rowcount


# --- Backups and checks (backup.py, `bot.py check`) ----------------------------------------------


def schema_version(conn: sqlite3.Connection) -> int:
    """The schema version stored in the database file (0 for a new, empty one)."""
    return conn.execute("PRAGMA user_version").fetchone()[0]


def integrity_check(conn: sqlite3.Connection) -> list[str]:
    """SQLite's own check of the whole file: ["ok"], or the problems it found."""
    return [row[0] for row in conn.execute("PRAGMA integrity_check").fetchall()]


def use_rollback_journal(conn: sqlite3.Connection) -> None:
    """Switch a database (a backup copy) out of WAL mode, so that it is one self-contained file."""
    conn.execute("PRAGMA journal_mode = DELETE").fetchone()


# --- The desk's health and its numbers -----------------------------------------------------------


def outbox_health(conn: sqlite3.Connection, day_ago: float) -> sqlite3.Row:
    """Pending calls, when the oldest of them was queued, and calls that failed since `day_ago`."""
    return conn.execute(
        "SELECT (SELECT COUNT(*) FROM outbox WHERE status = 'pending') AS pending,"
        " (SELECT MIN(created_at) FROM outbox WHERE status = 'pending') AS oldest_pending,"
        " (SELECT COUNT(*) FROM outbox WHERE status = 'failed' AND done_at >= ?) AS failed_recently",
        (day_ago,),
    ).fetchone()


def count_failed_updates(conn: sqlite3.Connection) -> int:
    """How many updates are kept in failed_updates for the operator."""
    return conn.execute("SELECT COUNT(*) FROM failed_updates").fetchone()[0]


def iter_dialogs_since(conn: sqlite3.Connection, since: float) -> Iterator[sqlite3.Row]:
    """Dialogs created since `since`, with names and message counts per side, oldest first, read lazily."""
    return conn.execute(
        "SELECT d.id, d.client_id, c.name AS client_name, d.agent_id, a.name AS agent_name, d.context,"
        " d.created_at, d.assigned_at, d.first_response_at, d.closed_at, d.rating,"
        " (SELECT COUNT(*) FROM chat_history AS h WHERE h.dialog_id = d.id AND h.sender = 'client') AS from_client,"
        " (SELECT COUNT(*) FROM chat_history AS h WHERE h.dialog_id = d.id AND h.sender = 'agent'"
        "  AND h.kind = 'message') AS from_agent"
        " FROM dialogs AS d JOIN clients AS c ON c.user_id = d.client_id"
        " LEFT JOIN support_agents AS a ON a.user_id = d.agent_id"
        " WHERE d.created_at >= ? ORDER BY d.created_at, d.id",
        (since,),
    )
