-- +goose Up
CREATE TABLE users (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    email         text NOT NULL CHECK (length(email) BETWEEN 3 AND 254),
    password_hash text NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now()
);
-- Emails are unique case-insensitively; registration relies on this index
-- (not on a look-up first), so concurrent sign-ups cannot both win.
CREATE UNIQUE INDEX users_email_lower_key ON users (lower(email));

CREATE TABLE profiles (
    user_id        bigint PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    nickname       text NOT NULL CHECK (char_length(nickname) <= 20),
    bio            text NOT NULL DEFAULT '' CHECK (char_length(bio) <= 500),
    skills         text[] NOT NULL DEFAULT '{}',
    interests      text[] NOT NULL DEFAULT '{}',
    status         text NOT NULL DEFAULT 'available' CHECK (status IN ('available', 'away', 'busy')),
    is_private     boolean NOT NULL DEFAULT false,
    contact_number text NOT NULL DEFAULT '',
    picture_key    text NOT NULL DEFAULT ''
);

-- One-directional: user_id added friend_id.
CREATE TABLE friends (
    user_id    bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    friend_id  bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, friend_id),
    CHECK (user_id <> friend_id)
);
CREATE INDEX friends_list_idx ON friends (user_id, created_at, friend_id);
CREATE INDEX friends_friend_id_idx ON friends (friend_id);

-- A refresh-token family starts at login; every rotation adds a token to it.
CREATE TABLE refresh_families (
    id            text PRIMARY KEY,
    user_id       bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at    timestamptz NOT NULL DEFAULT now(),
    expires_at    timestamptz NOT NULL,
    revoked_at    timestamptz,
    revoke_reason text
);
CREATE INDEX refresh_families_user_idx ON refresh_families (user_id);
CREATE INDEX refresh_families_expires_idx ON refresh_families (expires_at);

CREATE TABLE refresh_tokens (
    jti        text PRIMARY KEY,
    family_id  text NOT NULL REFERENCES refresh_families (id) ON DELETE CASCADE,
    issued_at  timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL,
    used_at    timestamptz
);
CREATE INDEX refresh_tokens_family_idx ON refresh_tokens (family_id);

-- Media objects (profile pictures), behind the MediaStore interface.
CREATE TABLE media (
    key          text PRIMARY KEY,
    content_type text NOT NULL,
    data         bytea NOT NULL,
    etag         text NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now()
);

-- +goose Down
DROP TABLE media;
DROP TABLE refresh_tokens;
DROP TABLE refresh_families;
DROP TABLE friends;
DROP TABLE profiles;
DROP TABLE users;
