//go:build unix

package chatsocket

import (
	"net"
	"syscall"

	"golang.org/x/sys/unix"
)

// writeNow writes frame to conn without waiting for room in the kernel's
// send buffer: errWouldBlock when none of it fits now. A frame the kernel
// took only in part is finished before it returns (waiting for room, within
// the connection's write deadline, which must not have passed: the write
// fails at once then), since the stream must never hold half
// a frame; for a two-byte ping that practically never happens.
func writeNow(conn net.Conn, frame []byte) error {
	sc, ok := conn.(syscall.Conn)
	if !ok {
		return errWouldBlock // e.g. TLS: the writer goroutine writes it
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return err
	}
	var n int
	var werr error
	err = rc.Write(func(fd uintptr) bool {
		for {
			m, err := unix.Write(int(fd), frame[n:])
			switch {
			case err == unix.EINTR:
				continue
			case err == unix.EAGAIN && n == 0:
				werr = errWouldBlock
				return true
			case err == unix.EAGAIN:
				return false // wait for room for the rest
			case err != nil:
				werr = err
				return true
			}
			n += m
			if n == len(frame) {
				return true
			}
		}
	})
	if err != nil {
		return err
	}
	return werr
}
