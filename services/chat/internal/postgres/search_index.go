package postgres

import (
	"context"
	"log/slog"
	"time"
)

// MergeSearchIndex merges the trigram index's pending lists (the messages
// stored since the last merge, migrations/00007) into the index proper,
// on every partition, and returns how many pending-list pages it merged.
// It is safe to run from every replica at once: PostgreSQL lets one
// merge of an index run at a time, and the next finds the list empty.
// Without pg_trgm (no index) it does nothing.
func (s *Store) MergeSearchIndex(ctx context.Context) (pages int64, err error) {
	err = s.pool.QueryRow(ctx, `
		SELECT coalesce(sum(gin_clean_pending_list(inhrelid::regclass)), 0)::bigint
		FROM pg_inherits WHERE inhparent = to_regclass('messages_text_trgm')`).Scan(&pages)
	if err != nil {
		return 0, dbErr("merge search index", err)
	}
	return pages, nil
}

// RunSearchIndexMerger calls MergeSearchIndex every interval until ctx
// ends, so that stored messages reach the trigram index within about an
// interval and no send ever merges the pending list inside its own
// commit. merged, when not nil, is told the pages each merge took. A
// failure is logged once until a merge succeeds again: meanwhile searches
// stay correct (they read the pending list) and autovacuum, or a send that
// finds the list full, still merges it.
func (s *Store) RunSearchIndexMerger(ctx context.Context, interval time.Duration, logger *slog.Logger, merged func(pages int64)) {
	t := time.NewTicker(interval)
	defer t.Stop()
	failing := false
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		pages, err := s.MergeSearchIndex(ctx)
		switch {
		case err != nil && ctx.Err() != nil:
			return
		case err != nil:
			if !failing {
				logger.Warn("search index merge failed; retrying every interval", "err", err)
			}
			failing = true
		default:
			if failing {
				logger.Info("search index merge works again")
			}
			failing = false
			if merged != nil {
				merged(pages)
			}
		}
	}
}
