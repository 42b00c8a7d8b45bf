"""The command line: --help, `check` and `backup` exit statuses and messages, and the first `make run`."""

from __future__ import annotations

import shutil
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from harness import BOT_TOKEN, ROOT, SUPPORT_TOKEN, assert_no_secrets

import db

GOOD = {"BOT_TOKEN": BOT_TOKEN, "SUPPORT_TOKEN": SUPPORT_TOKEN}


def run(args: list[str], env: dict[str, str], cwd: Path, timeout: float = 60) -> subprocess.CompletedProcess:
    """`python bot.py ARGS` as an operator types it, with only `env` as its environment."""
    result = subprocess.run([sys.executable, str(ROOT / "bot.py"), *args], cwd=cwd,
                            env={"PATH": "/usr/bin:/bin", **env}, capture_output=True, text=True,
                            timeout=timeout, stdin=subprocess.DEVNULL)
    assert_no_secrets(result.stdout + result.stderr)
    return result


def make_database(path: Path, rows: int = 3) -> None:
    """A database at the current schema with a few clients in it."""
    conn = db.connect(path)
    db.init_db(conn)
    for n in range(rows):
        with db.atomic(conn):
            db.add_client(conn, 100 + n, f"client {n}", None, "en", 0.0)
    conn.close()


@pytest.fixture
def env(fake, tmp_path) -> dict[str, str]:
    """Good settings pointing at the fake Bot API and a database in tmp_path."""
    return {**GOOD, "TELEGRAM_API_URL": fake.url, "DATABASE_PATH": str(tmp_path / "desk.db")}


# --- --help --------------------------------------------------------------------------------------


def test_help_explains_the_commands_to_a_newcomer(tmp_path):
    result = run(["--help"], {}, tmp_path)
    assert result.returncode == 0
    out = result.stdout
    for words in ("usage: python bot.py", "run", "check", "backup", ".env", "BOT_TOKEN", "SUPPORT_TOKEN",
                  "python bot.py check", "python bot.py backup"):
        assert words in out


@pytest.mark.parametrize("command, words", [
    ("check", ["exit status", "0  all is well", "1  Telegram", "2  a setting", "DATABASE_PATH"]),
    ("backup", ["exit status", "FILE", "integrity_check", "never overwritten", "restore"]),
    ("run", ["Run the desk"]),
])
def test_each_command_has_its_own_help(tmp_path, command, words):
    result = run([command, "--help"], {}, tmp_path)
    assert result.returncode == 0
    for word in words:
        assert word in result.stdout


def test_an_unknown_command_is_a_usage_error(tmp_path):
    result = run(["chek"], GOOD, tmp_path)
    assert result.returncode == 2
    assert "invalid choice: 'chek'" in result.stderr and "check" in result.stderr


def test_backup_without_a_file_is_a_usage_error(tmp_path):
    result = run(["backup"], GOOD, tmp_path)
    assert result.returncode == 2
    assert "FILE" in result.stderr


# --- check ---------------------------------------------------------------------------------------


def test_check_all_well_prints_the_bots_username(env, tmp_path):
    make_database(tmp_path / "desk.db")
    result = run(["check"], env, tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    assert "settings: ok" in result.stdout
    assert f"schema version {db.SCHEMA_VERSION} (current)" in result.stdout
    assert "@desk_test_bot" in result.stdout
    assert "automatic backups are off" in result.stdout
    assert "journey: 0 intake questions, 0 FAQ entries, working hours always open (UTC), 0 admins" in result.stdout


def test_check_says_what_the_journey_files_hold(env, tmp_path):
    from pathlib import Path
    root = Path(__file__).resolve().parent.parent
    make_database(tmp_path / "desk.db")
    env = {**env, "INTAKE_FILE": str(root / "intake.example.toml"), "FAQ_FILE": str(root / "faq.example.toml"),
           "WORKING_HOURS": "Mon-Fri 09:00-18:00", "ADMIN_IDS": "5,6"}
    result = run(["check"], env, tmp_path)
    assert result.returncode == 0, result.stderr
    line = next(x for x in result.stdout.splitlines() if x.startswith("journey: "))
    assert " 0 intake" not in line and " 0 FAQ" not in line and "working hours set" in line and "2 admins" in line


def test_check_a_database_not_made_yet_is_fine_and_is_not_created(env, tmp_path):
    result = run(["check"], env, tmp_path)
    assert result.returncode == 0, result.stderr
    assert "does not exist yet; the desk creates it" in result.stdout
    assert not (tmp_path / "desk.db").exists()


def test_check_a_database_in_a_missing_folder_exits_2(env, tmp_path):
    result = run(["check"], {**env, "DATABASE_PATH": str(tmp_path / "nowhere" / "desk.db")}, tmp_path)
    assert result.returncode == 2
    assert "nowhere" in result.stderr and "does not exist" in result.stderr
    assert "@desk_test_bot" in result.stdout          # the other checks still ran


def test_check_a_database_from_a_newer_desk_exits_2_saying_so(env, tmp_path):
    make_database(tmp_path / "desk.db")
    conn = sqlite3.connect(tmp_path / "desk.db")
    conn.execute(f"PRAGMA user_version = {db.SCHEMA_VERSION + 1}")
    conn.close()
    result = run(["check"], env, tmp_path)
    assert result.returncode == 2
    assert f"schema version {db.SCHEMA_VERSION + 1}, newer than this desk understands" in result.stderr


def test_check_an_older_database_is_fine_and_its_upgrade_announced(env, tmp_path):
    make_database(tmp_path / "desk.db")
    conn = sqlite3.connect(tmp_path / "desk.db")
    conn.execute(f"PRAGMA user_version = {db.SCHEMA_VERSION - 1}")
    conn.close()
    result = run(["check"], env, tmp_path)
    assert result.returncode == 0, result.stderr
    assert f"upgrades it to {db.SCHEMA_VERSION}" in result.stdout


def test_check_a_file_that_is_not_a_database_exits_2(env, tmp_path):
    (tmp_path / "desk.db").write_text("these are notes, not a database\n" * 100)
    result = run(["check"], env, tmp_path)
    assert result.returncode == 2
    assert "cannot be opened as a SQLite database" in result.stderr


def test_check_a_token_telegram_refuses_exits_1(fake, env, tmp_path):
    fake.faults.reject_token = True
    result = run(["check"], env, tmp_path)
    assert result.returncode == 1
    assert "the token was refused" in result.stderr and "BOT_TOKEN" in result.stderr


def test_check_an_unreachable_bot_api_exits_1_without_retrying(env, tmp_path):
    port = _closed_port()
    result = run(["check"], {**env, "TELEGRAM_API_URL": f"http://127.0.0.1:{port}"}, tmp_path, timeout=30)
    assert result.returncode == 1
    assert f"cannot reach the Bot API at http://127.0.0.1:{port}" in result.stderr


@pytest.mark.parametrize("setting, value", [
    ("BACKUP_KEEP", "many"), ("BACKUP_KEEP", "0"), ("BACKUP_KEEP", "-3"), ("BACKUP_KEEP", "2.5"),
    ("SUPPORT_TOKEN", "short"),
])
def test_check_a_malformed_setting_exits_2_with_one_line_naming_it(env, tmp_path, setting, value):
    result = run(["check"], {**env, setting: value}, tmp_path)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and setting in lines[0]
    assert result.stdout == ""


def test_the_desk_itself_refuses_a_malformed_backup_keep(env, tmp_path):
    result = run([], {**env, "BACKUP_KEEP": "seven"}, tmp_path)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "BACKUP_KEEP" in lines[0]


def test_check_reports_the_newest_automatic_backup(env, tmp_path):
    make_database(tmp_path / "desk.db")
    folder = tmp_path / "backups"
    folder.mkdir()
    (folder / "desk-backup-20240101-030000Z.db").write_bytes(b"")
    (folder / "desk-backup-20240102-030000Z.db").write_bytes(b"")
    result = run(["check"], {**env, "BACKUP_DIR": str(folder), "BACKUP_KEEP": "5"}, tmp_path)
    assert result.returncode == 0, result.stderr
    assert "the newest 5 kept" in result.stdout and "desk-backup-20240102-030000Z.db" in result.stdout


def test_check_a_backup_dir_that_is_a_file_exits_2(env, tmp_path):
    (tmp_path / "backups").write_text("")
    result = run(["check"], {**env, "BACKUP_DIR": str(tmp_path / "backups")}, tmp_path)
    assert result.returncode == 2
    assert "is a file, not a folder" in result.stderr


# --- backup --------------------------------------------------------------------------------------


def test_backup_writes_a_verified_copy(env, tmp_path):
    make_database(tmp_path / "desk.db", rows=5)
    result = run(["backup", "copy.db"], env, tmp_path)
    assert result.returncode == 0, result.stderr
    assert "copy.db" in result.stdout and "passed the integrity check" in result.stdout
    copy = sqlite3.connect(tmp_path / "copy.db")
    assert db.integrity_check(copy) == ["ok"]
    assert copy.execute("SELECT COUNT(*) FROM clients").fetchone()[0] == 5
    copy.close()


def test_backup_into_a_folder_gets_a_dated_name(env, tmp_path):
    make_database(tmp_path / "desk.db")
    (tmp_path / "saved").mkdir()
    result = run(["backup", "saved"], env, tmp_path)
    assert result.returncode == 0, result.stderr
    [made] = list((tmp_path / "saved").iterdir())
    assert made.name.startswith("desk-backup-") and made.name.endswith("Z.db")


def test_backup_never_overwrites_a_file(env, tmp_path):
    make_database(tmp_path / "desk.db")
    (tmp_path / "copy.db").write_text("precious")
    result = run(["backup", "copy.db"], env, tmp_path)
    assert result.returncode == 1
    assert "already exists" in result.stderr
    assert (tmp_path / "copy.db").read_text() == "precious"


@pytest.mark.parametrize("case", ["no database", "no folder"])
def test_backup_that_cannot_be_made_exits_1_saying_why(env, tmp_path, case):
    if case == "no database":
        target, words = "copy.db", "there is no database"
    else:
        make_database(tmp_path / "desk.db")
        target, words = "missing/copy.db", "does not exist"
    result = run(["backup", target], env, tmp_path)
    assert result.returncode == 1
    assert result.stderr.startswith("backup failed:") and words in result.stderr
    assert not list(tmp_path.rglob("*.part"))


def test_backup_with_a_malformed_setting_exits_2(env, tmp_path):
    result = run(["backup", "copy.db"], {**env, "BOT_TOKEN": "nonsense"}, tmp_path)
    assert result.returncode == 2
    assert "BOT_TOKEN" in result.stderr


# --- python bot.py run, and the first make run ---------------------------------------------------


def test_run_is_the_same_as_no_command(fake, env, tmp_path):
    before = fake.getupdates_calls
    proc = subprocess.Popen([sys.executable, str(ROOT / "bot.py"), "run"], cwd=tmp_path,
                            env={"PATH": "/usr/bin:/bin", **env}, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, stdin=subprocess.DEVNULL)
    try:
        fake.wait_for(lambda: fake.getupdates_calls > before or proc.poll() is not None, 20, "getUpdates")
        assert proc.poll() is None
    finally:
        proc.send_signal(signal.SIGTERM)
        output = proc.communicate(timeout=20)[0]
    assert proc.returncode == 0, output
    assert "desk stopped" in output
    assert_no_secrets(output)


@pytest.fixture
def fresh_clone(tmp_path) -> Path:
    """What `make run` needs in a fresh clone, without building a virtualenv."""
    clone = tmp_path / "clone"
    clone.mkdir()
    for name in ("Makefile", ".env.example", "requirements.txt", "requirements-dev.txt"):
        shutil.copy(ROOT / name, clone / name)
    return clone


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
def test_first_make_run_creates_env_and_names_the_two_values(fresh_clone):
    result = subprocess.run(["make", "run"], cwd=fresh_clone, env={"PATH": "/usr/bin:/bin"},
                            capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    assert (fresh_clone / ".env").read_text() == (fresh_clone / ".env.example").read_text()
    assert "BOT_TOKEN" in result.stderr and "SUPPORT_TOKEN" in result.stderr
    assert "Created .env" in result.stderr
    assert not (fresh_clone / ".venv").exists()     # stopped before building anything


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
def test_make_run_with_an_env_file_goes_past_the_first_run_step(fresh_clone):
    (fresh_clone / ".env").write_text("BOT_TOKEN=mine\n")
    result = subprocess.run(["make", "first-run"], cwd=fresh_clone, env={"PATH": "/usr/bin:/bin"},
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert (fresh_clone / ".env").read_text() == "BOT_TOKEN=mine\n"


def _closed_port() -> int:
    """A port on 127.0.0.1 that nothing listens on."""
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
