package chatsocket

import (
	"encoding/binary"
	"errors"
	"net"
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

// Data frames are written by the socket's writer (directwrite.go) straight
// to the TCP connection, several per system call, instead of through gorilla's
// NextWriter: that costs one write(2), one deadline update and one
// allocation per frame, the floor of delivery cost (BENCHMARKS.md M2).
// This is safe because the writer is the only one that writes data frames;
// gorilla still writes the other control frames (pong, close) with
// WriteControl, each as a single Write, a TCP connection never interleaves
// two Write calls, and gorilla's wait while a direct write's batch is half
// written (wireConn, directwrite.go).

// flushAt is the batch size at which the writer flushes mid-batch, so a
// burst of large frames does not build a huge buffer.
const flushAt = 32 << 10

func newBufferPool() *sync.Pool {
	return &sync.Pool{New: func() any {
		b := make([]byte, 0, 4096)
		return &b
	}}
}

// appendTextFrame appends payload as one unmasked, final text frame
// (RFC 6455 §5.2; servers never mask).
func appendTextFrame(b, payload []byte) []byte {
	const finText = 0x81
	n := len(payload)
	switch {
	case n < 126:
		b = append(b, finText, byte(n))
	case n <= 0xFFFF:
		b = append(b, finText, 126)
		b = binary.BigEndian.AppendUint16(b, uint16(n))
	default:
		b = append(b, finText, 127)
		b = binary.BigEndian.AppendUint64(b, uint64(n))
	}
	return append(b, payload...)
}

// appendTextFrames appends each of q as appendTextFrame does.
func appendTextFrames(b []byte, q [][]byte) []byte {
	for _, f := range q {
		b = appendTextFrame(b, f)
	}
	return b
}

// putBuffer returns buf, taken from pool as bp, unless one burst made it
// big enough that keeping it would pin the memory.
func putBuffer(pool *sync.Pool, bp *[]byte, buf []byte) {
	if cap(buf) <= 2*flushAt {
		*bp = buf[:0]
		pool.Put(bp)
	}
}

// pingFrame is a ping without payload (RFC 6455 §5.5.2). Written directly,
// like data frames, it costs an idle socket one system call and no
// allocation every PingInterval (gorilla's WriteControl allocates a buffer
// per call and takes its write lock): pings are an idle gateway's main
// work (BENCHMARKS.md M3).
var pingFrame = []byte{0x89, 0x00}

func (c *client) writePing() error {
	nc := c.conn()
	if err := c.extendWriteDeadline(nc); err != nil {
		return err
	}
	_, err := nc.Write(pingFrame)
	return err
}

// deadlineSlack is how much older than WriteTimeout a socket's write
// deadline may be when a write starts.
const deadlineSlack = time.Second

// extendWriteDeadline makes sure the next write gets at least WriteTimeout
// minus deadlineSlack before it times out (and at most WriteTimeout).
// Setting the deadline is a runtime timer update; once per write it was
// ~7% of a gateway's CPU in a busy room (S2 profile), so a busy socket
// moves it at most once per deadlineSlack. Writer only.
func (c *client) extendWriteDeadline(nc net.Conn) error {
	now := time.Now()
	if now.Sub(c.deadlineSetAt) < deadlineSlack && !c.deadlineMoved.Swap(false) {
		return nil
	}
	if err := nc.SetWriteDeadline(now.Add(c.hub.cfg.WriteTimeout)); err != nil {
		return err
	}
	c.deadlineSetAt = now
	return nil
}

// answerPing is the socket's ping handler: gorilla's own answer (a pong
// written with a one-second deadline), then a note that the connection's
// write deadline moved, so the writer sets its own again before its next
// write instead of inheriting that short one. Reader goroutine.
func (c *client) answerPing(data string) error {
	err := c.ws.WriteControl(websocket.PongMessage, []byte(data), time.Now().Add(time.Second))
	c.deadlineMoved.Store(true)
	var ne net.Error
	if errors.Is(err, websocket.ErrCloseSent) || (errors.As(err, &ne) && ne.Timeout()) {
		return nil // as gorilla's default handler: the reader goes on
	}
	return err
}

// writeBatch writes queued frames with as few system calls as it can.
func (c *client) writeBatch(q [][]byte) error {
	if len(q) == 0 {
		return nil
	}
	nc := c.conn()
	if err := c.extendWriteDeadline(nc); err != nil {
		return err
	}
	bp := c.hub.buffers.Get().(*[]byte)
	buf := (*bp)[:0]
	defer func() { putBuffer(c.hub.buffers, bp, buf) }()
	for _, f := range q {
		buf = appendTextFrame(buf, f)
		if len(buf) >= flushAt {
			if _, err := nc.Write(buf); err != nil {
				return err
			}
			buf = buf[:0]
		}
	}
	if len(buf) == 0 {
		return nil
	}
	_, err := nc.Write(buf)
	return err
}
