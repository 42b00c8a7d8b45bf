"""The /history file (desk/history.py): every dialog and message in order, stamped in UTC."""

from __future__ import annotations

import io
import random
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

import db
import texts
from desk import clock
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


def offset_changes(zone: ZoneInfo, years: tuple[int, ...]) -> list[int]:
    """The moments (to the second) when the zone's offset changed in those years."""
    def offset(ts: int):
        return datetime.fromtimestamp(ts, zone).utcoffset()
    found = []
    for year in years:
        day = int(datetime(year, 1, 1, tzinfo=UTC).timestamp())
        for _ in range(366):
            low, high = day, day + 86400
            if offset(low) != offset(high):
                while high - low > 1:
                    middle = (low + high) // 2
                    low, high = (middle, high) if offset(middle) == offset(low) else (low, middle)
                found.append(high)
            day += 86400
    return found


@pytest.mark.parametrize("tz", ["UTC", "Europe/Moscow", "America/New_York", "Australia/Lord_Howe",
                                "Asia/Kathmandu", "Africa/Monrovia", "Europe/Amsterdam"])
def test_the_history_files_stamps_are_exactly_clock_stamp_across_offset_changes(tz):
    # Stamps caches a minute at a time. Each zone here changed its offset (summer time, half an
    # hour, offsets with seconds before 1937 and 1972); the moments crowd around every change.
    rng = random.Random(tz)
    zone = ZoneInfo(tz)
    changes = offset_changes(zone, (1936, 1937, 1971, 1972, 1985, 1986, 2011, 2014, 2024))
    assert tz == "UTC" or changes
    moments = sorted([rng.uniform(-1e9, 2e9) for _ in range(2000)]
                     + [c + d + rng.random() for c in changes for d in range(-90, 90)]
                     + [1_700_000_059.9999996, 1_700_000_059.9999994, 0.0, 59.99999999, -0.5])
    stamps = clock.Stamps(tz)
    assert [stamps(ts) for ts in moments] == [clock.stamp(ts, tz) for ts in moments]
    fresh = [-10.25, -30.0, -59.5, 30.0, -0.5, 0.25]        # the minutes around 1970 from a new Stamps
    stamps = clock.Stamps(tz)
    assert [stamps(ts) for ts in fresh] == [clock.stamp(ts, tz) for ts in fresh]
