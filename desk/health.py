"""/health for admins: is anything stuck? The outbox, failed updates, the queue, the database, backups.

Anything abnormal is marked with ⚠️ at the start of its line, and a summary line says first
whether all is well, so a person sees a problem before reading the rest.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass

import backup
import db
import texts
from desk import Desk, clock

STUCK_CALL = 5 * 60              # a call pending longer than this is stuck
BACKUP_STALE = 2 * 24 * 3600     # with backups on, none for this long is a problem
VERSION = "2.0"
STARTED_AT = time.time()         # when this process loaded the desk: uptime counts from here


@dataclass(frozen=True)
class Line:
    """One line of the report: its text, and whether it is abnormal."""

    text: str
    bad: bool = False


def database_size(path: str) -> int:
    """Bytes of the database file and its write-ahead log."""
    return sum(os.path.getsize(p) for p in (path, path + "-wal") if os.path.exists(p))


def _size(n: int) -> str:
    return f"{n / (1 << 20):.1f} MB" if n >= 1 << 20 else f"{n / 1024:.0f} KB"


def lines(desk: Desk, lang: str, started_at: float = STARTED_AT) -> list[Line]:
    """The report's lines, each marked abnormal or not."""
    t = texts.t
    out = [Line(t(lang, "health_version", version=VERSION, schema=db.SCHEMA_VERSION,
                  uptime=clock.duration(desk.now - started_at, lang)))]
    box = db.outbox_health(desk.conn, desk.now - 86400)
    oldest = desk.now - box["oldest_pending"] if box["oldest_pending"] is not None else None
    out.append(Line(t(lang, "health_outbox", pending=box["pending"], oldest=clock.duration(oldest, lang)),
                    bad=oldest is not None and oldest > STUCK_CALL))
    out.append(Line(t(lang, "health_failed_calls", count=box["failed_recently"]), bad=box["failed_recently"] > 0))
    failed = db.count_failed_updates(desk.conn)
    out.append(Line(t(lang, "health_failed_updates", count=failed), bad=failed > 0))
    since = db.longest_wait_since(desk.conn)
    out.append(Line(t(lang, "health_queue", count=db.queue_length(desk.conn),
                      longest=clock.duration(desk.now - since if since is not None else None, lang))))
    out.append(Line(t(lang, "health_database", size=_size(database_size(desk.settings.database_path)))))
    if not desk.settings.backup_dir:
        out.append(Line(t(lang, "health_backups_off")))
    else:
        newest = backup.newest_backup(desk.settings.backup_dir)
        age = desk.now - newest.made_at if newest is not None else None
        out.append(Line(t(lang, "health_backup", name=newest.path.name if newest else "—",
                          age=clock.duration(age, lang)),
                        bad=age is None or age > BACKUP_STALE))
    return out


def report(desk: Desk, lang: str, started_at: float = STARTED_AT) -> str:
    """The /health text: a verdict first, then every line, abnormal ones marked."""
    found = lines(desk, lang, started_at)
    problems = sum(line.bad for line in found)
    head = texts.t(lang, "health_problems", count=problems) if problems else texts.t(lang, "health_ok")
    return head + "\n\n" + "\n".join(("⚠️ " if line.bad else "• ") + line.text for line in found)
