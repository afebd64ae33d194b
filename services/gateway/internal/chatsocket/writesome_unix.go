//go:build unix

package chatsocket

import (
	"net"
	"syscall"

	"golang.org/x/sys/unix"
)

// writeSome writes as much of b to conn as the kernel's send buffer takes
// now, without waiting for room: it returns how many bytes were written and
// errWouldBlock when that was not all of them (zero for a connection it
// cannot write without blocking, e.g. TLS). The connection's write deadline
// must not have passed: the write fails at once then.
func writeSome(conn net.Conn, b []byte) (int, error) {
	sc, ok := conn.(syscall.Conn)
	if !ok {
		return 0, errWouldBlock
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return 0, err
	}
	var n int
	var werr error
	err = rc.Write(func(fd uintptr) bool {
		for n < len(b) {
			m, err := unix.Write(int(fd), b[n:])
			switch {
			case err == unix.EINTR:
				continue
			case err == unix.EAGAIN:
				werr = errWouldBlock
				return true
			case err != nil:
				werr = err
				return true
			}
			n += m
		}
		return true
	})
	if err != nil {
		return n, err
	}
	return n, werr
}
