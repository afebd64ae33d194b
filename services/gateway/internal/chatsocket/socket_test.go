package chatsocket_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/cobraspace/cobraspace/platform/subjects"
	chatv1 "github.com/cobraspace/cobraspace/proto/cobraspace/chat/v1"
	"github.com/cobraspace/cobraspace/services/gateway/internal/chatsocket"
)

func TestChatHandshakeRefused(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.chat.addRoom(1)
	r := newReplica(t, e.nc, e.prefix, e.chat, chatsocket.Config{MaxSocketsPerUser: 1})
	mustDial(t, r, 1, dialOpts{user: 9}) // uses user 9's only slot

	tests := []struct {
		name string
		room int64
		o    dialOpts
		want int
	}{
		{"no auth", 1, dialOpts{}, http.StatusUnauthorized},
		{"foreign origin", 1, dialOpts{user: 1, origin: "http://evil.test"}, http.StatusForbidden},
		{"unknown room", 2, dialOpts{user: 1}, http.StatusNotFound},
		{"too many sockets", 1, dialOpts{user: 9}, http.StatusTooManyRequests},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, resp, err := dial(t, r, tt.room, tt.o)
			if !errors.Is(err, websocket.ErrBadHandshake) {
				t.Fatalf("got err %v, want ErrBadHandshake", err)
			}
			if resp.StatusCode != tt.want {
				t.Fatalf("got status %d, want %d", resp.StatusCode, tt.want)
			}
			if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
				t.Fatalf("got Content-Type %q, want application/json", ct)
			}
		})
	}
	// An allowed Origin is accepted.
	mustDial(t, r, 1, dialOpts{user: 1, origin: allowedOrigin})
}

// TestChatMaxSocketsPerIP: with MaxSocketsPerIP 2, a third socket from the
// same address is refused with 429 before any upgrade, whoever the user;
// closing one frees its slot.
func TestChatMaxSocketsPerIP(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.chat.addRoom(1)
	r := newReplica(t, e.nc, e.prefix, e.chat, chatsocket.Config{MaxSocketsPerIP: 2})
	first := mustDial(t, r, 1, dialOpts{user: 1})
	first.nextOf("chat.presence")
	mustDial(t, r, 1, dialOpts{user: 2}).nextOf("chat.presence")
	_, resp, err := dial(t, r, 1, dialOpts{user: 3})
	if !errors.Is(err, websocket.ErrBadHandshake) || resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("third socket: got %v %v, want 429 without upgrade", err, resp)
	}
	body, _ := io.ReadAll(resp.Body)
	if want := `{"detail":"Too many open chat sockets from this address."}`; strings.TrimSpace(string(body)) != want {
		t.Fatalf("third socket: got body %s, want %s", body, want)
	}
	first.ws.Close()
	deadline := time.Now().Add(5 * time.Second)
	for {
		c, _, err := dial(t, r, 1, dialOpts{user: 3})
		if err == nil {
			c.nextOf("chat.presence")
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after closing a socket: still refused: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestChatHistoryPresenceAndFanOut(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.chat.addRoom(1)
	a := newReplica(t, e.nc, e.prefix, e.chat, chatsocket.Config{})
	b := newReplica(t, e.nc, e.prefix, e.chat, chatsocket.Config{})

	c1 := mustDial(t, a, 1, dialOpts{user: 1})
	if f := c1.next(); f.Type != "chat.history" || len(f.Messages) != 0 {
		t.Fatalf("got %+v, want empty chat.history", f)
	}
	if f := c1.next(); f.Type != "chat.presence" || len(f.Users) != 1 {
		t.Fatalf("got %+v, want chat.presence with 1 user", f)
	}
	c1.send(map[string]any{"type": "chat.message", "message": "first", "client_msg_id": "m1"})
	if f := c1.nextOf("chat.message"); f.Seq != 1 || f.ClientMsgID != "m1" {
		t.Fatalf("got ack %+v, want seq 1 client_msg_id m1", f)
	}

	// Members on both replicas, one with two tabs.
	c2 := mustDial(t, b, 1, dialOpts{user: 2})
	h := c2.next()
	if h.Type != "chat.history" || len(h.Messages) != 1 || h.Messages[0].Message != "first" || h.Messages[0].Seq != 1 {
		t.Fatalf("got %+v, want chat.history with message 1", h)
	}
	if f := c2.next(); f.Type != "chat.presence" || len(f.Users) != 2 {
		t.Fatalf("got %+v, want chat.presence with 2 users", f)
	}
	c3 := mustDial(t, b, 1, dialOpts{user: 2})
	c3.nextOf("chat.presence")

	// Both senders send concurrently; every member sees 2..41 once, in order.
	const n = 20
	var wg sync.WaitGroup
	for _, c := range []*testConn{c1, c2} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range n {
				if err := c.ws.WriteJSON(map[string]any{"type": "chat.message", "message": "m" + strconv.Itoa(i)}); err != nil {
					t.Errorf("write: %v", err)
				}
				time.Sleep(60 * time.Millisecond) // stay under 10/s + burst
			}
		}()
	}
	for _, c := range []*testConn{c1, c2, c3} {
		want := int64(2)
		for want <= 2*n+1 {
			f := c.next()
			if f.Type != "chat.message" {
				continue
			}
			if f.Seq != want {
				t.Fatalf("got seq %d, want %d", f.Seq, want)
			}
			want++
		}
	}
	wg.Wait()
	if got := subscriptions(a) + subscriptions(b); got != 2 {
		t.Fatalf("got %d room subscriptions, want 1 per replica", got)
	}

	// Typing is forwarded (the sender included, like every event).
	c1.send(map[string]any{"type": "chat.typing"})
	if f := c3.nextOf("chat.typing"); f.Username != "user1" {
		t.Fatalf("got typing %+v, want user1", f)
	}
	// Error frames from the chat service.
	c1.send(map[string]any{"type": "chat.message.edit", "id": 1, "message": "x"})
	if f := c1.nextOf("error"); f.ErrorType != "forbidden" {
		t.Fatalf("got %+v, want forbidden", f)
	}
	c1.send(map[string]any{"type": "chat.message.delete", "id": 99})
	if f := c1.nextOf("error"); f.ErrorType != "not_found" {
		t.Fatalf("got %+v, want not_found", f)
	}
}

func subscriptions(r *replica) int { return chatsocket.RoomsForTest(r.hub) }

func TestChatUnsubscribeOnLastLeave(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.chat.addRoom(1)
	r := newReplica(t, e.nc, e.prefix, e.chat, chatsocket.Config{})
	c1 := mustDial(t, r, 1, dialOpts{user: 1})
	c1.nextOf("chat.presence")
	c2 := mustDial(t, r, 1, dialOpts{user: 2})
	c2.nextOf("chat.presence")
	if got := subscriptions(r); got != 1 {
		t.Fatalf("got %d subscriptions, want 1", got)
	}
	c1.ws.Close()
	c2.ws.Close()
	waitFor(t, "unsubscribe", func() bool { return subscriptions(r) == 0 && r.hub.Sockets() == 0 })
	e.chat.mu.Lock()
	leaves := len(e.chat.leaves)
	e.chat.mu.Unlock()
	if leaves != 2 {
		t.Fatalf("got %d Leave calls, want 2", leaves)
	}
}

func TestChatResume(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.chat.addRoom(1)
	for i := range 5 {
		if _, _, err := e.chat.store(1, 1, "old"+strconv.Itoa(i), ""); err != nil {
			t.Fatal(err)
		}
	}
	r := newReplica(t, e.nc, e.prefix, e.chat, chatsocket.Config{})
	c := mustDial(t, r, 1, dialOpts{user: 1, query: "?after_seq=2"})
	for want := int64(3); want <= 5; want++ {
		if f := c.next(); f.Type != "chat.message" || f.Seq != want {
			t.Fatalf("got %+v, want chat.message seq %d", f, want)
		}
	}
	if f := c.next(); f.Type != "chat.resume" || f.Recovered == nil || !*f.Recovered {
		t.Fatalf("got %+v, want chat.resume recovered", f)
	}
	c.nextOf("chat.presence")
	// after_seq=0 resumes from the very first message.
	c0 := mustDial(t, r, 1, dialOpts{user: 3, query: "?after_seq=0"})
	for want := int64(1); want <= 5; want++ {
		if f := c0.next(); f.Type != "chat.message" || f.Seq != want {
			t.Fatalf("after_seq=0: got %+v, want chat.message seq %d", f, want)
		}
	}
	if f := c0.next(); f.Type != "chat.resume" || f.Recovered == nil || !*f.Recovered {
		t.Fatalf("after_seq=0: got %+v, want chat.resume recovered", f)
	}
	c0.nextOf("chat.presence")
	// A client that missed nothing resumes without reading history, and
	// gets what follows live.
	e.chat.mu.Lock()
	reads := e.chat.history
	e.chat.mu.Unlock()
	cur := mustDial(t, r, 1, dialOpts{user: 6, query: "?after_seq=5"})
	if f := cur.next(); f.Type != "chat.resume" || f.Recovered == nil || !*f.Recovered {
		t.Fatalf("after_seq=last: got %+v, want chat.resume recovered", f)
	}
	cur.nextOf("chat.presence")
	e.chat.mu.Lock()
	if e.chat.history != reads {
		t.Errorf("after_seq=last read history %d times, want 0", e.chat.history-reads)
	}
	e.chat.mu.Unlock()
	cur.send(map[string]any{"type": "chat.message", "message": "next"})
	if f := cur.nextOf("chat.message"); f.Seq != 6 {
		t.Fatalf("after_seq=last: got seq %d, want 6", f.Seq)
	}
	cur.ws.Close()

	// More than 1,000 missed: not recovered, the client pages over REST.
	for range 1001 {
		if _, _, err := e.chat.store(1, 1, "bulk", ""); err != nil {
			t.Fatal(err)
		}
	}
	for i, q := range []string{"?after_seq=1", "?after_seq=0"} {
		c := mustDial(t, r, 1, dialOpts{user: int64(4 + i), query: q})
		if f := c.next(); f.Type != "chat.resume" || f.Recovered == nil || *f.Recovered {
			t.Fatalf("%s: got %+v, want chat.resume not recovered", q, f)
		}
		c.nextOf("chat.presence")
		c.ws.Close()
	}
	c2 := mustDial(t, r, 1, dialOpts{user: 2, query: "?after_seq=1"})
	if f := c2.next(); f.Type != "chat.resume" || f.Recovered == nil || *f.Recovered {
		t.Fatalf("got %+v, want chat.resume not recovered", f)
	}
	c2.nextOf("chat.presence")
	// Live messages continue after the room's last seq.
	c2.send(map[string]any{"type": "chat.message", "message": "live"})
	if f := c2.nextOf("chat.message"); f.Seq != 1008 {
		t.Fatalf("got seq %d, want 1008", f.Seq)
	}
}

func TestChatGapRepairAndDedup(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.chat.addRoom(1)
	e.chat.drop[2] = true // NATS loses seq 2 and 3
	e.chat.drop[3] = true
	a := newReplica(t, e.nc, e.prefix, e.chat, chatsocket.Config{GapWait: 50 * time.Millisecond})
	b := newReplica(t, e.nc, e.prefix, e.chat, chatsocket.Config{GapWait: 50 * time.Millisecond})
	sender := mustDial(t, a, 1, dialOpts{user: 1})
	sender.nextOf("chat.presence")
	var readers []*testConn
	for i := range 3 {
		c := mustDial(t, b, 1, dialOpts{user: int64(10 + i)})
		c.nextOf("chat.presence")
		readers = append(readers, c)
	}
	for i := 1; i <= 5; i++ {
		sender.send(map[string]any{"type": "chat.message", "message": "x" + strconv.Itoa(i)})
		if f := sender.nextOf("chat.message"); f.Seq != int64(i) {
			t.Fatalf("sender got seq %d, want %d", f.Seq, i)
		}
	}
	for _, c := range readers {
		for want := int64(1); want <= 5; want++ {
			if f := c.nextOf("chat.message"); f.Seq != want {
				t.Fatalf("got seq %d, want %d", f.Seq, want)
			}
		}
	}
	// A duplicate publish of seq 5 is dropped: the next frame is seq 6.
	e.chat.mu.Lock()
	m5 := e.chat.rooms[1].msgs[4]
	e.chat.mu.Unlock()
	e.chat.publishMessages(1, m5)
	sender.send(map[string]any{"type": "chat.message", "message": "six"})
	for _, c := range readers {
		if f := c.nextOf("chat.message"); f.Seq != 6 {
			t.Fatalf("got seq %d after duplicate, want 6", f.Seq)
		}
	}
	// Replica a's room stream took the two messages NATS lost from the
	// sender's acks (and perhaps others the ack beat NATS to).
	if n := chatsocket.AckReleasesForTest(a.hub); n < 2 {
		t.Errorf("replica a released %v messages from acks, want at least the 2 NATS lost", n)
	}
	// The room's stream on replica b read the gap once for its three
	// sockets; replica a had the sender's acks and read nothing.
	e.chat.mu.Lock()
	calls := e.chat.history
	e.chat.mu.Unlock()
	if want := 4 + 1; calls != want { // 4 opening histories + 1 repair
		t.Fatalf("got %d ListMessages calls, want %d", calls, want)
	}
}

// TestChatGapRepairHidesPerSocket: the room stream reads a gap once, as
// the gateway service (unhidden); each socket still hides the senders its
// own user blocks.
func TestChatGapRepairHidesPerSocket(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.chat.addRoom(1)
	e.chat.drop[2] = true // NATS loses seq 2
	a := newReplica(t, e.nc, e.prefix, e.chat, chatsocket.Config{})
	blocks := func(_ context.Context, userID int64) ([]int64, error) {
		if userID == 10 {
			return []int64{1}, nil // user 10 blocks the sender
		}
		return nil, nil
	}
	b := newReplica(t, e.nc, e.prefix, e.chat, chatsocket.Config{GapWait: 50 * time.Millisecond, BlockedIDs: blocks})
	sender := mustDial(t, a, 1, dialOpts{user: 1})
	sender.nextOf("chat.presence")
	blocker := mustDial(t, b, 1, dialOpts{user: 10})
	blocker.nextOf("chat.presence")
	other := mustDial(t, b, 1, dialOpts{user: 11})
	other.nextOf("chat.presence")
	for i := 1; i <= 3; i++ {
		sender.send(map[string]any{"type": "chat.message", "message": "x" + strconv.Itoa(i)})
		sender.nextOf("chat.message")
	}
	for want := int64(1); want <= 3; want++ {
		if f := other.nextOf("chat.message"); f.Seq != want || f.Hidden || f.Message != "x"+strconv.Itoa(int(want)) {
			t.Fatalf("other reader: got %+v, want seq %d with its text", f, want)
		}
		if f := blocker.nextOf("chat.message"); f.Seq != want || !f.Hidden || f.Message != "" {
			t.Fatalf("blocker: got %+v, want seq %d hidden", f, want)
		}
	}
}

// TestChatHidesEditsPerSocket: an edit reaches every socket of the room,
// and a socket whose user blocks the sender gets it without its text.
func TestChatHidesEditsPerSocket(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.chat.addRoom(1)
	blocks := func(_ context.Context, userID int64) ([]int64, error) {
		if userID == 10 {
			return []int64{1}, nil // user 10 blocks the sender
		}
		return nil, nil
	}
	r := newReplica(t, e.nc, e.prefix, e.chat, chatsocket.Config{BlockedIDs: blocks})
	blocker := mustDial(t, r, 1, dialOpts{user: 10})
	blocker.nextOf("chat.presence")
	other := mustDial(t, r, 1, dialOpts{user: 11})
	other.nextOf("chat.presence")
	e.chat.publishEvent(1, &chatv1.RoomEvent{Event: &chatv1.RoomEvent_Edited{Edited: &chatv1.Message{
		Id: 5, Seq: 1, RoomId: 1, Text: "edited", SenderId: 1, EditedAt: timestamppb.Now()}}})
	if f := other.nextOf("chat.message.edit"); f.Seq != 1 || f.Hidden || f.Message != "edited" {
		t.Fatalf("other reader: got %+v, want the edit with its text", f)
	}
	if f := blocker.nextOf("chat.message.edit"); f.Seq != 1 || !f.Hidden || f.Message != "" {
		t.Fatalf("blocker: got %+v, want the edit hidden", f)
	}
}

// TestChatGapRepairFromEmptyRoom: a socket that joined an empty room (last
// seq 0) and missed seq 1 on NATS repairs the gap from the first message.
func TestChatGapRepairFromEmptyRoom(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.chat.addRoom(1)
	e.chat.drop[1] = true
	r := newReplica(t, e.nc, e.prefix, e.chat, chatsocket.Config{GapWait: 50 * time.Millisecond})
	sender := mustDial(t, r, 1, dialOpts{user: 1})
	sender.nextOf("chat.presence")
	reader := mustDial(t, r, 1, dialOpts{user: 2})
	reader.nextOf("chat.presence")
	for i := 1; i <= 3; i++ {
		sender.send(map[string]any{"type": "chat.message", "message": "x" + strconv.Itoa(i)})
	}
	for want := int64(1); want <= 3; want++ {
		if f := reader.nextOf("chat.message"); f.Seq != want {
			t.Fatalf("got seq %d, want %d", f.Seq, want)
		}
	}
}

// TestChatRoomStreamStartFails: when the room's stream cannot read where
// to start (the chat service unavailable to the gateway), the socket closes
// with 1013 and the room is let go, so the next socket tries again.
func TestChatRoomStreamStartFails(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.chat.addRoom(1)
	r := newReplica(t, e.nc, e.prefix, e.chat, chatsocket.Config{})
	e.chat.mu.Lock()
	e.chat.streamDown = true
	e.chat.mu.Unlock()
	c := mustDial(t, r, 1, dialOpts{user: 1})
	if code := c.closeCode(5 * time.Second); code != websocket.CloseTryAgainLater {
		t.Fatalf("close code %d, want 1013", code)
	}
	deadline := time.Now().Add(5 * time.Second)
	for chatsocket.RoomsForTest(r.hub) != 0 {
		if time.Now().After(deadline) {
			t.Fatal("the room was kept after its stream failed to start")
		}
		time.Sleep(10 * time.Millisecond)
	}
	e.chat.mu.Lock()
	e.chat.streamDown = false
	e.chat.mu.Unlock()
	c = mustDial(t, r, 1, dialOpts{user: 1})
	c.nextOf("chat.presence")
	c.send(map[string]any{"type": "chat.message", "message": "back"})
	if f := c.nextOf("chat.message"); f.Seq != 1 {
		t.Fatalf("after the chat service came back: seq %d, want 1", f.Seq)
	}
}

func TestChatCloseCodes(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.chat.addRoom(1)
	r := newReplica(t, e.nc, e.prefix, e.chat, chatsocket.Config{})
	tests := []struct {
		name string
		do   func(c *testConn)
		want int
		// warned: error frames of this type (and no other) must come
		// before the close, as docs/api.md says ("error frames, then 1008").
		warned string
	}{
		{"binary", func(c *testConn) { _ = c.ws.WriteMessage(websocket.BinaryMessage, []byte{1, 2}) }, websocket.CloseUnsupportedData, ""},
		{"invalid utf-8", func(c *testConn) { _ = c.ws.WriteMessage(websocket.TextMessage, []byte{'"', 0xff, '"'}) }, websocket.CloseInvalidFramePayloadData, ""},
		{"oversized", func(c *testConn) {
			_ = c.ws.WriteMessage(websocket.TextMessage, []byte(`{"type":"chat.message","message":"`+strings.Repeat("a", 17<<10)+`"}`))
		}, websocket.CloseMessageTooBig, ""},
		{"repeated invalid", func(c *testConn) {
			for range 9 {
				_ = c.ws.WriteMessage(websocket.TextMessage, []byte(`{nope`))
				if f := c.nextOf("error"); f.ErrorType != "invalid_request" {
					c.t.Fatalf("got %+v, want invalid_request", f)
				}
			}
			_ = c.ws.WriteMessage(websocket.TextMessage, []byte(`{nope`))
		}, websocket.ClosePolicyViolation, ""},
		{"flooding", func(c *testConn) {
			for range 60 {
				_ = c.ws.WriteMessage(websocket.TextMessage, []byte(`{"type":"chat.typing"}`))
			}
		}, websocket.ClosePolicyViolation, "rate_limited"},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := mustDial(t, r, 1, dialOpts{user: int64(100 + i)})
			c.t = t
			c.nextOf("chat.presence")
			tt.do(c)
			got, errs := c.closeCodeAfter(5 * time.Second)
			if got != tt.want {
				t.Fatalf("got close %d, want %d", got, tt.want)
			}
			if tt.warned == "" {
				return
			}
			if len(errs) == 0 {
				t.Fatalf("got close %d without an error frame before it, want %s frames first", got, tt.warned)
			}
			for _, e := range errs {
				if e != tt.warned {
					t.Fatalf("got error frames %v before the close, want only %s", errs, tt.warned)
				}
			}
		})
	}
}

func TestChatErrorFrames(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.chat.addRoom(1)
	r := newReplica(t, e.nc, e.prefix, e.chat, chatsocket.Config{})
	c := mustDial(t, r, 1, dialOpts{user: 1})
	c.nextOf("chat.presence")
	c.send(map[string]any{"type": "chat.message", "message": strings.Repeat("a", 2001)})
	if f := c.nextOf("error"); f.ErrorType != "message_too_long" {
		t.Fatalf("got %+v, want message_too_long", f)
	}
	c.send(map[string]any{"type": "chat.nope"})
	if f := c.nextOf("error"); f.ErrorType != "invalid_request" || f.Message != "Invalid message format." {
		t.Fatalf("got %+v, want invalid_request", f)
	}
	// A burst past 20 gets rate_limited, and the socket stays open.
	for range 25 {
		_ = c.ws.WriteMessage(websocket.TextMessage, []byte(`{"type":"chat.message","message":"x"}`))
	}
	if f := c.nextOf("error"); f.ErrorType != "rate_limited" {
		t.Fatalf("got %+v, want rate_limited", f)
	}
	time.Sleep(time.Second)
	c.send(map[string]any{"type": "chat.message", "message": "after", "client_msg_id": "after"})
	for {
		f := c.nextOf("chat.message")
		if f.ClientMsgID == "after" {
			break
		}
	}
}

// A socket's edit and delete frames carry its room to the chat service,
// which then looks the message up in that room's partition only.
func TestChatEditDeleteNameTheRoom(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.chat.addRoom(7)
	r := newReplica(t, e.nc, e.prefix, e.chat, chatsocket.Config{})
	c := mustDial(t, r, 7, dialOpts{user: 1})
	c.nextOf("chat.presence")
	c.send(map[string]any{"type": "chat.message.edit", "id": 3, "message": "x"})
	c.nextOf("error")
	c.send(map[string]any{"type": "chat.message.delete", "id": 3})
	c.nextOf("error")
	e.chat.mu.Lock()
	defer e.chat.mu.Unlock()
	if fmt.Sprint(e.chat.changed) != "[7 7]" {
		t.Fatalf("edit and delete requests named rooms %v, want [7 7]", e.chat.changed)
	}
}

func TestChatSlowConsumer(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.chat.addRoom(1)
	// A queue of 128 frames (~7.5 MiB here) lets the fast member fall
	// behind by that much when the test shares a loaded machine (a queue of
	// 32 cut it off under make test), while the silent one still overflows
	// it: the room sends 400 frames (~24 MiB).
	r := newReplica(t, e.nc, e.prefix, e.chat, chatsocket.Config{SendQueue: 128, WriteTimeout: 10 * time.Second})
	slow := mustDial(t, r, 1, dialOpts{user: 1})
	slow.nextOf("chat.presence")
	fast := mustDial(t, r, 1, dialOpts{user: 2})
	fast.nextOf("chat.presence")

	// The fast member reads everything; the slow one reads nothing until
	// the room has sent far more than socket buffers hold.
	big := []byte(`{"type":"chat.typing","username":"` + strings.Repeat("x", 60<<10) + `"}`)
	const total = 400
	got := make(chan int)
	go func() {
		n := 0
		var err error
		_ = fast.ws.SetReadDeadline(time.Now().Add(20 * time.Second))
		for n < total {
			if _, _, err = fast.ws.ReadMessage(); err != nil {
				break
			}
			n++
		}
		if n < total {
			t.Logf("fast member stopped: %v", err)
		}
		got <- n
	}()
	for range total {
		e.chat.publish(1, subjects.EventTyping, big)
		time.Sleep(time.Millisecond) // a busy room, not one instant burst
	}
	if n := <-got; n != total {
		t.Fatalf("fast member got %d frames, want %d", n, total)
	}
	if code := slow.closeCode(10 * time.Second); code != chatsocket.CloseSlow {
		t.Fatalf("got close %d, want 4008", code)
	}
	// The slow member's frames went the way of a peer that reads slowly:
	// a direct write the kernel took in part, finished by a writer
	// goroutine; closeCode read them all, whole, up to the close.
	if chatsocket.HandoffsForTest(r.hub) == 0 {
		t.Error("no direct write was left to a writer goroutine")
	}
}

func TestChatRoomDeletedRevokedExpiredShutdown(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.chat.addRoom(1)
	e.chat.addRoom(2)
	a := newReplica(t, e.nc, e.prefix, e.chat, chatsocket.Config{})
	b := newReplica(t, e.nc, e.prefix, e.chat, chatsocket.Config{})

	t.Run("room deleted", func(t *testing.T) {
		c := mustDial(t, a, 2, dialOpts{user: 1})
		c.nextOf("chat.presence")
		e.chat.publishEvent(2, &chatv1.RoomEvent{Event: &chatv1.RoomEvent_RoomDeleted{RoomDeleted: &chatv1.RoomDeleted{}}})
		if got := c.closeCode(3 * time.Second); got != chatsocket.CloseRoomDeleted {
			t.Fatalf("got close %d, want 4000", got)
		}
	})
	t.Run("logout on another replica", func(t *testing.T) {
		c := mustDial(t, b, 1, dialOpts{user: 7, session: "s1"})
		c.nextOf("chat.presence")
		// The same user on another device (session), and another user.
		device := mustDial(t, b, 1, dialOpts{user: 7, session: "s2"})
		device.nextOf("chat.presence")
		other := mustDial(t, b, 1, dialOpts{user: 8, session: "s1"})
		other.nextOf("chat.presence")
		start := time.Now()
		if err := e.nc.Publish(subjects.New(e.prefix).UserRevoked(7), []byte(`{"sessions":["s1"],"reason":"logout"}`)); err != nil {
			t.Fatal(err)
		}
		if got := c.closeCode(2 * time.Second); got != websocket.ClosePolicyViolation {
			t.Fatalf("got close %d, want 1008", got)
		}
		if d := time.Since(start); d > 2*time.Second {
			t.Fatalf("closed after %v, want within 2 s", d)
		}
		// Others stay connected.
		for _, s := range []*testConn{device, other} {
			s.send(map[string]any{"type": "chat.message", "message": "still here"})
			s.nextOf("chat.message")
		}
	})
	t.Run("token expiry", func(t *testing.T) {
		c := mustDial(t, a, 1, dialOpts{user: 3, expires: "500ms"})
		c.nextOf("chat.presence")
		if got := c.closeCode(3 * time.Second); got != chatsocket.CloseTokenExpired {
			t.Fatalf("got close %d, want 4001", got)
		}
	})
	t.Run("shutdown", func(t *testing.T) {
		c := mustDial(t, a, 1, dialOpts{user: 4})
		c.nextOf("chat.presence")
		done := make(chan error, 1)
		go func() {
			ctx, cancel := contextWithTimeout(5 * time.Second)
			defer cancel()
			done <- a.hub.Shutdown(ctx)
		}()
		if got := c.closeCode(4 * time.Second); got != websocket.CloseServiceRestart {
			t.Fatalf("got close %d, want 1012", got)
		}
		if err := <-done; err != nil {
			t.Fatalf("Shutdown: %v", err)
		}
		if _, resp, err := dial(t, a, 1, dialOpts{user: 5}); err == nil || resp.StatusCode != http.StatusServiceUnavailable {
			t.Fatalf("dial while draining: got %v, want 503", err)
		}
	})
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestChatFrameLengths checks the batch writer's frame headers at every
// length boundary of RFC 6455 (7-bit, 16-bit and 64-bit lengths).
func TestChatFrameLengths(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.chat.addRoom(1)
	r := newReplica(t, e.nc, e.prefix, e.chat, chatsocket.Config{})
	c := mustDial(t, r, 1, dialOpts{user: 1})
	c.nextOf("chat.presence")
	// Frame lengths (not counting the JSON wrapper) at each boundary.
	sizes := []int{40, 100, 125, 126, 127, 65535, 65536, 70000}
	const head, tail = `{"type":"chat.typing","username":"`, `"}`
	frameOf := func(n int) []byte {
		return []byte(head + strings.Repeat("y", n-len(head)-len(tail)) + tail)
	}
	for _, n := range sizes {
		e.chat.publish(1, subjects.EventTyping, frameOf(n))
	}
	for _, n := range sizes {
		_ = c.ws.SetReadDeadline(time.Now().Add(5 * time.Second))
		_, got, err := c.ws.ReadMessage()
		if err != nil {
			t.Fatalf("size %d: %v", n, err)
		}
		if want := frameOf(n); string(got) != string(want) {
			t.Fatalf("size %d: got %d bytes, want %d", n, len(got), len(want))
		}
	}
}

func TestChatHeartbeatRejoinsForgottenConnections(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.chat.addRoom(1)
	r := newReplica(t, e.nc, e.prefix, e.chat, chatsocket.Config{HeartbeatInterval: 50 * time.Millisecond})
	ctx, cancel := contextWithTimeout(10 * time.Second)
	defer cancel()
	go r.hub.Run(ctx)
	c := mustDial(t, r, 1, dialOpts{user: 1})
	c.nextOf("chat.presence")
	counts := func() (joins, beats, reconciles int) {
		e.chat.mu.Lock()
		defer e.chat.mu.Unlock()
		return e.chat.joins, e.chat.beats, e.chat.reconciles
	}
	waitFor(t, "two heartbeats", func() bool { _, b, _ := counts(); return b >= 2 })
	if j, _, rc := counts(); j != 1 || rc != 0 {
		t.Fatalf("got %d Join and %d ReconcilePresence calls while known, want 1 and 0", j, rc)
	}
	e.chat.mu.Lock()
	clear(e.chat.online) // the chat service forgot the room's sockets (a Redis outage)
	lease := e.chat.leases[0]
	e.chat.mu.Unlock()
	waitFor(t, "a re-join", func() bool { j, _, _ := counts(); return j >= 2 })
	e.chat.mu.Lock()
	defer e.chat.mu.Unlock()
	if e.chat.reconciles == 0 || len(e.chat.online[1]) != 1 {
		t.Errorf("after the re-join: %d ReconcilePresence calls, sockets known %v; want a reconcile and the socket", e.chat.reconciles, e.chat.online[1])
	}
	if lease == "" || e.chat.leases[1] != lease {
		t.Errorf("leases of the joins: %q, want one, the same", e.chat.leases)
	}
}

func TestChatTypingThrottled(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.chat.addRoom(1)
	r := newReplica(t, e.nc, e.prefix, e.chat, chatsocket.Config{})
	c := mustDial(t, r, 1, dialOpts{user: 1})
	c.nextOf("chat.presence")
	for range 5 {
		c.send(map[string]any{"type": "chat.typing"})
	}
	// Count the typing events that arrive within half a second.
	typing := 0
	_ = c.ws.SetReadDeadline(time.Now().Add(500 * time.Millisecond))
	for {
		_, data, err := c.ws.ReadMessage()
		if err != nil {
			break
		}
		if strings.Contains(string(data), `"chat.typing"`) {
			typing++
		}
	}
	if typing != 1 {
		t.Fatalf("got %d typing events for 5 quick typing frames, want 1", typing)
	}
}

// TestChatStoppedReaderCutOff: a reader that stops while the kernel still
// absorbs everything (the queue never fills) is cut off with 4008 once its
// unread backlog stays large, within a few seconds.
func TestChatStoppedReaderCutOff(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.chat.addRoom(1)
	r := newReplica(t, e.nc, e.prefix, e.chat, chatsocket.Config{})
	stopped := mustDial(t, r, 1, dialOpts{user: 1})
	stopped.nextOf("chat.presence")
	big := []byte(`{"type":"chat.typing","username":"` + strings.Repeat("z", 60<<10) + `"}`)
	start := time.Now()
	// A busy room: ~600 KB/s for up to 6 s, far below the queue bound.
	for time.Since(start) < 6*time.Second && r.hub.Sockets() > 0 {
		e.chat.publish(1, subjects.EventTyping, big)
		time.Sleep(100 * time.Millisecond)
	}
	if r.hub.Sockets() != 0 {
		t.Fatalf("stopped reader still connected after %v", time.Since(start).Round(time.Millisecond))
	}
	t.Logf("cut off after %v", time.Since(start).Round(time.Millisecond))
	if code := stopped.closeCode(10 * time.Second); code != chatsocket.CloseSlow {
		t.Fatalf("got close %d, want 4008", code)
	}
}

// TestChatPings: an idle socket gets a ping every PingInterval (from the
// replica's pinger; no writer runs in between) and stays open while it answers them;
// one that stops answering is dropped after PongTimeout.
func TestChatPings(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.chat.addRoom(1)
	r := newReplica(t, e.nc, e.prefix, e.chat, chatsocket.Config{PingInterval: 50 * time.Millisecond, PongTimeout: 300 * time.Millisecond})
	c := mustDial(t, r, 1, dialOpts{user: 1})
	c.nextOf("chat.presence")
	pings := countPings(c)
	// Reading runs the ping handler; a second of idling is three pong
	// timeouts.
	_ = c.ws.SetReadDeadline(time.Now().Add(time.Second))
	if _, data, err := c.ws.ReadMessage(); !isTimeout(err) {
		t.Fatalf("got frame %q, err %v; want only pings until the deadline", data, err)
	}
	if n := pings.Load(); n < 5 || n > 25 {
		t.Errorf("got %d pings in 1 s at a 50 ms interval", n)
	}
	if r.hub.Sockets() != 1 {
		t.Fatal("socket answering pings was dropped")
	}
	// Silent (no reads, so no pongs): dropped after the pong timeout.
	waitFor(t, "the silent socket dropped", func() bool { return r.hub.Sockets() == 0 })
}

// TestChatPingsAfterWriterExit: pings keep coming from the pinger's
// goroutine once the socket's writer has exited, with an interval longer
// than the write timeout (the deadline the last write left has passed by
// the time of the ping).
func TestChatPingsAfterWriterExit(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.chat.addRoom(1)
	interval := 1300 * time.Millisecond
	r := newReplica(t, e.nc, e.prefix, e.chat, chatsocket.Config{PingInterval: interval, PongTimeout: 3 * interval, WriteTimeout: interval / 2})
	c := mustDial(t, r, 1, dialOpts{user: 1})
	c.nextOf("chat.presence")
	pings := countPings(c)
	_ = c.ws.SetReadDeadline(time.Now().Add(2*interval + interval/2))
	if _, data, err := c.ws.ReadMessage(); !isTimeout(err) {
		t.Fatalf("got frame %q, err %v; want only pings until the deadline", data, err)
	}
	if n := pings.Load(); n != 2 {
		t.Errorf("got %d pings in 2.5 intervals, want 2", n)
	}
}

// countPings answers c's pings (while c reads) and counts them.
func countPings(c *testConn) *atomic.Int32 {
	var pings atomic.Int32
	c.ws.SetPingHandler(func(data string) error {
		pings.Add(1)
		return c.ws.WriteControl(websocket.PongMessage, []byte(data), time.Now().Add(time.Second))
	})
	return &pings
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// TestChatClientPingsKeepTheSocketWriting: a client's pings are answered
// with pongs written under a one-second deadline; the socket's own writes
// set their deadline again afterwards, so messages sent long after a ping
// (while the writer's deadline would otherwise not have moved) arrive.
func TestChatClientPingsKeepTheSocketWriting(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.chat.addRoom(1)
	r := newReplica(t, e.nc, e.prefix, e.chat, chatsocket.Config{})
	c := mustDial(t, r, 1, dialOpts{user: 1})
	c.nextOf("chat.presence")
	var pongs atomic.Int32
	c.ws.SetPongHandler(func(string) error { pongs.Add(1); return nil })
	for i := range 3 {
		if err := c.ws.WriteControl(websocket.PingMessage, []byte("p"), time.Now().Add(time.Second)); err != nil {
			t.Fatal(err)
		}
		c.send(map[string]any{"type": "chat.message", "message": fmt.Sprint("after ping ", i)})
		if f := c.nextOf("chat.message"); f.Seq != int64(i+1) {
			t.Fatalf("message %d: got seq %d", i, f.Seq)
		}
		time.Sleep(1200 * time.Millisecond) // past the pong's deadline
	}
	if pongs.Load() != 3 {
		t.Errorf("got %d pongs for 3 pings", pongs.Load())
	}
}
