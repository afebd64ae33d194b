package chatsocket

import (
	"bufio"
	"net"
	"net/http"
	"sync"
)

// corkConn wraps the hijacked TCP connection so that the writer goroutine
// can write several WebSocket frames with one system call: while corked,
// writes are appended to a pooled buffer; uncork writes it out at once.
// gorilla/websocket otherwise issues one write per frame, which is the floor
// of delivery cost (quality-bars M2). Idle sockets hold no buffer.
type corkConn struct {
	net.Conn
	pool *sync.Pool // of *[]byte

	mu     sync.Mutex
	corked bool
	buf    *[]byte
}

func (c *corkConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	if c.corked {
		if c.buf == nil {
			c.buf = c.pool.Get().(*[]byte)
		}
		*c.buf = append(*c.buf, p...)
		c.mu.Unlock()
		return len(p), nil
	}
	c.mu.Unlock()
	return c.Conn.Write(p)
}

// cork starts buffering writes.
func (c *corkConn) cork() {
	c.mu.Lock()
	c.corked = true
	c.mu.Unlock()
}

// uncork writes everything buffered since cork in one write.
func (c *corkConn) uncork() error {
	c.mu.Lock()
	c.corked = false
	buf := c.buf
	c.buf = nil
	c.mu.Unlock()
	if buf == nil {
		return nil
	}
	_, err := c.Conn.Write(*buf)
	if cap(*buf) <= 64<<10 { // don't let one burst pin a huge buffer
		*buf = (*buf)[:0]
		c.pool.Put(buf)
	}
	return err
}

func newCorkPool() *sync.Pool {
	return &sync.Pool{New: func() any {
		b := make([]byte, 0, 4096)
		return &b
	}}
}

// hijackWriter makes gorilla's Upgrader hijack into a corkConn.
type hijackWriter struct {
	http.ResponseWriter
	pool *sync.Pool
	conn *corkConn
}

func (h *hijackWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	nc, brw, err := http.NewResponseController(h.ResponseWriter).Hijack()
	if err != nil {
		return nil, nil, err
	}
	h.conn = &corkConn{Conn: nc, pool: h.pool}
	return h.conn, brw, nil
}
