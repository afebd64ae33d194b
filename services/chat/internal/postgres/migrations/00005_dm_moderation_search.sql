-- Direct messages, moderation and message search (conversations).

-- +goose Up

-- A room is a post's room ('post', also rooms created without a post) or
-- the private room of two users ('dm'). A DM room has no owner (owner_id
-- 0: nobody may rename, delete or moderate it) and names its pair, lower
-- id first; the unique pair makes concurrent creation from both sides end
-- in one room.
ALTER TABLE rooms
    ADD COLUMN kind text NOT NULL DEFAULT 'post' CHECK (kind IN ('post', 'dm')),
    ADD COLUMN dm_low bigint,
    ADD COLUMN dm_high bigint,
    ADD CONSTRAINT rooms_dm_pair CHECK ((kind = 'dm') = (dm_low IS NOT NULL AND dm_high IS NOT NULL)
        AND (dm_low IS NULL OR dm_low < dm_high)),
    ADD CONSTRAINT rooms_dm_pair_key UNIQUE (dm_low, dm_high);

-- A muted member's sends are refused until "until". Lifting a mute deletes
-- its row; expired rows are ignored and overwritten by the next mute.
CREATE TABLE room_mutes (
    room_id   bigint NOT NULL REFERENCES rooms (id) ON DELETE CASCADE,
    user_id   bigint NOT NULL,
    until     timestamptz NOT NULL,
    muted_by  bigint NOT NULL,
    muted_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (room_id, user_id)
);

-- One report per user per message. No foreign keys: reports (and the
-- audit below) outlive the rooms and messages they are about, so a report
-- keeps what the message said when it was reported.
CREATE TABLE message_reports (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    message_id   bigint NOT NULL,
    room_id      bigint NOT NULL,
    sender_id    bigint NOT NULL,
    message_text text NOT NULL,
    reporter_id  bigint NOT NULL,
    reason       text NOT NULL CHECK (char_length(reason) BETWEEN 1 AND 500),
    created_at  timestamptz NOT NULL DEFAULT now(),
    UNIQUE (message_id, reporter_id)
);

-- Every moderation action: a delete by someone other than the sender, a
-- mute, an unmute.
CREATE TABLE moderation_audit (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    actor_id       bigint NOT NULL,
    action         text NOT NULL CHECK (action IN ('delete', 'mute', 'unmute')),
    target_user_id bigint NOT NULL,
    room_id        bigint NOT NULL,
    message_id     bigint,
    detail         text NOT NULL DEFAULT '',
    created_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX moderation_audit_room_idx ON moderation_audit (room_id, id);

-- Substring search: a trigram GIN index serves ILIKE '%...%' for any
-- script (Korean included). pg_trgm ships with PostgreSQL's contrib and is
-- a trusted extension (the database owner may create it). Where it cannot
-- be created the migration goes on without the index, and search still
-- answers correctly, by scanning the room's messages (services/chat/README.md).
-- +goose StatementBegin
DO $$
BEGIN
    CREATE EXTENSION IF NOT EXISTS pg_trgm;
EXCEPTION WHEN OTHERS THEN
    RAISE WARNING 'pg_trgm unavailable (%): message search runs without its index', SQLERRM;
END
$$;
-- +goose StatementEnd
-- +goose StatementBegin
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm') THEN
        -- On a partitioned table this creates one index per partition.
        -- fastupdate off: with GIN's pending list, the insert that finds
        -- the list full merges it into the index inside its own commit, a
        -- stall of tens of milliseconds for every message of that batch
        -- (busy-room p99 27-45 ms against 10 ms without; BENCHMARKS.md).
        CREATE INDEX messages_text_trgm ON messages USING gin (text gin_trgm_ops) WITH (fastupdate = off);
    END IF;
END
$$;
-- +goose StatementEnd

-- +goose Down
DROP INDEX IF EXISTS messages_text_trgm;
DROP TABLE moderation_audit;
DROP TABLE message_reports;
DROP TABLE room_mutes;
ALTER TABLE rooms
    DROP CONSTRAINT rooms_dm_pair_key,
    DROP CONSTRAINT rooms_dm_pair,
    DROP COLUMN dm_high,
    DROP COLUMN dm_low,
    DROP COLUMN kind;
