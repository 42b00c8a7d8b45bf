"""timers.Timers: jobs on the clock, each in its own transaction, a failure never stopping the others."""

from __future__ import annotations

import logging

import db
from timers import Timers


def test_jobs_run_when_due_each_in_a_transaction_and_a_failing_one_stops_nothing(conn, tmp_path, caplog):
    woken = []
    timers = Timers(str(tmp_path / "unit.db"), after_run=lambda: woken.append(1))
    ran = []

    def write(c, now):
        ran.append(("write", now))
        db.enqueue_call(c, 1, "sendMessage", {"text": "x"}, now)

    def boom(c, now):
        db.enqueue_call(c, 2, "sendMessage", {"text": "lost"}, now)
        raise RuntimeError("boom")

    timers.add("write", 10, write)
    timers.add("boom", 10, boom)
    with caplog.at_level(logging.ERROR):
        timers.run_due(conn, 100.0)
    assert ran == [("write", 100.0)]
    assert [r["chat_id"] for r in conn.execute("SELECT chat_id FROM outbox")] == [1]   # boom's write rolled back
    assert "timed job boom failed" in caplog.text
    assert woken == [1]
    timers.run_due(conn, 105.0)                       # not due yet
    assert ran == [("write", 100.0)]
    timers.run_due(conn, 110.0)
    assert ran == [("write", 100.0), ("write", 110.0)]


def test_a_job_that_is_not_wanted_takes_no_transaction_and_wakes_nobody(conn, tmp_path):
    woken, ran = [], []
    timers = Timers(str(tmp_path / "unit.db"), after_run=lambda: woken.append(1))
    timers.add("idle", 0.25, lambda c, now: ran.append(now), wanted=lambda c, now: False)
    statements = []
    conn.set_trace_callback(statements.append)
    timers.run_due(conn, 1.0)
    conn.set_trace_callback(None)
    assert ran == [] and woken == []
    assert not any(s.startswith(("BEGIN", "SAVEPOINT")) for s in statements)


def test_a_job_that_writes_nothing_does_not_wake_the_sender(conn, tmp_path):
    woken = []
    timers = Timers(str(tmp_path / "unit.db"), after_run=lambda: woken.append(1))
    timers.add("look", 1, lambda c, now: db.queue_length(c))
    timers.run_due(conn, 1.0)
    assert woken == []
