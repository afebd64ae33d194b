package chatsocket

import (
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// upgradedPair is a server connection upgraded as the handlers do (gorilla
// for the handshake, then the bare connection), and its peer.
func upgradedPair(t *testing.T) (nc net.Conn, peer *websocket.Conn) {
	t.Helper()
	upgraded := make(chan net.Conn, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ws, err := (&websocket.Upgrader{}).Upgrade(w, r, nil)
		if err != nil {
			t.Errorf("upgrade: %v", err)
			close(upgraded)
			return
		}
		upgraded <- ws.NetConn()
	}))
	t.Cleanup(srv.Close)
	peer, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(srv.URL, "http"), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { peer.Close() })
	nc = <-upgraded
	if nc == nil {
		t.FailNow()
	}
	t.Cleanup(func() { nc.Close() })
	return nc, peer
}

// TestPongWaitsForHalfWrittenBatch: while a direct write's batch is half
// written (the rest in c.wr.rest, for the writer goroutine), the pong that
// answers a client's ping waits for the writer, and lands after the frame
// instead of inside it.
func TestPongWaitsForHalfWrittenBatch(t *testing.T) {
	t.Parallel()
	nc, peer := upgradedPair(t)
	metrics, err := NewMetrics(nil)
	if err != nil {
		t.Fatal(err)
	}
	c := &client{hub: &Hub{cfg: Config{WriteTimeout: 5 * time.Second}, metrics: metrics, buffers: newBufferPool()}, nc: nc}

	frame := appendTextFrame(nil, []byte(`{"type":"chat.typing","username":"`+strings.Repeat("x", 1000)+`"}`))
	if _, err := nc.Write(frame[:100]); err != nil {
		t.Fatal(err)
	}
	c.writing, c.wr.rest = true, frame[100:] // as writeDirect leaves a partial write
	c.sendPong([]byte("p"))
	if c.pong == nil {
		t.Fatal("the pong was not left to the writer")
	}
	go c.writeLoop()

	pong := make(chan string, 1)
	peer.SetPongHandler(func(data string) error { pong <- data; return nil })
	_ = peer.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, data, err := peer.ReadMessage()
	if err != nil || !strings.HasSuffix(string(data), `x"}`) {
		t.Fatalf("first message %.40q…, %v; want the whole frame", data, err)
	}
	go func() { _, _, _ = peer.ReadMessage() }() // reads the pong, then waits
	select {
	case p := <-pong:
		if p != "p" {
			t.Fatalf("pong %q, want \"p\"", p)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no pong after the frame")
	}
}

// A direct write (here a ping) after a writer goroutine's deadline has
// passed still goes out: it drops the stale deadline rather than failing
// on it, and sets none of its own.
func TestDirectWriteAfterWriterDeadline(t *testing.T) {
	t.Parallel()
	nc, peer := upgradedPair(t)
	metrics, err := NewMetrics(nil)
	if err != nil {
		t.Fatal(err)
	}
	const timeout = deadlineSlack + 200*time.Millisecond
	c := &client{hub: &Hub{cfg: Config{WriteTimeout: timeout}, metrics: metrics, buffers: newBufferPool()}, nc: nc, writerDone: make(chan struct{})}
	pings := make(chan struct{}, 3)
	peer.SetPingHandler(func(string) error { pings <- struct{}{}; return nil })
	go func() { _, _, _ = peer.ReadMessage() }()

	c.writing, c.wr.rest = true, pingFrame // a writer goroutine's write sets the deadline
	c.writeLoop()
	if c.wr.deadlineSetAt.IsZero() {
		t.Fatal("the writer set no write deadline")
	}
	time.Sleep(timeout + 100*time.Millisecond) // the deadline has passed
	for i := range 2 {
		c.writing = true
		c.writeDirect(nil, true, nil)
		if c.isClosed() || !c.wr.deadlineSetAt.IsZero() {
			t.Fatalf("direct ping %d: closed %v, deadline set at %v; want open, no deadline", i, c.isClosed(), c.wr.deadlineSetAt)
		}
	}
	for i := range 3 { // the writer's and the two direct pings
		select {
		case <-pings:
		case <-time.After(5 * time.Second):
			t.Fatalf("ping %d did not arrive", i)
		}
	}
}
