-- +goose Up
-- Staff may moderate every chat room. Only an operator sets it (the staff
-- command, services/user/README.md); no API route writes it.
ALTER TABLE users ADD COLUMN is_staff boolean NOT NULL DEFAULT false;

-- One-directional: user_id blocks blocked_id.
CREATE TABLE blocks (
    user_id    bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    blocked_id bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, blocked_id),
    CHECK (user_id <> blocked_id)
);
-- Listing, latest first, and paging by (created_at, blocked_id).
CREATE INDEX blocks_list_idx ON blocks (user_id, created_at DESC, blocked_id DESC);
-- "Does B block A" looks up by the primary key with the roles swapped; the
-- cascade on a deleted user needs this one.
CREATE INDEX blocks_blocked_id_idx ON blocks (blocked_id);

-- +goose Down
DROP TABLE blocks;
ALTER TABLE users DROP COLUMN is_staff;
