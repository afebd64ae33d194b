-- Mentions (@nickname in chat) are resolved by nickname, case-insensitively
-- (FindByNicknames): without this index every lookup read every profile.
-- user_id second: the lowest ids of a shared nickname come first.

-- +goose Up
CREATE INDEX profiles_nickname_lower_idx ON profiles (lower(nickname), user_id);

-- +goose Down
DROP INDEX profiles_nickname_lower_idx;
