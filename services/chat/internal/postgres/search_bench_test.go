package postgres

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cobraspace/cobraspace/platform/apperr"
)

// TestSearchMillionMessages measures message search on one room of
// 1,000,000 messages (Korean and ASCII words, a few rare ones): latency
// percentiles of the first page (50 messages) per query, the trigram
// index's size and build time, and each query's plan. It loads ~150 MB,
// so it runs only when asked:
//
//	CHAT_SEARCH_BENCH=1 go test -run SearchMillionMessages -v -timeout 30m ./internal/postgres/
//
// Results are in BENCHMARKS.md (message search).
func TestSearchMillionMessages(t *testing.T) {
	if os.Getenv("CHAT_SEARCH_BENCH") == "" {
		t.Skip("set CHAT_SEARCH_BENCH=1 to load 1,000,000 messages and time searches")
	}
	const n = 1_000_000
	ctx := context.Background()
	s := newStore(t)
	room := mustRoom(t, s, 1)
	exec := func(q string, args ...any) {
		t.Helper()
		if _, err := s.pool.Exec(ctx, q, args...); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}

	// Loaded without the index, which is then built once, as the
	// migration does on an existing table.
	exec(`DROP INDEX messages_text_trgm`)
	start := time.Now()
	// Six words per message, drawn by hash from 20 common ones (10 Korean,
	// 10 ASCII: each is in about a quarter of the messages);
	// every 100,000th message also holds "zebra", every 100,001st "희귀한단어".
	exec(`INSERT INTO messages (room_id, seq, sender_id, text)
		SELECT $1, g, 1 + g % 50,
			(SELECT string_agg(w[1 + ((hashint8(g::bigint * 8 + k)::bigint % 20 + 20) % 20)], ' ') FROM generate_series(1, 6) k)
			|| CASE WHEN g % 100000 = 0 THEN ' zebra' ELSE '' END
			|| CASE WHEN g % 100001 = 0 THEN ' 희귀한단어' ELSE '' END
			|| ' #' || g
		FROM generate_series(1, $2::int) g,
			(SELECT ARRAY['안녕하세요','반갑습니다','서울','부산','개발자','코브라','스페이스','채팅','메시지','검색',
				'hello','world','golang','postgres','cobra','space','chat','search','index','trigram']) words(w)`, room.ID, n)
	exec(`UPDATE rooms SET last_seq = $2 WHERE id = $1`, room.ID, n)
	t.Logf("loaded %d messages in %s", n, time.Since(start).Round(time.Millisecond))
	start = time.Now()
	exec(`CREATE INDEX messages_text_trgm ON messages USING gin (text gin_trgm_ops)`)
	t.Logf("built the trigram index in %s", time.Since(start).Round(time.Millisecond))
	exec(`ANALYZE messages`)
	var indexSize, tableSize int64
	if err := s.pool.QueryRow(ctx, `SELECT
			(SELECT sum(pg_relation_size(i.indexrelid)) FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
				WHERE c.relname LIKE 'messages_p%text%'),
			(SELECT sum(pg_relation_size(inhrelid)) FROM pg_inherits WHERE inhparent = 'messages'::regclass)`).
		Scan(&indexSize, &tableSize); err != nil {
		t.Fatal(err)
	}
	t.Logf("trigram index %d MiB, messages table %d MiB", indexSize>>20, tableSize>>20)

	const runs = 50
	for _, q := range []struct{ name, text string }{
		{"Korean, 3+ syllables, frequent", "개발자"},
		{"Korean, 2 syllables (below a trigram), frequent", "서울"},
		{"Korean, rare (9 matches)", "희귀한단어"},
		{"Korean, no match", "없는단어"},
		{"ASCII, frequent", "golang"},
		{"ASCII, frequent, other case", "GoLang"},
		{"ASCII, rare (10 matches)", "zebra"},
		{"ASCII, no match", "nomatchxyz"},
		{"ASCII, 2 letters, frequent", "go"},
		{"ASCII, 2 letters, no match", "qz"},
	} {
		var took []time.Duration
		found, tooBroad := 0, 0
		for range runs {
			start := time.Now()
			msgs, err := s.SearchMessages(ctx, room.ID, q.text, 0, 50)
			switch {
			case apperr.ErrorCode(err) == apperr.CodeInvalid: // the time bound
				tooBroad++
			case err != nil:
				t.Fatal(err)
			}
			took = append(took, time.Since(start))
			found = len(msgs)
		}
		slices.Sort(took)
		var plan []string
		rows, err := s.pool.Query(ctx, `EXPLAIN SELECT `+messageColumns+` FROM messages
			WHERE room_id = $1 AND seq < $2 AND deleted_at IS NULL AND text ILIKE $3 ESCAPE '\'
			ORDER BY seq DESC LIMIT 50`, room.ID, int64(1<<62), "%"+likeEscaper.Replace(q.text)+"%")
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var line string
			if err := rows.Scan(&line); err != nil {
				t.Fatal(err)
			}
			if strings.Contains(line, "Scan") {
				plan = append(plan, strings.TrimSpace(strings.TrimLeft(line, " ->")))
			}
		}
		rows.Close()
		t.Logf("%-50s %-12q first page %2d  too broad %2d/%d  p50 %8s  p99 %8s  plan: %s", q.name, q.text, found, tooBroad, runs,
			took[runs/2].Round(10*time.Microsecond), took[runs*99/100].Round(10*time.Microsecond), strings.Join(plan, "; "))
	}
	fmt.Fprintln(os.Stderr) // keep -v output readable
}
