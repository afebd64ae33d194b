package chatsocket_test

import (
	"bytes"
	"runtime"
	"runtime/pprof"
	"strings"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/gorilla/websocket"

	"github.com/cobraspace/cobraspace/services/gateway/internal/chatsocket"
)

// readersRunning counts the goroutines inside a socket's reader.
func readersRunning() int {
	var buf bytes.Buffer
	_ = pprof.Lookup("goroutine").WriteTo(&buf, 2)
	n := 0
	for _, g := range strings.Split(buf.String(), "\n\n") {
		if strings.Contains(g, "chatsocket.(*client).read") {
			n++
		}
	}
	return n
}

// TestChatIdleSocketsHoldNoReader: once their frames are read, idle
// sockets hold no reader goroutine (with gorilla each held one, parked in
// its read, for its whole life), and a frame that comes later is still
// read: every socket's message reaches the room.
func TestChatIdleSocketsHoldNoReader(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("readers on readiness need epoll")
	}
	t.Parallel()
	e := newEnv(t)
	e.chat.addRoom(1)
	r := newReplica(t, e.nc, e.prefix, e.chat, chatsocket.Config{})
	const n = 50
	socks := make([]*testConn, n)
	for i := range socks {
		socks[i] = mustDial(t, r, 1, dialOpts{user: int64(1 + i)})
		socks[i].nextOf("chat.presence")
	}
	// Each socket has also sent a frame (read and handled) before idling.
	for _, c := range socks {
		c.send(map[string]any{"type": "chat.typing"})
	}
	waitFor(t, "no reader running", func() bool { return readersRunning() == 0 })

	socks[0].send(map[string]any{"type": "chat.message", "message": "after idling"})
	for _, c := range socks {
		if f := c.nextOf("chat.message"); f.Message != "after idling" {
			t.Fatalf("got %+v", f)
		}
	}
	socks[n-1].send(map[string]any{"type": "chat.message", "message": "and back"})
	if f := socks[0].nextOf("chat.message"); f.Message != "and back" {
		t.Fatalf("got %+v", f)
	}
}

// clientFrame is one masked frame as a client sends it.
func clientFrame(t *testing.T, op ws.OpCode, fin bool, payload string) []byte {
	t.Helper()
	b, err := ws.CompileFrame(ws.MaskFrame(ws.NewFrame(op, fin, []byte(payload))))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestChatFramesInPieces: a frame that arrives in pieces (a header cut in
// two, a payload cut in three, with pauses between) and a message sent in
// fragments, with a ping between them, are read whole and in order; the
// ping is answered.
func TestChatFramesInPieces(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.chat.addRoom(1)
	r := newReplica(t, e.nc, e.prefix, e.chat, chatsocket.Config{})
	c := mustDial(t, r, 1, dialOpts{user: 1})
	c.nextOf("chat.presence")
	raw := c.ws.NetConn()
	pongs := make(chan string, 1)
	c.ws.SetPongHandler(func(data string) error { pongs <- data; return nil })

	whole := clientFrame(t, ws.OpText, true, `{"type":"chat.message","message":"in pieces","client_msg_id":"a"}`)
	for _, cut := range [][2]int{{0, 1}, {1, 9}, {9, 30}, {30, len(whole)}} {
		if _, err := raw.Write(whole[cut[0]:cut[1]]); err != nil {
			t.Fatal(err)
		}
		time.Sleep(30 * time.Millisecond)
	}
	var fragmented []byte
	fragmented = append(fragmented, clientFrame(t, ws.OpText, false, `{"type":"chat.message",`)...)
	fragmented = append(fragmented, clientFrame(t, ws.OpPing, true, "between")...)
	fragmented = append(fragmented, clientFrame(t, ws.OpContinuation, false, `"message":"in fragments",`)...)
	fragmented = append(fragmented, clientFrame(t, ws.OpContinuation, true, `"client_msg_id":"b"}`)...)
	if _, err := raw.Write(fragmented); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"in pieces", "in fragments"} {
		if f := c.nextOf("chat.message"); f.Message != want {
			t.Fatalf("got %+v, want %q", f, want)
		}
	}
	select {
	case p := <-pongs:
		if p != "between" {
			t.Fatalf("pong %q", p)
		}
	default:
		t.Fatal("the ping between fragments was not answered before the messages")
	}
}

// TestChatProtocolErrors: frames that break RFC 6455 close the socket with
// 1002 (protocol error): a client frame without a mask, a continuation
// with no message to continue, a control frame over 125 bytes.
func TestChatProtocolErrors(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.chat.addRoom(1)
	r := newReplica(t, e.nc, e.prefix, e.chat, chatsocket.Config{})
	unmasked, err := ws.CompileFrame(ws.NewTextFrame([]byte(`{"type":"chat.typing"}`)))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		frame []byte
	}{
		{"unmasked", unmasked},
		{"stray continuation", clientFrame(t, ws.OpContinuation, true, "x")},
		{"long ping", clientFrame(t, ws.OpPing, true, strings.Repeat("p", 126))},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := mustDial(t, r, 1, dialOpts{user: int64(10 + i)})
			c.t = t
			c.nextOf("chat.presence")
			if _, err := c.ws.NetConn().Write(tt.frame); err != nil {
				t.Fatal(err)
			}
			if got := c.closeCode(5 * time.Second); got != websocket.CloseProtocolError {
				t.Fatalf("got close %d, want 1002", got)
			}
		})
	}
	waitFor(t, "the sockets cleaned up", func() bool { return r.hub.Sockets() == 0 })
}
