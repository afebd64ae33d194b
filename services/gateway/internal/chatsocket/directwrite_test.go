package chatsocket

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// upgradedPair is a server socket upgraded through hijacker, as the
// handlers do, and its peer.
func upgradedPair(t *testing.T) (ws *websocket.Conn, wire *wireConn, peer *websocket.Conn) {
	t.Helper()
	upgraded := make(chan *websocket.Conn, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ws, err := (&websocket.Upgrader{}).Upgrade(&hijacker{ResponseWriter: w}, r, nil)
		if err != nil {
			t.Errorf("upgrade: %v", err)
			close(upgraded)
			return
		}
		upgraded <- ws
	}))
	t.Cleanup(srv.Close)
	peer, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(srv.URL, "http"), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { peer.Close() })
	ws = <-upgraded
	if ws == nil {
		t.FailNow()
	}
	t.Cleanup(func() { ws.Close() })
	wire, ok := ws.NetConn().(*wireConn)
	if !ok {
		t.Fatalf("gorilla writes to a %T, want *wireConn", ws.NetConn())
	}
	return ws, wire, peer
}

// TestWireConnWaitsForHalfWrittenBatch: while a direct write's batch is
// half written (wireConn.partial held, the rest not yet written), a
// control frame gorilla writes (here the pong answering a client's ping)
// waits, and lands after the frame instead of inside it.
func TestWireConnWaitsForHalfWrittenBatch(t *testing.T) {
	t.Parallel()
	ws, wire, peer := upgradedPair(t)

	frame := appendTextFrame(nil, []byte(`{"type":"chat.typing","username":"`+strings.Repeat("x", 1000)+`"}`))
	wire.partial.Lock() // a direct write left the rest of its batch
	if _, err := wire.Conn.Write(frame[:100]); err != nil {
		t.Fatal(err)
	}
	ponged := make(chan error, 1)
	go func() { ponged <- ws.WriteControl(websocket.PongMessage, []byte("p"), time.Now().Add(5*time.Second)) }()
	select {
	case err := <-ponged:
		t.Fatalf("the pong was written inside a half-written frame (err %v)", err)
	case <-time.After(100 * time.Millisecond):
	}
	if _, err := wire.Conn.Write(frame[100:]); err != nil { // the writer goroutine's writeRest
		t.Fatal(err)
	}
	wire.partial.Unlock()
	if err := <-ponged; err != nil {
		t.Fatalf("pong: %v", err)
	}

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

// TestDirectWriteLeavesABusyConnection: a direct write never waits for a
// control frame gorilla is writing (which can wait for room up to its
// deadline when the peer reads nothing, holding the connection): it hands
// the frames to a writer goroutine and returns, so the goroutine serving a
// room is not held up by one socket's pong.
func TestDirectWriteLeavesABusyConnection(t *testing.T) {
	t.Parallel()
	ws, wire, peer := upgradedPair(t)
	metrics, err := NewMetrics(nil)
	if err != nil {
		t.Fatal(err)
	}
	c := &client{hub: &Hub{cfg: Config{WriteTimeout: 5 * time.Second}, metrics: metrics, buffers: newBufferPool()}, ws: ws}

	wire.partial.Lock() // gorilla is writing a control frame
	c.mu.Lock()
	c.writing = true // as flush does
	c.mu.Unlock()
	returned := make(chan struct{})
	go func() {
		c.writeDirect([][]byte{[]byte(`{"type":"chat.typing"}`)}, false)
		close(returned)
	}()
	select {
	case <-returned:
	case <-time.After(2 * time.Second):
		t.Fatal("the direct write waited for gorilla's write")
	}
	if n := testutil.ToFloat64(metrics.handoffs); n != 1 {
		t.Errorf("%v handoffs, want 1", n)
	}
	wire.partial.Unlock()
	// The writer goroutine delivers the frame.
	_ = peer.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, data, err := peer.ReadMessage(); err != nil || string(data) != `{"type":"chat.typing"}` {
		t.Fatalf("got %q, %v; want the frame", data, err)
	}
}
