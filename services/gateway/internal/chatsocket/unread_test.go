package chatsocket

import (
	"context"
	"io"
	"log/slog"
	"slices"
	"testing"

	"google.golang.org/grpc"

	chatv1 "github.com/cobraspace/cobraspace/proto/cobraspace/chat/v1"
	"github.com/cobraspace/cobraspace/services/gateway/internal/chatsocket/chatjson"
)

// TestRoomWatchCount checks the unread arithmetic of one watch against a
// brute-force count over the same messages and markers.
func TestRoomWatchCount(t *testing.T) {
	// Snapshot: marker 10, room at 20, 7 of 11..20 are others'.
	w := &roomWatch{lastRead: 10, lastSeq: 20, base: 7, baseSeq: 20}
	own := map[int64]bool{}
	for seq := int64(21); seq <= 40; seq++ {
		own[seq] = seq%3 == 0
		w.add(seq, own[seq])
	}
	others := func(after, upto int64) int64 {
		n := int64(0)
		for s := after + 1; s <= upto; s++ {
			if !own[s] {
				n++
			}
		}
		return n
	}
	if got, want := w.count(), 7+others(20, 40); got != want {
		t.Fatalf("count: %d, want %d", got, want)
	}
	// A marker inside the snapshot's unknown seqs cannot be derived.
	if w.read(15) {
		t.Fatal("read(15) inside the snapshot: want a snapshot request")
	}
	w = &roomWatch{lastRead: 10, lastSeq: 20, base: 7, baseSeq: 20}
	for seq := int64(21); seq <= 40; seq++ {
		w.add(seq, own[seq])
	}
	// Markers within the known seqs are exact, and only move forward.
	for _, r := range []int64{25, 24, 33, 40} {
		if !w.read(r) {
			t.Fatalf("read(%d): want derived", r)
		}
		last := max(r, w.lastRead)
		if got, want := w.count(), others(last, 40); got != want {
			t.Fatalf("after read(%d): %d, want %d", r, got, want)
		}
	}
	// Messages at or below the marker never count (read beyond lastSeq).
	w.read(45)
	for seq := int64(41); seq <= 50; seq++ {
		w.add(seq, false)
	}
	if got := w.count(); got != 5 {
		t.Fatalf("after read(45) and 41..50: %d, want 5", got)
	}
}

// TestRoomWatchBounded: the seqs a watch remembers stay bounded; the
// count stays exact.
func TestRoomWatchBounded(t *testing.T) {
	w := &roomWatch{}
	for seq := int64(1); seq <= 10*maxKnownUnread; seq++ {
		w.add(seq, false)
	}
	if len(w.seqs) > maxKnownUnread {
		t.Fatalf("%d seqs remembered", len(w.seqs))
	}
	if got := w.count(); got != 10*maxKnownUnread {
		t.Fatalf("count %d", got)
	}
	// A marker in the forgotten part needs a snapshot; one in the
	// remembered part does not.
	w2 := *w
	w2.seqs = append([]int64(nil), w.seqs...)
	if w2.read(10) {
		t.Error("read in the forgotten part: want a snapshot request")
	}
	last := w.seqs[len(w.seqs)-1]
	if !w.read(last-5) || w.count() != 5 {
		t.Errorf("read(last-5): count %d, want 5", w.count())
	}
}

func TestMessageObject(t *testing.T) {
	obj, sender, ok := chatjson.MessageObject([]byte(`{"type":"chat.message","id":1,"seq":2,"sender":"a@example.com","message":"hi \"type\""}`))
	if !ok || sender != "a@example.com" || string(obj) != `{"id":1,"seq":2,"sender":"a@example.com","message":"hi \"type\""}` {
		t.Errorf("got %s %q %v", obj, sender, ok)
	}
	obj, sender, ok = chatjson.MessageObject([]byte(`{"id":1,"type":"chat.message","sender":"b@example.com"}`))
	if !ok || sender != "b@example.com" || string(obj) != `{"id":1,"sender":"b@example.com"}` {
		t.Errorf("other order: got %s %q %v", obj, sender, ok)
	}
	if _, _, ok := chatjson.MessageObject([]byte(`{"type":"chat.typing"}`)); ok {
		t.Error("a typing frame taken for a message")
	}
	if got := string(chatjson.UnreadFrame(3, 4, nil)); got != `{"type":"chat.unread","room":3,"unread_count":4,"last_message":null}` {
		t.Errorf("UnreadFrame: %s", got)
	}
}

// nopBroker accepts room subscriptions and delivers nothing.
type nopBroker struct{}

func (nopBroker) SubscribeRoom(int64, func(Event)) (func(), error) { return func() {}, nil }

// emptyRooms answers GetRoom (a room stream's start) with an empty room;
// the hubs of these tests call nothing else.
type emptyRooms struct{ chatv1.ChatServiceClient }

func (emptyRooms) GetRoom(_ context.Context, in *chatv1.GetRoomRequest, _ ...grpc.CallOption) (*chatv1.Room, error) {
	return &chatv1.Room{Id: in.GetId()}, nil
}

// TestUserStreamRoomCap: a stream follows at most Config.UserRooms rooms,
// dropping the least recently active one, and lets go of its room
// subscription.
func TestUserStreamRoomCap(t *testing.T) {
	m, err := NewMetrics(nil)
	if err != nil {
		t.Fatal(err)
	}
	h := NewHub(Config{UserRooms: 3}, emptyRooms{}, nopBroker{}, slog.New(slog.NewTextHandler(io.Discard, nil)), m)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s := &userStream{hub: h, userID: 1, email: "a@example.com", ctx: ctx, cancel: cancel, rooms: map[int64]*roomWatch{}}
	w1 := s.watch(1)
	s.watch(2)
	s.watch(3)
	if s.watch(3) != nil {
		t.Error("a room watched twice")
	}
	s.onMessages(w1, []watchedMsg{{seq: 1, sender: "b@example.com"}}) // room 1 is active again
	s.watch(4)
	got := []int64{}
	for id := range s.rooms {
		got = append(got, id)
	}
	slices.Sort(got)
	if !slices.Equal(got, []int64{1, 3, 4}) {
		t.Errorf("watched rooms %v, want [1 3 4] (room 2 the least recently active)", got)
	}
	h.mu.Lock()
	_, held := h.rooms[2]
	n := len(h.rooms)
	h.mu.Unlock()
	if held || n != 3 {
		t.Errorf("hub holds %d rooms (room 2: %v), want 3 without room 2", n, held)
	}
}
