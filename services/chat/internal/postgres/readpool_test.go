package postgres

import (
	"context"
	"testing"

	"github.com/cobraspace/cobraspace/services/chat/internal/chat"
)

// With a read pool, history pages and room listings come from it while
// single-room reads stay on the primary; a read pool that has not caught
// up with the seq the caller knows, or that fails, is skipped. The "replica" here is a
// second database holding different rows under the same ids, so each
// answer shows which database it came from.
func TestReadPoolRouting(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	primary, replica := newStore(t), newStore(t)
	s := primary.WithReadPool(replica.pool)

	r := mustRoom(t, primary, 1)
	if rr := mustRoom(t, replica, 1); rr.ID != r.ID {
		t.Fatalf("room ids differ: primary %d, replica %d", r.ID, rr.ID)
	}
	if _, err := replica.RenameRoom(ctx, r.ID, "replica's"); err != nil {
		t.Fatal(err)
	}
	send(t, primary, chat.NewMessage{RoomID: r.ID, SenderID: 1, Text: "on the primary"})
	send(t, replica, chat.NewMessage{RoomID: r.ID, SenderID: 1, Text: "on the replica"})

	texts := func(p chat.Page) []string {
		t.Helper()
		msgs, err := s.Messages(ctx, r.ID, p)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, m := range msgs {
			out = append(out, m.Text)
		}
		return out
	}
	// The replica has seq 1, all the caller knows of: it serves the page.
	if got := texts(chat.Page{Limit: 10, KnownSeq: 1}); len(got) != 1 || got[0] != "on the replica" {
		t.Fatalf("page with the replica caught up: got %q, want the replica's message", got)
	}
	rooms, err := s.Rooms(ctx, 0, 10)
	if err != nil || len(rooms) != 1 || rooms[0].Name != "replica's" {
		t.Fatalf("room listing: got %+v, %v, want the replica's room", rooms, err)
	}
	if room, err := s.Room(ctx, r.ID); err != nil || room.Name != "room" {
		t.Fatalf("room by id: got %+v, %v, want the primary's", room, err)
	}

	// The primary moves on; a caller that saw seq 2 must not get a page
	// without it, so the lagging replica is skipped.
	send(t, primary, chat.NewMessage{RoomID: r.ID, SenderID: 1, Text: "newer"})
	if got := texts(chat.Page{Limit: 10, KnownSeq: 2}); len(got) != 2 || got[0] != "on the primary" || got[1] != "newer" {
		t.Fatalf("page with the replica behind: got %q, want the primary's two messages", got)
	}
	// A room the replica does not have yet is read from the primary too.
	r2 := mustRoom(t, primary, 2)
	send(t, primary, chat.NewMessage{RoomID: r2.ID, SenderID: 2, Text: "new room"})
	if msgs, err := s.Messages(ctx, r2.ID, chat.Page{Limit: 10, KnownSeq: 1}); err != nil || len(msgs) != 1 || msgs[0].Text != "new room" {
		t.Fatalf("page of a room the replica lacks: got %+v, %v", msgs, err)
	}

	// A read pool that fails is skipped too.
	replica.pool.Close()
	if got := texts(chat.Page{Limit: 10, KnownSeq: 0}); len(got) != 2 || got[0] != "on the primary" {
		t.Fatalf("page with the read pool closed: got %q, want the primary's messages", got)
	}
	if rooms, err := s.Rooms(ctx, 0, 10); err != nil || len(rooms) != 2 || rooms[1].Name != "room" {
		t.Fatalf("room listing with the read pool closed: got %+v, %v, want the primary's two rooms", rooms, err)
	}
}
