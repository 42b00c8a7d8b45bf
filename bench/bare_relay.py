"""The yardstick for `make bench`: the smallest relay bot, which copies every message to one chat.

It stores nothing, retries nothing and paces nothing, so its CPU per message is what relaying
alone costs with pyTelegramBotAPI; the desk's figure is reported next to it. Non-threaded, like
the desk's own polling: the default threaded TeleBot adds a thread pool's hand-offs to every
message and would make the floor look higher than it is. Configured like the desk: BOT_TOKEN and
TELEGRAM_API_URL, plus RELAY_TO, the chat that receives every copy.
"""

import os

import telebot
from telebot import apihelper, util

apihelper.API_URL = os.environ["TELEGRAM_API_URL"].rstrip("/") + "/bot{0}/{1}"
bot = telebot.TeleBot(os.environ["BOT_TOKEN"], threaded=False)
relay_to = int(os.environ["RELAY_TO"])


@bot.message_handler(func=lambda message: True, content_types=util.content_type_media)
def relay(message: telebot.types.Message) -> None:
    """Copy the message to the relay chat."""
    bot.copy_message(relay_to, message.chat.id, message.message_id)


if __name__ == "__main__":
    bot.infinity_polling(timeout=25)
