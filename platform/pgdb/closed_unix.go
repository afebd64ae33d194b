//go:build linux || darwin

package pgdb

import (
	"net"
	"syscall"
)

// hasPending reports whether c's socket has anything to read, without
// reading it (a peek that never waits): an error the server sent before
// closing, or the close itself.
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
	_ = raw.Read(func(fd uintptr) bool {
		var b [1]byte
		_, _, err := syscall.Recvfrom(int(fd), b[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		pending = err == nil // bytes waiting, or the peer closed (0 bytes, no error)
		return true          // one try: an idle connection is never waited for
	})
	return pending
}
