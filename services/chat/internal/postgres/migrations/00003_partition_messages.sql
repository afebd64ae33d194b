-- Messages become declaratively partitioned by HASH (room_id), the column a
-- distributed engine (Citus) shards them by too: every room's messages live
-- in one partition, and everything the service does often names the room
-- (history pages, the group commit's inserts and parent checks, edits and
-- deletes from a socket), so those statements touch one partition.
--
-- A partitioned table's primary key and unique constraints must contain the
-- partition key, hence:
--   * primary key (id, room_id): id still comes from one identity sequence,
--     so it stays unique across partitions. id leads so that the key's
--     index in each partition also serves the lookups by id alone that the
--     public REST routes (/api/chat/message/<id>/) still need (they probe
--     every partition's index), and lookups by (room_id, id) probe it in
--     one partition; a separate index on id would cost every insert a
--     fourth index entry for nothing;
--   * unique (room_id, seq) and the idempotency index, unchanged.
--
-- 16 partitions: enough that each partition's indexes and vacuum work are a
-- sixteenth of the table, and that any later split (one hash partition of
-- modulus 16 into two of modulus 32) stays a per-partition job; few enough
-- that the queries which cannot prune (lookups by id alone) probe 16 small
-- indexes, not hundreds, and that planning stays cheap. The count is a
-- power of two so that it can double without moving rows between
-- partitions other than the one being split.
--
-- The conversion runs in goose's transaction: the old table is locked
-- first (replicas still running the old code wait instead of writing into
-- a table about to be dropped), copied, dropped, and the new one takes its
-- names, so a failure leaves the old table as it was.

-- +goose Up
LOCK TABLE messages IN ACCESS EXCLUSIVE MODE;

CREATE TABLE messages_new (
    id            bigint GENERATED ALWAYS AS IDENTITY,
    room_id       bigint NOT NULL,
    seq           bigint NOT NULL,
    sender_id     bigint NOT NULL,
    text          text NOT NULL CONSTRAINT messages_text_check CHECK (char_length(text) BETWEEN 1 AND 2000),
    parent_id     bigint,
    client_msg_id text NOT NULL DEFAULT ''
        CONSTRAINT messages_client_msg_id_check CHECK (char_length(client_msg_id) <= 64),
    created_at    timestamptz NOT NULL DEFAULT clock_timestamp(),
    edited_at     timestamptz,
    deleted_at    timestamptz
) PARTITION BY HASH (room_id);

-- +goose StatementBegin
DO $$
BEGIN
    FOR r IN 0..15 LOOP
        EXECUTE format('CREATE TABLE messages_p%s PARTITION OF messages_new FOR VALUES WITH (MODULUS 16, REMAINDER %s)',
            lpad(r::text, 2, '0'), r);
    END LOOP;
END
$$;
-- +goose StatementEnd

-- Copied before the indexes exist: building them afterwards is cheaper
-- than maintaining them row by row.
INSERT INTO messages_new (id, room_id, seq, sender_id, text, parent_id, client_msg_id, created_at, edited_at, deleted_at)
OVERRIDING SYSTEM VALUE
SELECT id, room_id, seq, sender_id, text, parent_id, client_msg_id, created_at, edited_at, deleted_at FROM messages;

-- The new identity continues where the old one stopped.
SELECT setval(pg_get_serial_sequence('messages_new', 'id'), last_value, is_called) FROM messages_id_seq;

DROP TABLE messages;
ALTER TABLE messages_new RENAME TO messages;
ALTER SEQUENCE messages_new_id_seq RENAME TO messages_id_seq;

ALTER TABLE messages
    ADD CONSTRAINT messages_pkey PRIMARY KEY (id, room_id),
    -- Also the index history pages over (room_id, seq) in both directions.
    ADD CONSTRAINT messages_room_seq UNIQUE (room_id, seq);

-- Idempotent sends: one message per (room, sender, client_msg_id). A
-- violation is reported under the partition's index name, so each
-- partition's index is created first with a name isDedupConflict
-- recognises (messages_pNN_client_msg_id); the parent's index adopts them.
-- +goose StatementBegin
DO $$
BEGIN
    FOR r IN 0..15 LOOP
        EXECUTE format('CREATE UNIQUE INDEX messages_p%1$s_client_msg_id ON messages_p%1$s (room_id, sender_id, client_msg_id) '
            'WHERE client_msg_id <> ''''', lpad(r::text, 2, '0'));
    END LOOP;
END
$$;
-- +goose StatementEnd
CREATE UNIQUE INDEX messages_client_msg_id ON messages (room_id, sender_id, client_msg_id) WHERE client_msg_id <> '';

-- +goose Down
LOCK TABLE messages IN ACCESS EXCLUSIVE MODE;

CREATE TABLE messages_old (
    id            bigint GENERATED ALWAYS AS IDENTITY,
    room_id       bigint NOT NULL,
    seq           bigint NOT NULL,
    sender_id     bigint NOT NULL,
    text          text NOT NULL CONSTRAINT messages_text_check CHECK (char_length(text) BETWEEN 1 AND 2000),
    parent_id     bigint,
    client_msg_id text NOT NULL DEFAULT ''
        CONSTRAINT messages_client_msg_id_check CHECK (char_length(client_msg_id) <= 64),
    created_at    timestamptz NOT NULL DEFAULT clock_timestamp(),
    edited_at     timestamptz,
    deleted_at    timestamptz
);

INSERT INTO messages_old (id, room_id, seq, sender_id, text, parent_id, client_msg_id, created_at, edited_at, deleted_at)
OVERRIDING SYSTEM VALUE
SELECT id, room_id, seq, sender_id, text, parent_id, client_msg_id, created_at, edited_at, deleted_at FROM messages;

SELECT setval(pg_get_serial_sequence('messages_old', 'id'), last_value, is_called) FROM messages_id_seq;

DROP TABLE messages; -- with its partitions
ALTER TABLE messages_old RENAME TO messages;
ALTER SEQUENCE messages_old_id_seq RENAME TO messages_id_seq;

ALTER TABLE messages
    ADD CONSTRAINT messages_pkey PRIMARY KEY (id),
    ADD CONSTRAINT messages_room_seq UNIQUE (room_id, seq);
CREATE UNIQUE INDEX messages_client_msg_id ON messages (room_id, sender_id, client_msg_id) WHERE client_msg_id <> '';
