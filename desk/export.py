"""/export for admins: the dialogs of the last days as CSV, streamed row by row like the history file."""

from __future__ import annotations

import csv
import io
import sqlite3
from typing import IO

import db
from desk import clock

COLUMNS = ("dialog_id", "client_id", "client_name", "agent_id", "agent_name", "context", "created",
           "assigned", "first_response", "closed", "messages_from_client", "messages_from_agent", "rating")
DEFAULT_DAYS = 30
MAX_DAYS = 3660


def write_dialogs_csv(conn: sqlite3.Connection, since: float, tz: str, out: IO[bytes]) -> int:
    """Write the dialogs created since `since` to `out` as UTF-8 CSV with a header; returns the row count."""
    # utf-8-sig: the byte-order mark makes spreadsheet programs read the file as UTF-8.
    text = io.TextIOWrapper(out, encoding="utf-8-sig", newline="")
    writer = csv.writer(text)
    writer.writerow(COLUMNS)
    count = 0
    for d in db.iter_dialogs_since(conn, since):
        writer.writerow([d["id"], d["client_id"], d["client_name"], d["agent_id"] or "", d["agent_name"] or "",
                         d["context"] or "", clock.iso(d["created_at"], tz), clock.iso(d["assigned_at"], tz),
                         clock.iso(d["first_response_at"], tz), clock.iso(d["closed_at"], tz),
                         d["from_client"], d["from_agent"], d["rating"] or ""])
        count += 1
    text.flush()
    text.detach()          # the caller owns `out`
    return count
