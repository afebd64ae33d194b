package chatload

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/cobraspace/cobraspace/bench/internal/api"
)

// fakeGateway is a minimal in-memory chat server speaking the frames of
// docs/api.md, with switches to break its guarantees so the tests can see the
// generator notice.
type fakeGateway struct {
	mu     sync.Mutex
	rooms  map[int64]*fakeRoom
	nextID int64

	dropEvery int64 // drop delivery of every n-th seq to the first member
	dupEvery  int64 // deliver every n-th seq twice to the first member
}

type fakeRoom struct {
	seq     int64
	members []*fakeConn
	history [][]byte // frame of seq i+1
}

type fakeConn struct {
	mu sync.Mutex
	c  *websocket.Conn
}

func (f *fakeConn) send(b []byte) {
	f.mu.Lock()
	defer f.mu.Unlock()
	_ = f.c.WriteMessage(websocket.TextMessage, b)
}

// dropAll closes every socket, as a crashed replica would.
func (g *fakeGateway) dropAll() {
	g.mu.Lock()
	defer g.mu.Unlock()
	for _, r := range g.rooms {
		for _, m := range r.members {
			_ = m.c.Close()
		}
		r.members = nil
	}
}

func newFakeGateway() *fakeGateway { return &fakeGateway{rooms: map[int64]*fakeRoom{}} }

func (g *fakeGateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch {
	case r.URL.Path == "/api/chat/room/" && r.Method == http.MethodPost:
		g.mu.Lock()
		g.nextID++
		id := g.nextID
		g.rooms[id] = &fakeRoom{}
		g.mu.Unlock()
		w.WriteHeader(http.StatusCreated)
		_ = json.NewEncoder(w).Encode(map[string]any{"id": id, "name": "r"})
	case strings.HasPrefix(r.URL.Path, "/ws/chat/"):
		if r.Header.Get("Authorization") != "Bearer tok" {
			http.Error(w, "no", http.StatusUnauthorized)
			return
		}
		id, _ := strconv.ParseInt(strings.Split(r.URL.Path, "/")[3], 10, 64)
		up := websocket.Upgrader{}
		c, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		fc := &fakeConn{c: c}
		g.mu.Lock()
		room := g.rooms[id]
		room.members = append(room.members, fc)
		g.mu.Unlock()
		if after := r.URL.Query().Get("after_seq"); after != "" {
			n, _ := strconv.Atoi(after)
			g.mu.Lock()
			missed := append([][]byte(nil), room.history[n:]...)
			g.mu.Unlock()
			for _, m := range missed {
				fc.send(m)
			}
			fc.send([]byte(`{"type":"chat.resume","recovered":true}`))
		} else {
			fc.send([]byte(`{"type":"chat.history","messages":[]}`))
		}
		fc.send([]byte(`{"type":"chat.presence","users":[]}`))
		for {
			_, data, err := c.ReadMessage()
			if err != nil {
				return
			}
			var in struct {
				Message     string `json:"message"`
				ClientMsgID string `json:"client_msg_id"`
			}
			_ = json.Unmarshal(data, &in)
			g.mu.Lock()
			room.seq++
			seq := room.seq
			out, _ := json.Marshal(map[string]any{
				"type": "chat.message", "message": in.Message, "sender": "a@b.c", "id": seq,
				"seq": seq, "room": id, "client_msg_id": in.ClientMsgID,
			})
			room.history = append(room.history, out)
			// Fan out before the next seq is handed out, as the real hub
			// delivers in seq order: sending after unlocking let two
			// senders' messages reach members in swapped order on a busy box.
			for i, m := range room.members {
				if i == 0 && g.dropEvery > 0 && seq%g.dropEvery == 0 {
					continue
				}
				m.send(out)
				if i == 0 && g.dupEvery > 0 && seq%g.dupEvery == 0 {
					m.send(out)
				}
			}
			g.mu.Unlock()
		}
	default:
		http.NotFound(w, r)
	}
}

func accounts(n int) []api.Account {
	out := make([]api.Account, n)
	for i := range out {
		out[i] = api.Account{ID: int64(i + 1), Email: "u" + strconv.Itoa(i) + "@x.y", Token: "tok"}
	}
	return out
}

func TestRunAgainstFakeGateway(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		dropEvery int64
		dupEvery  int64
		wantOK    bool
		check     func(t *testing.T, r Result)
	}{
		{name: "healthy", wantOK: true, check: func(t *testing.T, r Result) {
			if r.Check.Lost != 0 || r.Check.Duplicates != 0 || r.Check.OutOfOrder != 0 {
				t.Errorf("check: got %+v, want no violations", r.Check)
			}
		}},
		{name: "loss detected", dropEvery: 5, check: func(t *testing.T, r Result) {
			if r.Check.Lost == 0 {
				t.Errorf("lost: got 0, want > 0 (every 5th message was dropped)")
			}
		}},
		{name: "duplicates detected", dupEvery: 7, check: func(t *testing.T, r Result) {
			if r.Check.Duplicates == 0 {
				t.Errorf("duplicates: got 0, want > 0")
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			g := newFakeGateway()
			g.dropEvery, g.dupEvery = tt.dropEvery, tt.dupEvery
			a, b := httptest.NewServer(g), httptest.NewServer(g)
			defer a.Close()
			defer b.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			s, err := Open(ctx, Config{
				Gateways: []string{a.URL, b.URL}, Accounts: accounts(10), Rooms: 3, Members: 4,
			})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			r := s.Run(ctx, RunOptions{Rate: 400, Warmup: 100 * time.Millisecond, Duration: 500 * time.Millisecond, Drain: 2 * time.Second})
			if r.OK() != tt.wantOK {
				t.Errorf("OK: got %v (failures %v), want %v", r.OK(), r.Failures, tt.wantOK)
			}
			// 400/s over 0.6 s, every message delivered to 4 members.
			if r.Sent < 230 || r.Sent > 250 {
				t.Errorf("sent: got %d, want 240", r.Sent)
			}
			if tt.wantOK && r.Acked != r.Sent {
				t.Errorf("acked: got %d, want %d", r.Acked, r.Sent)
			}
			if tt.wantOK && (r.Delivered < 790 || r.Delivered > 810) {
				t.Errorf("delivered in the window: got %d, want 800 (200 sends × 4 members)", r.Delivered)
			}
			if r.Latency.Count == 0 || r.Latency.P99Ms <= 0 || r.Latency.MaxMs < r.Latency.P50Ms {
				t.Errorf("latency summary looks wrong: %+v", r.Latency)
			}
			if got := s.SocketsOn(0) + s.SocketsOn(1); got != 12 {
				t.Errorf("sockets: got %d, want 12", got)
			}
			tt.check(t, r)
		})
	}
}

func TestOpenRefusesTooManySockets(t *testing.T) {
	t.Parallel()
	_, err := Open(context.Background(), Config{
		Gateways: []string{"http://127.0.0.1:1"}, Accounts: accounts(1), Rooms: 181, Members: 100,
	})
	if err == nil || !strings.Contains(err.Error(), "per process") {
		t.Errorf("got %v, want the per-process socket limit error", err)
	}
}

func TestReconnectResumesOnTheOtherGateway(t *testing.T) {
	t.Parallel()
	g := newFakeGateway()
	a, b := httptest.NewServer(g), httptest.NewServer(g)
	defer a.Close()
	defer b.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	s, err := Open(ctx, Config{
		Gateways: []string{a.URL, b.URL}, Accounts: accounts(10), Rooms: 2, Members: 5,
		FirstGatewayOnly: true, Reconnect: true, ReconnectJitter: 50 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if got := s.SocketsOn(0); got != 10 {
		t.Fatalf("sockets on the first gateway: got %d, want 10", got)
	}
	r := s.Run(ctx, RunOptions{Rate: 200, Duration: 600 * time.Millisecond, Drain: time.Second,
		At: []Hook{{After: 200 * time.Millisecond, Do: g.dropAll}}})
	if r.Reconnects != 10 || s.SocketsOn(1) != 10 {
		t.Errorf("reconnects: got %d (on B: %d), want 10", r.Reconnects, s.SocketsOn(1))
	}
	if !r.Check.OK() || r.Check.Acked == 0 {
		t.Errorf("check: got %+v, want acked messages and no violations", r.Check)
	}
	if r.ResumedAllS <= 0 || r.ResumedAllS > 2 {
		t.Errorf("resumed all: got %v s, want between 0 and 2", r.ResumedAllS)
	}
	if !r.OK() {
		t.Errorf("failures: %v", r.Failures)
	}
}
