"""Albums (desk/messages.py): parts stored as they come, relayed whole as one copyMessages call.

Telegram sends an album's parts as separate updates. Each is stored at once; the album is relayed
when its last part is ALBUM_WAIT old (bot.py's timer thread runs messages.flush_albums), with the
client's name once above it, and whatever came after it waits with it. In-process tests move the
clock and run the timer job by hand; one end-to-end test checks the call that reaches Telegram.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from fake_telegram import media

import db
from desk import Desk as RulesDesk
from desk import messages
from desk.messages import ALBUM_WAIT
from texts import RELAY_HEADER, t


def header(name: str = "Carl") -> str:
    return RELAY_HEADER.format(name=name)


def run_album_timer(app) -> int:
    """What bot.py's timer thread does every 0.25 s; returns how many dialogs it relayed for."""
    with db.atomic(app.conn):
        relayed = messages.flush_albums(RulesDesk(app.conn, app.settings, app.now))
    app.check_calls()
    return relayed


def part(kind: str, n: int, group: str = "album-1", **extra: Any) -> dict[str, Any]:
    return media(kind, n, media_group_id=group, **extra)


def push_part(app, user, message_id: int, kind: str, n: int, group: str = "album-1", **extra: Any) -> dict:
    """A part with a message id chosen by the test (Telegram's ids; the updates may come in any order)."""
    message = {"message_id": message_id, "date": int(app.now), "chat": user.chat(), "from": user.as_user(),
               **part(kind, n, group, **extra)}
    app.push({"message": message})
    return message


def unrelayed(app) -> int:
    return app.query("SELECT COUNT(*) FROM chat_history WHERE relayed_at IS NULL")[0][0]


@pytest.mark.parametrize("kind", ["photo", "video", "document", "audio"])
def test_an_album_waits_for_its_last_part_then_goes_as_one_copy_with_the_name_once(app, people, kind):
    agent = people.agent()
    client = people.client_in_dialog(agent)
    sent = []
    for n in (1, 2, 3):
        sent.append(client.send(**part(kind, n, **({"caption": "three of them"} if n == 1 else {}))))
        assert agent.calls() == []                  # stored, not relayed: more parts may come
        app.tick(0.3)
    assert app.query("SELECT COUNT(*) FROM chat_history WHERE media_group_id = 'album-1'")[0][0] == 3
    app.tick(ALBUM_WAIT - 0.3 - 0.01)               # the last part is not yet ALBUM_WAIT old
    assert run_album_timer(app) == 0 and agent.calls() == []
    app.tick(0.01)
    assert run_album_timer(app) == 1
    calls = agent.calls()
    assert [c["method"] for c in calls] == ["sendMessage", "copyMessages"]
    assert calls[0]["text"] == header()             # the name, once, above the album
    ids = [m["message_id"] for m in sent]
    assert calls[1]["from_chat_id"] == client.id and calls[1]["message_ids"] == ids
    assert calls[1]["link"]["source_message_ids"] == ids
    assert unrelayed(app) == 0
    app.tick(5)
    assert run_album_timer(app) == 0 and len(agent.calls()) == 2     # nothing goes twice


def test_parts_arriving_out_of_order_are_copied_in_their_own_order(app, people):
    agent = people.agent()
    client = people.client_in_dialog(agent)
    first, second, third = (app.next_message_id(client.id) for _ in range(3))
    for message_id, n in ((third, 3), (first, 1), (second, 2)):
        push_part(app, client, message_id, "photo", n)
    app.tick(ALBUM_WAIT)
    run_album_timer(app)
    [copy] = agent.calls("copyMessages")
    assert copy["message_ids"] == [first, second, third]     # copyMessages wants them increasing
    assert agent.calls("sendMessage")[0]["text"] == header()


def test_a_text_right_after_an_album_waits_for_it_and_follows_it(app, people):
    agent = people.agent()
    client = people.client_in_dialog(agent)
    parts = [client.send(**part("photo", n)) for n in (1, 2)]
    client.send("and the receipt is above")
    assert agent.calls() == []                      # the text must not overtake the album
    app.tick(ALBUM_WAIT)
    run_album_timer(app)
    calls = agent.calls()
    assert [c["method"] for c in calls] == ["sendMessage", "copyMessages", "sendMessage"]
    assert calls[1]["message_ids"] == [p["message_id"] for p in parts]
    assert calls[2]["text"] == header() + "\nand the receipt is above"


def test_a_text_between_the_parts_of_an_album_does_not_split_it(app, people):
    agent = people.agent()
    client = people.client_in_dialog(agent)
    a = client.send(**part("photo", 1))
    text = client.send("wait")
    b = client.send(**part("photo", 2))
    app.tick(ALBUM_WAIT)
    run_album_timer(app)
    calls = agent.calls()
    assert [c["method"] for c in calls] == ["sendMessage", "copyMessages", "sendMessage"]
    assert calls[1]["message_ids"] == [a["message_id"], b["message_id"]]
    assert calls[2]["text"].endswith(text["text"])


def test_an_album_from_the_agent_reaches_the_client_as_one_copy_without_a_name(app, people):
    agent = people.agent()
    client = people.client_in_dialog(agent)
    parts = [agent.send(**part("photo", n, group="from-agent")) for n in (1, 2, 3)]
    agent.send("here are the photos")
    assert client.calls() == []
    app.tick(ALBUM_WAIT)
    run_album_timer(app)
    calls = client.calls()
    assert [c["method"] for c in calls] == ["copyMessages", "copyMessage"]
    assert calls[0]["from_chat_id"] == agent.id and calls[0]["message_ids"] == [p["message_id"] for p in parts]
    assert client.texts()[-1] == "here are the photos"


def test_two_albums_back_to_back_go_as_two_calls(app, people):
    agent = people.agent()
    client = people.client_in_dialog(agent)
    first = [client.send(**part("photo", n, group="one")) for n in (1, 2)]
    second = [client.send(**part("document", n, group="two")) for n in (1, 2)]
    app.tick(ALBUM_WAIT)
    run_album_timer(app)
    copies = agent.calls("copyMessages")
    assert [c["message_ids"] for c in copies] == [[m["message_id"] for m in first], [m["message_id"] for m in second]]
    assert [c["text"] for c in agent.calls("sendMessage")] == [header(), header()]


def test_a_lone_part_goes_as_a_single_copy_with_the_name_in_its_caption(app, people):
    agent = people.agent()
    client = people.client_in_dialog(agent)
    client.send(**part("photo", 1, caption="just one"))
    app.tick(ALBUM_WAIT)
    run_album_timer(app)
    [copy] = agent.calls()
    assert copy["method"] == "copyMessage" and copy["caption"] == header() + "\njust one"


def test_an_album_sent_while_queued_goes_whole_when_an_agent_comes(app, people):
    client = people.client()
    first, second = (app.next_message_id(client.id) for _ in range(2))
    push_part(app, client, second, "photo", 2)
    push_part(app, client, first, "photo", 1)
    assert unrelayed(app) == 2                      # stored while waiting in the queue
    agent = people.agent()                          # the queue is served at registration
    rows = app.query("SELECT method, payload FROM outbox WHERE chat_id = ? AND method IN ('copyMessage',"
                     " 'copyMessages') ORDER BY id", agent.id)
    assert [(r[0], json.loads(r[1])["message_ids"]) for r in rows] == [("copyMessages", [first, second])]
    assert unrelayed(app) == 0


def test_closing_the_dialog_mid_album_sends_what_arrived_first(app, people):
    agent = people.agent()
    client = people.client_in_dialog(agent)
    parts = [client.send(**part("photo", n)) for n in (1, 2)]
    agent.send("/end_chat")
    methods = [c["method"] for c in agent.calls()]
    assert methods[:2] == ["sendMessage", "copyMessages"]
    assert agent.calls("copyMessages")[0]["message_ids"] == [p["message_id"] for p in parts]
    assert agent.last() == t("en", "end_done", name="Carl")
    assert unrelayed(app) == 0


def test_a_restart_in_the_middle_of_an_album_loses_and_doubles_nothing(app, people):
    agent = people.agent()
    client = people.client_in_dialog(agent)
    parts = [client.send(**part("photo", n)) for n in (1, 2)]
    app.restart()                                   # the process dies between two parts
    parts.append(client.send(**part("photo", 3)))
    app.restart()                                   # and again before the timer saw the album
    assert agent.calls() == []
    app.tick(ALBUM_WAIT)
    # The timer's transaction fails half-way (a crash, a full disk): nothing of it remains.
    with pytest.raises(RuntimeError), db.atomic(app.conn):
        messages.flush_albums(RulesDesk(app.conn, app.settings, app.now))
        raise RuntimeError("crash before commit")
    assert agent.calls() == [] and unrelayed(app) == 3
    assert run_album_timer(app) == 1
    app.restart()
    app.tick(10)
    assert run_album_timer(app) == 0
    assert [c["message_ids"] for c in agent.calls("copyMessages")] == [[p["message_id"] for p in parts]]
    assert [c["text"] for c in agent.calls("sendMessage")] == [header()]


# --- End to end ----------------------------------------------------------------------------------


def test_end_to_end_an_album_reaches_the_agent_as_one_copy_messages_call(fake, desk, pair):
    agent, client = pair
    before = len(agent.inbox())
    album = [client.send(**part("photo", n, **({"caption": "the damage"} if n == 1 else {}))) for n in (1, 2, 3)]
    client.send("see above")
    fake.wait_for(lambda: len(agent.inbox()) >= before + 5, what="the album and the text")
    desk.settle()
    [call] = fake.sent_calls("copyMessages")
    assert json.loads(call["message_ids"]) == [m["message_id"] for m in album]
    arrived = agent.inbox()[before:]
    assert [d["method"] for d in arrived] == ["sendMessage", "copyMessages", "copyMessages", "copyMessages",
                                              "sendMessage"]
    assert arrived[0]["text"] == header()
    assert [d["caption"] for d in arrived[1:4]] == ["the damage", None, None]
    assert arrived[4]["text"] == header() + "\nsee above"
    # Each part's copy is linked to its part, so an edit of the caption finds the right copy.
    client.edit(album[0], caption="the damage, closer")
    fake.wait_for(lambda: fake.sent_calls("editMessageCaption"), what="the caption edit")
    desk.settle()
    assert int(fake.sent_calls("editMessageCaption")[0]["message_id"]) == arrived[1]["sent_message_id"]
    assert [d.get("caption") for d in agent.inbox()[before + 1:before + 4]] == ["the damage, closer", None, None]
