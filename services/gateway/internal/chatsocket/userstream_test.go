package chatsocket_test

import (
	"context"
	"encoding/json"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/nats-io/nats.go"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/cobraspace/cobraspace/platform/grpcauth"
	chatv1 "github.com/cobraspace/cobraspace/proto/cobraspace/chat/v1"
	"github.com/cobraspace/cobraspace/services/gateway/internal/chatsocket"
)

// What the real stack cannot easily show: a user event or a room message
// lost on NATS. Here the fake chat service stores notifications and
// memberships and publishes what the test says, so the stream must fill a
// notification gap from ListNotifications, a room's stream must fill a
// message gap from history, and the unread counter must re-count a room
// from UnreadCount after a seq gap history could not fill (a deleted
// message).

// convChat adds the conversation RPCs to fakeChat.
type convChat struct {
	*fakeChat
	mu       sync.Mutex
	notes    map[int64][]*chatv1.Notification // by user, id order
	members  map[int64]map[int64]int64        // user → room → last read seq
	snapshot int                              // UnreadCount calls
	replays  int                              // ListNotifications calls after an id (replays, gap repairs)
}

func newConvChat(f *fakeChat) *convChat {
	return &convChat{fakeChat: f, notes: map[int64][]*chatv1.Notification{}, members: map[int64]map[int64]int64{}}
}

// notify stores the user's next notification and publishes it unless lost.
func (c *convChat) notify(uid int64, lost bool) int64 {
	c.mu.Lock()
	n := &chatv1.Notification{Id: int64(len(c.notes[uid]) + 1), Kind: "mention", RoomId: 1, MessageId: 1, Seq: 1,
		Actor: &chatv1.NotificationActor{Id: 2, Nickname: "user2"}, UserId: uid}
	c.notes[uid] = append(c.notes[uid], n)
	c.mu.Unlock()
	if !lost {
		c.publishUser(uid, &chatv1.UserEvent{Event: &chatv1.UserEvent_Notification{Notification: n}})
	}
	return n.Id
}

func (c *convChat) publishUser(uid int64, ev *chatv1.UserEvent) {
	data, _ := proto.Marshal(ev)
	_ = c.nc.PublishMsg(&nats.Msg{Subject: c.subj.UserEvents(uid), Data: data})
}

func (c *convChat) ListNotifications(ctx context.Context, in *chatv1.ListNotificationsRequest, _ ...grpc.CallOption) (*chatv1.ListNotificationsResponse, error) {
	uid, err := userOf(ctx)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	all := c.notes[uid]
	var out []*chatv1.Notification
	if in.GetAfterId() > 0 || in.GetOldestFirst() {
		c.replays++
		for _, n := range all {
			if n.Id > in.GetAfterId() && len(out) < int(in.GetLimit()) {
				out = append(out, n)
			}
		}
	} else {
		for i := len(all) - 1; i >= 0 && len(out) < int(max(in.GetLimit(), 20)); i-- {
			out = append(out, all[i])
		}
	}
	return &chatv1.ListNotificationsResponse{Notifications: out}, nil
}

// state is a member's unread count in a room, from the stored messages.
func (c *convChat) state(uid, roomID int64) *chatv1.Membership {
	c.mu.Lock() // members are c's, rooms the fakeChat's
	read := c.members[uid][roomID]
	c.mu.Unlock()
	c.fakeChat.mu.Lock()
	defer c.fakeChat.mu.Unlock()
	r := c.rooms[roomID]
	m := &chatv1.Membership{RoomId: roomID, LastReadSeq: read, LastSeq: r.lastSeq}
	for _, msg := range r.msgs {
		if msg.Seq > read && msg.SenderId != uid {
			m.UnreadCount++
		}
	}
	return m
}

func (c *convChat) ListMyRooms(ctx context.Context, _ *chatv1.ListMyRoomsRequest, _ ...grpc.CallOption) (*chatv1.ListMyRoomsResponse, error) {
	uid, err := userOf(ctx)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	var rooms []int64
	for r := range c.members[uid] {
		rooms = append(rooms, r)
	}
	c.mu.Unlock()
	resp := &chatv1.ListMyRoomsResponse{}
	for _, r := range rooms {
		m := c.state(uid, r)
		resp.Rooms = append(resp.Rooms, &chatv1.MyRoom{Room: &chatv1.Room{Id: r, LastSeq: m.LastSeq},
			UnreadCount: m.UnreadCount, LastReadSeq: m.LastReadSeq})
	}
	return resp, nil
}

func (c *convChat) UnreadCount(ctx context.Context, in *chatv1.UnreadCountRequest, _ ...grpc.CallOption) (*chatv1.UnreadCountResponse, error) {
	uid, err := userOf(ctx)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	_, member := c.members[uid][in.GetRoomId()]
	c.snapshot++
	c.mu.Unlock()
	if !member {
		return nil, status.Error(codes.NotFound, "Not found.")
	}
	return &chatv1.UnreadCountResponse{Membership: c.state(uid, in.GetRoomId())}, nil
}

// userTestConn reads /ws/user/ frames of a fake replica.
func dialUserFake(t *testing.T, r *replica, uid int64) *websocket.Conn {
	t.Helper()
	url := "ws" + strings.TrimPrefix(r.srv.URL, "http") + "/ws/user/"
	ws, _, err := websocket.DefaultDialer.Dial(url, map[string][]string{"Authorization": {"Bearer u" + strconv.FormatInt(uid, 10)}})
	if err != nil {
		t.Fatalf("dial /ws/user/: %v", err)
	}
	t.Cleanup(func() { ws.Close() })
	return ws
}

func readUserFrame(t *testing.T, ws *websocket.Conn) userFrame {
	t.Helper()
	_ = ws.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, data, err := ws.ReadMessage()
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	var f userFrame
	if err := json.Unmarshal(data, &f); err != nil {
		t.Fatal(err)
	}
	f.raw = string(data)
	return f
}

func TestUserStreamNotificationGap(t *testing.T) {
	e := newEnv(t)
	chat := newConvChat(e.chat)
	r := newReplica(t, e.nc, e.prefix, chat, chatsocket.Config{GapWait: 100 * time.Millisecond})
	ws := dialUserFake(t, r, 7)
	ws2 := dialUserFake(t, r, 7) // the user's second device
	// Both sockets' replays are done once each has a frame of its own
	// (the stream is subscribed before either replays).
	chat.notify(7, false)
	for _, c := range []*websocket.Conn{ws, ws2} {
		if f := readUserFrame(t, c); f.ID != 1 {
			t.Fatalf("first frame: %s", f.raw)
		}
	}
	chat.mu.Lock()
	replays := chat.replays
	chat.mu.Unlock()
	chat.notify(7, true) // lost on NATS
	chat.notify(7, false)
	for _, c := range []*websocket.Conn{ws, ws2} {
		for want := int64(2); want <= 3; want++ {
			if f := readUserFrame(t, c); f.Type != "notification.new" || f.ID != want {
				t.Fatalf("frame %d: %s", want, f.raw)
			}
		}
	}
	// The user's stream on the replica read the gap once for both sockets.
	chat.mu.Lock()
	repairs := chat.replays - replays
	chat.mu.Unlock()
	if repairs != 1 {
		t.Errorf("%d ListNotifications reads for one gap on two sockets, want 1", repairs)
	}
	// A notification published twice (a replay overlapping live) is sent once.
	chat.notify(7, false)
	chat.mu.Lock()
	dup := chat.notes[7][3]
	chat.mu.Unlock()
	chat.publishUser(7, &chatv1.UserEvent{Event: &chatv1.UserEvent_Notification{Notification: dup}})
	chat.notify(7, false)
	for want := int64(4); want <= 5; want++ {
		if f := readUserFrame(t, ws); f.ID != want {
			t.Fatalf("after the copy: %s, want id %d", f.raw, want)
		}
	}
}

func TestUserStreamUnreadGap(t *testing.T) {
	e := newEnv(t)
	chat := newConvChat(e.chat)
	e.chat.addRoom(5)
	chat.members[7] = map[int64]int64{5: 0}
	r := newReplica(t, e.nc, e.prefix, chat, chatsocket.Config{GapWait: 100 * time.Millisecond})
	ws := dialUserFake(t, r, 7)
	// The stream follows room 5 once its seeding subscribed it.
	deadline := time.Now().Add(5 * time.Second)
	for chatsocket.RoomsForTest(r.hub) != 1 {
		if time.Now().After(deadline) {
			t.Fatal("room 5 never watched")
		}
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(100 * time.Millisecond) // the seeding snapshot
	send := func(uid int64, text string) {
		if _, err := e.chat.SendMessage(grpcauth.WithToken(context.Background(), "u"+strconv.FormatInt(uid, 10)), &chatv1.SendMessageRequest{RoomId: 5, Text: text}); err != nil {
			t.Fatal(err)
		}
	}
	send(8, "one")
	if f := readUserFrame(t, ws); f.Type != "chat.unread" || f.Room != 5 || *f.UnreadCount != 1 || !strings.Contains(string(f.LastMessage), `"one"`) {
		t.Fatalf("first message: %s", f.raw)
	}
	send(7, "mine") // own: count unchanged, last message new
	if f := readUserFrame(t, ws); *f.UnreadCount != 1 || !strings.Contains(string(f.LastMessage), `"mine"`) {
		t.Fatalf("own message: %s", f.raw)
	}
	snapshots := func() int {
		chat.mu.Lock()
		defer chat.mu.Unlock()
		return chat.snapshot
	}
	// untilCount reads frames until the unread count is n.
	untilCount := func(n int64) {
		t.Helper()
		for {
			f := readUserFrame(t, ws)
			if f.Type != "chat.unread" {
				t.Fatalf("got %s, want chat.unread", f.raw)
			}
			if *f.UnreadCount == n {
				return
			}
		}
	}
	e.chat.mu.Lock()
	e.chat.drop[3] = true // "two" is lost on NATS
	e.chat.mu.Unlock()
	before := snapshots()
	send(8, "two")
	send(8, "three")
	// The room's stream reads "two" from history: the counter never sees
	// the gap and needs no re-count.
	untilCount(3)
	if n := snapshots() - before; n != 0 {
		t.Errorf("%d UnreadCount calls for a message the room's stream repaired", n)
	}
	// A marker within the seqs counted live is applied without a call.
	chat.mu.Lock()
	chat.members[7][5] = 3
	chat.mu.Unlock()
	chat.publishUser(7, &chatv1.UserEvent{Event: &chatv1.UserEvent_Read{Read: &chatv1.ReadMarker{RoomId: 5, LastReadSeq: 3, UnreadCount: 1}}})
	if f := readUserFrame(t, ws); f.Type != "chat.read" || f.LastReadSeq != 3 || *f.UnreadCount != 1 {
		t.Fatalf("read marker within the known seqs: %s", f.raw)
	}
	if n := snapshots() - before; n != 0 {
		t.Errorf("%d UnreadCount calls for a marker within the known seqs", n)
	}
	// "four" is lost on NATS and deleted before the repair: the stream
	// skips its seq, the counter sees a gap and re-counts with
	// UnreadCount.
	e.chat.mu.Lock()
	e.chat.drop[5] = true
	e.chat.mu.Unlock()
	send(8, "four")
	e.chat.mu.Lock()
	msgs := e.chat.rooms[5].msgs
	e.chat.rooms[5].msgs = slices.DeleteFunc(msgs, func(m *chatv1.Message) bool { return m.Seq == 5 })
	e.chat.mu.Unlock()
	send(8, "five")
	untilCount(2) // "three" and "five"
	deadline = time.Now().Add(5 * time.Second)
	for snapshots() == before {
		if time.Now().After(deadline) {
			t.Fatal("the gap of a deleted message was not re-counted with UnreadCount")
		}
		time.Sleep(10 * time.Millisecond)
	}
}
