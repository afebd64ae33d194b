package postgres

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cobraspace/cobraspace/platform/apperr"
	"github.com/cobraspace/cobraspace/platform/batch"
	"github.com/cobraspace/cobraspace/platform/pgdb"
	"github.com/cobraspace/cobraspace/platform/testenv"
	"github.com/cobraspace/cobraspace/services/chat/internal/chat"
	"github.com/cobraspace/cobraspace/services/chat/internal/postgres/migrations"
)

// newStore returns a Store on a fresh, migrated database.
func newStore(t testing.TB) *Store {
	t.Helper()
	ctx := context.Background()
	pool, err := pgdb.Open(ctx, testenv.Database(t)+"&pool_max_conns=24")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	if err := pgdb.Migrate(ctx, pool, migrations.FS, slog.New(slog.NewTextHandler(io.Discard, nil))); err != nil {
		t.Fatal(err)
	}
	return New(pool)
}

func mustRoom(t testing.TB, s *Store, owner int64) chat.Room {
	t.Helper()
	r, _, err := s.CreateRoom(context.Background(), "room", owner, 0)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func send(t testing.TB, s *Store, msgs ...chat.NewMessage) []chat.Stored {
	t.Helper()
	out, err := s.StoreMessages(context.Background(), msgs)
	if err != nil {
		t.Fatalf("StoreMessages: %v", err)
	}
	return out
}

func TestSeqIsGapFreeUnderConcurrentSenders(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	ctx := context.Background()
	rooms := []chat.Room{mustRoom(t, s, 1), mustRoom(t, s, 1), mustRoom(t, s, 1)}
	// Half the senders go through one batcher (group commit), half store
	// their own small batches concurrently, as other replicas would.
	b := batch.New(batch.Config{MaxSize: 16}, s.StoreMessages)
	defer b.Close()

	const senders, perSender = 20, 30
	var wg sync.WaitGroup
	for i := range senders {
		wg.Go(func() {
			for j := range perSender {
				m := chat.NewMessage{RoomID: rooms[(i+j)%len(rooms)].ID, SenderID: int64(i + 1),
					Text: fmt.Sprintf("m %d %d", i, j), ClientMsgID: fmt.Sprintf("c-%d-%d", i, j)}
				var err error
				if i%2 == 0 {
					var st chat.Stored
					st, err = b.Do(ctx, m)
					if err == nil {
						err = st.Err
					}
				} else {
					var st []chat.Stored
					st, err = s.StoreMessages(ctx, []chat.NewMessage{m, {RoomID: m.RoomID, SenderID: m.SenderID, Text: "extra"}})
					if err == nil {
						err = errors.Join(st[0].Err, st[1].Err)
					}
				}
				if err != nil {
					t.Errorf("send: %v", err)
					return
				}
			}
		})
	}
	wg.Wait()

	total := 0
	for _, r := range rooms {
		got, err := s.Room(ctx, r.ID)
		if err != nil {
			t.Fatal(err)
		}
		msgs, err := s.Messages(ctx, r.ID, chat.Page{Limit: 10000})
		if err != nil {
			t.Fatal(err)
		}
		for i, m := range msgs {
			if m.Seq != int64(i+1) {
				t.Fatalf("room %d: message %d has seq %d, want %d", r.ID, i, m.Seq, i+1)
			}
			if i > 0 && m.CreatedAt.Before(msgs[i-1].CreatedAt) {
				t.Errorf("room %d: created_at of seq %d before seq %d", r.ID, m.Seq, m.Seq-1)
			}
		}
		if got.LastSeq != int64(len(msgs)) {
			t.Errorf("room %d: got last_seq %d, want %d", r.ID, got.LastSeq, len(msgs))
		}
		total += len(msgs)
	}
	if want := senders*perSender + senders/2*perSender; total != want {
		t.Errorf("got %d messages, want %d", total, want)
	}
}

func TestDedupByClientMsgID(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	r := mustRoom(t, s, 1)
	other := mustRoom(t, s, 1)
	m := chat.NewMessage{RoomID: r.ID, SenderID: 7, Text: "hello", ClientMsgID: "abc"}

	first := send(t, s, m)[0]
	if first.Err != nil || first.Duplicate || first.Message.Seq != 1 {
		t.Fatalf("first send: got %+v, want new message with seq 1", first)
	}
	// A retry in a later batch, and two copies within one batch.
	again := send(t, s, m, chat.NewMessage{RoomID: r.ID, SenderID: 7, Text: "new", ClientMsgID: "def"},
		chat.NewMessage{RoomID: r.ID, SenderID: 7, Text: "new again", ClientMsgID: "def"})
	if !again[0].Duplicate || again[0].Message.ID != first.Message.ID {
		t.Errorf("retry: got %+v, want duplicate of id %d", again[0], first.Message.ID)
	}
	if again[1].Duplicate || again[1].Message.Seq != 2 {
		t.Errorf("new key: got %+v, want new message with seq 2", again[1])
	}
	if !again[2].Duplicate || again[2].Message.ID != again[1].Message.ID {
		t.Errorf("in-batch copy: got %+v, want duplicate of id %d", again[2], again[1].Message.ID)
	}
	// Other senders, other rooms and empty ids are not duplicates.
	diff := send(t, s,
		chat.NewMessage{RoomID: r.ID, SenderID: 8, Text: "x", ClientMsgID: "abc"},
		chat.NewMessage{RoomID: other.ID, SenderID: 7, Text: "x", ClientMsgID: "abc"},
		chat.NewMessage{RoomID: r.ID, SenderID: 7, Text: "x"},
		chat.NewMessage{RoomID: r.ID, SenderID: 7, Text: "x"})
	for i, st := range diff {
		if st.Err != nil || st.Duplicate {
			t.Errorf("message %d: got %+v, want a new message", i, st)
		}
	}
	got, _ := s.Room(context.Background(), r.ID)
	if got.LastSeq != 5 {
		t.Errorf("got last_seq %d, want 5", got.LastSeq)
	}
}

func TestStoreMessagesPerMessageErrors(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	r := mustRoom(t, s, 1)
	other := mustRoom(t, s, 1)
	parent := send(t, s, chat.NewMessage{RoomID: r.ID, SenderID: 1, Text: "parent"})[0].Message
	elsewhere := send(t, s, chat.NewMessage{RoomID: other.ID, SenderID: 1, Text: "elsewhere"})[0].Message

	out := send(t, s,
		chat.NewMessage{RoomID: 999999, SenderID: 1, Text: "no room"},
		chat.NewMessage{RoomID: r.ID, SenderID: 1, Text: "bad parent", ParentID: elsewhere.ID},
		chat.NewMessage{RoomID: r.ID, SenderID: 1, Text: "reply", ParentID: parent.ID})
	if apperr.ErrorCode(out[0].Err) != apperr.CodeNotFound {
		t.Errorf("unknown room: got %v, want NOT_FOUND", out[0].Err)
	}
	if apperr.ErrorCode(out[1].Err) != apperr.CodeInvalid {
		t.Errorf("parent in another room: got %v, want INVALID", out[1].Err)
	}
	if out[2].Err != nil || out[2].Message.Seq != 2 || out[2].Message.ParentID != parent.ID {
		t.Errorf("reply: got %+v, want seq 2 with parent %d", out[2], parent.ID)
	}
}

// One batch interleaving rooms, with refused replies among accepted
// messages: each room's seqs follow batch order without gaps, and every
// result is its own message (text and seq match what history returns).
func TestBatchAcrossRoomsKeepsOrder(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	a, b := mustRoom(t, s, 1), mustRoom(t, s, 1)
	parent := send(t, s, chat.NewMessage{RoomID: a.ID, SenderID: 1, Text: "parent"})[0].Message
	gone := send(t, s, chat.NewMessage{RoomID: a.ID, SenderID: 1, Text: "gone"})[0].Message
	if _, err := s.DeleteMessage(context.Background(), a.ID, gone.ID); err != nil {
		t.Fatal(err)
	}
	batch := []chat.NewMessage{
		{RoomID: b.ID, SenderID: 2, Text: "b1"},
		{RoomID: a.ID, SenderID: 2, Text: "a3"},
		{RoomID: a.ID, SenderID: 2, Text: "reply to deleted", ParentID: gone.ID},
		{RoomID: b.ID, SenderID: 3, Text: "b2", ParentID: parent.ID}, // parent in another room
		{RoomID: b.ID, SenderID: 3, Text: "b2'"},
		{RoomID: a.ID, SenderID: 3, Text: "a4", ParentID: parent.ID},
	}
	out := send(t, s, batch...)
	want := map[int]int64{0: 1, 1: 3, 4: 2, 5: 4} // index -> seq
	for i, st := range out {
		seq, ok := want[i]
		switch {
		case !ok && apperr.ErrorCode(st.Err) != apperr.CodeInvalid:
			t.Errorf("message %d (%q): got %+v, want refused for its parent", i, batch[i].Text, st)
		case ok && (st.Err != nil || st.Message.Seq != seq || st.Message.Text != batch[i].Text):
			t.Errorf("message %d (%q): got %+v, want seq %d", i, batch[i].Text, st, seq)
		}
	}
	for _, r := range []int64{a.ID, b.ID} {
		msgs, err := s.Messages(context.Background(), r, chat.Page{OldestFirst: true, Limit: 10})
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range msgs {
			for i, st := range out {
				if st.Err == nil && st.Message.ID == m.ID && (st.Message.Seq != m.Seq || batch[i].Text != m.Text) {
					t.Errorf("room %d: stored %d/%q, answered %d/%q", r, m.Seq, m.Text, st.Message.Seq, batch[i].Text)
				}
			}
		}
		room, _ := s.Room(context.Background(), r)
		if wantLast := map[int64]int64{a.ID: 4, b.ID: 2}[r]; room.LastSeq != wantLast {
			t.Errorf("room %d: last_seq %d, want %d", r, room.LastSeq, wantLast)
		}
	}
}

func TestHistoryPaging(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	ctx := context.Background()
	r := mustRoom(t, s, 1)
	var msgs []chat.NewMessage
	for i := range 10 {
		msgs = append(msgs, chat.NewMessage{RoomID: r.ID, SenderID: 1, Text: fmt.Sprint(i + 1)})
	}
	stored := send(t, s, msgs...)
	if _, err := s.DeleteMessage(ctx, 0, stored[4].Message.ID); err != nil { // seq 5
		t.Fatal(err)
	}
	tests := []struct {
		name                 string
		after, before, limit int64
		oldest               bool
		want                 []int64
	}{
		{"newest", 0, 0, 3, false, []int64{8, 9, 10}},
		{"all", 0, 0, 100, false, []int64{1, 2, 3, 4, 6, 7, 8, 9, 10}},
		{"before", 0, 7, 3, false, []int64{3, 4, 6}},
		{"after", 2, 0, 3, false, []int64{3, 4, 6}},
		{"after to the end", 8, 0, 50, false, []int64{9, 10}},
		{"between", 2, 8, 50, false, []int64{3, 4, 6, 7}},
		{"after the last", 10, 0, 50, false, nil},
		{"oldest first from the start", 0, 0, 3, true, []int64{1, 2, 3}},
		{"oldest first before", 0, 7, 2, true, []int64{1, 2}},
		{"oldest first after", 4, 0, 2, true, []int64{6, 7}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := s.Messages(ctx, r.ID, chat.Page{AfterSeq: tt.after, BeforeSeq: tt.before, OldestFirst: tt.oldest, Limit: int(tt.limit)})
			if err != nil {
				t.Fatal(err)
			}
			var seqs []int64
			for _, m := range got {
				seqs = append(seqs, m.Seq)
			}
			if fmt.Sprint(seqs) != fmt.Sprint(tt.want) {
				t.Errorf("got seqs %v, want %v", seqs, tt.want)
			}
		})
	}
}

// Edits and deletes work with the message's room (one partition) and
// without it (every partition), and a deleted message is gone for both.
func TestEditDeleteMessage(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	ctx := context.Background()
	r := mustRoom(t, s, 1)
	for _, room := range []int64{r.ID, 0} {
		m := send(t, s, chat.NewMessage{RoomID: r.ID, SenderID: 1, Text: "before"})[0].Message
		edited, err := s.EditMessage(ctx, room, m.ID, "after")
		if err != nil || edited.Text != "after" || edited.EditedAt.IsZero() || edited.Seq != m.Seq || edited.RoomID != r.ID {
			t.Fatalf("room %d: edit: got %+v, %v", room, edited, err)
		}
		if got, err := s.Message(ctx, room, m.ID); err != nil || got.Text != "after" {
			t.Fatalf("room %d: get: got %+v, %v", room, got, err)
		}
		if _, err := s.DeleteMessage(ctx, room, m.ID); err != nil {
			t.Fatal(err)
		}
		for name, f := range map[string]func() error{
			"get":    func() error { _, err := s.Message(ctx, room, m.ID); return err },
			"edit":   func() error { _, err := s.EditMessage(ctx, room, m.ID, "x"); return err },
			"delete": func() error { _, err := s.DeleteMessage(ctx, room, m.ID); return err },
		} {
			if err := f(); apperr.ErrorCode(err) != apperr.CodeNotFound {
				t.Errorf("room %d: %s deleted message: got %v, want NOT_FOUND", room, name, err)
			}
		}
	}
}

// A room that is not the message's finds nothing and changes nothing.
func TestMessageInOtherRoomNotFound(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	ctx := context.Background()
	r, other := mustRoom(t, s, 1), mustRoom(t, s, 1)
	m := send(t, s, chat.NewMessage{RoomID: r.ID, SenderID: 1, Text: "kept"})[0].Message
	for name, f := range map[string]func() error{
		"get":    func() error { _, err := s.Message(ctx, other.ID, m.ID); return err },
		"edit":   func() error { _, err := s.EditMessage(ctx, other.ID, m.ID, "x"); return err },
		"delete": func() error { _, err := s.DeleteMessage(ctx, other.ID, m.ID); return err },
	} {
		if err := f(); apperr.ErrorCode(err) != apperr.CodeNotFound {
			t.Errorf("%s in room %d: got %v, want NOT_FOUND", name, other.ID, err)
		}
	}
	if got, err := s.Message(ctx, 0, m.ID); err != nil || got.Text != "kept" || got.EditedAt != (time.Time{}) {
		t.Fatalf("message after lookups in the wrong room: got %+v, %v", got, err)
	}
}

func TestRooms(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	ctx := context.Background()

	a, created, err := s.CreateRoom(ctx, "post room", 5, 42)
	if err != nil || !created || a.PostID != 42 {
		t.Fatalf("create: got %+v %v %v", a, created, err)
	}
	b, created, err := s.CreateRoom(ctx, "again", 6, 42)
	if err != nil || created || b.ID != a.ID || b.OwnerID != 5 {
		t.Fatalf("create for same post: got %+v %v %v, want existing room %d", b, created, err, a.ID)
	}
	c := mustRoom(t, s, 1)
	d := mustRoom(t, s, 1)

	page, err := s.Rooms(ctx, 0, 2)
	if err != nil || len(page) != 2 || page[0].ID != d.ID || page[1].ID != c.ID {
		t.Fatalf("first page: got %+v %v, want rooms %d, %d", page, err, d.ID, c.ID)
	}
	page, err = s.Rooms(ctx, c.ID, 2)
	if err != nil || len(page) != 1 || page[0].ID != a.ID {
		t.Fatalf("second page: got %+v %v, want room %d", page, err, a.ID)
	}

	renamed, err := s.RenameRoom(ctx, c.ID, "new name")
	if err != nil || renamed.Name != "new name" {
		t.Errorf("rename: got %+v %v", renamed, err)
	}
	if _, err := s.RenameRoom(ctx, 999999, "x"); apperr.ErrorCode(err) != apperr.CodeNotFound {
		t.Errorf("rename unknown: got %v, want NOT_FOUND", err)
	}
}

func TestDeleteRoomCascades(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	ctx := context.Background()
	r := mustRoom(t, s, 1)
	keep := mustRoom(t, s, 1)
	m := send(t, s, chat.NewMessage{RoomID: r.ID, SenderID: 1, Text: "a"})[0].Message
	send(t, s, chat.NewMessage{RoomID: r.ID, SenderID: 1, Text: "reply", ParentID: m.ID},
		chat.NewMessage{RoomID: keep.ID, SenderID: 1, Text: "kept"})

	if err := s.DeleteRoom(ctx, r.ID); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := s.pool.QueryRow(ctx, `SELECT count(*) FROM messages WHERE room_id = $1`, r.ID).Scan(&n); err != nil || n != 0 {
		t.Errorf("got %d messages left in the deleted room (%v), want 0", n, err)
	}
	if err := s.pool.QueryRow(ctx, `SELECT count(*) FROM messages WHERE room_id = $1`, keep.ID).Scan(&n); err != nil || n != 1 {
		t.Errorf("got %d messages in the other room (%v), want 1", n, err)
	}
	if _, err := s.Room(ctx, r.ID); apperr.ErrorCode(err) != apperr.CodeNotFound {
		t.Errorf("get deleted room: got %v, want NOT_FOUND", err)
	}
	if err := s.DeleteRoom(ctx, r.ID); apperr.ErrorCode(err) != apperr.CodeNotFound {
		t.Errorf("delete again: got %v, want NOT_FOUND", err)
	}
}

// TestDeleteRoomWhileSending: messages have no foreign key to their room
// (migrations/00002), so deleting a room while batches are being committed
// into it must still leave no message behind, and every send either
// committed before the delete or failed with NOT_FOUND.
func TestDeleteRoomWhileSending(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	ctx := context.Background()
	for round := range 5 {
		r := mustRoom(t, s, 1)
		var wg sync.WaitGroup
		for w := range 8 {
			wg.Go(func() {
				for i := 0; ; i++ {
					out, err := s.StoreMessages(ctx, []chat.NewMessage{
						{RoomID: r.ID, SenderID: 1, Text: "x", ClientMsgID: fmt.Sprintf("%d-%d-%d", round, w, i)}})
					if err != nil {
						t.Errorf("StoreMessages: %v", err)
						return
					}
					if out[0].Err != nil {
						if apperr.ErrorCode(out[0].Err) != apperr.CodeNotFound {
							t.Errorf("send after delete: got %v, want NOT_FOUND", out[0].Err)
						}
						return
					}
				}
			})
		}
		time.Sleep(20 * time.Millisecond)
		if err := s.DeleteRoom(ctx, r.ID); err != nil {
			t.Fatal(err)
		}
		wg.Wait()
		var n int
		if err := s.pool.QueryRow(ctx, `SELECT count(*) FROM messages WHERE room_id = $1`, r.ID).Scan(&n); err != nil || n != 0 {
			t.Fatalf("round %d: got %d messages left in the deleted room (%v), want 0", round, n, err)
		}
	}
}

func TestBatcherFailsWaitersWhenTheCommitFails(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	r := mustRoom(t, s, 1)
	b := batch.New(batch.Config{MaxSize: 64}, s.StoreMessages)
	defer b.Close()
	s.pool.Close() // every transaction now fails

	var wg sync.WaitGroup
	for i := range 10 {
		wg.Go(func() {
			_, err := b.Do(context.Background(), chat.NewMessage{RoomID: r.ID, SenderID: 1, Text: fmt.Sprint(i)})
			if apperr.ErrorCode(err) != apperr.CodeUnavailable {
				t.Errorf("got %v, want UNAVAILABLE", err)
			}
		})
	}
	wg.Wait()
}

// TestErrorsNameTheOperation: a failure says what the store was doing,
// and wrapping keeps the domain code (NOT_FOUND, UNAVAILABLE) and the
// cause visible to errors.Is / errors.As.
func TestErrorsNameTheOperation(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	ctx := context.Background()
	_, err := s.Room(ctx, 999999)
	if apperr.ErrorCode(err) != apperr.CodeNotFound || !strings.HasPrefix(err.Error(), "load room: ") {
		t.Errorf("unknown room: %v, want NOT_FOUND prefixed by the operation", err)
	}
	r := mustRoom(t, s, 1)
	s.pool.Close()
	for op, call := range map[string]func() error{
		"list messages": func() error { _, err := s.Messages(ctx, r.ID, chat.Page{Limit: 10}); return err },
		"store messages": func() error {
			_, err := s.StoreMessages(ctx, []chat.NewMessage{{RoomID: r.ID, SenderID: 1, Text: "hi"}})
			return err
		},
		"delete room": func() error { return s.DeleteRoom(ctx, r.ID) },
	} {
		err := call()
		if apperr.ErrorCode(err) != apperr.CodeUnavailable || !strings.HasPrefix(err.Error(), op+": ") {
			t.Errorf("%s with the pool closed: %v, want UNAVAILABLE prefixed by %q", op, err, op)
		}
	}
}
