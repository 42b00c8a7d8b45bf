"""Backups of the live database: `python bot.py backup FILE`, and the daily automatic ones.

Copying the database file is not a backup: the latest commits may still be in the -wal file, and
a copy taken while the desk writes can be torn. SQLite's online backup API (sqlite3's
Connection.backup) copies every page from one read snapshot instead; under WAL the desk keeps
writing meanwhile and needs no lock for it (nor does the backup need the desk's <db>.lock). Each
copy is written under a temporary name (<name>.part), checked with PRAGMA integrity_check, taken
out of WAL mode so that it is one self-contained file, and only then given its name.

Automatic backups (BACKUP_DIR, BACKUP_KEEP): the timers thread calls DailyBackups every
CHECK_EVERY seconds; when the newest backup is older than a day (or there is none, as at the first
start) it starts one. The copy runs on a thread of its own, because a timed job runs inside a write
transaction and a long copy must not hold the desk's write lock. Only files named like
desk-backup-20250131-040000Z.db (UTC) are the desk's: rotation deletes the oldest of those beyond
BACKUP_KEEP and never touches anything else in the folder. A failed backup is logged as an error
and handed to DailyBackups.on_failure on the timers' next turn; it never stops the desk.
"""

from __future__ import annotations

import calendar
import logging
import os
import re
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import db

log = logging.getLogger("desk.backup")

DAY = 24 * 3600.0
CHECK_EVERY = 600.0             # seconds between looks at whether a backup is due (one folder listing)
RETRY_AFTER_FAILURE = 3600.0    # a failed backup is tried again an hour later, not at every look
STALE_PART_AGE = 3600.0         # a .part file this old is a leftover of an interrupted backup
PREFIX = "desk-backup-"
PART = ".part"
STAMP = "%Y%m%d-%H%M%S"
NAME = re.compile(r"desk-backup-(\d{8}-\d{6})Z\.db")

FailureHook = Callable[[sqlite3.Connection, float, str], None]


class BackupError(Exception):
    """A backup could not be made, or the copy did not verify; the message says why in plain words."""


@dataclass(frozen=True)
class Backup:
    """One of the desk's automatic backups."""

    path: Path
    made_at: float      # unix time, read from the file's name


def backup_name(now: float) -> str:
    """The file name of an automatic backup made at `now` (UTC, so names sort by time)."""
    return f"{PREFIX}{time.strftime(STAMP, time.gmtime(now))}Z.db"


def list_backups(folder: str | Path) -> list[Backup]:
    """The desk's automatic backups in `folder`, oldest first; files with other names are ignored."""
    try:
        entries = list(Path(folder).iterdir())
    except (FileNotFoundError, NotADirectoryError):
        return []
    found = []
    for path in entries:
        match = NAME.fullmatch(path.name)
        if not match or not path.is_file():
            continue
        try:
            made_at = float(calendar.timegm(time.strptime(match.group(1), STAMP)))
        except ValueError:          # digits in the right places, but not a date: not ours
            continue
        found.append(Backup(path, made_at))
    return sorted(found, key=lambda b: (b.made_at, b.path.name))


def newest_backup(folder: str | Path) -> Backup | None:
    """The most recent automatic backup in `folder`, or None."""
    backups = list_backups(folder)
    return backups[-1] if backups else None


def backup_due(folder: str | Path, now: float) -> bool:
    """True when there is no automatic backup yet or the newest is a day old or older."""
    newest = newest_backup(folder)
    return newest is None or now - newest.made_at >= DAY


def make_backup(database_path: str | Path, target: str | Path) -> int:
    """Copy the live database into `target` with the online backup API and verify it; returns its size."""
    source, target = Path(database_path), Path(target)
    if not source.is_file():
        raise BackupError(f"there is no database at {source} (check DATABASE_PATH)")
    if target.exists():
        raise BackupError(f"{target} already exists; a backup never overwrites a file, choose another name")
    if not target.parent.is_dir():
        raise BackupError(f"the folder {target.parent} does not exist")
    part = target.with_name(target.name + PART)
    _remove(part)
    try:
        _copy(source, part)
        verify(part)
        os.replace(part, target)
        _sync_folder(target.parent)
    except BaseException:
        _remove(part)       # never leave a half-made copy behind
        raise
    return target.stat().st_size


def verify(path: str | Path) -> int:
    """Check a copy with PRAGMA integrity_check; returns its schema version, raises BackupError if bad."""
    try:
        conn = sqlite3.connect(path)
        try:
            problems = db.integrity_check(conn)
            version = db.schema_version(conn)
        finally:
            conn.close()
    except sqlite3.Error as exc:
        raise BackupError(f"the copy {path} cannot be read: {exc}") from exc
    if problems != ["ok"]:
        raise BackupError(f"the copy {path} failed the integrity check: {'; '.join(problems[:3])}")
    return version


def rotate(folder: str | Path, keep: int) -> list[Path]:
    """Delete the desk's oldest automatic backups beyond the newest `keep`; returns the deleted files."""
    backups = list_backups(folder)
    doomed = [b.path for b in backups[:max(0, len(backups) - keep)]]
    for path in doomed:
        path.unlink(missing_ok=True)
        log.info("deleted the old backup %s (BACKUP_KEEP keeps the newest %s)", path.name, keep)
    return doomed


def _copy(source: Path, part: Path) -> None:
    """The online backup itself: every page from one read snapshot of the source, in one step."""
    try:
        src = sqlite3.connect(source, timeout=30)
        try:
            dst = sqlite3.connect(part)
            try:
                # pages=-1: all in one step. Done in several steps, every write of the desk in between
                # would restart the copy, and a busy desk could keep it from ever finishing.
                src.backup(dst, pages=-1)
                db.use_rollback_journal(dst)
            finally:
                dst.close()
        finally:
            src.close()
    except sqlite3.Error as exc:
        raise BackupError(f"could not copy {source}: {exc}") from exc


def _remove(part: Path) -> None:
    """Delete a temporary copy and the rollback journal SQLite may have left beside it."""
    part.unlink(missing_ok=True)
    part.with_name(part.name + "-journal").unlink(missing_ok=True)


def _sync_folder(folder: Path) -> None:
    """Make the rename itself durable, so a power cut cannot undo a backup reported as made."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def remove_stale_parts(folder: Path, now: float) -> None:
    """Delete .part files of the desk's backups that an interrupted run (a kill, a power cut) left."""
    for part in folder.glob(f"{PREFIX}*{PART}"):
        if now - part.stat().st_mtime > STALE_PART_AGE:
            _remove(part)


def report_failure(conn: sqlite3.Connection, now: float, reason: str) -> None:
    """The default on_failure: the ERROR line in the log is the only report.

    The desk passes its own (bot.py: desk.team.report_backup_failure tells the admins). It is
    called on the timers thread inside its transaction, so it can queue outbox messages with
    desk.Desk(conn, settings, now).
    """


class DailyBackups:
    """The timed job for Timers.add: a verified backup into `folder` once a day, the newest `keep` kept."""

    def __init__(self, database_path: str | Path, folder: str | Path, keep: int,
                 on_failure: FailureHook = report_failure) -> None:
        self.database_path = Path(database_path)
        self.folder = Path(folder)
        self.keep = keep
        self.on_failure = on_failure
        self.retry_at = 0.0
        self._failures: list[str] = []     # reasons not yet handed to on_failure
        self._lock = threading.Lock()
        self._worker: threading.Thread | None = None

    def __call__(self, conn: sqlite3.Connection, now: float) -> None:
        """Report the failures since the last turn, then start a backup on its own thread if one is due."""
        with self._lock:
            failures, self._failures = self._failures, []
        for reason in failures:
            self.on_failure(conn, now, reason)
        if self.running() or now < self.retry_at or not backup_due(self.folder, now):
            return
        self._worker = threading.Thread(target=self.run, args=(now,), name="backup", daemon=True)
        self._worker.start()

    def running(self) -> bool:
        """True while a backup is being made."""
        return self._worker is not None and self._worker.is_alive()

    def wait(self, timeout: float | None = None) -> None:
        """Wait for a backup in progress to finish."""
        if self._worker is not None:
            self._worker.join(timeout)

    def run(self, now: float) -> Path | None:
        """Make, verify and rotate one backup now; a failure is logged and kept for on_failure, never raised."""
        started = time.monotonic()
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            remove_stale_parts(self.folder, now)
            target = self.folder / backup_name(now)
            size = make_backup(self.database_path, target)
            rotate(self.folder, self.keep)
        except (BackupError, OSError) as exc:
            self.retry_at = now + RETRY_AFTER_FAILURE
            log.error("automatic backup failed: %s; the desk goes on, and the backup is tried again in %.0f min",
                      exc, RETRY_AFTER_FAILURE / 60)
            with self._lock:
                self._failures.append(str(exc))
            return None
        log.info("backup %s made and verified (%.1f MB in %.1f s)", target, size / 1e6, time.monotonic() - started)
        return target
