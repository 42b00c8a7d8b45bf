"""Which client an agent means: a reply to a client's message, the focus, or the only open dialog.

With several open dialogs an agent's words must never reach the wrong client, so the target is
never guessed: a Telegram reply to anything the desk showed them for client X (a relayed message,
its name header, the new-client notice, the history file) or to their own message to X means X
and makes X the focus; otherwise the focus set by /focus or by the last reply; otherwise the only
open dialog; otherwise the agent is asked to choose.
"""

from __future__ import annotations

import sqlite3

import db
import texts
from desk import Desk, clock

# Seconds during which the other parts of an agent's album get no answer of their own (Telegram
# delivers an album's parts within a second or two of each other).
ALBUM_ANSWERED_WINDOW = 60.0


def dialog_of_reply(desk: Desk, agent_id: int, reply_to: int) -> sqlite3.Row | None:
    """The dialog a message in the agent's chat belongs to, if the desk made it or relayed it."""
    link = db.linked_message(desk.conn, agent_id, reply_to)
    if link is None:
        copies = db.copies_of(desk.conn, agent_id, reply_to)     # the agent's own relayed message
        link = copies[0] if copies else None
    return db.get_dialog(desk.conn, link["dialog_id"]) if link is not None else None


def link_for(desk: Desk, agent_id: int, client_id: int) -> dict | None:
    """The link that makes a message in the agent's chat count as the client's, if they talk now."""
    dialog = db.live_dialog_for_client(desk.conn, client_id)
    if dialog is None or dialog["status"] != "open" or dialog["agent_id"] != agent_id:
        return None
    return {"source_chat_id": client_id, "source_message_id": None, "dialog_id": dialog["id"]}


def client_list(desk: Desk, agent: sqlite3.Row, lang: str) -> str:
    """The agent's open dialogs, one line each, the focus marked."""
    t = texts.t
    lines = []
    for d in db.open_dialogs_for_agent(desk.conn, agent["user_id"]):
        marks = []
        if d["awaiting_answer"]:
            marks.append(t(lang, "clients_waiting"))
        if d["client_id"] == agent["focus_client_id"]:
            marks.append(t(lang, "clients_focus"))
        lines.append(t(lang, "clients_line", name=d["client_name"], client_id=d["client_id"],
                       since=clock.stamp(d["assigned_at"], desk.settings.timezone)[:16], marks="".join(f" · {m}" for m in marks)))
    return "\n".join(lines)


def target(desk: Desk, agent: sqlite3.Row, client_id: int | None = None, reply_to: int | None = None,
           answer_to: int | None = None, none_key: str = "agent_no_dialog",
           album: str | None = None) -> sqlite3.Row | None:
    """The open dialog an agent's message or command is for, or None after telling them why.

    client_id: named in the command; reply_to: the message replied to (it becomes the focus when
    it belongs to one of the agent's dialogs; a reply to anything else counts as no reply);
    answer_to: the agent's message, which a "which client?" answer replies to; none_key: what to
    say when the agent has no open dialog at all; album: the album the message is a part of (the
    agent is told why once per album, not once per photo).
    """
    lang = desk.lang(agent["language_code"])
    me = agent["user_id"]

    def tell(key: str, **values: object) -> None:
        """Say why the message goes nowhere, unless another part of its album was told already."""
        if album is None or not db.album_answered(desk.conn, me, album, desk.now - ALBUM_ANSWERED_WINDOW):
            desk.say(me, lang, key, album=album, **values)

    if client_id is not None:
        dialog = db.live_dialog_for_client(desk.conn, client_id)
        if dialog is None or dialog["status"] != "open" or dialog["agent_id"] != me:
            tell("not_your_client", client_id=client_id)
            return None
        return dialog
    if reply_to is not None:
        dialog = dialog_of_reply(desk, me, reply_to)
        if dialog is not None and (dialog["status"] != "open" or dialog["agent_id"] != me):
            # A message from the client's earlier dialog: fine if they are with this agent again.
            current = db.live_dialog_for_client(desk.conn, dialog["client_id"])
            if current is not None and current["status"] == "open" and current["agent_id"] == me:
                dialog = current
        if dialog is not None:
            if dialog["status"] != "open" or dialog["agent_id"] != me:
                name = db.get_client(desk.conn, dialog["client_id"])["name"]
                tell("reply_closed", name=name)
                return None
            db.set_focus(desk.conn, me, dialog["client_id"])
            return dialog
    dialogs = db.open_dialogs_for_agent(desk.conn, me)
    focused = [d for d in dialogs if d["client_id"] == agent["focus_client_id"]]
    if focused:
        return focused[0]
    if len(dialogs) == 1:
        return dialogs[0]
    if not dialogs:
        tell(none_key, queue=db.queue_length(desk.conn))
        return None
    tell("which_client", reply_to=answer_to, clients=client_list(desk, agent, lang))
    return None


def set_focus(desk: Desk, agent: sqlite3.Row, client_id: int) -> None:
    """/focus: only a client of one of the agent's open dialogs."""
    lang = desk.lang(agent["language_code"])
    dialog = db.live_dialog_for_client(desk.conn, client_id)
    if dialog is None or dialog["status"] != "open" or dialog["agent_id"] != agent["user_id"]:
        desk.say(agent["user_id"], lang, "not_your_client", client_id=client_id)
        return
    db.set_focus(desk.conn, agent["user_id"], client_id)
    desk.say(agent["user_id"], lang, "focus_set", name=db.get_client(desk.conn, client_id)["name"],
             client_id=client_id)


def show_clients(desk: Desk, agent: sqlite3.Row) -> None:
    """/clients: the agent's open dialogs."""
    lang = desk.lang(agent["language_code"])
    listing = client_list(desk, agent, lang)
    if listing:
        desk.say(agent["user_id"], lang, "clients_title", clients=listing)
    else:
        desk.say(agent["user_id"], lang, "clients_none", queue=db.queue_length(desk.conn))
