package postgres

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/cobraspace/cobraspace/platform/batch"
	"github.com/cobraspace/cobraspace/services/chat/internal/chat"
)

// TestCommitLanes: with three group commits running at once on a real
// database, concurrent batches of sends over many rooms (as gateways call
// SendMessages) are each acknowledged with the seq they were stored at;
// every room's messages are gap-free, in each sender's order, and published
// once each in seq order.
func TestCommitLanes(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	const nRooms, callers, batches, perBatch = 7, 4, 12, 30
	rooms := make([]int64, nRooms)
	for i := range rooms {
		rooms[i] = mustRoom(t, s, 1).ID
	}
	pub := &publications{}
	var mu sync.Mutex
	sizes := map[int]int{}
	svc := chat.NewService(chat.Config{
		Store: s, Publisher: pub, Users: directory{}, Moderation: s,
		Logger:      slog.New(slog.NewTextHandler(io.Discard, nil)),
		Batch:       batch.Config{MaxSize: 64, MaxWait: 2 * time.Millisecond},
		CommitLanes: 3,
		Hooks: chat.Hooks{Batch: func(size int, _ time.Duration, err error) {
			if err != nil {
				t.Errorf("a group commit of %d failed: %v", size, err)
			}
			mu.Lock()
			sizes[size]++
			mu.Unlock()
		}},
	})
	defer svc.Close()
	ctx := context.Background()

	type key struct {
		room   int64
		sender int64
	}
	acked := map[string]int64{} // client_msg_id → seq
	order := map[key][]int64{}  // each sender's seqs per room, in send order
	var wg sync.WaitGroup
	for c := range callers {
		wg.Go(func() {
			for b := range batches {
				out := make([]chat.Outgoing, perBatch)
				for k := range out {
					sender := int64(10 + c)
					out[k] = chat.Outgoing{Sender: chat.Caller{ID: sender},
						Msg: chat.NewMessage{RoomID: rooms[(b+k)%nRooms], Text: fmt.Sprintf("c%d b%d k%d", c, b, k),
							ClientMsgID: fmt.Sprintf("c%db%dk%d", c, b, k)}}
				}
				msgs, errs := svc.SendMany(ctx, out)
				mu.Lock()
				for k, m := range msgs {
					if errs[k] != nil {
						t.Errorf("%s: %v", out[k].Msg.ClientMsgID, errs[k])
						continue
					}
					acked[out[k].Msg.ClientMsgID] = m.Seq
					kk := key{out[k].Msg.RoomID, out[k].Sender.ID}
					order[kk] = append(order[kk], m.Seq)
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if len(acked) != callers*batches*perBatch {
		t.Fatalf("acknowledged %d of %d", len(acked), callers*batches*perBatch)
	}
	for kk, seqs := range order {
		for i := 1; i < len(seqs); i++ {
			if seqs[i] <= seqs[i-1] {
				t.Fatalf("room %d, sender %d: seqs %v out of send order", kk.room, kk.sender, seqs)
			}
		}
	}
	total := 0
	for _, room := range rooms {
		hist, err := s.Messages(ctx, room, chat.Page{OldestFirst: true, Limit: 1000})
		if err != nil {
			t.Fatal(err)
		}
		total += len(hist)
		for i, m := range hist {
			if m.Seq != int64(i+1) {
				t.Fatalf("room %d: seq %d at position %d, not gap-free", room, m.Seq, i)
			}
			if acked[m.ClientMsgID] != m.Seq {
				t.Fatalf("room %d: %s stored at seq %d, acknowledged at %d", room, m.ClientMsgID, m.Seq, acked[m.ClientMsgID])
			}
		}
		got := pub.byRoom[room]
		if len(got) != len(hist) {
			t.Fatalf("room %d: published %d messages, stored %d", room, len(got), len(hist))
		}
		for i, seq := range got {
			if seq != int64(i+1) {
				t.Fatalf("room %d: published seq %d at position %d", room, seq, i)
			}
		}
	}
	if total != len(acked) {
		t.Fatalf("stored %d, acknowledged %d", total, len(acked))
	}
	t.Logf("group commits by size: %v", sizes)
}
