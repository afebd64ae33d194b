-- +goose Up
-- Web Push subscriptions, one per browser profile (device). The endpoint is
-- unique across users: a browser profile has one owner at a time, so when
-- another user subscribes from it, the row moves (SubscribePush).
CREATE TABLE push_subscriptions (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id         bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    endpoint        text NOT NULL UNIQUE CHECK (length(endpoint) BETWEEN 1 AND 2048),
    p256dh          bytea NOT NULL CHECK (length(p256dh) = 65),
    auth            bytea NOT NULL CHECK (length(auth) = 16),
    user_agent      text NOT NULL DEFAULT '' CHECK (char_length(user_agent) <= 200),
    created_at      timestamptz NOT NULL DEFAULT now(),
    last_success_at timestamptz
);
CREATE INDEX push_subscriptions_user_idx ON push_subscriptions (user_id);

-- +goose Down
DROP TABLE push_subscriptions;
