package chatsocket_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/cobraspace/cobraspace/services/gateway/internal/stack"
)

// TestChatFloodingE2E floods a socket of a real gateway and reads what the
// client sees: api.md promises rate_limited error frames, then close 1008.
func TestChatFloodingE2E(t *testing.T) {
	if testing.Short() {
		t.Skip("starts real processes")
	}
	s := stack.Start(t, stack.Options{})
	gw := s.Gateways[0]
	u := e2eSignup(t, gw)
	room := e2eRoom(t, gw, u)
	c := mustE2E(t, gw, room, u, "")
	c.nextOf("chat.presence")

	// 60 frames in one go: 20 pass (the burst), the next ones are rate
	// limited, and the 20th rate-limited one closes the socket.
	for range 60 {
		if err := c.ws.WriteMessage(websocket.TextMessage, []byte(`{"type":"chat.typing"}`)); err != nil {
			break // the server may already have closed
		}
	}
	limited := 0
	c.ws.SetReadDeadline(time.Now().Add(10 * time.Second))
	for {
		_, data, err := c.ws.ReadMessage()
		if err != nil {
			ce, ok := err.(*websocket.CloseError)
			if !ok || ce.Code != websocket.ClosePolicyViolation {
				t.Fatalf("socket ended with %v, want close 1008", err)
			}
			break
		}
		var f frame
		if err := json.Unmarshal(data, &f); err != nil {
			t.Fatalf("frame %q: %v", data, err)
		}
		switch {
		case f.ErrorType == "rate_limited" && f.Message != "":
			limited++
		case f.ErrorType != "":
			t.Fatalf("got error frame %s, want only rate_limited", data)
		}
	}
	if limited == 0 {
		t.Fatal("got close 1008 without any rate_limited frame before it")
	}
	t.Logf("%d rate_limited frames before close 1008", limited)
}
