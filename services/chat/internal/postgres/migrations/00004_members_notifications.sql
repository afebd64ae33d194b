-- Conversations (issue #12): room membership with read markers, and
-- notifications.
--
-- Unread counts are seq arithmetic, never a count of messages:
--   unread = rooms.last_seq - last_read_seq - (own_total - own_read)
-- own_total counts the member's messages in the room (bumped in the group
-- commit that stores them), own_read those with seq <= last_read_seq
-- (moved with the marker). Every seq up to rooms.last_seq is one message,
-- so that is exactly the messages after the marker that others sent.
-- Deleted messages keep their seq and stay counted until read: deleting
-- one does not touch every member's row.
--
-- Sharding: members and notifications are keyed (and would be distributed)
-- by user_id, since every read of them names the user; the group commit
-- writes a sender's row next to the room's messages, a cross-shard write
-- under Citus (the room row lock still orders it).

-- +goose Up
ALTER TABLE rooms
    -- Time of the newest message; set by the group commit. NULL: none yet.
    ADD COLUMN last_message_at timestamptz;

CREATE TABLE room_members (
    user_id       bigint NOT NULL,
    room_id       bigint NOT NULL,
    last_read_seq bigint NOT NULL DEFAULT 0,
    own_total     bigint NOT NULL DEFAULT 0,
    own_read      bigint NOT NULL DEFAULT 0,
    joined_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, room_id),
    CHECK (own_read <= own_total)
);
-- Deleting a room deletes its members by room.
CREATE INDEX room_members_room ON room_members (room_id);

-- Existing senders become members with everything read (one scan of the
-- messages, once).
INSERT INTO room_members (user_id, room_id, last_read_seq, own_total, own_read)
SELECT m.sender_id, m.room_id, r.last_seq, count(*), count(*)
FROM messages m JOIN rooms r ON r.id = m.room_id
GROUP BY m.sender_id, m.room_id, r.last_seq;

-- The newest message's time: one probe of the (room_id, seq) index per room.
UPDATE rooms SET last_message_at =
    (SELECT created_at FROM messages WHERE room_id = rooms.id ORDER BY seq DESC LIMIT 1);

-- Per user: the last notification id handed out (ids are 1, 2, 3, ...
-- without gaps: taken under this row's lock in the writing transaction)
-- and how many are unread, so the unread badge is one row.
CREATE TABLE notification_counters (
    user_id bigint PRIMARY KEY,
    last_id bigint NOT NULL,
    unread  bigint NOT NULL CHECK (unread >= 0)
);

CREATE TABLE notifications (
    user_id    bigint NOT NULL,
    id         bigint NOT NULL,
    kind       text NOT NULL CHECK (kind IN ('mention', 'reply', 'dm', 'friend')),
    actor_id   bigint NOT NULL,
    -- 0 for kind friend.
    room_id    bigint NOT NULL DEFAULT 0,
    message_id bigint NOT NULL DEFAULT 0,
    seq        bigint NOT NULL DEFAULT 0,
    excerpt    text NOT NULL DEFAULT '',
    created_at timestamptz NOT NULL DEFAULT now(),
    read       boolean NOT NULL DEFAULT false,
    PRIMARY KEY (user_id, id)
);
-- GET /api/notifications/?unread=1 pages over these.
CREATE INDEX notifications_unread ON notifications (user_id, id) WHERE NOT read;

-- +goose Down
DROP TABLE notifications;
DROP TABLE notification_counters;
DROP TABLE room_members;
ALTER TABLE rooms DROP COLUMN last_message_at;
