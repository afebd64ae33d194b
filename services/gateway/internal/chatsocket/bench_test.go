package chatsocket_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/cobraspace/cobraspace/platform/subjects"
	"github.com/cobraspace/cobraspace/services/gateway/internal/chatsocket"
)

// directBroker hands events straight to the room's callback, so a
// benchmark measures the hub and the sockets, not NATS.
type directBroker struct {
	mu    sync.Mutex
	rooms map[int64]func(chatsocket.Event)
}

func (b *directBroker) SubscribeRoom(id int64, fn func(chatsocket.Event)) (func(), error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.rooms[id] = fn
	return func() {
		b.mu.Lock()
		defer b.mu.Unlock()
		delete(b.rooms, id)
	}, nil
}

func (b *directBroker) publish(id int64, ev chatsocket.Event) {
	b.mu.Lock()
	fn := b.rooms[id]
	b.mu.Unlock()
	fn(ev)
}

// BenchmarkChatFanOut measures the gateway side of delivery: one room of
// 50 local sockets, each event fanned out to all of them and read by real
// WebSocket clients. ns/op is per delivered frame (b.N deliveries).
func BenchmarkChatFanOut(b *testing.B) {
	const members = 50
	e := newEnv(b)
	e.chat.addRoom(1)
	hub, broker, srv := benchServer(e)
	defer srv.Close()

	events := b.N/members + 1
	var received atomic.Int64
	var failed atomic.Bool
	perMember := make([]atomic.Int64, members)
	slowest := func() int64 {
		low := perMember[0].Load()
		for i := range perMember {
			low = min(low, perMember[i].Load())
		}
		return low
	}
	var wg sync.WaitGroup
	for i := range members {
		ws, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(srv.URL, "http")+"/ws/chat/1/chat/",
			http.Header{"Authorization": {"Bearer u" + strconv.Itoa(i+1)}})
		if err != nil {
			b.Fatal(err)
		}
		defer ws.Close()
		for { // skip history and presence
			_, data, err := ws.ReadMessage()
			if err != nil {
				b.Fatal(err)
			}
			var f struct{ Type string }
			if err := json.Unmarshal(data, &f); err != nil {
				b.Fatal(err)
			}
			if f.Type == "chat.presence" {
				break
			}
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range events {
				if _, _, err := ws.ReadMessage(); err != nil {
					b.Logf("member ended: %v", err)
					failed.Store(true)
					return
				}
				received.Add(1)
				perMember[i].Add(1)
			}
		}()
	}
	frame := []byte(`{"type":"chat.message","message":"` + strings.Repeat("x", 100) + `","sender":"a@example.com","nickname":"a","profile_picture_url":"/media/a.png","id":1,"seq":1,"room":1,"created_at":"2026-01-01T00:00:00Z","client_msg_id":"","parent_chat":null,"edited_at":null}`)
	b.ResetTimer()
	start := time.Now()
	for n := range events {
		// Seq-less events, so ordering does not hold frames back.
		broker.publish(1, chatsocket.Event{Kind: subjects.EventTyping, Data: frame})
		if n%32 == 31 { // the slowest reader stays well under the 256-frame queue bound
			for slowest() < int64(n-128) {
				if failed.Load() {
					b.Fatal("a member socket ended")
				}
				time.Sleep(50 * time.Microsecond)
			}
		}
	}
	wg.Wait()
	b.StopTimer()
	if got, want := received.Load(), int64(events*members); got != want {
		b.Fatalf("got %d deliveries, want %d", got, want)
	}
	b.ReportMetric(float64(events*members)/time.Since(start).Seconds(), "deliveries/s")
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	_ = hub.Shutdown(ctx)
}

// BenchmarkIdleSockets opens b.N sockets in rooms of 50 (like M3), each
// synced up to its presence frame, and reports what the server keeps per
// idle socket: heap and goroutine stacks after a GC (BENCHMARKS.md M3:
// ≤ 10 KB RSS). The clients are raw TCP connections that hold no buffer or
// goroutine of their own, so nearly all of the difference is the server's.
// ns/op is the cost of one handshake up to the synced socket (M4).
// Run with e.g. -benchtime 2000x.
func BenchmarkIdleSockets(b *testing.B) {
	const members = 50
	e := newEnv(b)
	hub, _, srv := benchServer(e)
	defer srv.Close()
	addr := strings.TrimPrefix(srv.URL, "http://")
	for r := int64(1); r <= int64(b.N/members+1); r++ {
		e.chat.addRoom(r)
	}

	var before, after runtime.MemStats
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&before)
	// Tokens as long as real access tokens (~400 bytes), since each
	// socket keeps its own.
	tokenPadding := strings.Repeat("t", 380)
	conns := make([]net.Conn, 0, b.N)
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	b.ResetTimer()
	for i := range b.N {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			b.Fatal(err)
		}
		conns = append(conns, c)
		fmt.Fprintf(c, "GET /ws/chat/%d/chat/ HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
			"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nAuthorization: Bearer u%d.%s\r\n\r\n",
			i/members+1, addr, i+1, tokenPadding)
		if err := readUntilPresence(c); err != nil {
			b.Fatalf("socket %d: %v", i, err)
		}
	}
	b.StopTimer()
	// Idle means after the writers of the last sockets' opening frames
	// have exited.
	time.Sleep(200 * time.Millisecond)
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&after)
	if n := hub.Sockets(); n != b.N {
		b.Fatalf("hub holds %d sockets, want %d", n, b.N)
	}
	heap := float64(after.HeapInuse) - float64(before.HeapInuse)
	stack := float64(after.StackInuse) - float64(before.StackInuse)
	b.ReportMetric(heap/float64(b.N), "heap-B/socket")
	b.ReportMetric(stack/float64(b.N), "stack-B/socket")
	b.ReportMetric(float64(runtime.NumGoroutine())/float64(b.N), "goroutines/socket")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = hub.Shutdown(ctx)
}

// readUntilPresence reads the 101 answer and then server frames (never
// masked, RFC 6455 §5.1) until the chat.presence frame that ends a
// socket's opening sync.
func readUntilPresence(c net.Conn) error {
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	defer func() { _ = c.SetReadDeadline(time.Time{}) }()
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		return fmt.Errorf("handshake: %s", resp.Status)
	}
	for {
		var hdr [2]byte
		if _, err := io.ReadFull(br, hdr[:]); err != nil {
			return err
		}
		n := int(hdr[1] & 0x7f)
		switch n {
		case 126:
			var ext [2]byte
			if _, err := io.ReadFull(br, ext[:]); err != nil {
				return err
			}
			n = int(binary.BigEndian.Uint16(ext[:]))
		case 127:
			var ext [8]byte
			if _, err := io.ReadFull(br, ext[:]); err != nil {
				return err
			}
			n = int(binary.BigEndian.Uint64(ext[:]))
		}
		payload := make([]byte, n)
		if _, err := io.ReadFull(br, payload); err != nil {
			return err
		}
		if bytes.Contains(payload, []byte(`"chat.presence"`)) {
			if br.Buffered() > 0 {
				return errors.New("unexpected data after the presence frame")
			}
			return nil
		}
	}
}

// benchServer serves chat sockets from a hub on e's fake chat service,
// with events fanned out in-process (directBroker). A token "u<id>" or
// "u<id>.<padding>" authenticates user <id>.
func benchServer(e *env) (*chatsocket.Hub, *directBroker, *httptest.Server) {
	broker := &directBroker{rooms: map[int64]func(chatsocket.Event){}}
	m, _ := chatsocket.NewMetrics(nil)
	hub := chatsocket.NewHub(chatsocket.Config{}, e.chat, broker, slog.New(slog.NewJSONHandler(io.Discard, nil)), m)
	h := chatsocket.NewHandler(hub, chatsocket.Handshake{
		Authenticate: func(r *http.Request) (chatsocket.Principal, error) {
			tok := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
			id, _, _ := strings.Cut(tok, ".")
			uid, _ := strconv.ParseInt(strings.TrimPrefix(id, "u"), 10, 64)
			return chatsocket.Principal{UserID: uid, Token: tok}, nil
		},
		OriginAllowed: func(*http.Request) bool { return true },
		Error:         func(w http.ResponseWriter, _ *http.Request, code int, msg string) { http.Error(w, msg, code) },
	})
	mux := http.NewServeMux()
	mux.Handle("GET /ws/chat/{room_id}/chat/", h)
	return hub, broker, httptest.NewServer(mux)
}
