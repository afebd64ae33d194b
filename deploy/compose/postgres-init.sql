-- Runs once, when the postgres-data volume is first initialised: one database
-- per service, as `make run` uses (each service migrates its own tables).
CREATE DATABASE cobra_user;
CREATE DATABASE cobra_post;
CREATE DATABASE cobra_chat;
