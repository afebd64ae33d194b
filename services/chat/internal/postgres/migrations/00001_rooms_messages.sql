-- +goose Up
CREATE TABLE rooms (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name       text NOT NULL CHECK (char_length(name) BETWEEN 1 AND 100),
    owner_id   bigint NOT NULL,
    -- NULL for rooms without a post; a post has at most one room.
    post_id    bigint UNIQUE,
    -- Highest seq handed out; bumped in the same transaction as the insert,
    -- and its row lock serialises writers of one room, so seqs are gap-free.
    last_seq   bigint NOT NULL DEFAULT 0,
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE messages (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    room_id       bigint NOT NULL REFERENCES rooms (id) ON DELETE CASCADE,
    seq           bigint NOT NULL,
    sender_id     bigint NOT NULL,
    text          text NOT NULL CHECK (char_length(text) BETWEEN 1 AND 2000),
    parent_id     bigint REFERENCES messages (id) ON DELETE SET NULL,
    client_msg_id text NOT NULL DEFAULT '' CHECK (char_length(client_msg_id) <= 64),
    -- clock_timestamp, not now(): messages of one batch (one transaction)
    -- still get distinct, seq-ordered times.
    created_at    timestamptz NOT NULL DEFAULT clock_timestamp(),
    edited_at     timestamptz,
    -- Deleted messages keep their row (and seq) but leave history.
    deleted_at    timestamptz,
    -- Also the index history pages over (room_id, seq) in both directions.
    CONSTRAINT messages_room_seq UNIQUE (room_id, seq)
);

-- Idempotent sends: one message per (room, sender, client_msg_id).
CREATE UNIQUE INDEX messages_client_msg_id ON messages (room_id, sender_id, client_msg_id)
    WHERE client_msg_id <> '';

-- Keeps ON DELETE SET NULL of parent_id cheap.
CREATE INDEX messages_parent_id ON messages (parent_id) WHERE parent_id IS NOT NULL;

-- +goose Down
DROP TABLE messages;
DROP TABLE rooms;
