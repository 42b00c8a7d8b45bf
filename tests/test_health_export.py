"""/health and /export for admins, in-process: the report in a normal and an abnormal state, the CSV."""

from __future__ import annotations

import csv
import io

import pytest
from inproc import Desk, People, settings

import db
from desk import Desk as Rules
from desk import export, health
from texts import t


@pytest.fixture
def team(conn, tmp_path):
    return Desk(conn, settings(str(tmp_path / "unit.db"), admin_ids=frozenset({900}), rating=True,
                               backup_dir=str(tmp_path / "backups")))


@pytest.fixture
def crew(team):
    return People(team)


def rules(app: Desk) -> Rules:
    return Rules(app.conn, app.settings, app.now)


def test_health_in_a_normal_state_says_all_is_well(team, crew):
    from backup import backup_name
    folder = team.settings.backup_dir
    import os
    os.makedirs(folder)
    open(os.path.join(folder, backup_name(team.now - 3600)), "wb").close()
    team.conn.execute("UPDATE outbox SET status = 'sent', done_at = ?", (team.now,))
    admin = team.user(900, "Ada")
    admin.send("/health")
    report = admin.last()
    assert report.startswith(t("en", "health_ok"))
    assert "⚠️" not in report
    assert t("en", "health_failed_updates", count=0) in report


def test_health_marks_a_stuck_call_a_failed_update_and_a_missing_backup(team, crew):
    db.enqueue_call(team.conn, 5, "sendMessage", {"text": "x"}, team.now - 600)
    db.record_failed_update(team.conn, 42, "{}", "boom", team.now)
    report = health.report(rules(team), "en")
    assert report.splitlines()[0] == t("en", "health_problems", count=3)
    bad = [line for line in report.splitlines() if line.startswith("⚠️ ")]
    assert any("Outbox" in line for line in bad)
    assert any(t("en", "health_failed_updates", count=1) in line for line in bad)
    assert any("Last backup" in line for line in bad)


def test_health_and_export_are_for_admins_only(team, crew):
    agent = crew.agent()
    client = crew.client()
    for user in (agent, client):
        for command in ("/health", "/export", "/export 7"):
            user.clear()
            user.send(command)
            assert user.texts() == [t("en", "admin_only")]
            assert not user.calls("sendExport")


@pytest.mark.parametrize("arg", ["0", "abc", "-3", "99999", "7 days"])
def test_export_with_a_bad_number_of_days_explains(team, crew, arg):
    admin = team.user(900, "Ada")
    admin.send(f"/export {arg}")
    assert admin.last() == t("en", "export_usage", max_days=export.MAX_DAYS)


def test_export_queues_a_file_of_the_asked_days(team, crew):
    admin = team.user(900, "Ada")
    admin.send("/export")
    admin.send("/export 7")
    calls = admin.calls("sendExport")
    assert [c["days"] for c in calls] == [30, 7]
    assert calls[1]["since"] == pytest.approx(team.now - 7 * 86400)


def test_export_csv_has_every_column_and_survives_awkward_names(team, crew):
    agent = crew.agent()
    client = team.user(60, "Ann")
    client.send("/start spring_sale")
    client.send('Zoë "the, client"\nJr')                 # a name with a quote, a comma... and a newline?
    client.send("hello")
    team.tick(30)
    agent.send("hi there")
    team.tick(60)
    agent.send("/end_chat")
    dialog_id = team.query("SELECT id FROM dialogs")[0][0]
    press = {"callback_query": {"id": "c", "from": client.as_user(), "chat_instance": "x",
                                "data": f"rate:{dialog_id}:5"}}
    team.push(press)
    db.set_client_name(team.conn, 60, 'Zoë "the, client"\nJr')   # names can hold anything the export must survive
    out = io.BytesIO()
    count = export.write_dialogs_csv(team.conn, team.now - 86400, "Europe/Moscow", out)
    assert count == 1
    rows = list(csv.reader(io.StringIO(out.getvalue().decode("utf-8-sig"), newline="")))
    assert rows[0] == list(export.COLUMNS)
    row = dict(zip(rows[0], rows[1], strict=True))
    assert row["dialog_id"] == str(dialog_id)
    assert row["client_id"] == "60" and row["client_name"] == 'Zoë "the, client"\nJr'
    assert row["agent_id"] == str(agent.id) and row["agent_name"] == "Agatha"
    assert row["context"] == "spring_sale"
    assert row["created"].endswith("+03:00") and row["closed"].endswith("+03:00")
    assert row["assigned"] and row["first_response"]
    assert (row["messages_from_client"], row["messages_from_agent"], row["rating"]) == ("1", "1", "5")


def test_export_leaves_out_older_dialogs(team, crew):
    agent = crew.agent()
    client = crew.client_in_dialog(agent)
    agent.send("/end_chat")
    team.tick(10 * 86400)
    client.send("again")
    out = io.BytesIO()
    assert export.write_dialogs_csv(team.conn, team.now - 86400, "UTC", out) == 1

