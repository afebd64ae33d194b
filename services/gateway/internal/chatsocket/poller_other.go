//go:build !linux

package chatsocket

// readsOnReadiness: without epoll, each socket's reader blocks in its read
// for the socket's life, as with gorilla (reader.go).
const readsOnReadiness = false

// poller starts each socket's one reader goroutine.
type poller struct{}

func newPoller() *poller { return &poller{} }

// watch starts c's reader, which reads until the connection ends.
func (p *poller) watch(c *client) error {
	c.startReader()
	return nil
}

func (p *poller) forget(*client) {}
