"""The client's commands around the journey: /skip an optional intake question, /faq."""

from __future__ import annotations

from telebot import types

from desk import Desk, faq, intake
from handlers.guards import client_command
from handlers.incoming import person_of


@client_command
def cmd_skip(desk: Desk, m: types.Message) -> None:
    """Skip the current intake question, if it is optional."""
    intake.skip(desk, person_of(m))


@client_command
def cmd_faq(desk: Desk, m: types.Message) -> None:
    """The FAQ's questions as buttons."""
    faq.show(desk, person_of(m))
