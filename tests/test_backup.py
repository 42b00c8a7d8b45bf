"""Backups: online copies taken while the desk writes, their verification, and the daily automatic ones."""

from __future__ import annotations

import logging
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from harness import BOT_TOKEN, ROOT, SUPPORT_TOKEN, BotProcess, assert_no_secrets

import backup
import db
import texts
from timers import Timers

DAY = 24 * 3600
T0 = 1_767_225_600.0        # 2026-01-01 00:00:00 UTC


def counted(path: Path, table: str) -> int:
    c = sqlite3.connect(path, timeout=10)
    try:
        return c.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]
    finally:
        c.close()


def assert_sound_copy(path: Path) -> sqlite3.Connection:
    """The copy opens by itself, passes integrity_check and foreign keys, at the current schema."""
    assert not Path(f"{path}-wal").exists() and not Path(f"{path}.part").exists()
    c = sqlite3.connect(f"file:{path}?mode=ro", uri=True)    # read-only: it needs no -wal or -shm
    assert db.integrity_check(c) == ["ok"]
    assert db.schema_version(c) == db.SCHEMA_VERSION
    assert c.execute("PRAGMA foreign_key_check").fetchall() == []
    assert c.execute("PRAGMA journal_mode").fetchone()[0] == "delete"
    return c


# --- Names, due, rotation ------------------------------------------------------------------------


def test_only_files_named_like_the_desks_backups_count(tmp_path):
    for name in ("desk-backup-20260101-000000Z.db", "desk-backup-20251231-120000Z.db",
                 "desk-backup-20261399-000000Z.db",              # not a date
                 "desk-backup-20260101-000000Z.db.part", "my-backup.db", "support.db", "notes.txt"):
        (tmp_path / name).write_bytes(b"")
    (tmp_path / "desk-backup-20260102-000000Z.db").mkdir()         # a folder, not a backup
    found = backup.list_backups(tmp_path)
    assert [b.path.name for b in found] == ["desk-backup-20251231-120000Z.db", "desk-backup-20260101-000000Z.db"]
    assert found[-1].made_at == T0
    assert backup.backup_name(T0) == "desk-backup-20260101-000000Z.db"
    assert backup.list_backups(tmp_path / "missing") == []


def test_a_backup_is_due_when_none_is_younger_than_a_day(tmp_path):
    assert backup.backup_due(tmp_path, T0)
    (tmp_path / backup.backup_name(T0)).write_bytes(b"")
    assert not backup.backup_due(tmp_path, T0 + DAY - 1)
    assert backup.backup_due(tmp_path, T0 + DAY)


def test_rotation_keeps_exactly_backup_keep_and_touches_nothing_else(conn, tmp_path):
    folder = tmp_path / "backups"
    folder.mkdir()
    foreign = ["notes.txt", "desk-backup-by-hand.db", "support-2025.db"]
    for name in foreign:
        (folder / name).write_text("keep me")
    daily = backup.DailyBackups(tmp_path / "unit.db", folder, keep=3)
    for day in range(6):
        assert daily.run(T0 + day * DAY) is not None
        assert len(backup.list_backups(folder)) == min(day + 1, 3)
    kept = [b.path.name for b in backup.list_backups(folder)]
    assert kept == [backup.backup_name(T0 + day * DAY) for day in (3, 4, 5)]
    for name in foreign:
        assert (folder / name).read_text() == "keep me"
    for path in folder.glob("desk-backup-2*"):
        assert_sound_copy(path).close()


def test_the_timed_job_makes_one_backup_a_day_on_a_thread_of_its_own(conn, tmp_path):
    folder = tmp_path / "backups"                     # made by the job
    daily = backup.DailyBackups(tmp_path / "unit.db", folder, keep=7)
    timers = Timers(str(tmp_path / "unit.db"))
    timers.add("backup", backup.CHECK_EVERY, daily)
    timers.run_due(conn, T0)                          # start-up: none yet, so one is made
    daily.wait(30)
    assert [b.made_at for b in backup.list_backups(folder)] == [T0]
    for later in (T0 + backup.CHECK_EVERY, T0 + DAY - 60):
        daily(conn, later)                            # not due: no thread is started
        assert not daily.running()
    daily(conn, T0 + DAY)
    daily.wait(30)
    assert [b.made_at for b in backup.list_backups(folder)] == [T0, T0 + DAY]


def test_a_failed_backup_is_logged_reported_and_retried_an_hour_later(conn, tmp_path, caplog):
    reports: list[tuple[float, str]] = []
    daily = backup.DailyBackups(tmp_path / "missing.db", tmp_path / "backups", keep=7,
                                on_failure=lambda c, now, reason: reports.append((now, reason)))
    with caplog.at_level(logging.INFO, logger="desk.backup"):
        daily(conn, T0)
        daily.wait(30)
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 1 and "automatic backup failed: there is no database" in errors[0].getMessage()
    assert reports == []                              # handed over on the timers' next turn
    daily(conn, T0 + backup.CHECK_EVERY)
    assert reports == [(T0 + backup.CHECK_EVERY, str(errors[0].args[0]))]
    assert not daily.running()                        # and not tried again at once
    daily(conn, T0 + backup.RETRY_AFTER_FAILURE)
    daily.wait(30)
    assert len([r for r in caplog.records if r.levelno == logging.ERROR]) == 2
    assert backup.list_backups(tmp_path / "backups") == []


def test_the_default_failure_hook_exists_for_the_admins_report(conn):
    backup.report_failure(conn, T0, "disk full")      # wired to the admins later; must not raise now


# --- make_backup and verify ----------------------------------------------------------------------


def test_a_copy_is_self_contained_and_never_overwrites(conn, tmp_path):
    with db.atomic(conn):
        db.add_client(conn, 7, "Vera", None, "en", T0)
    target = tmp_path / "copy.db"
    size = backup.make_backup(tmp_path / "unit.db", target)
    assert size == target.stat().st_size > 0
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("copy")) == ["copy.db"]
    copy = assert_sound_copy(target)
    assert copy.execute("SELECT name FROM clients").fetchall() == [("Vera",)]
    copy.close()
    with pytest.raises(backup.BackupError, match="already exists"):
        backup.make_backup(tmp_path / "unit.db", target)


@pytest.mark.parametrize("case, message", [
    ("no database", "there is no database"),
    ("no folder", "does not exist"),
    ("not a database", "could not copy"),
])
def test_a_backup_that_cannot_be_made_says_why_and_leaves_nothing(tmp_path, case, message):
    source, target = tmp_path / "desk.db", tmp_path / "copy.db"
    if case == "no folder":
        db.connect(source).close()
        target = tmp_path / "missing" / "copy.db"
    elif case == "not a database":
        source.write_text("not a database at all\n" * 200)
    with pytest.raises(backup.BackupError, match=message):
        backup.make_backup(source, target)
    assert not target.exists()
    assert not list(tmp_path.rglob("*.part")) and not list(tmp_path.rglob("*-journal"))


def test_verify_catches_a_damaged_copy(tmp_path):
    path = tmp_path / "damaged.db"
    c = sqlite3.connect(path)
    c.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, body TEXT)")
    c.execute("CREATE INDEX t_body ON t (body)")
    c.executemany("INSERT INTO t (body) VALUES (?)", [(f"row {n} " * 20,) for n in range(2000)])
    c.commit()
    c.close()
    assert backup.verify(path) == 0
    data = bytearray(path.read_bytes())
    page = 4096
    data[5 * page + 100: 5 * page + 900] = b"\xff" * 800         # scribble over a b-tree page
    path.write_bytes(bytes(data))
    with pytest.raises(backup.BackupError, match="integrity check|cannot be read"):
        backup.verify(path)


# --- With the real bot process -------------------------------------------------------------------


def test_a_backup_made_while_the_bot_writes_is_whole_and_consistent(fake, desk, tmp_path):
    """Clients keep writing while backups are taken (one through `python bot.py backup`, which
    must not need the desk's lock); each copy is a consistent snapshot of a moment in between."""
    stop = threading.Event()

    def client_traffic() -> None:
        users = [fake.user(200 + n, f"Client{n}") for n in range(4)]
        sent = 0
        while not stop.is_set() and sent < 1000:
            users[sent % len(users)].send(f"message {sent}")
            sent += 1
            time.sleep(0.01)

    def processed() -> int:
        return counted(desk.db_path, "processed_updates")

    writer = threading.Thread(target=client_traffic, daemon=True)
    writer.start()
    copies = []
    try:
        for n in range(3):
            fake.wait_for(lambda n=n: processed() >= 25 * (n + 1), 30, "the desk to handle more messages")
            target = tmp_path / f"copy{n}.db"
            before = processed()
            if n == 0:
                result = subprocess.run([sys.executable, str(ROOT / "bot.py"), "backup", str(target)],
                                        cwd=tmp_path, env=desk.env, capture_output=True, text=True, timeout=60)
                assert result.returncode == 0, result.stderr
                assert_no_secrets(result.stdout + result.stderr)
            else:
                backup.make_backup(desk.db_path, target)
            copies.append((target, before, processed()))
        fake.wait_for(lambda: processed() > copies[-1][2], 30, "the desk to go on writing after the backups")
    finally:
        stop.set()
        writer.join(30)
    desk.settle(timeout=60)
    for target, before, after in copies:
        copy = assert_sound_copy(target)
        in_copy = copy.execute("SELECT COUNT(*) FROM processed_updates").fetchone()[0]
        copy.close()
        assert before <= in_copy <= after     # everything committed before the backup began, and no more
    assert desk.proc.poll() is None


def test_the_running_desk_backs_up_at_start_and_rotates(fake, tmp_path):
    folder = tmp_path / "backups"
    folder.mkdir()
    old = ["desk-backup-20250101-000000Z.db", "desk-backup-20250102-000000Z.db", "desk-backup-20250103-000000Z.db"]
    for name in old:
        (folder / name).write_bytes(b"")
    (folder / "notes.txt").write_text("mine")
    desk = BotProcess(fake, tmp_path, BACKUP_DIR=str(folder), BACKUP_KEEP="2").start()
    try:
        fake.wait_for(lambda: [b.path.name for b in backup.list_backups(folder)][:1] == old[2:]
                      and len(backup.list_backups(folder)) == 2, 30, "the start-up backup and its rotation")
        new = backup.newest_backup(folder)
        assert new is not None and new.path.name not in old
        assert_sound_copy(new.path).close()
        assert (folder / "notes.txt").read_text() == "mine"
        assert "backup" in desk.log() and "made and verified" in desk.log()
    finally:
        assert desk.stop() == 0
    assert_no_secrets(desk.log())


def test_a_failed_backup_is_logged_and_the_desk_goes_on(fake, tmp_path):
    not_a_folder = tmp_path / "backups"
    not_a_folder.write_text("a file where the folder should be")
    desk = BotProcess(fake, tmp_path, BACKUP_DIR=str(not_a_folder)).start()
    try:
        fake.wait_for(lambda: "automatic backup failed" in desk.log(), 30, "the failure to be logged")
        assert "ERROR desk.backup: automatic backup failed" in desk.log()
        client = fake.user(10, "Carl")
        client.send("/start")
        desk.settle()
        assert client.texts() == [texts.t("en", "ask_name")]
    finally:
        status = desk.stop()
    log = desk.log()
    assert status == 0, log[-3000:]
    assert "Traceback" not in log
    assert_no_secrets(log)
    assert BOT_TOKEN not in log and SUPPORT_TOKEN not in log
