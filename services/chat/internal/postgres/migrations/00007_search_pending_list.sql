-- The trigram index takes new messages through GIN's pending list again,
-- and the chat service merges that list in the background
-- (postgres.Store.MergeSearchIndex, every SEARCH_MERGE_INTERVAL).
--
-- With fastupdate off (00005) every stored message inserted each of its
-- ~30-60 trigrams into the index inside the send's own commit: one tree
-- descent and WAL record per trigram, ~2/3 of PostgreSQL's CPU per message
-- whatever the batch size (BenchmarkGroupCommitCPU). The pending list
-- takes a message's entries in one append; a merge of a second's worth
-- sorts them and inserts each trigram once with all its new messages, a
-- small fraction of the cost. Searches still see every message: GIN scans
-- the pending list alongside the index.
--
-- fastupdate was off because the insert that found the list over its
-- limit merged it inside its own commit, stalling that batch. The merge
-- now runs outside any send, and the limit (32 MB, tens of seconds of
-- messages at 1,000/s) is only reached if merges stop; autovacuum merges
-- the list too.
--
-- PostgreSQL 15 cannot change the options of a partitioned index, only of
-- its partitions' indexes, so this sets them on every partition. A
-- partition created later takes the parent's (fastupdate off): set these
-- options on its index after creating it.

-- +goose Up
-- +goose StatementBegin
DO $$
DECLARE
    idx regclass;
BEGIN
    FOR idx IN SELECT inhrelid::regclass FROM pg_inherits WHERE inhparent = to_regclass('messages_text_trgm') LOOP
        EXECUTE format('ALTER INDEX %s SET (fastupdate = on, gin_pending_list_limit = 32768)', idx);
    END LOOP;
END
$$;
-- +goose StatementEnd

-- +goose Down
-- +goose StatementBegin
DO $$
DECLARE
    idx regclass;
BEGIN
    FOR idx IN SELECT inhrelid::regclass FROM pg_inherits WHERE inhparent = to_regclass('messages_text_trgm') LOOP
        PERFORM gin_clean_pending_list(idx);
        EXECUTE format('ALTER INDEX %s SET (fastupdate = off)', idx);
        EXECUTE format('ALTER INDEX %s RESET (gin_pending_list_limit)', idx);
    END LOOP;
END
$$;
-- +goose StatementEnd
