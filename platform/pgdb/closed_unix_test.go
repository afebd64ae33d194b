//go:build linux || darwin

package pgdb

import (
	"net"
	"testing"
	"time"
)

// TestHasPending: an idle socket has nothing pending, one with bytes
// waiting or closed by its peer has; and the peek never waits, not even for
// a goroutine parked in Read on the same connection (pgconn's background
// reader can be, on an idle pooled connection).
func TestHasPending(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	pair := func() (client, server net.Conn) {
		t.Helper()
		accepted := make(chan net.Conn, 1)
		go func() {
			s, _ := ln.Accept()
			accepted <- s
		}()
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		s := <-accepted
		t.Cleanup(func() { c.Close(); s.Close() })
		return c, s
	}
	eventually := func(c net.Conn, want bool) {
		t.Helper()
		for deadline := time.Now().Add(2 * time.Second); hasPending(c) != want; time.Sleep(time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("hasPending = %v, want %v", !want, want)
			}
		}
	}

	c, s := pair()
	if hasPending(c) {
		t.Fatal("an idle connection has something pending")
	}
	if _, err := s.Write([]byte("E")); err != nil {
		t.Fatal(err)
	}
	eventually(c, true)
	if !hasPending(c) {
		t.Fatal("the peek consumed the byte")
	}

	c, s = pair()
	s.Close()
	eventually(c, true)

	c, _ = pair()
	go func() { _, _ = c.Read(make([]byte, 1)) }() // parked until the cleanup closes c
	time.Sleep(20 * time.Millisecond)
	done := make(chan bool, 1)
	go func() { done <- hasPending(c) }()
	select {
	case got := <-done:
		if got {
			t.Error("a connection with a parked reader and nothing to read has something pending")
		}
	case <-time.After(2 * time.Second):
		t.Fatal("hasPending waited for the parked reader")
	}
}
