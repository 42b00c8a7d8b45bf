"""End to end: every kind of message goes both ways, formatted, named, unbroken and in order.

These run the real bot process against the fake Bot API (the `pair` fixture of conftest.py: an
agent and a client already talking), because what they prove is what arrives over HTTP. The
tests of each media kind share one bot (`kinds`), each test function with a dialog of its own
that its parameters take turns in: each sends its message and looks only at what it produced.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fake_telegram import FakeTelegram, Faults, media
from harness import BOT_TOKEN, FAST_SENDS, BotProcess, Pair, open_pair, register_agent, stop_cleanly

import delivery
from desk import relay
from texts import RELAY_HEADER, t

CAPTIONED = sorted(relay.CAPTIONED_TYPES)
UNCAPTIONED = ["sticker", "video_note", "location", "contact", "venue", "dice"]


def header(name="Carl") -> str:
    return RELAY_HEADER.format(name=name)


class Shared:
    """One running bot for the media-kind tests, with a dialog of its own for each of them."""

    def __init__(self, fake: FakeTelegram, desk: BotProcess) -> None:
        self.fake, self.desk = fake, desk
        self.pairs: dict[str, Pair] = {}

    def pair(self, test: str) -> Pair:
        # One dialog per test function: an agent chat then never gets past its burst of sends
        # (delivery.CHAT_BURST), after which pacing would make the tests wait a second a call.
        if test not in self.pairs:
            n = len(self.pairs)
            self.pairs[test] = open_pair(self.fake, self.desk, agent_id=1 + n, client_id=10 + n)
        return self.pairs[test]


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Shared]:
    with FakeTelegram(BOT_TOKEN, Faults()) as fake:
        desk = BotProcess(fake, tmp_path_factory.mktemp("kinds"), **FAST_SENDS).start()
        try:
            yield Shared(fake, desk)
        finally:
            stop_cleanly(desk)


@pytest.fixture
def kinds(shared: Shared, request: pytest.FixtureRequest) -> tuple[BotProcess, Pair]:
    """The shared bot, and the dialog of this test function (its parameters share it)."""
    return shared.desk, shared.pair(request.function.__name__)


@pytest.mark.parametrize("kind", CAPTIONED)
def test_client_media_with_caption_reach_the_agent_named(kinds, kind):
    desk, (agent, client) = kinds
    sent = client.send(**media(kind, caption="look", caption_entities=[{"type": "italic", "offset": 0, "length": 4}]))
    desk.settle()
    last = agent.inbox()[-1]
    assert last["method"] == "copyMessage" and last["message_id"] == sent["message_id"]
    assert last["kind"] == kind
    assert last["caption"] == header() + "\nlook"
    assert last["entities"][1] == {"type": "italic", "offset": len(header()) + 2, "length": 4}


@pytest.mark.parametrize("kind", CAPTIONED)
def test_client_media_without_caption_carry_the_name(kinds, kind):
    desk, (agent, client) = kinds
    client.send(**media(kind))
    desk.settle()
    assert agent.inbox()[-1]["caption"] == header()


@pytest.mark.parametrize("kind", UNCAPTIONED)
def test_client_media_that_take_no_caption_come_after_a_name_header(kinds, kind):
    desk, (agent, client) = kinds
    sent = client.send(**media(kind))
    desk.settle()
    name, copy = agent.inbox()[-2:]
    assert name["text"] == header()
    assert copy["method"] == "copyMessage" and copy["copied"] == sent and copy["caption"] is None


@pytest.mark.parametrize("kind", CAPTIONED + UNCAPTIONED)
def test_agent_messages_of_every_kind_reach_the_client_untouched(kinds, kind):
    desk, (agent, client) = kinds
    sent = agent.send(**media(kind, caption="from us") if kind in CAPTIONED else media(kind))
    desk.settle()
    last = client.inbox()[-1]
    assert last["method"] == "copyMessage" and last["copied"] == sent
    assert last.get("caption") == ("from us" if kind in CAPTIONED else None)


def test_formatting_survives_both_ways(fake, desk, pair):
    agent, client = pair
    bold = [{"type": "bold", "offset": 0, "length": 4}, {"type": "text_link", "offset": 5, "length": 4,
                                                           "url": "https://example.com"}]
    client.send("very good", entities=bold)
    agent.send("thank you", entities=[{"type": "italic", "offset": 0, "length": 5}])
    desk.settle()
    to_agent = agent.inbox()[-1]
    shift = relay.utf16_len(header() + "\n")
    assert to_agent["text"] == header() + "\nvery good"
    assert to_agent["entities"][1:] == [{**e, "offset": e["offset"] + shift} for e in bold]
    assert client.inbox()[-1]["entities"] == [{"type": "italic", "offset": 0, "length": 5}]


@pytest.mark.parametrize("name", ["<b>Bold</b>", "*_[`]~", "&amp; <i>", "😀👍🏽 Emoji"])
def test_markup_characters_in_names_and_texts_never_break_a_send(fake, desk, name):
    agent, client = fake.user(1, "Agatha"), fake.user(10, name)
    register_agent(desk, agent)
    client.send("/start")
    client.send(name)
    client.send("<script>*bold* _x_ [link](http://x) `code`")
    desk.settle()
    assert agent.texts()[-1] == header(name) + "\n<script>*bold* _x_ [link](http://x) `code`"
    assert not desk.query("SELECT * FROM outbox WHERE status = 'failed'")


def test_text_at_telegrams_limit_arrives_whole(fake, desk, pair):
    agent, client = pair
    long_text = "Ж" * 4096
    sent = client.send(long_text)
    desk.settle()
    name, copy = agent.inbox()[-2:]
    assert name["text"] == header()
    assert copy["text"] == long_text and copy["message_id"] == sent["message_id"]


def test_caption_at_telegrams_limit_arrives_whole(fake, desk, pair):
    agent, client = pair
    caption = "c" * 1024
    client.send(**media("photo", caption=caption))
    desk.settle()
    name, copy = agent.inbox()[-2:]
    assert name["text"] == header() and copy["caption"] == caption


def test_an_album_arrives_as_all_its_items_in_order(fake, desk, pair):
    agent, client = pair
    before = len(agent.inbox())
    album = [client.send(**media("photo", n, media_group_id="album-1", **({"caption": "three"} if n == 1 else {})))
             for n in (1, 2, 3)]
    # The album is relayed whole once its last part has had messages.ALBUM_WAIT to arrive.
    fake.wait_for(lambda: len(agent.inbox()) >= before + 4, 10, "the album")
    desk.settle()
    name, *copies = agent.inbox()[-4:]
    assert name["method"] == "sendMessage" and name["text"] == header()
    assert [c["method"] for c in copies] == ["copyMessages"] * 3
    assert [c["message_id"] for c in copies] == [m["message_id"] for m in album]
    assert [c["caption"] for c in copies] == ["three", None, None]


def test_a_burst_of_messages_arrives_in_the_order_sent(fake, desk, pair):
    # 16 each way: with the greetings already sent, both chats go past their burst of sends
    # (delivery.CHAT_BURST), so order is kept through the per-chat pacing in both directions.
    agent, client = pair
    for i in range(16):
        client.send(f"message {i}")
    for i in range(16):
        agent.send(f"reply {i}")
    desk.settle()
    assert agent.texts()[-16:] == [header() + f"\nmessage {i}" for i in range(16)]
    replies = [d["copied"]["text"] for d in client.inbox() if d["method"] == "copyMessage"]
    assert replies == [f"reply {i}" for i in range(16)]
    assert len(agent.inbox()) > delivery.CHAT_BURST and len(client.inbox()) > delivery.CHAT_BURST


def test_everything_is_kept_in_the_history(fake, desk, pair):
    agent, client = pair
    client.send(**media("document", caption="invoice"))
    client.send(**media("location"))
    agent.send("got it")
    desk.settle()
    rows = desk.query("SELECT sender, content_type, text, details FROM chat_history WHERE client_id = 10 ORDER BY id")
    assert [tuple(r) for r in rows] == [
        ("client", "text", "hello", None),
        ("client", "document", "invoice", "report-1.pdf"),
        ("client", "location", None, "55.7558, 37.6173"),
        ("agent", "text", "got it", None),
    ]


def test_a_message_that_cannot_be_copied_is_reported_to_its_author(fake, desk, pair):
    agent, client = pair
    sent = agent.send("I will delete this")
    fake.user_messages.pop((1, sent["message_id"]))        # gone before it could be copied
    desk.settle()
    notice = agent.inbox()[-1]
    assert notice["text"] == t("en", "delivery_failed", reason="400 Bad Request: message to copy not found")
    agent.send("second try")                              # the chat is not stuck behind it
    desk.settle()
    assert client.inbox()[-1]["copied"]["text"] == "second try"


def test_a_history_file_arrives_as_a_text_document(fake, desk, pair):
    agent, client = pair
    agent.send("answer one")
    agent.send("/history")
    desk.settle()
    [doc] = [d for d in agent.inbox() if d["method"] == "sendDocument"]
    assert doc["file_name"] == "history_10.txt"
    assert doc["caption"] == t("en", "history_caption", name="Carl", client_id=10)
    lines = doc["document"].decode("utf-8").splitlines()
    assert [line.split("] ", 1)[1] for line in lines if line.startswith("[")] == [
        "Client Carl: hello", "Agent Agatha: answer one"]
