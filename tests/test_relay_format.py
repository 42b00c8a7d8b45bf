"""How a relayed message looks (desk/relay.py): the client's name on it, formatting kept, limits respected."""

from __future__ import annotations

import pytest

from desk import relay


def test_text_gets_the_name_in_bold_and_keeps_its_formatting_shifted():
    entities = [{"type": "italic", "offset": 0, "length": 5}]
    [(method, p)] = relay.relay_to_agent(5, 10, "text", "hello world", entities, "Ann")
    assert method == "sendMessage"
    assert p["text"] == "👤 Ann\nhello world"
    header_len = relay.utf16_len("👤 Ann")                      # the emoji is 2 UTF-16 units
    assert p["entities"] == [{"type": "bold", "offset": 0, "length": header_len},
                             {"type": "italic", "offset": header_len + 1, "length": 5}]
    assert "parse_mode" not in p                                     # never markup


@pytest.mark.parametrize("name", ["<b>x</b>", "*_[`", "Ann & <Co>", "😀" * 30])
def test_names_are_plain_text(name):
    [(_, p)] = relay.relay_to_agent(5, 10, "text", "hi", None, name)
    assert p["text"].startswith(f"👤 {name}\n")


def test_text_that_would_overflow_with_the_name_is_copied_whole_after_a_header():
    text = "x" * 4096
    calls = relay.relay_to_agent(5, 10, "text", text, None, "Ann")
    assert [m for m, _ in calls] == ["sendMessage", "copyMessage"]
    assert calls[0][1]["text"] == "👤 Ann"
    assert calls[1][1] == {"from_chat_id": 5, "message_id": 10}


def test_text_right_at_the_limit_with_the_name_fits_in_one_message():
    prefix = "👤 Ann\n"
    text = "y" * (4096 - relay.utf16_len(prefix))
    [(method, p)] = relay.relay_to_agent(5, 10, "text", text, None, "Ann")
    assert method == "sendMessage" and relay.utf16_len(p["text"]) == 4096


@pytest.mark.parametrize("kind", sorted(relay.CAPTIONED_TYPES))
def test_captioned_media_carry_the_name_in_the_caption(kind):
    entities = [{"type": "bold", "offset": 0, "length": 3}]
    [(method, p)] = relay.relay_to_agent(5, 10, kind, "see this", entities, "Ann")
    assert method == "copyMessage"
    assert p["caption"] == "👤 Ann\nsee this"
    assert p["caption_entities"][1]["offset"] == relay.utf16_len("👤 Ann\n")


def test_media_without_caption_get_the_name_as_caption():
    [(_, p)] = relay.relay_to_agent(5, 10, "photo", None, None, "Ann")
    assert p["caption"] == "👤 Ann"


def test_long_caption_is_kept_whole_and_the_name_goes_before():
    calls = relay.relay_to_agent(5, 10, "photo", "c" * 1020, None, "Ann")
    assert [m for m, _ in calls] == ["sendMessage", "copyMessage"]
    assert "caption" not in calls[1][1]


@pytest.mark.parametrize("kind", ["sticker", "location", "contact", "video_note", "venue", "dice", "poll"])
def test_media_that_cannot_have_a_caption_get_a_header_message(kind):
    calls = relay.relay_to_agent(5, 10, kind, None, None, "Ann")
    assert calls == [("sendMessage", {"text": "👤 Ann", "entities": [{"type": "bold", "offset": 0, "length": 6}]}),
                     ("copyMessage", {"from_chat_id": 5, "message_id": 10})]
