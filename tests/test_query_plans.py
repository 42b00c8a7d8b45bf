"""The hot queries stay on their indexes, so they stay flat as the desk grows to millions of rows.

Each test runs the real db.py function, captures the SQL it sent (with its parameters) and asks
SQLite for the plan. A plan that scans a whole table or sorts in a temporary b-tree means an index
was lost or a query stopped using it; `make bench` shows what that costs.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from typing import Any

import pytest

import db

NOW = 1_800_000_000.0


def plan_of(conn: sqlite3.Connection, call: Callable[[], Any]) -> str:
    """The query plans of every SELECT that `call` runs, as one text."""
    statements: list[str] = []
    conn.set_trace_callback(statements.append)
    try:
        call()
    finally:
        conn.set_trace_callback(None)
    selects = [s for s in statements if s.lstrip().upper().startswith("SELECT")]
    assert selects, "the function ran no SELECT"
    return "\n".join(row["detail"] for sql in selects for row in conn.execute("EXPLAIN QUERY PLAN " + sql))


@pytest.fixture
def desk_db(conn: sqlite3.Connection) -> sqlite3.Connection:
    """A small desk: the planner's choices do not depend on size once ANALYZE has not run."""
    for agent in range(1, 6):
        db.register_agent(conn, agent, f"Agent {agent}", None, "en", NOW)
    for client in range(100, 110):
        db.add_client(conn, client, f"Client {client}", None, "en", NOW)
    dialog = db.assign_client(conn, 100, 1, NOW)
    db.add_message(conn, dialog_id=dialog, client_id=100, sender="client", agent_id=None, message_id=1,
                   content_type="text", text="hi", entities=None, details=None, now=NOW)
    db.enqueue_client(conn, 101, NOW)
    db.enqueue_call(conn, 1, "sendMessage", {"text": "hi"}, NOW)
    return conn


# name: (the call, the indexes its plan must name, whether a small sort of derived rows is fine)
CASES = {
    # The sort orders the two tiers' single candidates, never the agents.
    "find_available_support": (lambda c: db.find_available_support(c, NOW, 300, 3), ["agents_by_load"], True),
    "live_dialog_for_client": (lambda c: db.live_dialog_for_client(c, 100), ["one_live_dialog_per_client"], False),
    "open_dialog_for_agent": (lambda c: db.open_dialog_for_agent(c, 1), ["open_dialogs_by_agent"], False),
    "open_dialogs_for_agent": (lambda c: db.open_dialogs_for_agent(c, 1),
                               ["open_dialogs_by_agent", "history_by_dialog"], False),
    "list_queue": (lambda c: db.list_queue(c), ["queue_order", "history_by_dialog"], False),
    "dialogs_waiting_since": (lambda c: db.dialogs_waiting_since(c, NOW + 1), ["queue_order"], False),
    "linked_message": (lambda c: db.linked_message(c, 1, 5), ["PRIMARY KEY"], False),
    # The album timer's look, four times a second: from the open dialogs, never the whole history.
    "dialogs_with_unrelayed": (lambda c: db.dialogs_with_unrelayed(c), ["open_dialogs_by_agent", "history_unrelayed"],
                               True),
    "copies_of": (lambda c: db.copies_of(c, 100, 1), ["message_links_by_source"], True),
    "next_queued_dialog": (lambda c: db.next_queued_dialog(c), ["queue_order"], False),
    "queue_position": (lambda c: db.queue_position(c, 2), ["queue_order"], False),
    "dialog_messages": (lambda c: db.dialog_messages(c, 1), ["history_by_dialog"], False),
    "iter_client_history": (lambda c: list(db.iter_client_history(c, 100)), ["history_by_client"], False),
    "agent_stats": (lambda c: db.agent_stats(c, 1, NOW), ["dialogs_by_agent", "history_by_agent"], False),
    "outbox_heads": (lambda c: db.outbox_heads(c), ["outbox_pending"], False),
    "outbox_head": (lambda c: db.outbox_head(c, 1), ["outbox_pending"], False),
    # An agent's album with nowhere to go: the chat's pending calls and the last minute's finished ones.
    "album_answered": (lambda c: db.album_answered(c, 1, "album", NOW - 60), ["outbox_pending", "outbox_done"],
                       False),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_hot_query_uses_its_index_and_never_scans_or_sorts_a_table(desk_db, name):
    call, indexes, small_sort_ok = CASES[name]
    plan = plan_of(desk_db, lambda: call(desk_db))
    for index in indexes:
        assert index in plan, f"{name} no longer uses {index}:\n{plan}"
    # Subquery results (a handful of rows) may be scanned; tables only in the order of an index.
    derived = {line.split()[1] for line in plan.splitlines() if line.startswith(("MATERIALIZE", "CO-ROUTINE"))}
    for line in plan.splitlines():
        words = line.split()
        if line == "SCAN CONSTANT ROW":
            continue                    # a SELECT without FROM (around EXISTS subqueries): no table
        if words[0] == "SCAN" and words[1] not in derived and not words[1].startswith("("):
            assert "INDEX" in line, f"{name} scans the table {words[1]}:\n{plan}"
    if not small_sort_ok:
        assert "TEMP B-TREE" not in plan, f"{name} sorts in a temporary b-tree:\n{plan}"
