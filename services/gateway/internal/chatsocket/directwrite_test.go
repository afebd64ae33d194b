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
// written (the rest in c.rest, for the writer goroutine), the pong that
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
	c.writing, c.rest = true, frame[100:] // as writeDirect leaves a partial write
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
