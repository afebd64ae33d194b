package chatsocket_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/cobraspace/cobraspace/platform/testenv"
	"github.com/cobraspace/cobraspace/services/gateway/internal/stack"
)

func TestMain(m *testing.M) { stack.Main(m) } // removes the built binaries afterwards

// These tests run the real processes (user, chat, post services and two
// gateway replicas) through internal/stack.

type e2eUser struct {
	email string
	token string
}

func e2eRequest(t *testing.T, method, url, token string, body any) (int, []byte) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, data
}

func e2eSignup(t *testing.T, base string) e2eUser {
	t.Helper()
	email, pw := e2eRegister(t, base)
	access, _ := e2eLogin(t, base, email, pw)
	return e2eUser{email: email, token: access}
}

// e2eRegister creates an account and returns its email and password.
func e2eRegister(t *testing.T, base string) (email, password string) {
	t.Helper()
	email = "c" + testenv.ID() + "@example.com"
	password = "Quiet-Lantern-" + testenv.ID()
	if code, body := e2eRequest(t, "POST", base+"/api/user/registration/", "", map[string]string{"email": email, "password": password}); code != http.StatusCreated {
		t.Fatalf("registration: got %d %s, want 201", code, body)
	}
	return email, password
}

// e2eLogin logs in (a new session) and returns its token pair.
func e2eLogin(t *testing.T, base, email, password string) (access, refresh string) {
	t.Helper()
	code, body := e2eRequest(t, "POST", base+"/api/user/login/", "", map[string]string{"email": email, "password": password})
	if code != http.StatusOK {
		t.Fatalf("login: got %d %s, want 200", code, body)
	}
	var out struct {
		Access  string `json:"access"`
		Refresh string `json:"refresh"`
	}
	if err := json.Unmarshal(body, &out); err != nil || out.Access == "" || out.Refresh == "" {
		t.Fatalf("login body %s: %v", body, err)
	}
	return out.Access, out.Refresh
}

func e2eRoom(t *testing.T, base string, u e2eUser) int64 {
	t.Helper()
	code, body := e2eRequest(t, "POST", base+"/api/chat/room/", u.token, map[string]string{"name": "e2e"})
	if code != http.StatusCreated {
		t.Fatalf("create room: got %d %s, want 201", code, body)
	}
	var r struct {
		ID      int64  `json:"id"`
		ChatURL string `json:"chat_url"`
	}
	if err := json.Unmarshal(body, &r); err != nil {
		t.Fatal(err)
	}
	if r.ChatURL != "/ws/chat/"+strconv.FormatInt(r.ID, 10)+"/chat/" {
		t.Fatalf("got chat_url %q", r.ChatURL)
	}
	return r.ID
}

func e2eDial(t *testing.T, base string, room int64, u e2eUser, query string) (*testConn, *http.Response, error) {
	t.Helper()
	url := "ws" + strings.TrimPrefix(base, "http") + "/ws/chat/" + strconv.FormatInt(room, 10) + "/chat/" + query
	h := http.Header{}
	if u.token != "" {
		h.Set("Authorization", "Bearer "+u.token)
	}
	ws, resp, err := websocket.DefaultDialer.Dial(url, h)
	if err != nil {
		return nil, resp, err
	}
	t.Cleanup(func() { ws.Close() })
	return &testConn{t: t, ws: ws}, resp, nil
}

// member is one socket of the checker: it records every chat.message it
// receives and fails on a duplicate or an out-of-order seq.
type member struct {
	name  string
	mu    sync.Mutex
	seen  []int64
	last  int64
	errs  []string
	done  chan struct{}
	ws    *websocket.Conn
	joins map[string]int // chat.user.join frames per email
	// closeCode is set when the socket ended.
	closeCode int
}

func (m *member) record(seq int64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if seq <= m.last {
		m.errs = append(m.errs, fmt.Sprintf("%s: seq %d after %d (duplicate or out of order)", m.name, seq, m.last))
	}
	if m.last != 0 && seq != m.last+1 {
		m.errs = append(m.errs, fmt.Sprintf("%s: gap: seq %d after %d", m.name, seq, m.last))
	}
	m.last = max(m.last, seq)
	m.seen = append(m.seen, seq)
}

func (m *member) lastSeq() int64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.last
}

// read consumes frames until the socket ends; the first messages of a
// socket (history or resume) start its sequence.
func (m *member) read(ws *websocket.Conn) {
	m.ws = ws
	m.done = make(chan struct{})
	go func() {
		defer close(m.done)
		for {
			_ = ws.SetReadDeadline(time.Now().Add(20 * time.Second))
			_, data, err := ws.ReadMessage()
			if err != nil {
				var ce *websocket.CloseError
				if errors.As(err, &ce) {
					m.closeCode = ce.Code
				}
				return
			}
			var f frame
			if err := json.Unmarshal(data, &f); err != nil {
				continue
			}
			switch f.Type {
			case "chat.message":
				m.record(f.Seq)
			case "chat.user.join":
				m.mu.Lock()
				if m.joins == nil {
					m.joins = map[string]int{}
				}
				m.joins[f.Email]++
				m.mu.Unlock()
			case "chat.history":
				for _, h := range f.Messages {
					m.record(h.Seq)
				}
			}
		}
	}()
}

func (m *member) waitFor(t *testing.T, seq int64, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for m.lastSeq() < seq {
		if time.Now().After(deadline) {
			t.Fatalf("%s: got up to seq %d, want %d", m.name, m.lastSeq(), seq)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func (m *member) check(t *testing.T, acked map[int64]bool) {
	t.Helper()
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, e := range m.errs {
		t.Error(e)
	}
	got := map[int64]int{}
	for _, s := range m.seen {
		got[s]++
	}
	for s := range acked {
		if got[s] != 1 {
			t.Errorf("%s: saw seq %d %d times, want once", m.name, s, got[s])
		}
	}
}

// sendAcked sends one message and waits for its ack, returning the seq.
func sendAcked(t *testing.T, c *testConn, text string) int64 {
	t.Helper()
	id := testenv.ID()
	c.send(map[string]any{"type": "chat.message", "message": text, "client_msg_id": id})
	for {
		f := c.next()
		if f.ErrorType != "" {
			t.Fatalf("send %q: error frame %+v", text, f)
		}
		if f.Type == "chat.message" && f.ClientMsgID == id {
			return f.Seq
		}
	}
}

func TestChatE2E(t *testing.T) {
	if testing.Short() {
		t.Skip("starts real processes")
	}
	s := stack.Start(t, stack.Options{Gateways: 2, Env: map[string]map[string]string{
		stack.Gateway: {"ALLOWED_ORIGINS": "http://allowed.test"},
	}})
	a, b := s.Gateways[0], s.Gateways[1]
	owner := e2eSignup(t, a)
	alice := e2eSignup(t, a)
	bob := e2eSignup(t, b)
	room := e2eRoom(t, a, owner)

	t.Run("handshake refused without upgrade", func(t *testing.T) {
		tests := []struct {
			name   string
			room   int64
			user   e2eUser
			origin string
			want   int
		}{
			{"no auth", room, e2eUser{}, "", 401},
			{"bad token", room, e2eUser{token: alice.token + "x"}, "", 401},
			{"foreign origin", room, alice, "http://evil.test", 403},
			// Origins match on scheme too: the https page of an http origin is another origin.
			{"own host, other scheme", room, alice, "https://" + strings.TrimPrefix(b, "http://"), 403},
			{"allowlisted host, other scheme", room, alice, "https://allowed.test", 403},
			{"unknown room", room + 1000, alice, "", 404},
		}
		for _, tt := range tests {
			url := "ws" + strings.TrimPrefix(b, "http") + "/ws/chat/" + strconv.FormatInt(tt.room, 10) + "/chat/"
			h := http.Header{}
			if tt.user.token != "" {
				h.Set("Authorization", "Bearer "+tt.user.token)
			}
			if tt.origin != "" {
				h.Set("Origin", tt.origin)
			}
			_, resp, err := websocket.DefaultDialer.Dial(url, h)
			if !errors.Is(err, websocket.ErrBadHandshake) || resp.StatusCode != tt.want {
				code := 0
				if resp != nil {
					code = resp.StatusCode
				}
				t.Errorf("%s: got %v %d, want %d without upgrade", tt.name, err, code, tt.want)
			}
		}
		for _, origin := range []string{b, "http://allowed.test"} {
			url := "ws" + strings.TrimPrefix(b, "http") + "/ws/chat/" + strconv.FormatInt(room, 10) + "/chat/"
			h := http.Header{"Authorization": {"Bearer " + alice.token}, "Origin": {origin}}
			ws, resp, err := websocket.DefaultDialer.Dial(url, h)
			if err != nil {
				t.Errorf("Origin %s: got %v (%v), want an upgrade", origin, err, resp)
				continue
			}
			ws.Close()
		}
	})

	// Members split across replicas; bob has two tabs (one per replica).
	ca := mustE2E(t, a, room, alice, "")
	if f := ca.next(); f.Type != "chat.history" || len(f.Messages) != 0 {
		t.Fatalf("got %+v, want empty history", f)
	}
	if f := ca.next(); f.Type != "chat.presence" || len(f.Users) != 1 {
		t.Fatalf("got %+v, want presence of 1", f)
	}
	acked := map[int64]bool{}
	var ackMu sync.Mutex
	var members []*member
	m0 := &member{name: "alice@A"}
	m0.read(ca.ws)
	cb1 := mustE2E(t, b, room, bob, "")
	cb1.nextOf("chat.presence")
	cb2 := mustE2E(t, a, room, bob, "")
	if f := cb2.nextOf("chat.presence"); len(f.Users) != 2 {
		t.Fatalf("got presence %d users, want 2 (bob once)", len(f.Users))
	}

	members = append(members, m0)
	for i, c := range []*testConn{cb1, cb2} {
		m := &member{name: fmt.Sprintf("bob-tab%d", i+1)}
		m.read(c.ws)
		members = append(members, m)
	}
	// Senders send through their own sockets' twins: separate sockets so
	// the members' readers own their connections.
	sa := mustE2E(t, a, room, alice, "")
	sa.nextOf("chat.presence")
	sb := mustE2E(t, b, room, bob, "")
	sb.nextOf("chat.presence")
	var wg sync.WaitGroup
	for _, snd := range []*testConn{sa, sb} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 15 {
				seq := sendAcked(t, snd, "hello "+strconv.Itoa(i))
				ackMu.Lock()
				acked[seq] = true
				ackMu.Unlock()
				time.Sleep(20 * time.Millisecond)
			}
		}()
	}
	wg.Wait()
	for _, m := range members {
		m.waitFor(t, 30, 10*time.Second)
	}
	// Alice saw bob join exactly once: his second and third sockets (on
	// either replica) announced nobody. Alice's own joins are not counted:
	// her sockets from the origin checks above may still be leaving, and
	// her own join may reach her while her socket syncs (her presence frame
	// already lists her).
	members[0].mu.Lock()
	bobJoins := members[0].joins[bob.email]
	members[0].mu.Unlock()
	if bobJoins != 1 {
		t.Errorf("got %d chat.user.join frames of bob, want 1 (one per user, not per tab)", bobJoins)
	}

	// Kill replica A: its members reconnect to B with after_seq and miss
	// nothing, while B's sender keeps sending.
	lastA := members[0].lastSeq()
	s.Kill(0)
	<-members[0].done
	for i := range 5 {
		acked[sendAcked(t, sb, "during outage "+strconv.Itoa(i))] = true
		time.Sleep(110 * time.Millisecond) // under the 10/s rate limit
	}
	re := mustE2E(t, b, room, alice, "?after_seq="+strconv.FormatInt(lastA, 10))
	members[0].read(re.ws)
	for i := range 5 {
		acked[sendAcked(t, sb, "after resume "+strconv.Itoa(i))] = true
		time.Sleep(110 * time.Millisecond)
	}
	var top int64
	for s := range acked {
		top = max(top, s)
	}
	members[0].waitFor(t, top, 10*time.Second)
	members[1].waitFor(t, top, 10*time.Second)
	for _, m := range members[:2] {
		m.check(t, acked)
	}

	t.Run("REST message is delivered live", func(t *testing.T) {
		code, body := e2eRequest(t, "POST", b+"/api/chat/message/", bob.token, map[string]any{"room": room, "message": "via REST"})
		if code != http.StatusCreated {
			t.Fatalf("POST message/: got %d %s", code, body)
		}
		var msg struct{ ID, Seq int64 }
		if err := json.Unmarshal(body, &msg); err != nil {
			t.Fatalf("POST message/: %v: %s", err, body)
		}
		members[0].waitFor(t, msg.Seq, 5*time.Second)
		// IDOR: only the sender may edit or delete it.
		path := b + "/api/chat/message/" + strconv.FormatInt(msg.ID, 10) + "/"
		if code, body := e2eRequest(t, "PATCH", path, alice.token, map[string]string{"message": "mine now"}); code != http.StatusForbidden {
			t.Fatalf("edit by another user: got %d %s, want 403", code, body)
		}
		if code, body := e2eRequest(t, "DELETE", path, alice.token, nil); code != http.StatusForbidden {
			t.Fatalf("delete by another user: got %d %s, want 403", code, body)
		}
		if code, body := e2eRequest(t, "PATCH", path, bob.token, map[string]string{"message": "edited"}); code != http.StatusOK || !strings.Contains(string(body), `"edited"`) {
			t.Fatalf("edit by sender: got %d %s, want 200", code, body)
		}
		code, body = e2eRequest(t, "GET", b+"/api/chat/room/"+strconv.FormatInt(room, 10)+"/messages/?after="+strconv.FormatInt(msg.Seq-1, 10), alice.token, nil)
		if code != http.StatusOK || !strings.Contains(string(body), `"message":"edited"`) {
			t.Fatalf("messages page: got %d %s, want the edited message", code, body)
		}
	})

	t.Run("REST history pages from the start with after=0", func(t *testing.T) {
		r := e2eRoom(t, b, owner) // replica A was killed above
		for i := 1; i <= 5; i++ {
			if code, body := e2eRequest(t, "POST", b+"/api/chat/message/", owner.token, map[string]any{"room": r, "message": "m" + strconv.Itoa(i)}); code != http.StatusCreated {
				t.Fatalf("POST message/: got %d %s", code, body)
			}
		}
		page := func(query string) string {
			t.Helper()
			code, body := e2eRequest(t, "GET", b+"/api/chat/room/"+strconv.FormatInt(r, 10)+"/messages/?"+query, alice.token, nil)
			var msgs []struct{ Seq int64 }
			if err := json.Unmarshal(body, &msgs); code != http.StatusOK || err != nil {
				t.Fatalf("?%s: got %d %s", query, code, body)
			}
			var seqs []string
			for _, m := range msgs {
				seqs = append(seqs, strconv.FormatInt(m.Seq, 10))
			}
			return strings.Join(seqs, " ")
		}
		for _, tt := range []struct{ query, want string }{
			{"after=0&limit=2", "1 2"},
			{"after=2&limit=2", "3 4"},
			{"after=4&limit=2", "5"},
			{"limit=2", "4 5"},
			{"before=4&limit=2", "2 3"},
		} {
			if got := page(tt.query); got != tt.want {
				t.Errorf("?%s: got seqs %q, want %q", tt.query, got, tt.want)
			}
		}
	})

	t.Run("logout closes the socket on the other replica", func(t *testing.T) {
		s.Restart(0) // A was killed above
		carol := e2eSignup(t, b)
		cc := mustE2E(t, b, room, carol, "")
		cc.nextOf("chat.presence")
		start := time.Now()
		if code, body := e2eRequest(t, "POST", a+"/api/user/logout/", carol.token, nil); code != http.StatusOK {
			t.Fatalf("logout: got %d %s", code, body)
		}
		if got := cc.closeCode(2 * time.Second); got != websocket.ClosePolicyViolation {
			t.Fatalf("got close %d, want 1008", got)
		}
		if d := time.Since(start); d > 2*time.Second {
			t.Fatalf("closed after %v, want within 2 s", d)
		}
	})

	t.Run("room delete closes with 4000", func(t *testing.T) {
		if code, _ := e2eRequest(t, "DELETE", b+"/api/chat/room/"+strconv.FormatInt(room, 10)+"/", alice.token, nil); code != http.StatusForbidden {
			t.Fatalf("delete by non-owner: got %d, want 403", code)
		}
		if code, body := e2eRequest(t, "DELETE", b+"/api/chat/room/"+strconv.FormatInt(room, 10)+"/", owner.token, nil); code != http.StatusNoContent {
			t.Fatalf("delete: got %d %s, want 204", code, body)
		}
		select {
		case <-members[1].done:
		case <-time.After(5 * time.Second):
			t.Fatal("socket not closed after room delete")
		}
		if members[1].closeCode != 4000 {
			t.Fatalf("got close %d, want 4000", members[1].closeCode)
		}
	})
}

func mustE2E(t *testing.T, base string, room int64, u e2eUser, query string) *testConn {
	t.Helper()
	c, resp, err := e2eDial(t, base, room, u, query)
	if err != nil {
		code := 0
		if resp != nil {
			code = resp.StatusCode
		}
		t.Fatalf("dial %s: %v (%d)", base, err, code)
	}
	return c
}
