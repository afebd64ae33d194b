package postgres

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/cobraspace/cobraspace/services/chat/internal/chat"
)

// trigramIndexes lists the options of every partition's trigram index,
// skipping the test where pg_trgm is not installed (no index).
func trigramIndexes(t *testing.T, s *Store) map[string][]string {
	t.Helper()
	rows, err := s.pool.Query(context.Background(), `
		SELECT c.relname, coalesce(c.reloptions, '{}') FROM pg_inherits h JOIN pg_class c ON c.oid = h.inhrelid
		WHERE h.inhparent = to_regclass('messages_text_trgm')`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[string][]string{}
	for rows.Next() {
		var name string
		var opts []string
		if err := rows.Scan(&name, &opts); err != nil {
			t.Fatal(err)
		}
		out[name] = opts
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if len(out) == 0 {
		t.Skip("no trigram index (pg_trgm not installed)")
	}
	return out
}

// trigramCount counts the messages containing text through the trigram
// index alone (a bitmap scan: no other plan allowed).
func trigramCount(t *testing.T, s *Store, text string) int {
	t.Helper()
	ctx := context.Background()
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = tx.Rollback(ctx) }()
	if _, err := tx.Exec(ctx, `SET LOCAL enable_seqscan = off; SET LOCAL enable_indexscan = off`); err != nil {
		t.Fatal(err)
	}
	rows, err := tx.Query(ctx, `EXPLAIN SELECT count(*) FROM messages WHERE text ILIKE $1`, "%"+text+"%")
	if err != nil {
		t.Fatal(err)
	}
	plan, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(plan, func(l string) bool { return strings.Contains(l, "text_idx") }) {
		t.Fatalf("the count does not use the trigram index:\n%v", plan)
	}
	var n int
	if err := tx.QueryRow(ctx, `SELECT count(*) FROM messages WHERE text ILIKE $1`, "%"+text+"%").Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// New messages go through the trigram index's pending list (no per-trigram
// index insert inside the send's commit), are found by searches before
// and after a merge, and a merge empties the list.
func TestSearchIndexPendingList(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	for name, opts := range trigramIndexes(t, s) {
		if !slices.Contains(opts, "fastupdate=on") || !slices.Contains(opts, "gin_pending_list_limit=32768") {
			t.Fatalf("%s options %v, want fastupdate=on and gin_pending_list_limit=32768", name, opts)
		}
	}
	ctx := context.Background()
	if _, err := s.MergeSearchIndex(ctx); err != nil { // whatever the migrations left
		t.Fatal(err)
	}
	room := mustRoom(t, s, 1)
	var msgs []chat.NewMessage
	for i := range 200 {
		msgs = append(msgs, chat.NewMessage{RoomID: room.ID, SenderID: 1, Text: fmt.Sprintf("message %d about quokkas", i)})
	}
	send(t, s, msgs...)

	if n := trigramCount(t, s, "quokka"); n != 200 {
		t.Fatalf("before the merge the index finds %d messages, want 200", n)
	}
	pages, err := s.MergeSearchIndex(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if pages == 0 {
		t.Fatal("the merge found nothing pending after 200 new messages")
	}
	if again, err := s.MergeSearchIndex(ctx); err != nil || again != 0 {
		t.Fatalf("a second merge merged %d pages (%v), want 0", again, err)
	}
	if n := trigramCount(t, s, "quokka"); n != 200 {
		t.Fatalf("after the merge the index finds %d messages, want 200", n)
	}
	found, err := s.SearchMessages(ctx, room.ID, "quokkas", 0, 500)
	if err != nil || len(found) != 200 {
		t.Fatalf("SearchMessages found %d (%v), want 200", len(found), err)
	}
}

// The merger merges what sends leave pending, on its own, and stops with
// its context.
func TestSearchIndexMerger(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	trigramIndexes(t, s)
	ctx, cancel := context.WithCancel(context.Background())
	merged := make(chan int64, 100)
	done := make(chan struct{})
	go func() {
		defer close(done)
		s.RunSearchIndexMerger(ctx, 20*time.Millisecond, slog.New(slog.NewTextHandler(io.Discard, nil)), func(pages int64) {
			select {
			case merged <- pages:
			default:
			}
		})
	}()
	room := mustRoom(t, s, 1)
	send(t, s, chat.NewMessage{RoomID: room.ID, SenderID: 1, Text: "a message waiting to be merged"})
	deadline := time.After(10 * time.Second)
	for total := int64(0); total == 0; {
		select {
		case p := <-merged:
			total += p
		case <-deadline:
			t.Fatal("the merger merged nothing in 10 s")
		}
	}
	cancel()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("the merger did not stop with its context")
	}
}
