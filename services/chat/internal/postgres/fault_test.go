package postgres

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/cobraspace/cobraspace/platform/apperr"
	"github.com/cobraspace/cobraspace/platform/batch"
	"github.com/cobraspace/cobraspace/platform/testenv"
	"github.com/cobraspace/cobraspace/services/chat/internal/chat"
)

// TestRetriesAfterLostConnectionsNeitherLoseNorDuplicate kills the store's
// database connections again and again while senders send through the
// group commit and retry failures with the same client_msg_id (as gateways
// do). Every message must end up stored exactly once, with gap-free seqs.
func TestRetriesAfterLostConnectionsNeitherLoseNorDuplicate(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	ctx := context.Background()
	var dbName string
	if err := s.pool.QueryRow(ctx, `SELECT current_database()`).Scan(&dbName); err != nil {
		t.Fatal(err)
	}
	rooms := []int64{mustRoom(t, s, 1).ID, mustRoom(t, s, 1).ID}
	b := batch.New(batch.Config{MaxSize: 32}, s.StoreMessages)
	defer b.Close()

	admin, err := pgx.Connect(ctx, testenv.PostgresAdminURL())
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(ctx)
	stop := make(chan struct{})
	var kills atomic.Int64
	killerDone := make(chan struct{})
	go func() {
		defer close(killerDone)
		for {
			select {
			case <-stop:
				return
			case <-time.After(10 * time.Millisecond):
			}
			tag, err := admin.Exec(ctx, `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
				WHERE datname = $1 AND pid <> pg_backend_pid()`, dbName)
			if err == nil {
				kills.Add(tag.RowsAffected())
			}
		}
	}()

	// Senders keep going until the killer has really cut connections under
	// them, so a fast machine cannot finish before the first kill.
	const senders, minPerSender, minKills = 10, 30, 5
	deadline := time.Now().Add(20 * time.Second)
	var sent [senders]int
	var failures atomic.Int64
	var wg sync.WaitGroup
	for i := range senders {
		wg.Go(func() {
			for j := 0; j < minPerSender || (kills.Load() < minKills && time.Now().Before(deadline)); j++ {
				sent[i]++
				m := chat.NewMessage{RoomID: rooms[(i+j)%2], SenderID: int64(i + 1), Text: "x",
					ClientMsgID: fmt.Sprintf("%d-%d", i, j)}
				// Retry for as long as a patient client would: with a kill
				// every 10 ms on a loaded box, a batch may lose its connection
				// many times in a row. What matters is that no message is lost
				// or stored twice, not how soon it gets through.
				giveUp := time.Now().Add(60 * time.Second)
				for {
					st, err := b.Do(ctx, m)
					if err == nil && st.Err == nil {
						break
					}
					if apperr.ErrorCode(err) != apperr.CodeUnavailable || time.Now().After(giveUp) {
						t.Errorf("send %s: got %v / %v, want success or UNAVAILABLE", m.ClientMsgID, err, st.Err)
						return
					}
					failures.Add(1)
					time.Sleep(5 * time.Millisecond)
				}
			}
		})
	}
	wg.Wait()
	close(stop)
	<-killerDone
	t.Logf("%d connections killed, %d failed attempts retried", kills.Load(), failures.Load())
	if kills.Load() < minKills {
		t.Fatalf("only %d connections killed in 20 s; the test proved nothing", kills.Load())
	}

	seen := map[string]int{}
	for _, room := range rooms {
		// The killer's last round may have hit idle pooled connections
		// just before it stopped; a reader retries UNAVAILABLE like any client.
		var msgs []chat.Message
		for attempt := 0; ; attempt++ {
			msgs, err = s.Messages(ctx, room, chat.Page{Limit: 10000})
			if err == nil {
				break
			}
			if apperr.ErrorCode(err) != apperr.CodeUnavailable || attempt > 10 {
				t.Fatal(err)
			}
		}
		for i, m := range msgs {
			if m.Seq != int64(i+1) {
				t.Fatalf("room %d: message %d has seq %d, want %d (gap)", room, i, m.Seq, i+1)
			}
			seen[fmt.Sprint(m.SenderID-1, "/", m.ClientMsgID)]++
		}
	}
	want := 0
	for _, n := range sent {
		want += n
	}
	if len(seen) != want {
		t.Errorf("got %d distinct messages, want %d", len(seen), want)
	}
	for k, n := range seen {
		if n != 1 {
			t.Errorf("message %s stored %d times", k, n)
		}
	}
}
