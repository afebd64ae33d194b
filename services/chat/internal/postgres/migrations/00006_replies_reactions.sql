-- Replies and reactions.
--
-- reply_count is kept by the statements that store and delete replies
-- (the group commit of a batch with replies, DeleteMessage), so reading a
-- message never counts its replies. reaction_rev numbers the changes of a
-- message's reactions: a toggle bumps it first, which also serialises the
-- toggles of one message (the distinct-emoji cap and one user's two
-- concurrent toggles stay exact) and lets clients drop a reaction frame
-- that arrives after a newer one. Adding columns with constant defaults
-- rewrites nothing (PostgreSQL 11+).
--
-- Replies are one level deep: a parent is never itself a reply.

-- +goose Up
ALTER TABLE messages
    ADD COLUMN reply_count  integer NOT NULL DEFAULT 0,
    ADD COLUMN reaction_rev bigint  NOT NULL DEFAULT 0;

-- Replies stored before this migration count too.
UPDATE messages p SET reply_count = c.n
FROM (SELECT room_id, parent_id, count(*) AS n FROM messages
      WHERE parent_id IS NOT NULL AND deleted_at IS NULL GROUP BY room_id, parent_id) c
WHERE p.room_id = c.room_id AND p.id = c.parent_id;

-- The replies route pages a parent's replies by seq. Partial: messages
-- that are not replies (most of them) add no entry, so the send path of a
-- plain message maintains the same indexes as before.
CREATE INDEX messages_replies ON messages (room_id, parent_id, seq) WHERE parent_id IS NOT NULL;

-- One row per user and emoji on a message. Keyed by message id (unique
-- over every partition of messages); room_id rides along for cleanup of
-- deleted rooms.
CREATE TABLE message_reactions (
    message_id bigint NOT NULL,
    user_id    bigint NOT NULL,
    emoji      text   NOT NULL CHECK (octet_length(emoji) BETWEEN 1 AND 16),
    room_id    bigint NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (message_id, user_id, emoji)
);
CREATE INDEX message_reactions_room ON message_reactions (room_id);

-- The count per (message, emoji), so a message's reactions are read from
-- at most a few rows instead of one per reacting user. first_at orders the
-- emoji as they were first used.
CREATE TABLE message_reaction_counts (
    message_id bigint NOT NULL,
    emoji      text   NOT NULL,
    count      integer NOT NULL CHECK (count > 0),
    room_id    bigint NOT NULL,
    first_at   timestamptz NOT NULL DEFAULT clock_timestamp(),
    PRIMARY KEY (message_id, emoji)
);
CREATE INDEX message_reaction_counts_room ON message_reaction_counts (room_id);

-- +goose Down
DROP TABLE message_reaction_counts;
DROP TABLE message_reactions;
DROP INDEX messages_replies;
ALTER TABLE messages DROP COLUMN reaction_rev, DROP COLUMN reply_count;
