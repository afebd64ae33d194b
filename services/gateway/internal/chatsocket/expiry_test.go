package chatsocket

import (
	"io"
	"net"
	"testing"
	"time"
)

// TestExpiryScheduleClosesInOrder: sockets close with 4001 when their own
// token expires, in order of expiry whatever the order they were added in;
// a socket removed (its cleanup ran) is left alone.
func TestExpiryScheduleClosesInOrder(t *testing.T) {
	t.Parallel()
	metrics, err := NewMetrics(nil)
	if err != nil {
		t.Fatal(err)
	}
	hub := &Hub{cfg: Config{WriteTimeout: time.Second}, metrics: metrics, buffers: newBufferPool(), poller: newPoller()}
	start := time.Now()
	newSocket := func(expiresIn time.Duration) *client {
		server, peer := net.Pipe()
		go func() { _, _ = io.Copy(io.Discard, peer) }()
		t.Cleanup(func() { server.Close(); peer.Close() })
		c := newClient(hub, server, 1, Principal{UserID: 1, ExpiresAt: start.Add(expiresIn)}, "ip", "conn")
		return c
	}
	late, removed, early := newSocket(600*time.Millisecond), newSocket(300*time.Millisecond), newSocket(150*time.Millisecond)
	for _, c := range []*client{late, removed, early} {
		hub.expiries.add(c)
	}
	hub.expiries.remove(removed)

	closedAt := func(c *client) time.Duration {
		t.Helper()
		for time.Since(start) < 3*time.Second {
			c.mu.Lock()
			closed, code := c.closed, c.code
			c.mu.Unlock()
			if closed {
				if code != CloseTokenExpired {
					t.Fatalf("closed with %d, want 4001", code)
				}
				return time.Since(start)
			}
			time.Sleep(5 * time.Millisecond)
		}
		t.Fatal("not closed within 3 s")
		return 0
	}
	if d := closedAt(early); d < 150*time.Millisecond {
		t.Errorf("the first socket closed after %v, before its expiry", d)
	}
	if removed.isClosed() {
		t.Error("a removed socket was closed")
	}
	if d := closedAt(late); d < 600*time.Millisecond {
		t.Errorf("the last socket closed after %v, before its expiry", d)
	}
	if removed.isClosed() {
		t.Error("a removed socket was closed")
	}
}
