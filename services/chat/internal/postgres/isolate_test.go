package postgres

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cobraspace/cobraspace/platform/apperr"
	"github.com/cobraspace/cobraspace/platform/batch"
	"github.com/cobraspace/cobraspace/services/chat/internal/chat"
)

// poisoningStore is the real Store, except that it appends a NUL to the
// text of every message whose text starts with "poison" just before
// storing it: a message that got past validation (a gap in it, or an
// internal caller) and that PostgreSQL refuses.
type poisoningStore struct{ *Store }

func (p poisoningStore) StoreMessages(ctx context.Context, msgs []chat.NewMessage) ([]chat.Stored, error) {
	msgs = slices.Clone(msgs)
	for i := range msgs {
		if strings.HasPrefix(msgs[i].Text, "poison") {
			msgs[i].Text += "\x00"
		}
	}
	return p.Store.StoreMessages(ctx, msgs)
}

// directory knows every user.
type directory struct{}

func (directory) Users(_ context.Context, ids []int64) (map[int64]chat.User, error) {
	out := make(map[int64]chat.User, len(ids))
	for _, id := range ids {
		out[id] = chat.User{ID: id, Email: fmt.Sprintf("u%d@example.com", id)}
	}
	return out, nil
}

// publications records what the service announces: every seq in order,
// and per room.
type publications struct {
	mu     sync.Mutex
	seqs   []int64
	byRoom map[int64][]int64
}

func (p *publications) Publish(context.Context, int64, chat.RoomEvent) error { return nil }

func (p *publications) PublishMessages(_ context.Context, room int64, msgs []chat.Published) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.byRoom == nil {
		p.byRoom = map[int64][]int64{}
	}
	for _, m := range msgs {
		p.seqs = append(p.seqs, m.Message.Seq)
		p.byRoom[room] = append(p.byRoom[room], m.Message.Seq)
	}
	return nil
}

// TestGroupCommitFailsOnlyTheMessageTheDatabaseRefuses sends innocent and
// poisoned messages (text PostgreSQL refuses) at once through the chat
// service's group commit on a real database: only the poisoned ones fail
// (apperr.CodeInvalid); every innocent one is stored exactly once, acknowledged
// with its seq, published once in seq order, and the room's seqs stay
// gap-free. A retried client_msg_id still returns the stored message.
func TestGroupCommitFailsOnlyTheMessageTheDatabaseRefuses(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	room := mustRoom(t, s, 1)
	pub := &publications{}
	var mu sync.Mutex
	var failedBatches []int // sizes of flushes that failed
	svc := chat.NewService(chat.Config{
		Store: poisoningStore{s}, Publisher: pub, Users: directory{}, Moderation: s,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		// Everything sent within 50 ms shares one group commit.
		Batch: batch.Config{MaxSize: 256, MaxWait: 50 * time.Millisecond},
		Hooks: chat.Hooks{Batch: func(size int, _ time.Duration, err error) {
			if err != nil {
				mu.Lock()
				failedBatches = append(failedBatches, size)
				mu.Unlock()
			}
		}},
	})
	defer svc.Close()
	ctx := context.Background()

	const rounds, perRound = 3, 24
	acked := map[string]int64{}
	for r := range rounds {
		var wg sync.WaitGroup
		for i := range perRound {
			id := fmt.Sprintf("%d-%d", r, i)
			text := "hello " + id
			if i%8 == 5 {
				text = "poison " + id
			}
			wg.Go(func() {
				m, err := svc.Send(ctx, chat.Caller{ID: int64(2 + i%4)}, chat.NewMessage{RoomID: room.ID, Text: text, ClientMsgID: id})
				mu.Lock()
				defer mu.Unlock()
				switch {
				case strings.HasPrefix(text, "poison"):
					if apperr.ErrorCode(err) != apperr.CodeInvalid {
						t.Errorf("poisoned %s: got %v (seq %d), want apperr.CodeInvalid", id, err, m.Seq)
					}
				case err != nil:
					t.Errorf("innocent %s failed: %v", id, err)
				default:
					acked[id] = m.Seq
				}
			})
		}
		wg.Wait()
	}
	if len(failedBatches) == 0 || slices.Max(failedBatches) < 2 {
		t.Fatalf("failed flushes of sizes %v: the poisoned messages never shared a batch with others", failedBatches)
	}

	// The database holds exactly the innocent messages, gap-free.
	hist, err := s.Messages(ctx, room.ID, chat.Page{OldestFirst: true, Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	innocent := rounds * (perRound - perRound/8)
	if len(hist) != innocent || len(acked) != innocent {
		t.Fatalf("stored %d, acknowledged %d; want %d innocent messages", len(hist), len(acked), innocent)
	}
	for i, m := range hist {
		if m.Seq != int64(i+1) {
			t.Fatalf("seq %d at position %d: not gap-free", m.Seq, i)
		}
		if acked[m.ClientMsgID] != m.Seq || strings.HasPrefix(m.Text, "poison") {
			t.Errorf("stored %s %q at seq %d, acknowledged at %d", m.ClientMsgID, m.Text, m.Seq, acked[m.ClientMsgID])
		}
	}
	// Published once each, in seq order.
	if want := hist[len(hist)-1].Seq; len(pub.seqs) != int(want) || !slices.IsSorted(pub.seqs) {
		t.Errorf("published seqs %v, want 1..%d in order", pub.seqs, want)
	}
	// Retries are still deduplicated.
	m, err := svc.Send(ctx, chat.Caller{ID: 2}, chat.NewMessage{RoomID: room.ID, Text: "hello 0-0", ClientMsgID: "0-0"})
	if err != nil || m.Seq != acked["0-0"] {
		t.Errorf("retry of 0-0: got seq %d, %v; want the stored seq %d", m.Seq, err, acked["0-0"])
	}
}
