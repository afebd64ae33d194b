-- +goose Up
CREATE TABLE things (id bigserial PRIMARY KEY, name text NOT NULL);
-- +goose Down
DROP TABLE things;
