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
    -- 1 while the agent has an open dialog; kept by the triggers below, never by hand.
    is_busy              INTEGER NOT NULL DEFAULT 0 CHECK (is_busy IN (0, 1))
);

-- find_available_support walks free agents in tie-break order without sorting the table, and
-- without stepping over busy ones: the index holds only available agents with no open dialog.
CREATE INDEX IF NOT EXISTS agents_free_order
    ON support_agents (last_dialog_ended_at, user_id) WHERE is_available = 1 AND is_busy = 0;

CREATE TABLE IF NOT EXISTS clients (
    user_id       INTEGER PRIMARY KEY,
    name          TEXT    NOT NULL CHECK (length(name) BETWEEN 1 AND 64),
    username      TEXT,
    language_code TEXT,
    awaiting_name INTEGER NOT NULL DEFAULT 0 CHECK (awaiting_name IN (0, 1)),
    created_at    REAL    NOT NULL
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
    CHECK (status <> 'queued' OR (agent_id IS NULL AND assigned_at IS NULL)),
    CHECK (status <> 'open' OR (agent_id IS NOT NULL AND assigned_at IS NOT NULL)),
    CHECK ((status = 'closed') = (closed_at IS NOT NULL))
);

-- The desk's invariants, enforced by the database itself rather than by careful code:
-- a client has at most one queued-or-open dialog, an agent at most one open dialog.
CREATE UNIQUE INDEX IF NOT EXISTS one_live_dialog_per_client
    ON dialogs (client_id) WHERE status <> 'closed';
CREATE UNIQUE INDEX IF NOT EXISTS one_open_dialog_per_agent
    ON dialogs (agent_id) WHERE status = 'open';

-- support_agents.is_busy mirrors "has an open dialog"; the database keeps it true on every change.
CREATE TRIGGER IF NOT EXISTS agent_busy_after_insert AFTER INSERT ON dialogs WHEN NEW.status = 'open'
BEGIN
    UPDATE support_agents SET is_busy = 1 WHERE user_id = NEW.agent_id;
END;
CREATE TRIGGER IF NOT EXISTS agent_busy_after_update AFTER UPDATE OF status, agent_id ON dialogs
BEGIN
    UPDATE support_agents
       SET is_busy = EXISTS (SELECT 1 FROM dialogs WHERE agent_id = support_agents.user_id AND status = 'open')
     WHERE user_id IN (OLD.agent_id, NEW.agent_id);
END;
CREATE TRIGGER IF NOT EXISTS agent_busy_after_delete AFTER DELETE ON dialogs WHEN OLD.status = 'open'
BEGIN
    UPDATE support_agents SET is_busy = 0 WHERE user_id = OLD.agent_id;
END;

CREATE INDEX IF NOT EXISTS queue_order
    ON dialogs (created_at, id) WHERE status = 'queued';
CREATE INDEX IF NOT EXISTS dialogs_by_agent
    ON dialogs (agent_id, closed_at) WHERE status = 'closed';

-- Every message a client or an agent sent, in arrival order (id).
CREATE TABLE IF NOT EXISTS chat_history (
    id           INTEGER PRIMARY KEY,
    dialog_id    INTEGER NOT NULL REFERENCES dialogs (id),
    client_id    INTEGER NOT NULL REFERENCES clients (user_id),
    sender       TEXT    NOT NULL CHECK (sender IN ('client', 'agent')),
    agent_id     INTEGER REFERENCES support_agents (user_id),
    message_id   INTEGER NOT NULL,        -- the message's id in its author's chat
    content_type TEXT    NOT NULL,
    text         TEXT,                    -- the text, or the media's caption
    entities     TEXT,                    -- JSON list of the text's formatting entities
    details      TEXT,                    -- a description of media: file name, coordinates, phone
    created_at   REAL    NOT NULL,
    CHECK ((sender = 'agent') = (agent_id IS NOT NULL))
);
CREATE INDEX IF NOT EXISTS history_by_client ON chat_history (client_id, id);
CREATE INDEX IF NOT EXISTS history_by_dialog ON chat_history (dialog_id, id);
CREATE INDEX IF NOT EXISTS history_by_agent ON chat_history (agent_id) WHERE agent_id IS NOT NULL;

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

-- Wrong /register_support tokens per user; five in a row lock the user out for a while.
CREATE TABLE IF NOT EXISTS register_attempts (
    user_id      INTEGER PRIMARY KEY,
    failures     INTEGER NOT NULL DEFAULT 0 CHECK (failures >= 0),
    locked_until REAL
);

PRAGMA user_version = 3;
