//go:build !(linux || darwin)

package pgdb

import "net"

// hasPending cannot peek at a socket here; connections idle for less than
// a second are then used without a ping, as pgx does by default.
func hasPending(net.Conn) bool { return false }
