"""The /history file: a client's every dialog and message as plain UTF-8 text, streamed row by row.

An edited message shows as it was first sent, followed by each edit with its time."""

from __future__ import annotations

import sqlite3
from typing import IO

import db
import texts
from desk import clock


def write_history(conn: sqlite3.Connection, client: sqlite3.Row, lang: str, now: float, out: IO[bytes],
                  tz: str = "UTC") -> int:
    """Write a client's whole history to `out`, times in zone `tz`; returns the message count."""
    out.write((texts.t(lang, "history_title", name=client["name"], client_id=client["user_id"],
                       time=clock.stamp(now, tz), zone=tz) + "\n").encode("utf-8"))
    who_client, who_agent = texts.t(lang, "who_client"), texts.t(lang, "who_agent")
    who_note = texts.t(lang, "who_note")
    stamp = clock.Stamps(tz)
    count = 0
    dialog = None
    lines: list[str] = []
    for row in db.iter_client_history(conn, client["user_id"]):
        if row["dialog_id"] != dialog:
            dialog = row["dialog_id"]
            lines.append("\n" + texts.t(lang, "history_dialog", dialog_id=dialog))
            if row["context"]:
                lines.append(texts.t(lang, "context_line", context=row["context"]))    # the deep link
        if row["sender"] == "client":
            who = f'{who_client} {row["client_name"]}'
        elif row["kind"] == "note":
            who = f'{who_note} {row["agent_name"]}'
        else:
            who = f'{who_agent} {row["agent_name"]}'
        parts = [texts.media_label(lang, row["content_type"])] if row["content_type"] != "text" else []
        if row["details"]:
            parts.append(row["details"])
        if row["text"]:
            parts.append(row["text"])
        lines.append(f'[{stamp(row["created_at"])}] {who}: {" ".join(parts)}')
        if row["edits"]:
            lines.extend(_edit_lines(conn, row, lang, stamp))
        count += 1
        if len(lines) >= 1000:
            # Written in slices of a thousand lines: few calls, and memory stays flat.
            out.write(("\n".join(lines) + "\n").encode("utf-8"))
            lines.clear()
    if lines:
        out.write(("\n".join(lines) + "\n").encode("utf-8"))
    if count == 0:
        out.write((texts.t(lang, "history_empty") + "\n").encode("utf-8"))
    return count


def _edit_lines(conn: sqlite3.Connection, row: sqlite3.Row, lang: str, stamp: clock.Stamps) -> list[str]:
    """One indented line per edit of a message: when (the time alone on the message's own day), and the new text."""
    day = stamp(row["created_at"])[:10]
    lines = []
    for edit in db.edits_of(conn, row["id"]):
        edited = stamp(edit["edited_at"])
        when = edited[11:] if edited[:10] == day else edited
        mark = texts.t(lang, "history_edited", time=when)
        lines.append(f"    {mark} {edit['text']}" if edit["text"] else f"    {mark}")
    return lines
