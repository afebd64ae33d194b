package chatsocket_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/jackc/pgx/v5"

	"github.com/cobraspace/cobraspace/services/gateway/internal/stack"
)

// The per-user stream /ws/user/ against the real processes: two gateway
// replicas, the chat service publishing user events and room messages.

// userFrame is any /ws/user/ frame, decoded loosely.
type userFrame struct {
	Type        string          `json:"type"`
	ID          int64           `json:"id"`
	Kind        string          `json:"kind"`
	Room        int64           `json:"room"`
	Seq         int64           `json:"seq"`
	UnreadCount *int64          `json:"unread_count"`
	LastReadSeq int64           `json:"last_read_seq"`
	LastMessage json.RawMessage `json:"last_message"`
	Recovered   *bool           `json:"recovered"`
	Excerpt     string          `json:"excerpt"`
	Actor       struct {
		ID       int64  `json:"id"`
		Nickname string `json:"nickname"`
	} `json:"actor"`
	ErrorType string `json:"error_type"`
	raw       string
}

// userSock is one /ws/user/ socket that records every frame it reads.
type userSock struct {
	t      *testing.T
	name   string
	ws     *websocket.Conn
	frames chan userFrame
	closed chan int // the close code (or -1) once the connection ended
}

func dialUser(t *testing.T, base, token, query string, hdr http.Header) (*websocket.Conn, *http.Response, error) {
	t.Helper()
	url := "ws" + strings.TrimPrefix(base, "http") + "/ws/user/" + query
	h := http.Header{}
	for k, v := range hdr {
		h[k] = v
	}
	if token != "" {
		h.Set("Authorization", "Bearer "+token)
	}
	return websocket.DefaultDialer.Dial(url, h)
}

func openUserSock(t *testing.T, name, base, token, query string) *userSock {
	t.Helper()
	ws, resp, err := dialUser(t, base, token, query, nil)
	if err != nil {
		code := 0
		if resp != nil {
			code = resp.StatusCode
		}
		t.Fatalf("%s: dial /ws/user/%s: %v (HTTP %d)", name, query, err, code)
	}
	t.Cleanup(func() { ws.Close() })
	s := &userSock{t: t, name: name, ws: ws, frames: make(chan userFrame, 4096), closed: make(chan int, 1)}
	go func() {
		for {
			_, data, err := ws.ReadMessage()
			if err != nil {
				code := -1
				var ce *websocket.CloseError
				if errors.As(err, &ce) {
					code = ce.Code
				}
				s.closed <- code
				close(s.frames)
				return
			}
			if f, err := userSpec.server.validate(data); err != nil {
				t.Errorf("%s: frame %s does not match docs/asyncapi.yaml: %v", name, data, err)
			} else {
				userSeen.add(f)
			}
			var f userFrame
			if json.Unmarshal(data, &f) != nil {
				t.Errorf("%s: frame %q is not JSON", name, data)
				continue
			}
			f.raw = string(data)
			s.frames <- f
		}
	}()
	return s
}

// next returns the next frame of type typ, failing after within; frames of
// other types are kept in skipped.
func (s *userSock) next(typ string, within time.Duration) userFrame {
	s.t.Helper()
	deadline := time.After(within)
	for {
		select {
		case f, ok := <-s.frames:
			if !ok {
				s.t.Fatalf("%s: closed while waiting for %s", s.name, typ)
			}
			if f.Type == typ || typ == "error" && f.ErrorType != "" {
				return f
			}
		case <-deadline:
			s.t.Fatalf("%s: no %s frame within %v", s.name, typ, within)
		}
	}
}

// quiet fails when a frame arrives within d.
func (s *userSock) quiet(d time.Duration, what string) {
	s.t.Helper()
	select {
	case f, ok := <-s.frames:
		if ok {
			s.t.Errorf("%s: %s: unexpected frame %s", s.name, what, f.raw)
		}
	case <-time.After(d):
	}
}

// unreadUntil reads chat.unread/chat.read frames of room until the count is
// want, failing after within.
func (s *userSock) unreadUntil(room, want int64, within time.Duration) userFrame {
	s.t.Helper()
	deadline := time.After(within)
	var last *int64
	for {
		select {
		case f, ok := <-s.frames:
			if !ok {
				s.t.Fatalf("%s: closed while waiting for unread %d", s.name, want)
			}
			if (f.Type == "chat.unread" || f.Type == "chat.read") && f.Room == room && f.UnreadCount != nil {
				last = f.UnreadCount
				if *f.UnreadCount == want {
					return f
				}
			}
		case <-deadline:
			got := "none"
			if last != nil {
				got = strconv.FormatInt(*last, 10)
			}
			s.t.Fatalf("%s: room %d unread never reached %d within %v (last %s)", s.name, room, want, within, got)
		}
	}
}

type streamUser struct {
	e2eUser
	id       int64
	nickname string
}

func streamSignup(t *testing.T, base string) streamUser {
	t.Helper()
	u := e2eSignup(t, base)
	code, body := e2eRequest(t, "GET", base+"/api/user/profile/", u.token, nil)
	if code != http.StatusOK {
		t.Fatalf("profile: %d %s", code, body)
	}
	var p struct {
		ID       int64  `json:"id"`
		Nickname string `json:"nickname"`
	}
	if err := json.Unmarshal(body, &p); err != nil || p.Nickname == "" {
		t.Fatalf("profile %s: %v", body, err)
	}
	return streamUser{e2eUser: u, id: p.ID, nickname: p.Nickname}
}

// say sends a message over REST and returns its seq.
func say(t *testing.T, base string, u streamUser, room int64, text string) int64 {
	t.Helper()
	code, body := e2eRequest(t, "POST", base+"/api/chat/message/", u.token, map[string]any{"room": room, "message": text})
	if code != http.StatusCreated {
		t.Fatalf("send: got %d %s", code, body)
	}
	var m struct {
		Seq int64 `json:"seq"`
	}
	_ = json.Unmarshal(body, &m)
	return m.Seq
}

func markRead(t *testing.T, base string, u streamUser, room, seq int64) {
	t.Helper()
	code, body := e2eRequest(t, "POST", base+"/api/chat/room/"+strconv.FormatInt(room, 10)+"/read/", u.token, map[string]int64{"seq": seq})
	if code != http.StatusOK {
		t.Fatalf("read: got %d %s", code, body)
	}
}

// restUnread is the room's unread count in GET /api/chat/rooms/mine/.
func restUnread(t *testing.T, base string, u streamUser, room int64) int64 {
	t.Helper()
	code, body := e2eRequest(t, "GET", base+"/api/chat/rooms/mine/?limit=100", u.token, nil)
	if code != http.StatusOK {
		t.Fatalf("rooms/mine: got %d %s", code, body)
	}
	var rooms []struct {
		ID          int64 `json:"id"`
		UnreadCount int64 `json:"unread_count"`
	}
	if err := json.Unmarshal(body, &rooms); err != nil {
		t.Fatalf("rooms/mine %s: %v", body, err)
	}
	for _, r := range rooms {
		if r.ID == room {
			return r.UnreadCount
		}
	}
	t.Fatalf("room %d not in rooms/mine %s", room, body)
	return 0
}

// userSpec holds the frame schemas of docs/asyncapi.yaml: every frame a
// user socket reads is checked against them.
var (
	userSpec protocol
	userSeen = &seen{names: map[string]int{}, errorTypes: map[string]int{}}
)

func TestUserStream(t *testing.T) {
	userSpec = loadAsyncAPI(t)
	t.Cleanup(func() {
		// Every frame of the user channel was seen (and valid).
		userSeen.mu.Lock()
		defer userSeen.mu.Unlock()
		for name, ch := range userSpec.channel {
			if ch == "user" && userSeen.names[name] == 0 {
				t.Errorf("no %q frame was received on /ws/user/", name)
			}
		}
	})
	s := stack.Start(t, stack.Options{Gateways: 2})
	gw0, gw1 := s.Gateways[0], s.Gateways[1]

	t.Run("a mention made via one replica arrives on the other, to the mentioned user only", func(t *testing.T) {
		alice, bob, carol := streamSignup(t, gw0), streamSignup(t, gw1), streamSignup(t, gw0)
		aliceSock := openUserSock(t, "alice@gw0", gw0, alice.token, "")
		carolSock := openUserSock(t, "carol@gw0", gw0, carol.token, "")
		bobSock := openUserSock(t, "bob@gw1", gw1, bob.token, "")
		room := e2eRoom(t, gw1, bob.e2eUser)
		say(t, gw1, bob, room, "hello @"+strings.ToUpper(alice.nickname)+", look")
		f := aliceSock.next("notification.new", 10*time.Second)
		if f.Kind != "mention" || f.Room != room || f.Actor.ID != bob.id || f.Actor.Nickname != bob.nickname || f.ID <= 0 || f.Seq != 1 {
			t.Errorf("alice's notification: %s", f.raw)
		}
		// Nobody else learns of it: not carol (not in the room), not bob
		// (his own action).
		carolSock.quiet(time.Second, "carol")
		for {
			select {
			case f := <-bobSock.frames:
				if f.Type == "notification.new" {
					t.Errorf("bob got a notification for his own message: %s", f.raw)
				}
				continue
			case <-time.After(200 * time.Millisecond):
			}
			break
		}
	})

	t.Run("chat.unread counts others' messages exactly and chat.read reaches every socket on both replicas", func(t *testing.T) {
		alice, bob, carol := streamSignup(t, gw0), streamSignup(t, gw1), streamSignup(t, gw1)
		room := e2eRoom(t, gw1, bob.e2eUser)
		say(t, gw0, alice, room, "I am here") // alice becomes a member
		a0 := openUserSock(t, "alice@gw0", gw0, alice.token, "")
		a1 := openUserSock(t, "alice@gw1", gw1, alice.token, "")
		// The second socket on gw1 shares that replica's stream.
		a1b := openUserSock(t, "alice@gw1#2", gw1, alice.token, "")
		bobSock := openUserSock(t, "bob@gw1", gw1, bob.token, "")
		time.Sleep(500 * time.Millisecond) // the streams' first ListMyRooms

		// Concurrent sends from both replicas, alice's own included (never
		// unread).
		const each = 8 // under the send limit's burst of 20 per user
		var wg sync.WaitGroup
		for i, who := range []struct {
			u  streamUser
			gw string
		}{{bob, gw0}, {bob, gw1}, {carol, gw0}, {carol, gw1}, {alice, gw0}} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for j := range each {
					say(t, who.gw, who.u, room, fmt.Sprintf("m %d.%d", i, j))
				}
			}()
		}
		wg.Wait()
		want := int64(4 * each)
		for _, sock := range []*userSock{a0, a1, a1b} {
			f := sock.unreadUntil(room, want, 10*time.Second)
			if f.Type == "chat.unread" && !strings.Contains(string(f.LastMessage), `"seq":`) {
				t.Errorf("%s: last_message %s", sock.name, f.LastMessage)
			}
		}
		if got := restUnread(t, gw0, alice, room); got != want {
			t.Errorf("rooms/mine unread: got %d, want %d", got, want)
		}

		// Reading up to the last message clears it on every socket.
		last := 5*each + 1
		markRead(t, gw1, alice, room, int64(last))
		for _, sock := range []*userSock{a0, a1, a1b} {
			f := sock.next("chat.read", 10*time.Second)
			if f.Room != room || f.LastReadSeq != int64(last) || f.UnreadCount == nil || *f.UnreadCount != 0 {
				t.Errorf("%s: chat.read %s", sock.name, f.raw)
			}
		}
		// A marker inside the known seqs: one more from bob, two from
		// carol, read up to bob's: one unread left.
		bobSeq := say(t, gw0, bob, room, "one")
		say(t, gw1, carol, room, "two")
		say(t, gw1, carol, room, "three")
		for _, sock := range []*userSock{a0, a1} {
			sock.unreadUntil(room, 3, 10*time.Second)
		}
		markRead(t, gw0, alice, room, bobSeq+1)
		for _, sock := range []*userSock{a0, a1} {
			f := sock.next("chat.read", 10*time.Second)
			if f.LastReadSeq != bobSeq+1 || *f.UnreadCount != 1 {
				t.Errorf("%s: chat.read %s, want last_read_seq %d unread 1", sock.name, f.raw, bobSeq+1)
			}
		}
		if got := restUnread(t, gw1, alice, room); got != 1 {
			t.Errorf("rooms/mine unread after partial read: %d, want 1", got)
		}
		// Bob's stream saw no chat.read of alice's.
		for {
			select {
			case f := <-bobSock.frames:
				if f.Type == "chat.read" {
					t.Errorf("bob got alice's chat.read: %s", f.raw)
				}
				continue
			case <-time.After(300 * time.Millisecond):
			}
			break
		}
	})

	t.Run("a room joined while the stream is open is followed", func(t *testing.T) {
		alice, bob := streamSignup(t, gw0), streamSignup(t, gw1)
		a0 := openUserSock(t, "alice@gw0", gw0, alice.token, "")
		room := e2eRoom(t, gw1, bob.e2eUser)
		say(t, gw1, bob, room, "before alice")
		say(t, gw0, alice, room, "alice joins by writing") // membership event
		f := a0.next("chat.unread", 10*time.Second)
		if f.Room != room || f.UnreadCount == nil {
			t.Fatalf("first frame of the new room: %s", f.raw)
		}
		say(t, gw1, bob, room, "after alice")
		a0.unreadUntil(room, *f.UnreadCount+1, 10*time.Second)
		if got := restUnread(t, gw1, alice, room); got != *f.UnreadCount+1 {
			t.Errorf("rooms/mine: %d, want %d", got, *f.UnreadCount+1)
		}
	})

	t.Run("resume with after= loses nothing and doubles nothing", func(t *testing.T) {
		alice, bob := streamSignup(t, gw0), streamSignup(t, gw1)
		room := e2eRoom(t, gw1, bob.e2eUser)
		mention := func(i int) { say(t, gw1, bob, room, fmt.Sprintf("@%s number %d", alice.nickname, i)) }
		sock := openUserSock(t, "alice@gw0", gw0, alice.token, "")
		mention(1)
		first := sock.next("notification.new", 10*time.Second)
		sock.ws.Close()

		for i := 2; i <= 6; i++ {
			mention(i)
		}
		// Resume on the other replica while more mentions are being made.
		done := make(chan struct{})
		go func() {
			defer close(done)
			for i := 7; i <= 12; i++ {
				mention(i)
			}
		}()
		re := openUserSock(t, "alice@gw1 resumed", gw1, alice.token, "?after="+strconv.FormatInt(first.ID, 10))
		<-done
		var ids []int64
		resumed := false
		for len(ids) < 11 {
			select {
			case f := <-re.frames:
				switch f.Type {
				case "notification.new":
					ids = append(ids, f.ID)
				case "notification.resume":
					if f.Recovered == nil || !*f.Recovered {
						t.Fatalf("resume: %s", f.raw)
					}
					resumed = true
				}
			case <-time.After(10 * time.Second):
				t.Fatalf("got ids %v, want %d..%d", ids, first.ID+1, first.ID+11)
			}
		}
		if !resumed {
			t.Error("no notification.resume")
		}
		for i, id := range ids {
			if id != first.ID+1+int64(i) {
				t.Fatalf("ids %v: want %d..%d in order, each once", ids, first.ID+1, first.ID+11)
			}
		}
		re.quiet(time.Second, "after the last notification")

		// after= beyond the newest: nothing replayed, recovered.
		far := openUserSock(t, "alice caught up", gw0, alice.token, "?after="+strconv.FormatInt(first.ID+11, 10))
		if f := far.next("notification.resume", 5*time.Second); !*f.Recovered {
			t.Errorf("caught up: %s", f.raw)
		}
		// after=0 replays everything.
		all := openUserSock(t, "alice from 0", gw1, alice.token, "?after=0")
		for want := int64(1); want <= first.ID+11; want++ {
			if f := all.next("notification.new", 5*time.Second); f.ID != want {
				t.Fatalf("after=0: got id %d, want %d", f.ID, want)
			}
		}
		all.next("notification.resume", 5*time.Second)
	})

	t.Run("more than 1,000 missed notifications are not replayed: the client pages", func(t *testing.T) {
		alice, bob := streamSignup(t, gw0), streamSignup(t, gw1)
		// 1,001 notifications stored as the chat service stores them (ids
		// 1..1001 under the user's counter), without sending 1,001 messages
		// through the send rate limit.
		ctx := context.Background()
		db, err := pgx.Connect(ctx, s.Env.DatabaseURLs[stack.Chat])
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close(ctx)
		if _, err := db.Exec(ctx, `INSERT INTO notification_counters (user_id, last_id, unread) VALUES ($1, 1001, 1001)`, alice.id); err != nil {
			t.Fatal(err)
		}
		if _, err := db.Exec(ctx, `INSERT INTO notifications (user_id, id, kind, actor_id)
			SELECT $1, i, 'friend', $2 FROM generate_series(1, 1001) AS i`, alice.id, bob.id); err != nil {
			t.Fatal(err)
		}
		first := func(u *userSock) userFrame {
			t.Helper()
			select {
			case f := <-u.frames:
				return f
			case <-time.After(10 * time.Second):
				t.Fatalf("%s: no frame", u.name)
			}
			return userFrame{}
		}
		// after=0: 1,001 missed, nothing replayed, recovered false.
		far := openUserSock(t, "alice 1,001 behind", gw1, alice.token, "?after=0")
		if f := first(far); f.Type != "notification.resume" || f.Recovered == nil || *f.Recovered {
			t.Fatalf("1,001 behind: first frame %s, want notification.resume recovered:false", f.raw)
		}
		// after=1: exactly 1,000 missed, all replayed in order, recovered.
		near := openUserSock(t, "alice 1,000 behind", gw0, alice.token, "?after=1")
		for want := int64(2); want <= 1001; want++ {
			if f := first(near); f.Type != "notification.new" || f.ID != want {
				t.Fatalf("1,000 behind: got %s, want notification.new %d", f.raw, want)
			}
		}
		if f := first(near); f.Type != "notification.resume" || f.Recovered == nil || !*f.Recovered {
			t.Fatalf("1,000 behind: after the replay %s, want recovered:true", f.raw)
		}
		// The far socket goes on live from the newest: the next one arrives.
		if code, body := e2eRequest(t, "POST", gw1+"/api/user/add-friend/", bob.token, map[string]string{"email": alice.email}); code != http.StatusOK {
			t.Fatalf("add friend: %d %s", code, body)
		}
		if f := far.next("notification.new", 10*time.Second); f.ID != 1002 || f.Kind != "friend" {
			t.Fatalf("live after the gap: %s, want friend notification 1002", f.raw)
		}
	})

	t.Run("handshake rules and limits are the room sockets'", func(t *testing.T) {
		alice := streamSignup(t, gw0)
		check := func(name, token, query string, hdr http.Header, want int) {
			t.Helper()
			_, resp, err := dialUser(t, gw0, token, query, hdr)
			if !errors.Is(err, websocket.ErrBadHandshake) || resp == nil || resp.StatusCode != want {
				code := 0
				if resp != nil {
					code = resp.StatusCode
				}
				t.Errorf("%s: got %v (HTTP %d), want %d", name, err, code, want)
			}
		}
		check("no token", "", "", nil, http.StatusUnauthorized)
		check("bad token", "x.y.z", "", nil, http.StatusUnauthorized)
		check("foreign origin", alice.token, "", http.Header{"Origin": {"https://evil.example"}}, http.StatusForbidden)
		check("bad after", alice.token, "?after=-1", nil, http.StatusBadRequest)
		check("after not a number", alice.token, "?after=abc", nil, http.StatusBadRequest)

		// Client frames: there are none on this socket.
		sock := openUserSock(t, "alice", gw0, alice.token, "")
		if err := sock.ws.WriteMessage(websocket.TextMessage, []byte(`{"type":"chat.message","message":"hi"}`)); err != nil {
			t.Fatal(err)
		}
		if f := sock.next("error", 5*time.Second); f.ErrorType != "invalid_request" {
			t.Errorf("client frame: %s", f.raw)
		}
		big := openUserSock(t, "alice big", gw0, alice.token, "")
		_ = big.ws.WriteMessage(websocket.TextMessage, []byte(strings.Repeat("x", 17<<10)))
		if code := waitClose(big); code != websocket.CloseMessageTooBig {
			t.Errorf("17 KiB frame: close %d, want 1009", code)
		}
		bin := openUserSock(t, "alice binary", gw0, alice.token, "")
		_ = bin.ws.WriteMessage(websocket.BinaryMessage, []byte("x"))
		if code := waitClose(bin); code != websocket.CloseUnsupportedData {
			t.Errorf("binary frame: close %d, want 1003", code)
		}
		// More than 20 sockets of one user on a replica: 429.
		for i := range 20 {
			openUserSock(t, fmt.Sprintf("alice %d", i), gw1, alice.token, "")
		}
		_, resp, err := dialUser(t, gw1, alice.token, "", nil)
		if err == nil || resp.StatusCode != http.StatusTooManyRequests {
			t.Errorf("21st socket: %v", err)
		}
	})

	t.Run("logout closes the user's streams on every replica", func(t *testing.T) {
		email, pw := e2eRegister(t, gw0)
		access, refreshTok := e2eLogin(t, gw0, email, pw)
		s0 := openUserSock(t, "s@gw0", gw0, access, "")
		s1 := openUserSock(t, "s@gw1", gw1, access, "")
		if code, body := e2eRequest(t, "POST", gw1+"/api/user/logout/", access, map[string]string{"refresh": refreshTok}); code != http.StatusOK {
			t.Fatalf("logout: %d %s", code, body)
		}
		for _, sock := range []*userSock{s0, s1} {
			if code := waitClose(sock); code != websocket.ClosePolicyViolation {
				t.Errorf("%s: close %d, want 1008", sock.name, code)
			}
		}
	})
}

// waitClose drains s until it closes and returns the close code.
func waitClose(s *userSock) int {
	s.t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		select {
		case _, ok := <-s.frames:
			if !ok {
				return <-s.closed
			}
		case <-deadline:
			s.t.Fatalf("%s: not closed", s.name)
		}
	}
}
