"""The /history file (desk/history.py): every dialog and message in order, stamped in UTC."""

from __future__ import annotations

import io

import db
import texts
from desk.history import write_history


def test_history_file_lists_every_message_of_every_dialog_in_order(conn):
    db.add_client(conn, 50, "Zoë <b>", None, "en", 0)
    db.register_agent(conn, 1, "Agatha", None, "en", 0)
    first = db.assign_client(conn, 50, 1, 100)
    db.add_message(conn, dialog_id=first, client_id=50, sender="client", agent_id=None, message_id=1,
                   content_type="text", text="Привет, my order?", entities=None, details=None, now=100)
    db.add_message(conn, dialog_id=first, client_id=50, sender="agent", agent_id=1, message_id=2,
                   content_type="text", text="On its way", entities=None, details=None, now=160)
    db.close_dialog(conn, first, 200)
    second = db.assign_client(conn, 50, 1, 300)
    db.add_message(conn, dialog_id=second, client_id=50, sender="client", agent_id=None, message_id=3,
                   content_type="document", text="the invoice", entities=None, details="inv.pdf", now=300)
    out = io.BytesIO()
    count = write_history(conn, db.get_client(conn, 50), "en", 86400.0, out)
    lines = out.getvalue().decode("utf-8").splitlines()
    assert count == 3
    assert lines[0] == "Support history of Zoë <b> (id 50), exported 1970-01-02 00:00:00 UTC"
    body = [line for line in lines[1:] if line]
    assert body == [
        texts.t("en", "history_dialog", dialog_id=first),
        "[1970-01-01 00:01:40] Client Zoë <b>: Привет, my order?",
        "[1970-01-01 00:02:40] Agent Agatha: On its way",
        texts.t("en", "history_dialog", dialog_id=second),
        "[1970-01-01 00:05:00] Client Zoë <b>: [document] inv.pdf the invoice",
    ]


def test_history_file_of_a_silent_client_says_so(conn):
    db.add_client(conn, 50, "Ann", None, "ru", 0)
    out = io.BytesIO()
    assert write_history(conn, db.get_client(conn, 50), "ru", 0.0, out) == 0
    assert texts.t("ru", "history_empty") in out.getvalue().decode("utf-8")
