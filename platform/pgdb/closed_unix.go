//go:build linux || darwin

package pgdb

import (
	"net"
	"syscall"
)

// hasPending reports whether c's socket has anything to read, without
// reading it (a peek that never waits): an error the server sent before
// closing, or the close itself.
//
// The peek runs under Control, not Read: Read would wait for the
// connection's read lock, and pgconn's background reader (started when a
// write is slow) can sit in a Read on an idle pooled connection until the
// next query's answer, which would then never be sent.
func hasPending(c net.Conn) bool {
	if t, ok := c.(interface{ NetConn() net.Conn }); ok {
		c = t.NetConn() // TLS: any record arriving on an idle connection counts
	}
	sc, ok := c.(syscall.Conn)
	if !ok {
		return false
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return false
	}
	pending := false
	_ = raw.Control(func(fd uintptr) {
		var b [1]byte
		_, _, err := syscall.Recvfrom(int(fd), b[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		// No error: bytes waiting, or the peer closed (0 bytes). Any error
		// but "would block" (a reset) also means the connection needs a ping.
		pending = err != syscall.EAGAIN && err != syscall.EWOULDBLOCK
	})
	return pending
}
