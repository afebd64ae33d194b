package chatsocket_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/cobraspace/cobraspace/platform/testenv"
	"github.com/cobraspace/cobraspace/services/gateway/internal/stack"
)

// TestChatFloodingE2E floods a socket of a real gateway and reads what the
// client sees: docs/api.md promises rate_limited error frames, then close 1008.
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
	_ = c.ws.SetReadDeadline(time.Now().Add(10 * time.Second))
	for {
		_, data, err := c.ws.ReadMessage()
		if err != nil {
			var ce *websocket.CloseError
			ok := errors.As(err, &ce)
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

// Per-user limit of docs/api.md: 10 sends a second in bursts of 20.
const (
	sendRate  = 10
	sendBurst = 20
)

// refilled is how many sends the limit gave back since start, plus one
// for rounding.
func refilled(start time.Time) int { return int(time.Since(start).Seconds()*sendRate) + 1 }

// restSends posts n chat messages of u to each gateway at once and returns
// how many each accepted (201); every refusal must be the contract's 429.
func restSends(t *testing.T, gateways []string, u e2eUser, room int64, n int) []int {
	t.Helper()
	created := make([]int, len(gateways))
	var wg sync.WaitGroup
	for i, gw := range gateways {
		wg.Go(func() {
			for k := range n {
				code, body, retry := restSend(t, gw, u, room, fmt.Sprintf("rest %d-%d", i, k))
				switch code {
				case http.StatusCreated:
					created[i]++
				case http.StatusTooManyRequests:
					if want := `{"detail":"Request was throttled. Expected available in 1 second."}`; string(body) != want || retry != "1" {
						t.Errorf("429: got %s with Retry-After %q, want %s with Retry-After 1", body, retry, want)
					}
				default:
					t.Errorf("POST message/: got %d %s", code, body)
				}
			}
		})
	}
	wg.Wait()
	return created
}

func restSend(t *testing.T, gw string, u e2eUser, room int64, text string) (int, []byte, string) {
	b, _ := json.Marshal(map[string]any{"room": room, "message": text})
	req, _ := http.NewRequest("POST", gw+"/api/chat/message/", bytes.NewReader(b))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+u.token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Errorf("POST message/: %v", err)
		return 0, nil, ""
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, bytes.TrimSpace(body), resp.Header.Get("Retry-After")
}

// socketSends sends n messages on c at once and reads one answer per
// message: its ack, or a rate_limited error. It returns the acks.
func socketSends(t *testing.T, c *testConn, name string, n int) (acked int) {
	mine := map[string]bool{}
	for k := range n {
		id := name + "-" + strconv.Itoa(k)
		mine[id] = true
		if err := c.ws.WriteJSON(map[string]any{"type": "chat.message", "message": id, "client_msg_id": id}); err != nil {
			t.Errorf("%s: write: %v", name, err)
			return acked
		}
	}
	_ = c.ws.SetReadDeadline(time.Now().Add(10 * time.Second))
	for answered := 0; answered < n; {
		_, data, err := c.ws.ReadMessage()
		if err != nil {
			t.Errorf("%s: read after %d answers: %v", name, answered, err)
			return acked
		}
		var f frame
		if err := json.Unmarshal(data, &f); err != nil {
			t.Errorf("%s: frame %s: %v", name, data, err)
			return acked
		}
		switch {
		case f.Type == "chat.message" && mine[f.ClientMsgID]:
			acked++
			answered++
		case f.ErrorType == "rate_limited":
			answered++
		case f.ErrorType != "":
			t.Errorf("%s: got %s, want an ack or rate_limited", name, data)
			answered++
		}
	}
	return acked
}

// TestChatRateLimitAcrossReplicasE2E: one user sending through two real
// gateway replicas at once gets the per-user limit in total, not once per
// replica (REST and sockets share it through Redis). With Redis stopped,
// chat goes on and each replica applies the limit on its own.
func TestChatRateLimitAcrossReplicasE2E(t *testing.T) {
	if testing.Short() {
		t.Skip("starts real processes")
	}
	redisURL, stopRedis := testenv.StartRedis(t)
	s := stack.Start(t, stack.Options{Gateways: 2, Services: []string{stack.User, stack.Chat},
		Env: map[string]map[string]string{stack.Gateway: {"REDIS_URL": redisURL}}})
	gws := s.Gateways
	u := e2eSignup(t, gws[0])
	room := e2eRoom(t, gws[0], u)
	ca := mustE2E(t, gws[0], room, u, "")
	ca.nextOf("chat.presence")
	cb := mustE2E(t, gws[1], room, u, "")
	cb.nextOf("chat.presence")
	full := func() { time.Sleep(sendBurst * time.Second / sendRate) } // the buckets refill

	t.Run("REST through both replicas", func(t *testing.T) {
		start := time.Now()
		created := restSends(t, gws, u, room, sendBurst)
		if total := created[0] + created[1]; total < sendBurst || total > sendBurst+refilled(start) {
			t.Fatalf("accepted %v of %d each, %d in total; want the per-user burst of %d (+%d refilled) in total",
				created, sendBurst, total, sendBurst, refilled(start))
		}
	})

	full()
	t.Run("sockets on both replicas", func(t *testing.T) {
		const each = 15 // 30 in all: past the burst, and under the flooding close on either socket
		start := time.Now()
		var acked [2]int
		var wg sync.WaitGroup
		for i, c := range []*testConn{ca, cb} {
			wg.Go(func() { acked[i] = socketSends(t, c, "sock"+strconv.Itoa(i), each) })
		}
		wg.Wait()
		if total := acked[0] + acked[1]; total < sendBurst || total > sendBurst+refilled(start) {
			t.Fatalf("acked %v of %d each, %d in total; want the per-user burst of %d (+%d refilled) in total",
				acked, each, total, sendBurst, refilled(start))
		}
	})

	stopRedis()
	full()
	t.Run("Redis stopped: each replica limits alone", func(t *testing.T) {
		start := time.Now()
		created := restSends(t, gws, u, room, sendBurst+5)
		for i, n := range created {
			if n < sendBurst || n > sendBurst+refilled(start) {
				t.Errorf("replica %d accepted %d of %d; want its own burst of %d (+%d refilled)", i, n, sendBurst+5, sendBurst, refilled(start))
			}
		}
		if time.Since(start) > 5*time.Second {
			t.Errorf("sends without Redis took %v, want no wait on Redis", time.Since(start))
		}
		resp, err := http.Get(s.GatewayAdmin[0] + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		metrics, _ := io.ReadAll(resp.Body)
		m := regexp.MustCompile(`(?m)^cobra_gateway_chat_rate_limit_local_only_total (\S+)$`).FindSubmatch(metrics)
		if m == nil {
			t.Fatalf("local-only metric missing from /metrics")
		}
		if n, _ := strconv.ParseFloat(string(m[1]), 64); n < sendBurst {
			t.Errorf("local-only metric: got %s, want at least the %d sends decided without Redis", m[1], sendBurst)
		}
	})
}
