"""db.py on a fresh temporary database: the agent priority query, assignment, queue, outbox."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

import db

NOW = 1_800_000_000.0
WINDOW = 300


def add_agent(conn, user_id, seen=NOW, available=True, ended=None):
    """An agent last seen at `seen`, whose last dialog ended at `ended` (None: never had one)."""
    db.register_agent(conn, user_id, f"Agent {user_id}", None, "en", seen - 1000)
    db.touch_agent(conn, user_id, None, "en", seen)
    if ended is not None:
        client_id = 10_000 + user_id
        db.add_client(conn, client_id, "Past client", None, "en", ended - 10)
        dialog = db.assign_client(conn, client_id, user_id, ended - 5)
        db.close_dialog(conn, dialog, ended)
    db.set_agent_available(conn, user_id, available)


def add_client(conn, user_id):
    db.add_client(conn, user_id, f"Client {user_id}", None, "en", NOW)


def chosen(conn):
    row = db.find_available_support(conn, NOW, WINDOW)
    return row["user_id"] if row else None


def test_no_agents_means_nobody(conn):
    assert chosen(conn) is None


def test_unavailable_and_busy_agents_are_never_chosen(conn):
    add_agent(conn, 1, available=False)
    add_agent(conn, 2)
    add_client(conn, 50)
    db.assign_client(conn, 50, 2, NOW)
    assert chosen(conn) is None


def test_recently_online_beats_longer_idle_offline_agent(conn):
    add_agent(conn, 1, seen=NOW - 3600)                   # available, never had a dialog, but away
    add_agent(conn, 2, seen=NOW - 10, ended=NOW - 20)     # online, just finished a dialog
    assert chosen(conn) == 2


def test_offline_available_agent_is_second_tier(conn):
    add_agent(conn, 1, seen=NOW - 3600)
    add_agent(conn, 2, available=False)
    assert chosen(conn) == 1


@pytest.mark.parametrize("seen_ago", [0, WINDOW - 1, WINDOW])
def test_online_window_edge_counts_as_online(conn, seen_ago):
    add_agent(conn, 1, seen=NOW - 3600, ended=None)
    add_agent(conn, 2, seen=NOW - seen_ago, ended=NOW - 1)
    assert chosen(conn) == 2


def test_within_a_tier_longest_since_last_dialog_wins_and_never_had_one_is_first(conn):
    add_agent(conn, 1, ended=NOW - 100)
    add_agent(conn, 2, ended=NOW - 500)
    assert chosen(conn) == 2
    add_agent(conn, 3)                                     # never had a dialog
    assert chosen(conn) == 3


def test_ties_are_broken_by_id_so_the_choice_is_stable(conn):
    add_agent(conn, 7, ended=NOW - 100)
    add_agent(conn, 5, ended=NOW - 100)
    assert chosen(conn) == 5


def test_assignment_makes_the_agent_busy(conn):
    add_agent(conn, 1)
    add_agent(conn, 2, ended=NOW - 50)
    add_client(conn, 50)
    db.assign_client(conn, 50, chosen(conn), NOW)
    assert chosen(conn) == 2


def test_schema_forbids_two_open_dialogs_for_one_agent(conn):
    add_agent(conn, 1)
    add_client(conn, 50)
    add_client(conn, 51)
    db.assign_client(conn, 50, 1, NOW)
    with pytest.raises(sqlite3.IntegrityError):
        db.assign_client(conn, 51, 1, NOW)
    # The failed assignment left nothing behind.
    assert db.live_dialog_for_client(conn, 51) is None


def test_schema_forbids_two_live_dialogs_for_one_client(conn):
    add_agent(conn, 1)
    add_agent(conn, 2)
    add_client(conn, 50)
    db.assign_client(conn, 50, 1, NOW)
    with pytest.raises(sqlite3.IntegrityError):
        db.assign_client(conn, 50, 2, NOW)
    with pytest.raises(sqlite3.IntegrityError):
        db.enqueue_client(conn, 50, NOW)


def test_schema_checks_dialog_states(conn):
    add_client(conn, 50)
    with pytest.raises(sqlite3.IntegrityError):
        conn.execute("INSERT INTO dialogs (client_id, status, created_at) VALUES (50, 'open', 1)")
    with pytest.raises(sqlite3.IntegrityError):
        conn.execute("INSERT INTO dialogs (client_id, status, created_at) VALUES (50, 'closed', 1)")


def test_queue_is_served_in_arrival_order(conn):
    for client in (50, 51, 52):
        add_client(conn, client)
    first = db.enqueue_client(conn, 50, NOW)
    second = db.enqueue_client(conn, 51, NOW)            # same second: arrival order decides
    third = db.enqueue_client(conn, 52, NOW + 1)
    assert [db.queue_position(conn, d) for d in (first, second, third)] == [1, 2, 3]
    assert db.queue_length(conn) == 3
    assert db.next_queued_dialog(conn)["id"] == first
    add_agent(conn, 1)
    assert db.assign_client(conn, 50, 1, NOW + 2) == first   # the queued dialog itself is opened
    assert db.get_dialog(conn, first)["status"] == "open"
    assert db.next_queued_dialog(conn)["id"] == second
    assert db.queue_position(conn, third) == 2


def test_closing_records_when_the_agent_finished(conn):
    add_agent(conn, 1)
    add_client(conn, 50)
    dialog = db.assign_client(conn, 50, 1, NOW)
    db.close_dialog(conn, dialog, NOW + 60)
    assert db.get_agent(conn, 1)["last_dialog_ended_at"] == NOW + 60
    assert db.live_dialog_for_client(conn, 50) is None
    assert db.open_dialog_for_agent(conn, 1) is None


def test_update_is_claimed_once(conn):
    assert db.claim_update(conn, 77, NOW)
    assert not db.claim_update(conn, 77, NOW)
    assert db.is_update_processed(conn, 77)
    assert db.prune_processed_updates(conn, NOW + 1) == 1
    assert not db.is_update_processed(conn, 77)


def test_atomic_rolls_back_everything_on_error(conn):
    add_client(conn, 50)
    with pytest.raises(RuntimeError):
        with db.atomic(conn):
            db.claim_update(conn, 1, NOW)
            db.enqueue_client(conn, 50, NOW)
            raise RuntimeError("handler failed")
    assert not db.is_update_processed(conn, 1)
    assert db.queue_length(conn) == 0


def test_five_wrong_tokens_lock_a_user_out_until_the_lock_expires(conn):
    lefts = [db.record_register_failure(conn, 9, NOW, 5, 900) for _ in range(5)]
    assert lefts == [4, 3, 2, 1, 0]
    assert db.register_locked_until(conn, 9, NOW + 899) == NOW + 900
    assert db.register_locked_until(conn, 9, NOW + 900) is None
    assert db.register_locked_until(conn, 8, NOW) is None   # other users unaffected


def test_outbox_heads_are_each_chats_oldest_pending_call(conn):
    a1 = db.enqueue_call(conn, 100, "sendMessage", {"text": "a1"}, NOW)
    a2 = db.enqueue_call(conn, 100, "sendMessage", {"text": "a2"}, NOW)
    b1 = db.enqueue_call(conn, 200, "sendMessage", {"text": "b1"}, NOW)
    assert sorted(r["id"] for r in db.outbox_heads(conn)) == [a1, b1]
    # A head waiting for its retry is still its chat's head: a2 must wait for it (order).
    db.schedule_call_retry(conn, a1, NOW + 30, "429")
    assert db.outbox_head(conn, 100)["id"] == a1
    db.mark_call_sent(conn, a1, NOW)
    assert db.outbox_head(conn, 100)["id"] == a2
    db.mark_call_sent(conn, b1, NOW)
    assert db.outbox_head(conn, 200) is None
    assert db.fail_pending_calls_for_chat(conn, 100, "403", NOW) == 1
    assert db.count_pending_calls(conn) == 0


def test_agent_stats(conn):
    add_agent(conn, 1)
    add_client(conn, 50)
    dialog = db.assign_client(conn, 50, 1, NOW)
    db.mark_first_response(conn, dialog, NOW + 30)
    db.mark_first_response(conn, dialog, NOW + 90)        # only the first response counts
    db.add_message(conn, dialog_id=dialog, client_id=50, sender="agent", agent_id=1, message_id=1,
                   content_type="text", text="hi", entities=None, details=None, now=NOW + 30)
    db.close_dialog(conn, dialog, NOW + 120)
    stats = db.agent_stats(conn, 1, day_start=NOW)
    expected = {"dialogs_total": 1, "dialogs_today": 1, "avg_first_response": 30.0, "avg_duration": 120.0,
                "messages": 1}
    assert {key: stats[key] for key in expected} == expected
    assert db.agent_stats(conn, 1, day_start=NOW + 1000)["dialogs_today"] == 0


def test_schema_version_is_recorded_and_a_newer_database_is_refused(conn, tmp_path):
    assert conn.execute("PRAGMA user_version").fetchone()[0] == db.SCHEMA_VERSION
    db.init_db(conn)                                      # idempotent on a current database
    conn.execute(f"PRAGMA user_version = {db.SCHEMA_VERSION + 1}")
    with pytest.raises(db.SchemaError):
        db.init_db(conn)


def test_connection_settings(conn):
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    assert conn.execute("PRAGMA busy_timeout").fetchone()[0] >= 5000


def test_the_agents_load_follows_their_open_dialogs_through_every_change(conn):
    # The schema's triggers keep the count that find_available_support reads; no code sets it by hand.
    def load(agent_id):
        return db.count_open_dialogs(conn, agent_id)
    add_agent(conn, 1)
    add_agent(conn, 2)
    add_client(conn, 50)
    add_client(conn, 51)
    dialog = db.assign_client(conn, 50, 1, NOW)                # a new dialog, opened at once
    assert (load(1), load(2)) == (1, 0)
    db.close_dialog(conn, dialog, NOW + 1)
    assert load(1) == 0
    queued = db.enqueue_client(conn, 51, NOW + 2)
    assert load(2) == 0
    db.assign_client(conn, 51, 2, NOW + 3)                     # a queued dialog taken
    assert load(2) == 1
    db.close_dialog(conn, queued, NOW + 4)
    assert load(2) == 0


def schema_of(conn: sqlite3.Connection) -> dict[str, object]:
    """What a database's schema is made of, comparable whatever order its columns were added in."""
    objects = conn.execute("SELECT type, name, tbl_name, sql FROM sqlite_master"
                           " WHERE name NOT LIKE 'sqlite_%' ORDER BY type, name").fetchall()
    tables = {r["name"]: sorted(tuple(c)[1:] for c in conn.execute(f"PRAGMA table_xinfo({r['name']})"))
              for r in objects if r["type"] == "table"}
    # Indexes and triggers must match to the letter: an old one of the same name would survive
    # schema.sql's CREATE ... IF NOT EXISTS and silently keep the old definition.
    others = {(r["type"], r["name"]): " ".join(r["sql"].split()) for r in objects
              if r["type"] != "table" and r["sql"] is not None}
    return {"tables": tables, "indexes and triggers": others}


def migrate(tmp_path: Path, version: int, data: str) -> sqlite3.Connection:
    """A real database of an old version holding `data`, opened and upgraded as the desk does at start."""
    path = tmp_path / f"v{version}.db"
    old = sqlite3.connect(path)
    old.executescript((Path(__file__).parent / "data" / f"schema_v{version}.sql").read_text())
    assert old.execute("PRAGMA user_version").fetchone()[0] == version
    old.executescript(data)
    old.close()
    conn = db.connect(path)
    db.init_db(conn)
    return conn


def test_a_version_1_database_is_migrated_keeping_its_data(tmp_path, conn):
    old = migrate(tmp_path, 1, """
        INSERT INTO support_agents (user_id, name, last_seen_at, registered_at) VALUES (1, 'Busy', 1, 1);
        INSERT INTO support_agents (user_id, name, last_seen_at, registered_at) VALUES (2, 'Free', 1, 1);
        INSERT INTO clients (user_id, name, created_at) VALUES (50, 'Carl', 1);
        INSERT INTO dialogs (client_id, agent_id, status, created_at, assigned_at) VALUES (50, 1, 'open', 1, 1);
        INSERT INTO chat_history (dialog_id, client_id, sender, message_id, content_type, text, created_at)
            VALUES (1, 50, 'client', 7, 'text', 'kept', 1);
    """)
    assert old.execute("PRAGMA user_version").fetchone()[0] == db.SCHEMA_VERSION
    assert schema_of(old) == schema_of(conn)                     # the same as a new database's
    assert [(db.count_open_dialogs(old, 1), db.count_open_dialogs(old, 2))] == [(1, 0)]
    assert old.execute("SELECT text FROM chat_history").fetchone()[0] == "kept"
    assert db.find_available_support(old, NOW, WINDOW)["user_id"] == 2   # the busy agent is passed over
    db.close_dialog(old, 1, NOW)                                 # the new triggers are in place
    assert db.count_open_dialogs(old, 1) == 0
    old.close()


def test_a_version_2_database_is_migrated_keeping_its_data(tmp_path, conn):
    old = migrate(tmp_path, 2, """
        INSERT INTO support_agents (user_id, name, username, language_code, last_seen_at, registered_at)
            VALUES (1, 'Busy', 'busy_one', 'ru', 1, 1);
        INSERT INTO support_agents (user_id, name, last_seen_at, registered_at, last_dialog_ended_at)
            VALUES (2, 'Free', 2, 2, 5);
        INSERT INTO support_agents (user_id, name, is_available, last_seen_at, registered_at) VALUES (3, 'Away', 0, 3, 3);
        INSERT INTO clients (user_id, name, username, language_code, created_at) VALUES (50, 'Carl', 'carl', 'en', 1);
        INSERT INTO clients (user_id, name, awaiting_name, created_at) VALUES (51, 'Dora', 1, 2);
        INSERT INTO clients (user_id, name, created_at) VALUES (52, 'Eve', 3);
        INSERT INTO dialogs (client_id, agent_id, status, created_at, assigned_at, first_response_at)
            VALUES (50, 1, 'open', 1, 1, 2);
        INSERT INTO dialogs (client_id, status, created_at) VALUES (51, 'queued', 4);
        INSERT INTO dialogs (client_id, agent_id, status, created_at, assigned_at, closed_at)
            VALUES (52, 2, 'closed', 3, 3, 5);
        INSERT INTO chat_history (dialog_id, client_id, sender, message_id, content_type, text, created_at)
            VALUES (1, 50, 'client', 7, 'text', 'kept', 1);
        INSERT INTO chat_history (dialog_id, client_id, sender, agent_id, message_id, content_type, text, created_at)
            VALUES (1, 50, 'agent', 1, 3, 'text', 'answer', 2);
        INSERT INTO chat_history (dialog_id, client_id, sender, message_id, content_type, text, details, created_at)
            VALUES (2, 51, 'client', 1, 'document', 'waiting', 'a.pdf', 4);
        INSERT INTO outbox (chat_id, method, payload, next_attempt_at, created_at)
            VALUES (1, 'sendMessage', '{"text": "still to send"}', 4, 4);
        INSERT INTO outbox (chat_id, method, payload, status, next_attempt_at, created_at, done_at)
            VALUES (50, 'copyMessage', '{"from_chat_id": 1, "message_id": 3}', 'sent', 2, 2, 2);
        INSERT INTO processed_updates (update_id, processed_at) VALUES (900, 4);
        INSERT INTO failed_updates (update_id, payload, error, failed_at) VALUES (901, '{}', 'boom', 4);
        INSERT INTO register_attempts (user_id, failures, locked_until) VALUES (66, 0, 99999999999);
    """)
    assert old.execute("PRAGMA user_version").fetchone()[0] == db.SCHEMA_VERSION
    assert schema_of(old) == schema_of(conn)                     # the same as a new database's
    # Every row is still there, as it was.
    assert [tuple(r) for r in old.execute("SELECT user_id, name, username, language_code, is_available"
                                          " FROM support_agents ORDER BY 1")] == [
        (1, "Busy", "busy_one", "ru", 1), (2, "Free", None, None, 1), (3, "Away", None, None, 0)]
    assert [tuple(r) for r in old.execute("SELECT user_id, name, awaiting_name FROM clients ORDER BY 1")] == [
        (50, "Carl", 0), (51, "Dora", 1), (52, "Eve", 0)]
    assert [tuple(r) for r in old.execute("SELECT client_id, agent_id, status FROM dialogs ORDER BY id")] == [
        (50, 1, "open"), (51, None, "queued"), (52, 2, "closed")]
    assert [tuple(r) for r in old.execute("SELECT sender, text, details FROM chat_history ORDER BY id")] == [
        ("client", "kept", None), ("agent", "answer", None), ("client", "waiting", "a.pdf")]
    assert [(c["chat_id"], c["status"]) for c in old.execute("SELECT * FROM outbox ORDER BY id")] == [
        (1, "pending"), (50, "sent")]
    assert db.count_pending_calls(old) == 1                       # the sender picks it up after the upgrade
    assert db.is_update_processed(old, 900)                       # a redelivery is still recognised
    assert old.execute("SELECT error FROM failed_updates WHERE update_id = 901").fetchone()[0] == "boom"
    assert db.register_locked_until(old, 66, NOW) == 99999999999  # a lockout survives the upgrade
    # The rules work on it: the load is right, the queue is in order, and the history reads back.
    assert [db.count_open_dialogs(old, a) for a in (1, 2, 3)] == [1, 0, 0]
    assert db.find_available_support(old, NOW, WINDOW)["user_id"] == 2
    assert db.next_queued_dialog(old)["client_id"] == 51
    assert [r["text"] for r in db.iter_client_history(old, 50)] == ["kept", "answer"]
    # Version 3's table: a relayed copy's id is recorded and found again.
    db.link_message(old, 1, 40, 50, 7, 1, NOW)
    assert tuple(db.linked_message(old, 1, 40))[:5] == (1, 40, 50, 7, 1)
    db.close_dialog(old, 1, NOW)                                 # the triggers are in place
    assert db.count_open_dialogs(old, 1) == 0
    old.close()
