//go:build !unix

package chatsocket

import "net"

// writeNow leaves every frame to the writer goroutine where a socket's
// descriptor cannot be written without blocking portably.
func writeNow(net.Conn, []byte) error { return errWouldBlock }
