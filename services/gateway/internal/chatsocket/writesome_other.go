//go:build !unix

package chatsocket

import "net"

// writeSome leaves every write to the writer goroutine where a socket's
// descriptor cannot be written without blocking portably.
func writeSome(net.Conn, []byte) (int, error) { return 0, errWouldBlock }
