"""Work the desk does on the clock rather than on an update: a thread that runs each job in turn.

A job is a function of (connection, now) run every so many seconds in its own transaction, on this
thread's own database connection, whether or not any update arrives (the polling loop can sit in a
25-second long poll). A job that raises is logged with its traceback and tried again at its next
turn; it never stops the others or the desk.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import db

log = logging.getLogger("desk.timers")

Job = Callable[[sqlite3.Connection, float], None]


@dataclass
class Timed:
    """One job and how often it runs."""

    name: str
    every: float
    run: Job
    due: float = 0.0
    # A cheap look, outside any transaction, at whether there is work at all: a job that runs
    # four times a second must not take the write lock (and wake the sender) for nothing.
    wanted: Callable[[sqlite3.Connection, float], bool] | None = None


class Timers:
    """Runs timed jobs on a thread of their own until stopped."""

    def __init__(self, database_path: str, after_run: Callable[[], None] = lambda: None) -> None:
        self.database_path = database_path
        self.after_run = after_run       # e.g. wake the sender: a job may have queued calls
        self.jobs: list[Timed] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="timers", daemon=True)

    def add(self, name: str, every: float, run: Job,
            wanted: Callable[[sqlite3.Connection, float], bool] | None = None) -> None:
        """Run `run(conn, now)` every `every` seconds, the first time at start (only when `wanted`, if given)."""
        self.jobs.append(Timed(name, every, run, wanted=wanted))

    def start(self) -> None:
        if self.jobs:
            self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout)

    def run_due(self, conn: sqlite3.Connection, now: float) -> None:
        """Run every job whose time has come, each in its own transaction."""
        changes = conn.total_changes
        for job in self.jobs:
            if now < job.due:
                continue
            job.due = now + job.every
            try:
                if job.wanted is not None and not job.wanted(conn, now):
                    continue
                with db.atomic(conn):
                    job.run(conn, now)
            except Exception:
                log.exception("timed job %s failed; it runs again in %.0fs", job.name, job.every)
        if conn.total_changes != changes:
            self.after_run()            # something was written: perhaps calls for the sender

    def _loop(self) -> None:
        conn = db.connect(self.database_path)
        try:
            while not self._stop.is_set():
                self.run_due(conn, time.time())
                next_due = min(job.due for job in self.jobs)
                self._stop.wait(max(0.05, next_due - time.time()))
        finally:
            conn.close()
