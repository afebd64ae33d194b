-- The group commit inserts every message after locking its room row FOR
-- UPDATE in the same transaction (unknown rooms are refused there), parents
-- are checked to be live messages of the same room, and DeleteRoom deletes
-- a room's messages in the room's own transaction. So these foreign keys
-- checked nothing the service does not already guarantee, but each cost a
-- trigger call per inserted message: EXPLAIN ANALYZE of a 5,000-row insert
-- showed the room key's trigger taking 40-130% of the insert's own time
-- (quality bar M5, persisted messages per second). The parent index only
-- served ON DELETE SET NULL.

-- +goose Up
ALTER TABLE messages
    DROP CONSTRAINT messages_room_id_fkey,
    DROP CONSTRAINT messages_parent_id_fkey;
DROP INDEX messages_parent_id;

-- +goose Down
CREATE INDEX messages_parent_id ON messages (parent_id) WHERE parent_id IS NOT NULL;
ALTER TABLE messages
    ADD CONSTRAINT messages_room_id_fkey FOREIGN KEY (room_id) REFERENCES rooms (id) ON DELETE CASCADE,
    ADD CONSTRAINT messages_parent_id_fkey FOREIGN KEY (parent_id) REFERENCES messages (id) ON DELETE SET NULL;
