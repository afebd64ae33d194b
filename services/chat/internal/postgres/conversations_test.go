package postgres

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/cobraspace/cobraspace/platform/apperr"
	"github.com/cobraspace/cobraspace/platform/batch"
	"github.com/cobraspace/cobraspace/platform/pgdb"
	"github.com/cobraspace/cobraspace/services/chat/internal/chat"
)

// secondStore is another Store (its own pool) on s's database: a second
// chat replica.
func secondStore(t *testing.T, s *Store) *Store {
	t.Helper()
	cfg := s.pool.Config().ConnConfig
	pool, err := pgdb.Open(context.Background(), fmt.Sprintf("postgres://%s@%s:%d/%s?sslmode=disable&pool_max_conns=12",
		cfg.User, cfg.Host, cfg.Port, cfg.Database))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	return New(pool)
}

// trueUnread counts, from the messages themselves, what the seq arithmetic
// must equal: messages after the marker that others sent.
func trueUnread(t *testing.T, s *Store, userID, roomID, mark int64) int64 {
	t.Helper()
	var n int64
	if err := s.pool.QueryRow(context.Background(), `SELECT count(*) FROM messages
		WHERE room_id = $1 AND seq > $2 AND sender_id <> $3`, roomID, mark, userID).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// Unread counts stay exact while several users send concurrently through
// two replicas (two pools, batches mixing senders and rooms) and mark
// their rooms read at random points in between: for every member, the
// count equals the messages after their marker that others sent, and
// their own messages never count.
func TestUnreadExactUnderConcurrentSendsAndReads(t *testing.T) {
	t.Parallel()
	a := newStore(t)
	b := secondStore(t, a)
	ctx := context.Background()
	rooms := []chat.Room{mustRoom(t, a, 1), mustRoom(t, a, 1)}
	const users, rounds = 5, 30
	var wg sync.WaitGroup
	for u := int64(1); u <= users; u++ {
		st := []*Store{a, b}[u%2]
		wg.Go(func() {
			rnd := rand.New(rand.NewPCG(uint64(u), 7))
			for i := range rounds {
				batch := []chat.NewMessage{
					{RoomID: rooms[i%2].ID, SenderID: u, Text: "m"},
					{RoomID: rooms[(i+1)%2].ID, SenderID: u%users + 1, Text: "other"},
				}
				if _, err := st.StoreMessages(ctx, batch); err != nil {
					t.Error(err)
					return
				}
				if rnd.IntN(3) == 0 {
					r := rooms[rnd.IntN(2)]
					m, err := st.Membership(ctx, u, r.ID)
					if err != nil {
						continue // not a member there yet
					}
					if _, err := st.MarkRead(ctx, u, r.ID, rnd.Int64N(m.LastSeq+1)); err != nil {
						t.Error(err)
					}
				}
			}
		})
	}
	wg.Wait()
	for u := int64(1); u <= users; u++ {
		mine, err := a.MyRooms(ctx, u, nil, 10)
		if err != nil {
			t.Fatal(err)
		}
		if len(mine) != 2 {
			t.Fatalf("user %d is a member of %d rooms, want 2", u, len(mine))
		}
		for _, r := range mine {
			if want := trueUnread(t, a, u, r.Room.ID, r.LastReadSeq); r.UnreadCount != want {
				t.Errorf("user %d room %d (marker %d): unread %d, want %d", u, r.Room.ID, r.LastReadSeq, r.UnreadCount, want)
			}
		}
	}
}

// A member's own messages never count as unread, before or after their
// marker, and reading to a seq in the middle subtracts exactly the own
// messages up to it.
func TestOwnMessagesNeverUnread(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	ctx := context.Background()
	r := mustRoom(t, s, 1)
	send(t, s, chat.NewMessage{RoomID: r.ID, SenderID: 2, Text: "before alice joined"}) // seq 1
	st := send(t, s, chat.NewMessage{RoomID: r.ID, SenderID: 1, Text: "hi"})            // seq 2
	if j := st[0].Joined; j == nil || j.LastReadSeq != 2 || j.UserID != 1 {
		t.Fatalf("first message: joined %+v, want a membership read up to seq 2", j)
	}
	if st := send(t, s, chat.NewMessage{RoomID: r.ID, SenderID: 1, Text: "again"}); st[0].Joined != nil {
		t.Fatalf("second message: joined again %+v", st[0].Joined)
	}
	send(t, s, chat.NewMessage{RoomID: r.ID, SenderID: 2, Text: "b"}, // 4
		chat.NewMessage{RoomID: r.ID, SenderID: 1, Text: "mine"}, // 5
		chat.NewMessage{RoomID: r.ID, SenderID: 2, Text: "c"})    // 6
	check := func(wantMark, wantUnread int64) {
		t.Helper()
		m, err := s.Membership(ctx, 1, r.ID)
		if err != nil || m.LastReadSeq != wantMark || m.UnreadCount != wantUnread || m.LastSeq != 6 {
			t.Fatalf("membership %+v, %v; want marker %d, unread %d, last seq 6", m, err, wantMark, wantUnread)
		}
	}
	check(2, 2)
	if m, err := s.MarkRead(ctx, 1, r.ID, 5); err != nil || m.UnreadCount != 1 || m.LastReadSeq != 5 {
		t.Fatalf("read to 5: %+v, %v; want unread 1", m, err)
	}
	check(5, 1)
	if m, err := s.MarkRead(ctx, 1, r.ID, 6); err != nil || m.UnreadCount != 0 {
		t.Fatalf("read to 6: %+v, %v", m, err)
	}
	send(t, s, chat.NewMessage{RoomID: r.ID, SenderID: 1, Text: "own after the marker"})
	if m, err := s.UnreadOf(ctx, 1, r.ID); err != nil || m != 0 {
		t.Fatalf("after an own message: unread %d, %v; want 0", m, err)
	}
}

// UnreadOf is Membership's unread count (test shorthand).
func (s *Store) UnreadOf(ctx context.Context, userID, roomID int64) (int64, error) {
	m, err := s.Membership(ctx, userID, roomID)
	return m.UnreadCount, err
}

// Racing MarkRead calls of one member (from two replicas) leave the marker
// at the highest seq asked, every answer is at least the seq it asked for,
// and what one caller sees never goes back.
func TestMarkReadMonotonicUnderRaces(t *testing.T) {
	t.Parallel()
	a := newStore(t)
	b := secondStore(t, a)
	ctx := context.Background()
	r := mustRoom(t, a, 1)
	if _, _, err := a.JoinRoom(ctx, 7, r.ID); err != nil {
		t.Fatal(err)
	}
	for range 10 {
		msgs := make([]chat.NewMessage, 20)
		for i := range msgs {
			msgs[i] = chat.NewMessage{RoomID: r.ID, SenderID: int64(i%3) + 6, Text: "x"} // 7 is among the senders
		}
		send(t, a, msgs...)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	highest := int64(0)
	for g := range 8 {
		st := []*Store{a, b}[g%2]
		wg.Go(func() {
			seen := int64(0)
			for i := range 25 {
				seq := int64((g*37 + i*13) % 201)
				m, err := st.MarkRead(ctx, 7, r.ID, seq)
				if err != nil {
					t.Error(err)
					return
				}
				if m.LastReadSeq < seq || m.LastReadSeq < seen {
					t.Errorf("asked %d after seeing %d: marker %d", seq, seen, m.LastReadSeq)
				}
				seen = m.LastReadSeq
				mu.Lock()
				highest = max(highest, seq)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	m, err := a.Membership(ctx, 7, r.ID)
	if err != nil || m.LastReadSeq != highest {
		t.Fatalf("final marker %+v, %v; want %d", m, err, highest)
	}
	if want := trueUnread(t, a, 7, r.ID, m.LastReadSeq); m.UnreadCount != want {
		t.Fatalf("unread %d, want %d", m.UnreadCount, want)
	}
}

func TestMarkReadErrors(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	ctx := context.Background()
	r := mustRoom(t, s, 1)
	send(t, s, chat.NewMessage{RoomID: r.ID, SenderID: 1, Text: "x"})
	for _, tc := range []struct {
		name       string
		user, room int64
		seq        int64
		code       apperr.Code
	}{
		{"unknown room", 1, r.ID + 1000, 1, apperr.CodeNotFound},
		{"not a member", 2, r.ID, 1, apperr.CodePermissionDenied},
		{"seq past the end", 1, r.ID, 2, apperr.CodeInvalid},
	} {
		if _, err := s.MarkRead(ctx, tc.user, tc.room, tc.seq); apperr.ErrorCode(err) != tc.code {
			t.Errorf("%s: got %v, want code %v", tc.name, err, tc.code)
		}
	}
	if _, err := s.MarkRead(ctx, 1, r.ID, 1); err != nil {
		t.Fatal(err)
	}
	if m, err := s.MarkRead(ctx, 1, r.ID, 0); err != nil || m.LastReadSeq != 1 {
		t.Fatalf("lower seq moved the marker: %+v, %v", m, err)
	}
}

// MyRooms: newest activity first (a message, or joining a quiet room),
// each with its last live message (a deleted last message is skipped; an
// empty room has none), paged by cursor without overlap.
func TestMyRoomsOrderAndPaging(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	ctx := context.Background()
	var rooms []chat.Room
	for range 4 {
		rooms = append(rooms, mustRoom(t, s, 1))
	}
	send(t, s, chat.NewMessage{RoomID: rooms[0].ID, SenderID: 5, Text: "zero"})
	time.Sleep(2 * time.Millisecond)
	last := send(t, s, chat.NewMessage{RoomID: rooms[2].ID, SenderID: 5, Text: "two"},
		chat.NewMessage{RoomID: rooms[2].ID, SenderID: 6, Text: "deleted"})
	if _, err := s.DeleteMessage(ctx, rooms[2].ID, last[1].Message.ID); err != nil {
		t.Fatal(err)
	}
	time.Sleep(2 * time.Millisecond)
	if _, created, err := s.JoinRoom(ctx, 5, rooms[3].ID); err != nil || !created {
		t.Fatalf("join: %v, created %v", err, created)
	}
	if _, created, err := s.JoinRoom(ctx, 5, rooms[3].ID); err != nil || created {
		t.Fatalf("second join: %v, created %v", err, created)
	}
	if _, _, err := s.JoinRoom(ctx, 5, rooms[3].ID+1000); apperr.ErrorCode(err) != apperr.CodeNotFound {
		t.Fatalf("join of an unknown room: %v", err)
	}
	var got []int64
	var cur *chat.MyRoomsCursor
	for {
		page, err := s.MyRooms(ctx, 5, cur, 2)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range page {
			got = append(got, r.Room.ID)
			switch r.Room.ID {
			case rooms[2].ID:
				// Joining by sending reads up to the end of that commit.
				if r.LastMessage == nil || r.LastMessage.Text != "two" || r.UnreadCount != 0 {
					t.Errorf("room 2: last %+v unread %d; want \"two\" (the deleted one skipped), unread 0", r.LastMessage, r.UnreadCount)
				}
			case rooms[3].ID:
				if r.LastMessage != nil || r.UnreadCount != 0 {
					t.Errorf("empty room: last %+v unread %d", r.LastMessage, r.UnreadCount)
				}
			}
		}
		if len(page) < 2 {
			break
		}
		l := page[len(page)-1]
		cur = &chat.MyRoomsCursor{Activity: l.Activity, RoomID: l.Room.ID}
	}
	if want := []int64{rooms[3].ID, rooms[2].ID, rooms[0].ID}; !slices.Equal(got, want) {
		t.Fatalf("my rooms %v, want %v", got, want)
	}
}

// Notifications written by concurrent group commits (two replicas, batches
// notifying the same users in different orders) get per-user ids 1..n
// without gaps or repeats, the unread counter matches, and racing
// mark-reads never subtract twice.
func TestNotificationIDsGapFreeAndCounts(t *testing.T) {
	t.Parallel()
	a := newStore(t)
	b := secondStore(t, a)
	ctx := context.Background()
	rooms := []chat.Room{mustRoom(t, a, 1), mustRoom(t, a, 1), mustRoom(t, a, 1)}
	const senders, rounds = 6, 15
	var wg sync.WaitGroup
	for g := range senders {
		st := []*Store{a, b}[g%2]
		wg.Go(func() {
			for i := range rounds {
				notify := []chat.Recipient{{UserID: 100, Kind: chat.KindMention}, {UserID: 101, Kind: chat.KindReply}}
				if g%2 == 1 {
					slices.Reverse(notify)
				}
				msgs := []chat.NewMessage{
					{RoomID: rooms[(g+i)%3].ID, SenderID: int64(g + 1), Text: "hey @you", Notify: notify},
					{RoomID: rooms[(g+i+1)%3].ID, SenderID: int64(g + 1), Text: "plain"},
				}
				out, err := st.StoreMessages(ctx, msgs)
				if err != nil {
					t.Error(err)
					return
				}
				if n := out[0].Notifications; len(n) != 2 || n[0].MessageID != out[0].Message.ID || n[0].Excerpt != "hey @you" {
					t.Errorf("notifications of a message: %+v", n)
				}
			}
		})
	}
	wg.Wait()
	for _, u := range []int64{100, 101} {
		var ids []int64
		var cur int64
		for {
			page, unread, err := a.Notifications(ctx, u, chat.NotificationPage{AfterID: cur, OldestFirst: true, Limit: 7})
			if err != nil {
				t.Fatal(err)
			}
			if unread != senders*rounds {
				t.Fatalf("user %d: unread %d, want %d", u, unread, senders*rounds)
			}
			if len(page) == 0 {
				break
			}
			for _, n := range page {
				ids = append(ids, n.ID)
			}
			cur = page[len(page)-1].ID
		}
		for i, id := range ids {
			if id != int64(i+1) {
				t.Fatalf("user %d: ids %v, want 1..%d", u, ids, senders*rounds)
			}
		}
		if len(ids) != senders*rounds {
			t.Fatalf("user %d: %d notifications, want %d", u, len(ids), senders*rounds)
		}
	}

	// Racing mark-reads of overlapping ids: each id is taken off once.
	var marks sync.WaitGroup
	for g := range 6 {
		st := []*Store{a, b}[g%2]
		marks.Go(func() {
			if _, err := st.MarkNotificationsRead(ctx, 100, []int64{1, 2, 3, int64(4 + g)}, false); err != nil {
				t.Error(err)
			}
		})
	}
	marks.Wait()
	if left, err := a.MarkNotificationsRead(ctx, 100, []int64{999}, false); err != nil || left != senders*rounds-9 {
		t.Fatalf("unread after racing mark-reads: %d, %v; want %d", left, err, senders*rounds-9)
	}
	unread, _, err := a.Notifications(ctx, 100, chat.NotificationPage{UnreadOnly: true, Limit: 200})
	if err != nil || len(unread) != senders*rounds-9 || unread[0].ID != senders*rounds || unread[0].Read {
		t.Fatalf("unread page: %d rows, first %+v, %v", len(unread), unread[0], err)
	}
	if left, err := a.MarkNotificationsRead(ctx, 100, nil, true); err != nil || left != 0 {
		t.Fatalf("mark all: %d, %v", left, err)
	}
	newest, _, err := a.Notifications(ctx, 100, chat.NotificationPage{BeforeID: 5, Limit: 2})
	if err != nil || len(newest) != 2 || newest[0].ID != 4 || newest[1].ID != 3 || !newest[0].Read {
		t.Fatalf("newest-first page below 5: %+v, %v", newest, err)
	}
	f, err := a.CreateNotification(ctx, chat.Notification{UserID: 100, Kind: chat.KindFriend, Actor: chat.User{ID: 3}})
	if err != nil || f.ID != senders*rounds+1 {
		t.Fatalf("friend notification: %+v, %v; want id %d", f, err, senders*rounds+1)
	}
}

// nicknames resolves every "@name" to the users listed for it.
type nicknames map[string][]int64

func (n nicknames) FindByNicknames(_ context.Context, names []string, perName int) (map[string][]int64, error) {
	if len(names) > chat.MaxMentionNames {
		return nil, fmt.Errorf("%d names in one call", len(names))
	}
	out := map[string][]int64{}
	for _, name := range names {
		if ids := n[name]; len(ids) > 0 {
			out[name] = ids[:min(len(ids), perName)]
		}
	}
	return out, nil
}

// userEvents records the per-user events the service announces.
type userEvents struct {
	mu     sync.Mutex
	events map[int64][]chat.UserEvent
}

func (u *userEvents) PublishUser(_ context.Context, userID int64, ev chat.UserEvent) error {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.events == nil {
		u.events = map[int64][]chat.UserEvent{}
	}
	u.events[userID] = append(u.events[userID], ev)
	return nil
}

func (u *userEvents) of(userID int64) []chat.UserEvent {
	u.mu.Lock()
	defer u.mu.Unlock()
	return slices.Clone(u.events[userID])
}

// Through the service's send path: a mention notifies every user of that
// nickname (but never the sender), a reply notifies the parent's sender
// (once, even when also mentioned, never for a reply to oneself), a
// storm of 200 mentions notifies at most MaxMentionRecipients, and each
// notification and new membership is announced to its user after commit.
func TestSendNotifies(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	ctx := context.Background()
	room := mustRoom(t, s, 1)
	dir := nicknames{"kim": {10, 11}, "이영희": {12}, "me": {1}}
	for i := range 200 {
		dir[fmt.Sprintf("u%d", i)] = []int64{int64(1000 + i)}
	}
	ev := &userEvents{}
	svc := chat.NewService(chat.Config{
		Store: s, Publisher: &publications{}, Users: directory{}, Nicknames: dir, UserEvents: ev, Moderation: s,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Batch:  batch.Config{MaxSize: 64},
	})
	defer svc.Close()
	me := chat.Caller{ID: 1}
	m1, err := svc.Send(ctx, me, chat.NewMessage{RoomID: room.ID, Text: "hi @KIM, and @이영희! not @me"})
	if err != nil {
		t.Fatal(err)
	}
	if j := ev.of(1); len(j) != 1 || j[0].Joined == nil || j[0].Joined.RoomID != room.ID {
		t.Fatalf("sender's events %+v, want one joined", j)
	}
	for _, u := range []int64{10, 11, 12} {
		got := ev.of(u)
		if len(got) != 1 || got[0].Notification == nil || got[0].Notification.Kind != chat.KindMention ||
			got[0].Notification.MessageID != m1.ID || got[0].Notification.Actor.ID != 1 || got[0].Notification.ID != 1 {
			t.Fatalf("user %d events %+v, want one mention of message %d", u, got, m1.ID)
		}
	}
	// Kim (10) replies to my message and mentions me: I get one reply
	// notification; her reply to a message of her own notifies nobody.
	_, err = svc.Send(ctx, chat.Caller{ID: 10}, chat.NewMessage{RoomID: room.ID, Text: "@me ok", ParentID: m1.ID})
	if err != nil {
		t.Fatal(err)
	}
	if got := ev.of(1); len(got) != 2 || got[1].Notification == nil || got[1].Notification.Kind != chat.KindReply {
		t.Fatalf("my events %+v, want a reply notification (reply wins over mention)", got)
	}
	// Threads are one level deep: Kim replies to a message of her own.
	own, err := svc.Send(ctx, chat.Caller{ID: 10}, chat.NewMessage{RoomID: room.ID, Text: "mine"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Send(ctx, chat.Caller{ID: 10}, chat.NewMessage{RoomID: room.ID, Text: "self", ParentID: own.ID}); err != nil {
		t.Fatal(err)
	}
	if got := ev.of(10); len(got) != 2 { // mention + joined
		t.Fatalf("kim's events %+v: a reply to herself notified her", got)
	}
	// A storm: 200 distinct mentions.
	storm := ""
	for i := range 200 {
		storm += fmt.Sprintf("@u%d ", i)
	}
	if _, err := svc.Send(ctx, me, chat.NewMessage{RoomID: room.ID, Text: storm}); err != nil {
		t.Fatal(err)
	}
	var n int64
	if err := s.pool.QueryRow(ctx, `SELECT count(*) FROM notifications WHERE user_id >= 1000`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != chat.MaxMentionNames || n > chat.MaxMentionRecipients {
		t.Fatalf("a 200-mention storm wrote %d notifications, want %d", n, chat.MaxMentionNames)
	}
	// A gateway's batch: its messages' nicknames are looked up together,
	// 20 per call (the fake refuses more), each message notifying its own.
	var out []chat.Outgoing
	for k := range 3 {
		text := ""
		for i := range 20 {
			text += fmt.Sprintf("@u%d ", 100+k*20+i)
		}
		out = append(out, chat.Outgoing{Sender: chat.Caller{ID: 2}, Msg: chat.NewMessage{RoomID: room.ID, Text: text}})
	}
	msgs, errs := svc.SendMany(ctx, out)
	for k := range out {
		if errs[k] != nil {
			t.Fatal(errs[k])
		}
		var got []int64
		if err := s.pool.QueryRow(ctx, `SELECT array_agg(user_id ORDER BY user_id) FROM notifications WHERE message_id = $1`,
			msgs[k].ID).Scan(&got); err != nil || len(got) != 20 || got[0] != int64(1100+k*20) {
			t.Fatalf("batch message %d notified %v, %v; want users %d..%d", k, got, err, 1100+k*20, 1119+k*20)
		}
	}
	// Listing fills in the actor.
	list, _, unread, err := svc.Notifications(ctx, chat.Caller{ID: 1}, 10, "", false, 0, false)
	if err != nil || len(list) != 1 || unread != 1 || list[0].Actor.Email == "" || list[0].Excerpt != "@me ok" {
		t.Fatalf("my notifications %+v (unread %d), %v", list, unread, err)
	}
}

// The conversations migration makes every earlier sender a member with
// everything read, and gives each room the time of its newest message.
func TestConversationsMigrationBackfills(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool, p := migratedToBare(t, conversationsVersion-1)
	var room, empty int64
	if err := pool.QueryRow(ctx, `INSERT INTO rooms (name, owner_id, last_seq) VALUES ('r', 1, 3) RETURNING id`).Scan(&room); err != nil {
		t.Fatal(err)
	}
	if err := pool.QueryRow(ctx, `INSERT INTO rooms (name, owner_id) VALUES ('empty', 1) RETURNING id`).Scan(&empty); err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Exec(ctx, `INSERT INTO messages (room_id, seq, sender_id, text, created_at) VALUES
		($1, 1, 5, 'a', '2026-01-01T00:00:01Z'), ($1, 2, 6, 'b', '2026-01-01T00:00:02Z'), ($1, 3, 5, 'c', '2026-01-01T00:00:03Z')`, room); err != nil {
		t.Fatal(err)
	}
	// Up to the latest schema, which the store needs.
	if _, err := p.Up(ctx); err != nil {
		t.Fatal(err)
	}
	s := New(pool)
	for _, u := range []int64{5, 6} {
		if m, err := s.Membership(ctx, u, room); err != nil || m.LastReadSeq != 3 || m.UnreadCount != 0 {
			t.Errorf("user %d after the migration: %+v, %v; want read up to 3, nothing unread", u, m, err)
		}
	}
	var last, none *time.Time
	if err := pool.QueryRow(ctx, `SELECT (SELECT last_message_at FROM rooms WHERE id = $1), (SELECT last_message_at FROM rooms WHERE id = $2)`,
		room, empty).Scan(&last, &none); err != nil || last == nil || !last.Equal(time.Date(2026, 1, 1, 0, 0, 3, 0, time.UTC)) || none != nil {
		t.Fatalf("last_message_at: %v, %v, %v; want the newest message's time, and none for the empty room", last, none, err)
	}
	send(t, s, chat.NewMessage{RoomID: room, SenderID: 6, Text: "new"})
	if n, err := s.UnreadOf(ctx, 5, room); err != nil || n != 1 {
		t.Errorf("user 5 after a new message: unread %d, %v", n, err)
	}
}
