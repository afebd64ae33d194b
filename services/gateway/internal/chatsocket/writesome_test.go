package chatsocket

import (
	"errors"
	"net"
	"testing"
	"time"
)

// TestWriteSomeNeverWaits: writeSome on a connection whose peer reads
// nothing fills the kernel's buffers and then answers errWouldBlock at
// once with what it wrote, instead of waiting like a plain Write, so
// neither the pinger nor a room's stream can be held up by one stuck
// peer; every byte it said it wrote arrives.
func TestWriteSomeNeverWaits(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			close(accepted)
			return
		}
		accepted <- c
	}()
	peer, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer peer.Close()
	conn := <-accepted
	if conn == nil {
		t.Fatal("accept failed")
	}
	defer conn.Close()
	_ = conn.(*net.TCPConn).SetWriteBuffer(4096)
	_ = peer.(*net.TCPConn).SetReadBuffer(4096)
	// A writeSome that waited would fail here rather than hang the test.
	_ = conn.SetWriteDeadline(time.Now().Add(5 * time.Second))

	frame := make([]byte, 1000)
	start := time.Now()
	written := 0
	for {
		n, err := writeSome(conn, frame)
		written += n
		if errors.Is(err, errWouldBlock) {
			break
		}
		if err != nil {
			t.Fatalf("after %d bytes: %v", written, err)
		}
		if n != len(frame) {
			t.Fatalf("wrote %d of %d bytes without errWouldBlock", n, len(frame))
		}
		if time.Since(start) > 10*time.Second || written > 64<<20 {
			t.Fatalf("wrote %d bytes in %v without the buffers filling", written, time.Since(start))
		}
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("filling the buffers and giving up took %v", d)
	}
	if written == 0 {
		t.Fatal("nothing was written before the buffers filled")
	}
	// Everything written arrives, in whole frames.
	got := 0
	buf := make([]byte, 64<<10)
	_ = peer.SetReadDeadline(time.Now().Add(5 * time.Second))
	for got < written {
		n, err := peer.Read(buf)
		if err != nil {
			t.Fatalf("read %d of %d bytes: %v", got, written, err)
		}
		got += n
	}
	if got != written {
		t.Errorf("read %d bytes, wrote %d", got, written)
	}
}
