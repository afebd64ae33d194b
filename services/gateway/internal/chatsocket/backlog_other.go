//go:build !linux

package chatsocket

import "net"

// unsentBytes is unknown (-1) off Linux: only the bounded queue and the
// write timeout detect slow readers there.
func unsentBytes(net.Conn) int { return -1 }
