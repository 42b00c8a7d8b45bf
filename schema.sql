-- The support desk's schema: the single source of truth for tables, constraints and indexes.
-- Applied by db.init_db() to a new database. Times are Unix seconds (REAL). Telegram user ids are
-- also the ids of their private chats with the bot, so one id names both the person and the chat.
-- The version below is checked at start-up; a later schema adds a migration in db.MIGRATIONS.

CREATE TABLE IF NOT EXISTS support_agents (
    user_id              INTEGER PRIMARY KEY,
    name                 TEXT    NOT NULL CHECK (length(name) BETWEEN 1 AND 64),
    username             TEXT,
    language_code        TEXT,
    is_available         INTEGER NOT NULL DEFAULT 1 CHECK (is_available IN (0, 1)),
    last_seen_at         REAL    NOT NULL,
    last_dialog_ended_at REAL,            -- NULL: never finished a dialog, so first in line
    registered_at        REAL    NOT NULL,
    -- How many open dialogs the agent has; kept by the triggers below, never by hand.
    open_dialogs         INTEGER NOT NULL DEFAULT 0 CHECK (open_dialogs >= 0),
    -- The client a message that is not a reply goes to (when the agent has several dialogs).
    focus_client_id      INTEGER,
    -- Set by /remove_support: no longer an agent (the row stays: the history names them).
    removed_at           REAL CHECK (removed_at IS NULL OR is_available = 0)
);

-- find_available_support walks available agents least loaded first, in tie-break order, without
-- sorting the table: the index holds only available agents.
CREATE INDEX IF NOT EXISTS agents_by_load
    ON support_agents (open_dialogs, last_dialog_ended_at, user_id) WHERE is_available = 1;

-- The desk's limits as the running process set them at start-up (one row), so the schema itself
-- can refuse an assignment beyond MAX_CHATS_PER_AGENT, whatever the code does; and a fingerprint
-- of the command menus last sent, so agents' menus are re-sent only when the commands change.
CREATE TABLE IF NOT EXISTS desk_limits (
    id                  INTEGER PRIMARY KEY CHECK (id = 1),
    max_chats_per_agent INTEGER NOT NULL CHECK (max_chats_per_agent BETWEEN 1 AND 20),
    menus_version       TEXT
);

CREATE TABLE IF NOT EXISTS clients (
    user_id       INTEGER PRIMARY KEY,
    name          TEXT    NOT NULL CHECK (length(name) BETWEEN 1 AND 64),
    username      TEXT,
    language_code TEXT,
    awaiting_name INTEGER NOT NULL DEFAULT 0 CHECK (awaiting_name IN (0, 1)),
    created_at    REAL    NOT NULL,
    banned_at     REAL,                   -- set by /ban: stored, never relayed, queued or answered
    ban_reason    TEXT,
    ban_notified  INTEGER NOT NULL DEFAULT 0 CHECK (ban_notified IN (0, 1)),
    next_context  TEXT                    -- a deep link's payload, for the client's next dialog
);

-- A dialog (ticket) is queued until an agent takes it, open while they talk, closed at the end.
CREATE TABLE IF NOT EXISTS dialogs (
    id                INTEGER PRIMARY KEY,
    client_id         INTEGER NOT NULL REFERENCES clients (user_id),
    agent_id          INTEGER REFERENCES support_agents (user_id),
    status            TEXT    NOT NULL CHECK (status IN ('queued', 'open', 'closed')),
    created_at        REAL    NOT NULL,
    assigned_at       REAL,
    first_response_at REAL,
    closed_at         REAL,
    queued_at         REAL,               -- when it (last) entered the queue
    requeued          INTEGER NOT NULL DEFAULT 0 CHECK (requeued IN (0, 1)),  -- back from a removed agent
    alerted_at        REAL,               -- when admins were told it waits too long
    transferred_from  INTEGER,            -- the agent who handed it over last, if any
    context           TEXT,               -- the deep link the client came from (/start <payload>)
    intake_step       INTEGER,            -- the intake question being asked; NULL: none (left)
    rating            INTEGER CHECK (rating BETWEEN 1 AND 5),
    rated_at          REAL,
    CHECK (status <> 'queued' OR (agent_id IS NULL AND assigned_at IS NULL)),
    CHECK (status <> 'open' OR (agent_id IS NOT NULL AND assigned_at IS NOT NULL)),
    CHECK ((status = 'closed') = (closed_at IS NOT NULL))
);

-- The desk's invariants, enforced by the database itself rather than by careful code: a client
-- has at most one queued-or-open dialog, and no agent has more open dialogs than the limit.
CREATE UNIQUE INDEX IF NOT EXISTS one_live_dialog_per_client
    ON dialogs (client_id) WHERE status <> 'closed';
CREATE INDEX IF NOT EXISTS open_dialogs_by_agent
    ON dialogs (agent_id, assigned_at) WHERE status = 'open';

CREATE TRIGGER IF NOT EXISTS agent_limit_on_insert BEFORE INSERT ON dialogs WHEN NEW.status = 'open'
BEGIN
    SELECT RAISE(ABORT, 'agent has no room for another dialog')
     WHERE (SELECT open_dialogs FROM support_agents WHERE user_id = NEW.agent_id)
           >= COALESCE((SELECT max_chats_per_agent FROM desk_limits), 1);
END;
CREATE TRIGGER IF NOT EXISTS agent_limit_on_update BEFORE UPDATE OF status, agent_id ON dialogs
    WHEN NEW.status = 'open' AND (OLD.status <> 'open' OR OLD.agent_id IS NOT NEW.agent_id)
BEGIN
    SELECT RAISE(ABORT, 'agent has no room for another dialog')
     WHERE (SELECT open_dialogs FROM support_agents WHERE user_id = NEW.agent_id)
           >= COALESCE((SELECT max_chats_per_agent FROM desk_limits), 1);
END;

-- support_agents.open_dialogs counts the agent's open dialogs; the database keeps it true.
CREATE TRIGGER IF NOT EXISTS agent_load_after_insert AFTER INSERT ON dialogs WHEN NEW.status = 'open'
BEGIN
    UPDATE support_agents SET open_dialogs = open_dialogs + 1 WHERE user_id = NEW.agent_id;
END;
CREATE TRIGGER IF NOT EXISTS agent_load_after_update AFTER UPDATE OF status, agent_id ON dialogs
    WHEN (OLD.status = 'open') <> (NEW.status = 'open') OR OLD.agent_id IS NOT NEW.agent_id
BEGIN
    UPDATE support_agents SET open_dialogs = open_dialogs - 1
     WHERE OLD.status = 'open' AND user_id = OLD.agent_id;
    UPDATE support_agents SET open_dialogs = open_dialogs + 1
     WHERE NEW.status = 'open' AND user_id = NEW.agent_id;
    -- A dialog that leaves an agent stops being their focus.
    UPDATE support_agents SET focus_client_id = NULL
     WHERE OLD.status = 'open' AND user_id = OLD.agent_id AND focus_client_id = OLD.client_id
       AND NOT (NEW.status = 'open' AND NEW.agent_id IS OLD.agent_id);
END;
CREATE TRIGGER IF NOT EXISTS agent_load_after_delete AFTER DELETE ON dialogs WHEN OLD.status = 'open'
BEGIN
    UPDATE support_agents SET open_dialogs = open_dialogs - 1 WHERE user_id = OLD.agent_id;
END;

-- The queue: dialogs handed back by a removed agent first, then in order of arrival. A dialog whose
-- client is still answering the intake questions is queued but not yet waiting.
CREATE INDEX IF NOT EXISTS queue_order
    ON dialogs (requeued DESC, created_at, id) WHERE status = 'queued' AND intake_step IS NULL;
CREATE INDEX IF NOT EXISTS dialogs_by_client ON dialogs (client_id, id);
CREATE INDEX IF NOT EXISTS dialogs_by_created ON dialogs (created_at, id);   -- /export, /stats all
CREATE INDEX IF NOT EXISTS dialogs_by_agent
    ON dialogs (agent_id, closed_at) WHERE status = 'closed';

-- Every message a client or an agent sent, in arrival order (id).
CREATE TABLE IF NOT EXISTS chat_history (
    id           INTEGER PRIMARY KEY,
    dialog_id    INTEGER NOT NULL REFERENCES dialogs (id),
    client_id    INTEGER NOT NULL REFERENCES clients (user_id),
    sender       TEXT    NOT NULL CHECK (sender IN ('client', 'agent')),
    kind         TEXT    NOT NULL DEFAULT 'message' CHECK (kind IN ('message', 'note')),  -- a note: agents only
    agent_id     INTEGER REFERENCES support_agents (user_id),
    message_id   INTEGER NOT NULL,        -- the message's id in its author's chat
    content_type TEXT    NOT NULL,
    text         TEXT,                    -- the text, or the media's caption
    entities     TEXT,                    -- JSON list of the text's formatting entities
    details      TEXT,                    -- a description of media: file name, coordinates, phone
    created_at   REAL    NOT NULL,
    media_group_id TEXT,                  -- the album the message is part of
    -- When it was handed to the outbox for the other side; NULL while it waits (the queue, the
    -- intake questions, an album still arriving, or an earlier message that waits).
    relayed_at   REAL,
    CHECK ((sender = 'agent') = (agent_id IS NOT NULL))
);
CREATE INDEX IF NOT EXISTS history_by_client ON chat_history (client_id, id);
CREATE INDEX IF NOT EXISTS history_by_dialog ON chat_history (dialog_id, id);
CREATE INDEX IF NOT EXISTS history_by_agent ON chat_history (agent_id) WHERE agent_id IS NOT NULL;
-- An edit names the message by its id in the author's chat.
CREATE INDEX IF NOT EXISTS history_by_client_message ON chat_history (client_id, message_id) WHERE sender = 'client';
CREATE INDEX IF NOT EXISTS history_by_agent_message ON chat_history (agent_id, message_id) WHERE sender = 'agent';
-- Messages still to be relayed, per dialog.
CREATE INDEX IF NOT EXISTS history_unrelayed ON chat_history (dialog_id, id) WHERE relayed_at IS NULL;

-- Each edit of a stored message: the new text or caption, and when.
CREATE TABLE IF NOT EXISTS message_edits (
    id         INTEGER PRIMARY KEY,
    history_id INTEGER NOT NULL REFERENCES chat_history (id),
    text       TEXT,
    entities   TEXT,                      -- JSON
    edited_at  REAL    NOT NULL
);
CREATE INDEX IF NOT EXISTS edits_by_message ON message_edits (history_id, id);

-- The intake questionnaire's answers, per dialog, in the order asked.
CREATE TABLE IF NOT EXISTS intake_answers (
    dialog_id  INTEGER NOT NULL REFERENCES dialogs (id),
    position   INTEGER NOT NULL,
    key        TEXT    NOT NULL,
    question   TEXT    NOT NULL,
    answer     TEXT,                      -- NULL: skipped
    answered_at REAL   NOT NULL,
    PRIMARY KEY (dialog_id, position)
) WITHOUT ROWID;

-- Transactional outbox: every call to Telegram that must happen is written here in the same
-- transaction as its cause, and delivery.Sender drains it in order per chat.
CREATE TABLE IF NOT EXISTS outbox (
    id              INTEGER PRIMARY KEY,
    chat_id         INTEGER NOT NULL,     -- 0 for bot-wide calls (the default command menu)
    method          TEXT    NOT NULL,
    payload         TEXT    NOT NULL,     -- JSON
    status          TEXT    NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'sent', 'failed')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at REAL    NOT NULL,
    created_at      REAL    NOT NULL,
    done_at         REAL,
    last_error      TEXT,
    CHECK ((status = 'pending') = (done_at IS NULL))
);
CREATE INDEX IF NOT EXISTS outbox_pending ON outbox (chat_id, id) WHERE status = 'pending';
CREATE INDEX IF NOT EXISTS outbox_done ON outbox (done_at) WHERE status <> 'pending';

-- The copies Telegram made of relayed messages: the copy's chat and id, the original's, and the
-- dialog. Written when the relay is marked sent, so a reply to a copy finds its client and an
-- edit of the original finds the copy to edit. source_message_id is NULL for a notice the desk
-- wrote about a client (the new-client card), which belongs to the dialog all the same.
CREATE TABLE IF NOT EXISTS message_links (
    chat_id           INTEGER NOT NULL,
    message_id        INTEGER NOT NULL,
    source_chat_id    INTEGER NOT NULL,
    source_message_id INTEGER,
    dialog_id         INTEGER NOT NULL REFERENCES dialogs (id),
    created_at        REAL    NOT NULL,
    PRIMARY KEY (chat_id, message_id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS message_links_by_source ON message_links (source_chat_id, source_message_id);

-- Updates whose effects are committed: a redelivered update is recognised and skipped.
-- Pruned after two days (Telegram keeps an unconfirmed update for 24 hours).
CREATE TABLE IF NOT EXISTS processed_updates (
    update_id    INTEGER PRIMARY KEY,
    processed_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS processed_updates_age ON processed_updates (processed_at);

-- Updates that failed repeatedly: kept whole for the operator instead of being dropped.
CREATE TABLE IF NOT EXISTS failed_updates (
    update_id INTEGER PRIMARY KEY,
    payload   TEXT NOT NULL,
    error     TEXT NOT NULL,
    failed_at REAL NOT NULL
);

-- Saved replies agents send with /t <name>.
CREATE TABLE IF NOT EXISTS saved_replies (
    name       TEXT PRIMARY KEY CHECK (length(name) BETWEEN 1 AND 32),
    text       TEXT NOT NULL CHECK (length(text) BETWEEN 1 AND 4096),
    created_by INTEGER NOT NULL,
    created_at REAL NOT NULL
);

-- Wrong /register_support tokens per user; five in a row lock the user out for a while.
CREATE TABLE IF NOT EXISTS register_attempts (
    user_id      INTEGER PRIMARY KEY,
    failures     INTEGER NOT NULL DEFAULT 0 CHECK (failures >= 0),
    locked_until REAL
);

PRAGMA user_version = 5;
