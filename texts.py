"""Every user-facing string of the desk, in Russian and English.

Handlers and tests both call `t(lang, key, **values)`. A language is chosen from the user's
Telegram `language_code` by `pick_language`, falling back to the configured default. Values are
inserted with str.format; the bot never sends markup (no parse_mode), so a name like `<b>` or
`*_[` is shown as typed.
"""

from __future__ import annotations

LANGUAGES = ("ru", "en")

MESSAGES: dict[str, dict[str, str]] = {
    "en": {
        "ask_name": "Hello! This is the support desk. How should we address you? "
                    "Tap your name below or type another.",
        "name_saved": "Nice to meet you, {name}! Describe your question, and a support agent will answer here.",
        "name_invalid": "Please send your name as plain text, up to {limit} characters.",
        "welcome_back": "Welcome back, {name}! Write your question, and a support agent will answer here.",
        "greet_first_message": "Hello, {name}! We have your message and are finding a support agent for you.",
        "connected": "You are connected with {agent}, a support agent. They will answer here.",
        "queued": "All agents are busy right now. You are number {position} in the queue. "
                  "Your messages are saved and will be passed on as soon as an agent is free.",
        "in_dialog": "You are talking with a support agent. Just write your message here.",
        "ticket_closed": "Your ticket is closed. Thank you for reaching out! "
                         "If you have another question, write here any time.",
        "agent_unreachable": "Your support agent can no longer be reached, so this conversation was closed. "
                             "Write again any time and we will connect you with another agent.",
        "agent_only": "Sorry, this command is for support agents only. Just write your question here.",
        "unknown_command": "I don't know that command.",
        "help_client": "Write your question here, and a support agent will answer in this chat. "
                       "You can send text, photos, files, voice messages — anything.",
        "help_agent": "You are a support agent. Clients are given to you automatically; "
                      "everything you write in this chat goes to your current client.",
        "register_usage": "Usage: /register_support <token>\nThe token is given by the desk's administrator.",
        "register_wrong": "Wrong token. Attempts left before a {minutes}-minute lockout: {left}.",
        "register_locked": "Too many wrong tokens. Try again in {minutes} min.",
        "register_ok": "You are registered as a support agent and are available for clients now.",
        "register_already": "You are already registered as a support agent.",
        "available_on": "You are available: new clients will be given to you.",
        "available_off": "You are unavailable: no new clients will be given to you.",
        "available_off_in_dialog": "You are unavailable: no new clients will be given to you "
                                   "after the current dialog. Close it with /end_chat.",
        "new_client": "New client: {name} (id {client_id}{username}, language: {language}).\n"
                      "Everything you write here goes to them. /end_chat closes the ticket.",
        "waited": "They waited {minutes} min in the queue; their messages follow.",
        "agent_no_dialog": "You have no active dialog, so this message went nowhere. Clients waiting: {queue}.",
        "end_no_dialog": "You have no active dialog to close.",
        "end_done": "The ticket with {name} is closed.",
        "history_usage": "Usage: /history for your current client, or /history <client_id> (a number).",
        "history_no_dialog": "You have no active dialog. Use /history <client_id> for a client's history.",
        "history_unknown": "There is no client with id {client_id}.",
        "history_caption": "History of {name} (id {client_id})",
        "history_title": "Support history of {name} (id {client_id}), exported {time} {zone}",
        "history_dialog": "--- Dialog #{dialog_id} ---",
        "history_empty": "(no messages yet)",
        "stats": "Your work\n"
                 "Dialogs closed: {dialogs_total} (today: {dialogs_today})\n"
                 "Messages sent to clients: {messages}\n"
                 "Average first response: {avg_first_response}\n"
                 "Average dialog length: {avg_duration}\n"
                 "Now: {current}\n\n"
                 "Desk\nClients in the queue: {queue}\nAgents available: {available}",
        "stats_none": "—",
        "stats_current": "with {name}",
        "stats_idle": "no dialog",
        "client_blocked": "{name} has blocked the bot, so the ticket was closed.",
        "delivery_failed": "This message could not be delivered: {reason}",
        "cmd_start": "Start and tell us your name",
        "cmd_register_support": "Become a support agent (the token comes from the administrator)",
        "cmd_help": "Help",
        "cmd_available": "Switch availability for new clients",
        "cmd_end_chat": "Close the current ticket",
        "cmd_history": "The client's whole history as a file (or any client's by id)",
        "cmd_stats": "Your statistics",
        "who_client": "Client",
        "who_agent": "Agent",
        "media_photo": "[photo]", "media_video": "[video]", "media_document": "[document]",
        "media_voice": "[voice message]", "media_audio": "[audio]", "media_sticker": "[sticker]",
        "media_animation": "[animation]", "media_video_note": "[video message]",
        "media_location": "[location]", "media_venue": "[venue]", "media_contact": "[contact]",
        "media_poll": "[poll]", "media_dice": "[dice]", "media_other": "[{content_type}]",
    },
    "ru": {
        "ask_name": "Здравствуйте! Это служба поддержки. Как к вам обращаться? "
                    "Нажмите на имя ниже или напишите другое.",
        "name_saved": "Приятно познакомиться, {name}! Опишите ваш вопрос — специалист поддержки ответит здесь.",
        "name_invalid": "Пожалуйста, пришлите имя обычным текстом, не длиннее {limit} символов.",
        "welcome_back": "С возвращением, {name}! Напишите ваш вопрос — специалист поддержки ответит здесь.",
        "greet_first_message": "Здравствуйте, {name}! Ваше сообщение получено, ищем для вас специалиста поддержки.",
        "connected": "Вас консультирует {agent}, специалист поддержки. Ответ придёт в этот чат.",
        "queued": "Сейчас все специалисты заняты. Ваш номер в очереди: {position}. "
                  "Ваши сообщения сохранены и будут переданы, как только специалист освободится.",
        "in_dialog": "Вы общаетесь со специалистом поддержки. Просто напишите сообщение здесь.",
        "ticket_closed": "Ваше обращение закрыто. Спасибо, что написали! "
                         "Если появится новый вопрос, пишите сюда в любое время.",
        "agent_unreachable": "Специалист поддержки больше недоступен, поэтому диалог закрыт. "
                             "Напишите снова в любое время — мы подключим другого специалиста.",
        "agent_only": "Извините, эта команда только для специалистов поддержки. Просто напишите ваш вопрос.",
        "unknown_command": "Такой команды я не знаю.",
        "help_client": "Напишите ваш вопрос здесь — специалист поддержки ответит в этом чате. "
                       "Можно отправлять текст, фото, файлы, голосовые — что угодно.",
        "help_agent": "Вы — специалист поддержки. Клиенты назначаются вам автоматически; "
                      "всё, что вы пишете в этот чат, уходит текущему клиенту.",
        "register_usage": "Использование: /register_support <токен>\nТокен выдаёт администратор поддержки.",
        "register_wrong": "Неверный токен. Осталось попыток до блокировки на {minutes} мин: {left}.",
        "register_locked": "Слишком много неверных токенов. Попробуйте через {minutes} мин.",
        "register_ok": "Вы зарегистрированы как специалист поддержки и уже принимаете клиентов.",
        "register_already": "Вы уже зарегистрированы как специалист поддержки.",
        "available_on": "Вы доступны: новые клиенты будут назначаться вам.",
        "available_off": "Вы недоступны: новые клиенты назначаться не будут.",
        "available_off_in_dialog": "Вы недоступны: после текущего диалога новые клиенты назначаться не будут. "
                                   "Закройте его командой /end_chat.",
        "new_client": "Новый клиент: {name} (id {client_id}{username}, язык: {language}).\n"
                      "Всё, что вы пишете здесь, уходит ему. /end_chat закрывает обращение.",
        "waited": "Клиент ждал в очереди {minutes} мин; его сообщения ниже.",
        "agent_no_dialog": "У вас нет активного диалога, сообщение никуда не отправлено. Клиентов в очереди: {queue}.",
        "end_no_dialog": "У вас нет активного диалога.",
        "end_done": "Обращение клиента {name} закрыто.",
        "history_usage": "Использование: /history для текущего клиента или /history <id_клиента> (число).",
        "history_no_dialog": "У вас нет активного диалога. Используйте /history <id_клиента>.",
        "history_unknown": "Клиента с id {client_id} нет.",
        "history_caption": "История клиента {name} (id {client_id})",
        "history_title": "История обращений клиента {name} (id {client_id}), выгружена {time} {zone}",
        "history_dialog": "--- Диалог №{dialog_id} ---",
        "history_empty": "(сообщений пока нет)",
        "stats": "Ваша работа\n"
                 "Закрыто диалогов: {dialogs_total} (сегодня: {dialogs_today})\n"
                 "Сообщений клиентам: {messages}\n"
                 "Среднее время первого ответа: {avg_first_response}\n"
                 "Средняя длительность диалога: {avg_duration}\n"
                 "Сейчас: {current}\n\n"
                 "Поддержка\nКлиентов в очереди: {queue}\nСпециалистов доступно: {available}",
        "stats_none": "—",
        "stats_current": "диалог с {name}",
        "stats_idle": "нет диалога",
        "client_blocked": "{name} заблокировал(а) бота, обращение закрыто.",
        "delivery_failed": "Это сообщение не удалось доставить: {reason}",
        "cmd_start": "Начать и назвать своё имя",
        "cmd_register_support": "Стать специалистом поддержки (токен выдаёт администратор)",
        "cmd_help": "Справка",
        "cmd_available": "Принимать ли новых клиентов",
        "cmd_end_chat": "Закрыть текущее обращение",
        "cmd_history": "Вся история клиента файлом (или любого клиента по id)",
        "cmd_stats": "Ваша статистика",
        "who_client": "Клиент",
        "who_agent": "Специалист",
        "media_photo": "[фото]", "media_video": "[видео]", "media_document": "[документ]",
        "media_voice": "[голосовое сообщение]", "media_audio": "[аудио]", "media_sticker": "[стикер]",
        "media_animation": "[анимация]", "media_video_note": "[видеосообщение]",
        "media_location": "[геопозиция]", "media_venue": "[место]", "media_contact": "[контакт]",
        "media_poll": "[опрос]", "media_dice": "[кубик]", "media_other": "[{content_type}]",
    },
}

# Shown to agents in front of every relayed client message; the same in both languages.
RELAY_HEADER = "👤 {name}"


def pick_language(language_code: str | None, default: str) -> str:
    """The desk's language for a Telegram language_code such as 'ru', 'en-US' or None."""
    code = (language_code or "").split("-")[0].lower()
    return code if code in LANGUAGES else default


def t(lang: str, key: str, **values: object) -> str:
    """The text `key` in language `lang`, with values filled in."""
    return MESSAGES[lang][key].format(**values)


def media_label(lang: str, content_type: str) -> str:
    """How a media message is described in a history file, e.g. '[photo]'."""
    key = f"media_{content_type}"
    if key in MESSAGES[lang]:
        return MESSAGES[lang][key]
    return t(lang, "media_other", content_type=content_type)
