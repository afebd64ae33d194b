-- +goose Up
-- Trigram indexes make case-insensitive substring search (ILIKE '%term%')
-- use an index. pg_trgm ships with PostgreSQL's contrib and is a trusted
-- extension, so the database owner may create it.
CREATE EXTENSION IF NOT EXISTS pg_trgm;

CREATE TABLE categories (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name       text NOT NULL CHECK (char_length(name) BETWEEN 1 AND 50),
    created_at timestamptz NOT NULL DEFAULT now()
);
-- Unique case-insensitively; CreateCategory relies on this index, not on a
-- look-up first, so concurrent creates cannot both win.
CREATE UNIQUE INDEX categories_name_lower_key ON categories (lower(name));

INSERT INTO categories (name) VALUES ('Programming'), ('Ormi'), ('ESTsoft');

CREATE TABLE tags (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name       text NOT NULL CHECK (char_length(name) BETWEEN 1 AND 50),
    -- How many posts use the tag, kept in the same transaction as
    -- post_tags so that ListTags is an index scan, not an aggregate over
    -- every post.
    post_count bigint NOT NULL DEFAULT 0 CHECK (post_count >= 0)
);
CREATE UNIQUE INDEX tags_name_lower_key ON tags (lower(name));
CREATE INDEX tags_post_count_idx ON tags (post_count DESC, lower(name));

-- Post ids come from this sequence before the row exists: CreatePost
-- reserves an id, creates the chat room for it, then inserts the row.
CREATE TABLE posts (
    id          bigint PRIMARY KEY,
    title       text NOT NULL CHECK (char_length(title) BETWEEN 1 AND 200),
    content     text NOT NULL CHECK (char_length(content) <= 100000),
    category_id bigint NOT NULL REFERENCES categories (id),
    writer_id   bigint NOT NULL,
    room_id     bigint NOT NULL,
    -- The category name and tag names, lower-case, separated by newlines:
    -- what search matches besides title and content. Rewritten whenever
    -- the post's category or tags change (categories are never renamed).
    search_meta text NOT NULL DEFAULT '',
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);
CREATE SEQUENCE posts_id_seq OWNED BY posts.id;
ALTER TABLE posts ALTER COLUMN id SET DEFAULT nextval('posts_id_seq');

-- Keyset pagination, newest first, overall and per filter.
CREATE INDEX posts_created_idx ON posts (created_at DESC, id DESC);
CREATE INDEX posts_category_created_idx ON posts (category_id, created_at DESC, id DESC);
CREATE INDEX posts_writer_created_idx ON posts (writer_id, created_at DESC, id DESC);

-- Search: the title alone (for ranking title matches first) and the whole
-- searchable document. The document expression must be written exactly
-- like this in queries (postgres.searchDoc) for the planner to use it.
CREATE INDEX posts_title_trgm_idx ON posts USING gin (title gin_trgm_ops);
CREATE INDEX posts_search_trgm_idx ON posts
    USING gin ((title || E'\n' || search_meta || E'\n' || content) gin_trgm_ops);

-- Hit counters live apart from posts: a view updates only this narrow row
-- and its two small indexes. Were the counter a column of posts (with an
-- index for "most hits" ordering), every view would be a non-HOT update
-- that writes new entries into every index of posts, including the trigram
-- index over the whole content.
CREATE TABLE post_hits (
    post_id bigint PRIMARY KEY REFERENCES posts (id) ON DELETE CASCADE,
    hit     bigint NOT NULL DEFAULT 0
);
CREATE INDEX post_hits_hit_idx ON post_hits (hit DESC, post_id DESC);

CREATE TABLE post_tags (
    post_id bigint NOT NULL REFERENCES posts (id) ON DELETE CASCADE,
    tag_id  bigint NOT NULL REFERENCES tags (id),
    PRIMARY KEY (post_id, tag_id)
);
CREATE INDEX post_tags_tag_idx ON post_tags (tag_id, post_id);

-- +goose Down
DROP TABLE post_tags;
DROP TABLE post_hits;
DROP TABLE posts;
DROP TABLE tags;
DROP TABLE categories;
