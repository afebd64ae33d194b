package chatsocket

import (
	"encoding/binary"
	"sync"
	"time"

	"github.com/gobwas/ws"
	"github.com/gorilla/websocket"
)

// Every frame the server sends is written by the socket's writer
// (directwrite.go) straight to the TCP connection, several per system
// call, instead of through gorilla's NextWriter: that costs one write(2),
// one deadline update and one allocation per frame, the floor of delivery
// cost (BENCHMARKS.md M2). Control frames too (pings, the pongs that answer
// a client's pings, the close), so one writer at a time is all it takes
// for no frame to land inside another.

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
func appendTextFrame(b, payload []byte) []byte { return appendFrame(b, ws.OpText, payload) }

// appendFrame appends payload as one unmasked, final frame of type op.
func appendFrame(b []byte, op ws.OpCode, payload []byte) []byte {
	fin := 0x80 | byte(op)
	n := len(payload)
	switch {
	case n < 126:
		b = append(b, fin, byte(n))
	case n <= 0xFFFF:
		b = append(b, fin, 126)
		b = binary.BigEndian.AppendUint16(b, uint16(n))
	default:
		b = append(b, fin, 127)
		b = binary.BigEndian.AppendUint64(b, uint64(n))
	}
	return append(b, payload...)
}

// closeFrame is the close frame for code and reason (code 1005, "no
// status": an empty one).
func closeFrame(code int, reason string) []byte {
	return appendFrame(nil, ws.OpClose, websocket.FormatCloseMessage(code, reason))
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

// controlFrames appends a ping (if ping) and the pong pong (if any), as
// the writer sends them after a batch.
func controlFrames(b []byte, ping bool, pong []byte) []byte {
	if ping {
		b = append(b, pingFrame...)
	}
	return append(b, pong...)
}

// deadlineSlack is how much older than WriteTimeout a socket's write
// deadline may be when a write starts.
const deadlineSlack = time.Second

// extendWriteDeadline makes sure the next write gets at least WriteTimeout
// minus deadlineSlack before it times out (and at most WriteTimeout).
// Setting the deadline is a runtime timer update; once per write it was
// ~7% of a gateway's CPU in a busy room (S2 profile), so a busy socket
// moves it at most once per deadlineSlack. Writer only.
func (c *client) extendWriteDeadline() error {
	now := time.Now()
	if now.Sub(c.wr.deadlineSetAt) < deadlineSlack {
		return nil
	}
	if err := c.nc.SetWriteDeadline(now.Add(c.hub.cfg.WriteTimeout)); err != nil {
		return err
	}
	c.wr.deadlineSetAt = now
	return nil
}

// dropStaleWriteDeadline clears a write deadline that may have passed, so
// that it does not fail a direct write (the runtime checks the deadline
// even for a write that never waits). A direct write needs no deadline
// since it never blocks; leaving it unset spares an idle socket's ping a
// timer update (S3's profile: ~5% of an idle gateway's CPU). Writer only.
func (c *client) dropStaleWriteDeadline() error {
	if c.wr.deadlineSetAt.IsZero() || time.Since(c.wr.deadlineSetAt) < c.hub.cfg.WriteTimeout-deadlineSlack {
		return nil
	}
	if err := c.nc.SetWriteDeadline(time.Time{}); err != nil {
		return err
	}
	c.wr.deadlineSetAt = time.Time{}
	return nil
}

// writeBatch writes queued frames, then a ping (if ping) and the pong pong
// (if any), with as few system calls as it can. Writer only.
func (c *client) writeBatch(q [][]byte, ping bool, pong []byte) error {
	if len(q) == 0 && !ping && pong == nil {
		return nil
	}
	if err := c.extendWriteDeadline(); err != nil {
		return err
	}
	bp := c.hub.buffers.Get().(*[]byte)
	buf := (*bp)[:0]
	defer func() { putBuffer(c.hub.buffers, bp, buf) }()
	for _, f := range q {
		buf = appendTextFrame(buf, f)
		if len(buf) >= flushAt {
			if _, err := c.nc.Write(buf); err != nil {
				return err
			}
			buf = buf[:0]
		}
	}
	buf = controlFrames(buf, ping, pong)
	if len(buf) == 0 {
		return nil
	}
	_, err := c.nc.Write(buf)
	return err
}
