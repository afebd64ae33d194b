package chatsocket

import (
	"bufio"
	"errors"
	"io"
	"sync"
	"time"

	"github.com/gobwas/ws"
	"github.com/gorilla/websocket"
)

// Client frames are read only when they come. Gorilla's reader needs a
// goroutine parked in every socket's read, and an idle socket's memory was
// mostly that goroutine's stack and its read buffer (BENCHMARKS.md, S3).
// Instead, the replica's poller (poller_linux.go) watches the idle sockets
// and starts a reader goroutine for a socket when bytes arrive; the reader
// takes a buffer from a pool, reads and handles every whole frame the
// kernel holds, gives the buffer back and returns, and the socket is
// watched again. A frame that arrives in part keeps its reader waiting for
// the rest, as a goroutine per socket did. Gorilla still does the
// handshake; the frames are read with gobwas/ws, whose header reader and
// checks work on any io.Reader, so the reader can stop between frames.
//
// At most one reader runs per socket (c.reading), so its frames are
// handled in order, as before.

// readBufferSize is the pooled read buffer of a running reader: client
// frames are small (a chat message's JSON), and a larger payload is read
// straight into the message.
const readBufferSize = 2048

var readBuffers = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, readBufferSize) }}

// errCloseQueued ends a reader that took the peer's close frame, or a
// frame that breaks the protocol: the close frame that answers it (none
// when it answered our own close) is the writer's to send, and the writer
// closes the connection after it.
var errCloseQueued = errors.New("chatsocket: the reader's close frame is queued")

// startReader starts the socket's reader unless one runs or the reading
// ended. The poller calls it when bytes arrive; finish calls it after
// closing the connection, so that a reader that was not running sees the
// end and cleans up.
func (c *client) startReader() {
	c.mu.Lock()
	if c.reading || c.readEnded {
		c.mu.Unlock()
		return
	}
	c.reading = true
	c.mu.Unlock()
	go c.read()
}

// read is one run of the socket's reader: the frames that came, then back
// to the poller; or, on the connection's end, the socket's cleanup.
func (c *client) read() {
	br := readBuffers.Get().(*bufio.Reader)
	br.Reset(c.nc)
	err := c.readFrames(br)
	br.Reset(nil)
	readBuffers.Put(br)
	if err == nil {
		c.mu.Lock()
		c.reading = false
		c.mu.Unlock()
		// Bytes that came after the last read are reported as soon as
		// the socket is watched again. A closed socket is not watched:
		// its reader waits in its read for the peer's close reply or
		// the connection's end (at most closeGrace, see finish).
		if c.hub.poller.watch(c) != nil {
			c.startReader()
		}
		return
	}
	c.mu.Lock()
	c.readEnded = true
	c.mu.Unlock()
	if !errors.Is(err, errCloseQueued) {
		// The peer is gone, or was silent past the pong timeout (the
		// pinger closed the connection). Drop the connection now: a
		// writer blocked on a dead peer (or a slow one, 4008) must not
		// delay the leave until its write timeout.
		c.close(0, "")
		c.closeConn()
	}
	close(c.readerDone)
	c.cleanup(c.joined)
}

// readFrames reads and handles frames until the buffer and, where the
// poller watches sockets, the kernel hold no more whole frames (nil), or
// until the connection ends (its error).
func (c *client) readFrames(br *bufio.Reader) error {
	for {
		if err := c.readFrame(br); err != nil {
			return err
		}
		if readsOnReadiness && br.Buffered() == 0 {
			return nil
		}
	}
}

// readFrame reads one frame and handles it (a data frame once its message
// is whole). Errors end the reader; a frame that breaks the protocol (not
// masked, malformed, a message over readLimit) closes the socket with its
// code (1002, 1009), as gorilla did.
func (c *client) readFrame(br *bufio.Reader) error {
	var hb [ws.MaxHeaderSize - 2]byte
	h, err := ws.ReadHeaderBuffer(br, hb[:])
	if err != nil {
		return err
	}
	state := ws.StateServerSide
	if c.rd.fragments != nil {
		state |= ws.StateFragmented
	}
	if ws.CheckHeader(h, state) != nil {
		c.close(websocket.CloseProtocolError, "")
		return errCloseQueued
	}
	if !h.OpCode.IsControl() && int64(len(c.rd.fragments))+h.Length > readLimit {
		c.close(websocket.CloseMessageTooBig, "")
		return errCloseQueued
	}
	payload := make([]byte, h.Length)
	if _, err := io.ReadFull(br, payload); err != nil {
		return err
	}
	ws.Cipher(payload, h.Mask, 0)
	c.lastRead.Store(time.Now().UnixNano())

	switch h.OpCode {
	case ws.OpPing:
		c.sendPong(payload)
		return nil
	case ws.OpPong:
		return nil // lastRead is what the pinger checks
	case ws.OpClose:
		c.answerClose(payload)
		return errCloseQueued
	case ws.OpContinuation:
		c.rd.fragments = append(c.rd.fragments, payload...)
		payload = c.rd.fragments
	case ws.OpText, ws.OpBinary:
		c.rd.fragmentOp = h.OpCode
		if !h.Fin {
			c.rd.fragments = payload
		}
	}
	if !h.Fin {
		return nil
	}
	c.rd.fragments = nil
	if !c.isClosed() {
		c.handle(c.rd.fragmentOp, payload)
	}
	return nil
}

// answerClose takes the peer's close frame: the answer to our close, or a
// close of its own, which is answered with its code (RFC 6455 §5.5.1; no
// code: an empty close frame) or, for a malformed one, 1002.
func (c *client) answerClose(payload []byte) {
	code := websocket.CloseNoStatusReceived
	if len(payload) > 0 {
		sc, reason := ws.ParseCloseFrameData(payload)
		code = int(sc)
		if len(payload) < 2 || ws.CheckCloseFrameData(sc, reason) != nil {
			code = websocket.CloseProtocolError
		}
	}
	c.close(code, "")
}

// sendPong answers a client's ping: written at once when no writer runs,
// else left to the running writer, replacing a pong it has not sent yet
// (only the last ping needs an answer, RFC 6455 §5.5.3), so a client that
// pings and reads nothing cannot grow the socket's memory.
func (c *client) sendPong(payload []byte) {
	pong := appendFrame(nil, ws.OpPong, payload)
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return
	}
	if c.writing {
		c.pong = pong
		c.mu.Unlock()
		return
	}
	c.writing = true // this goroutine is the writer for one frame
	c.mu.Unlock()
	c.writeDirect(nil, false, pong)
}
