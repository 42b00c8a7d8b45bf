"""Agents: registration with the support token (with a lockout for guessers), availability, last seen."""

from __future__ import annotations

import hmac
import logging
import math
import sqlite3

import db
from desk import Desk, routing
from desk.clients import clean_name
from desk.data import Person

log = logging.getLogger("desk.agents")

REGISTER_MAX_FAILURES = 5        # wrong tokens in a row before a lockout
REGISTER_LOCK_SECONDS = 15 * 60


def seen_agent(desk: Desk, person: Person) -> sqlite3.Row | None:
    """The agent row for this user, with their last-seen time refreshed; None for everyone else."""
    agent = db.get_agent(desk.conn, person.id)
    if agent is not None:
        db.touch_agent(desk.conn, person.id, person.username, person.language_code, desk.now)
    return agent


def register(desk: Desk, person: Person, token: str) -> bool:
    """Make the person an agent if the token is right; lock out guessers. True when registered."""
    lang = desk.lang(person.language_code)
    if seen_agent(desk, person):
        desk.say(person.id, lang, "register_already")
        return False
    if not token:
        desk.say(person.id, lang, "register_usage")
        return False
    locked_until = db.register_locked_until(desk.conn, person.id, desk.now)
    if locked_until is not None:
        desk.say(person.id, lang, "register_locked", minutes=math.ceil((locked_until - desk.now) / 60))
        return False
    if not hmac.compare_digest(token.encode(), desk.settings.support_token.encode()):
        left = db.record_register_failure(desk.conn, person.id, desk.now, REGISTER_MAX_FAILURES,
                                          REGISTER_LOCK_SECONDS)
        if left:
            desk.say(person.id, lang, "register_wrong", left=left, minutes=REGISTER_LOCK_SECONDS // 60)
        else:
            desk.say(person.id, lang, "register_locked", minutes=REGISTER_LOCK_SECONDS // 60)
        log.info("user %s gave a wrong support token", person.id)
        return False
    db.clear_register_failures(desk.conn, person.id)
    dialog = db.live_dialog_for_client(desk.conn, person.id)
    if dialog is not None:
        # A client becoming an agent: their own ticket ends as if their agent had closed it.
        if dialog["status"] == "open":
            routing.end_dialog(desk, dialog)
        else:
            db.close_dialog(desk.conn, dialog["id"], desk.now)
    db.register_agent(desk.conn, person.id, clean_name(person.first_name) or f"#{person.id}",
                      person.username, person.language_code, desk.now)
    desk.say(person.id, lang, "register_ok")
    log.info("user %s registered as a support agent", person.id)
    return True


def toggle_available(desk: Desk, agent: sqlite3.Row) -> None:
    """Switch whether the agent takes new clients; switching on takes the next one waiting."""
    lang = desk.lang(agent["language_code"])
    available = not agent["is_available"]
    db.set_agent_available(desk.conn, agent["user_id"], available)
    if available:
        desk.say(agent["user_id"], lang, "available_on")
        routing.serve_queue(desk)
    elif db.count_open_dialogs(desk.conn, agent["user_id"]):
        desk.say(agent["user_id"], lang, "available_off_in_dialog")
    else:
        desk.say(agent["user_id"], lang, "available_off")


def is_agent(desk: Desk, user_id: int) -> bool:
    """Whether the user is a current agent."""
    return db.get_agent(desk.conn, user_id) is not None


def language_of(desk: Desk, user_id: int) -> str:
    """A known person's desk language (an agent's or a client's), else the default."""
    row = db.get_agent(desk.conn, user_id) or db.get_client(desk.conn, user_id)
    return desk.lang(row["language_code"] if row else None)


def agent_ids(desk: Desk) -> list[int]:
    """Every current agent's id."""
    return db.list_agent_ids(desk.conn)


def menus_version(desk: Desk) -> str | None:
    """The fingerprint of the personal command menus last sent."""
    return db.menus_version(desk.conn)


def set_menus_version(desk: Desk, version: str) -> None:
    """Remember the fingerprint of the personal command menus just queued."""
    db.set_menus_version(desk.conn, version)
