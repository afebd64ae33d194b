package chatsocket

import (
	"context"
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/gobwas/ws"
	"github.com/gorilla/websocket"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/cobraspace/cobraspace/platform/grpcauth"
	"github.com/cobraspace/cobraspace/platform/subjects"
	chatv1 "github.com/cobraspace/cobraspace/proto/cobraspace/chat/v1"
	"github.com/cobraspace/cobraspace/services/gateway/internal/chatsocket/chatjson"
)

// Per-socket input limits.
const (
	readLimit       = 16 << 10 // bytes per frame; more → 1009
	floodLimit      = 20       // rate-limited frames within floodWindow → 1008
	floodWindow     = 10 * time.Second
	maxInvalidRun   = 10 // consecutive invalid frames → 1008
	typingInterval  = 2 * time.Second
	closeGrace      = time.Second // wait for the peer's close reply
	maxSyncBuffered = 4096        // live events buffered while history loads
)

// client is one socket. Frames reach it from its stream (the room's
// messages or the user's notifications, released in order by stream.go),
// from the room's other events and from its own reader (answers and
// errors); c.mu orders them. Live frames are written by the goroutine that
// released them when the kernel takes them at once (directwrite.go);
// otherwise a writer goroutine drains the queue, several frames per system
// call, and runs only while there is something to write (frames, a ping,
// the close). Its reader, too, runs only while there is something to read
// (reader.go), so an idle socket holds no goroutine (BENCHMARKS.md, S3).
type client struct {
	hub    *Hub
	nc     net.Conn // the upgraded connection
	roomID int64
	room   *room       // a room socket's room (nil for /ws/user/)
	stream *userStream // a /ws/user/ socket's stream (nil for a room socket)
	user   Principal
	ip     string // client IP, for the per-IP socket limit
	connID string

	mu      sync.Mutex
	space   *sync.Cond // queue space freed; made by the first pushWait that waits
	queue   [][]byte
	spare   [][]byte
	closed  bool
	code    int // close code to send; 0: none (connection already broken)
	reason  string
	syncing bool    // history is loading: live events wait in syncBuf
	syncBuf []Event // live events received while syncing, in arrival order
	// synced is the newest seq (a user socket: notification id) the
	// opening sync sent or found: the socket takes its stream's events
	// after it (the stream may still fill an older gap the sync covered).
	synced   int64
	hidden   map[int64]struct{} // users the socket's user blocks (blocks.go)
	writing  bool               // a writer runs (after the close: ran or runs the last one)
	pingDue  bool               // the pinger left this socket's ping to the writer (pinger.go)
	pong     []byte             // the pong frame answering the client's last ping, for the writer
	pingSlot int                // the socket's slot in the hub's ping wheel; guarded by hub.mu
	// readStarted: the socket's opening is over and its frames are read
	// (startReading); reading: a reader runs (reader.go); readEnded: the
	// connection ended for it.
	readStarted, reading, readEnded bool
	// joined: the chat service knows the socket (its cleanup leaves);
	// set with readStarted.
	joined bool

	readerDone chan struct{}
	writerDone chan struct{} // closed once the connection is closed after close
	// expiryIndex is the socket's place in the hub's expiry schedule
	// (expiry.go), -1 when it is not in it; guarded by the schedule.
	expiryIndex int

	wr writerState // the writer's own (one at a time: c.writing)

	// lastRead is when the reader last took a whole frame (Unix ns): the
	// pinger drops a socket silent for PongTimeout.
	lastRead atomic.Int64
	// The poller's registration of the socket (poller_linux.go); guarded
	// by the poller's lock.
	pollGen int32 // 0: not watched
	pollFD  int32

	rd readerState // the reader's own (one at a time: c.reading)
}

// writerState is what only the socket's writer touches: a direct write
// (directwrite.go) or the writer goroutine, never both at once.
type writerState struct {
	rest          []byte    // bytes of a batch the kernel took only in part (directwrite.go); written first
	backlogAt     time.Time // last kernel backlog sample
	deadlineSetAt time.Time // when the writer last moved the write deadline (extendWriteDeadline)
	stallSince    time.Time // backlog above the limit since (zero: below)
}

// readerState is what only the socket's reader touches (reader.go): a
// message in fragments, and the client's flood, error and typing counts.
type readerState struct {
	fragments   []byte    // a message's fragments so far
	fragmentOp  ws.OpCode // the fragmented message's type
	floodStart  time.Time
	floodCount  int
	invalidRun  int
	typingAfter time.Time
}

func newClient(h *Hub, nc net.Conn, roomID int64, user Principal, ip, connID string) *client {
	c := &client{
		hub: h, nc: nc, roomID: roomID, user: user, ip: ip, connID: connID,
		syncing:     true,
		expiryIndex: -1,
		readerDone:  make(chan struct{}),
		writerDone:  make(chan struct{}),
	}
	c.lastRead.Store(time.Now().UnixNano())
	return c
}

// wakeWriterLocked starts a writer goroutine unless a writer runs (which
// takes what is queued before it stops).
func (c *client) wakeWriterLocked() {
	if !c.writing {
		c.writing = true
		go c.writeLoop()
	}
}

// deliverMessages queues the frames of messages (or notifications) its
// stream released in order, all under one lock, so they are written
// together (one system call) by fanOut or a running writer.
func (c *client) deliverMessages(msgs []Event) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, m := range msgs {
		switch {
		case c.closed:
			return
		case c.syncing:
			c.bufferLocked(m)
		case m.Seq > c.synced:
			c.queueLocked(c.viewLocked(m))
		}
	}
}

// deliverEvent queues a frame that has no seq (join, leave, typing, edit,
// delete) as it comes, for fanOut or a running writer.
func (c *client) deliverEvent(ev Event) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return
	}
	if c.syncing {
		c.bufferLocked(ev)
		return
	}
	c.queueLocked(c.viewLocked(ev))
}

func (c *client) bufferLocked(ev Event) {
	if len(c.syncBuf) >= maxSyncBuffered {
		c.slowLocked()
		return
	}
	c.syncBuf = append(c.syncBuf, ev)
}

// pushLocked queues a frame and makes sure a writer goroutine takes it.
func (c *client) pushLocked(data []byte) {
	if c.queueLocked(data) {
		c.wakeWriterLocked()
	}
}

// queueLocked appends a frame to the send queue for a running writer or,
// with none, fanOut's flush. A full queue closes the socket with 4008
// so that one slow reader never slows its room.
func (c *client) queueLocked(data []byte) bool {
	if c.closed {
		return false
	}
	if len(c.queue) >= c.hub.cfg.SendQueue {
		c.slowLocked()
		return false
	}
	c.queue = append(c.queue, data)
	return true
}

func (c *client) slowLocked() {
	if c.closeLocked(CloseSlow, "slow") {
		// The writer is most likely blocked on the full socket; its write
		// deadline (WriteTimeout) bounds how long the reader gets to make
		// room for the 4008 close frame before the connection is dropped.
		c.hub.metrics.slowCloses.Inc()
	}
}

// pushWait queues a frame of the initial sync, waiting for queue space
// instead of failing: a resume may send up to 1,000 messages.
func (c *client) pushWait(data []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for !c.closed && len(c.queue) >= c.hub.cfg.SendQueue {
		if c.space == nil {
			c.space = sync.NewCond(&c.mu)
		}
		c.space.Wait()
	}
	c.pushLocked(data)
}

// finishSync ends the opening sync at position last (the newest seq, or
// notification id, the sync sent or found) and delivers the live events
// that arrived meanwhile: those the sync already covered are dropped. The
// stream sends every event after those the sync could have missed, in
// order (stream.go), so nothing is missing in between.
func (c *client) finishSync(last int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.synced = last
	for _, ev := range c.syncBuf {
		if !ev.ordered() || ev.Seq > last {
			c.pushLocked(c.viewLocked(ev))
		}
	}
	c.syncBuf = nil
	c.syncing = false
}

// closeSyncFailed closes a socket whose opening sync (history, or a user
// stream's notifications) failed with err: 4001 for a refused token
// (closeUnauthenticated), 4000 for a room socket's room gone, 1013 when the
// chat service is unavailable or slow, 1011 otherwise.
func (c *client) closeSyncFailed(err error) {
	switch code := status.Code(err); {
	case code == codes.Unauthenticated:
		c.closeUnauthenticated()
	case code == codes.NotFound && c.stream == nil:
		c.close(CloseRoomDeleted, "room deleted")
	case code == codes.Unavailable || code == codes.DeadlineExceeded:
		c.close(websocket.CloseTryAgainLater, "try again later")
	default:
		c.close(websocket.CloseInternalServerErr, "internal error")
	}
}

// closeUnauthenticated closes a socket whose opening the chat service
// refused as unauthenticated: 4001, so the client refreshes its token. A
// token refused before its expiry was most likely revoked (a logout), and
// the revocation event that closes the user's sockets with 1008 ("logged
// out", docs/api.md) may still be on its way; it gets revocationGrace to
// win, since the first close wins.
func (c *client) closeUnauthenticated() {
	if c.user.ExpiresAt.IsZero() || !time.Now().Before(c.user.ExpiresAt) {
		c.close(CloseTokenExpired, "token expired")
		return
	}
	time.AfterFunc(revocationGrace, func() { c.close(CloseTokenExpired, "token expired") })
}

// revocationGrace is how long a socket refused with a token still within
// its lifetime waits for a revocation before closing with 4001.
const revocationGrace = time.Second

// close asks the writer to send a close frame with code (0: none) and end
// the connection. The first call wins and reports true.
func (c *client) close(code int, reason string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.closeLocked(code, reason)
}

func (c *client) closeLocked(code int, reason string) bool {
	if c.closed {
		return false
	}
	c.closed = true
	c.code, c.reason = code, reason
	c.queue, c.spare, c.syncBuf = nil, nil, nil
	if c.space != nil {
		c.space.Broadcast()
	}
	// The writer sends the close frame and closes the connection.
	c.wakeWriterLocked()
	return true
}

// closeAfterQueued is close for a policy violation the client caused
// (flooding, repeated invalid frames): the error frames already queued,
// which tell the client why, are written before the close frame instead
// of being dropped (docs/api.md: "error frames, then 1008").
func (c *client) closeAfterQueued(code int, reason string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	q := c.queue
	if c.closeLocked(code, reason) {
		c.queue = q // the writer takes it under this lock, after we return
	}
}

func (c *client) isClosed() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.closed
}

// next returns what the writer has to do: the queued frames, whether a
// ping is due, the pong to send, whether the socket is closed (with the
// frames to write before the close frame, see closeAfterQueued). With
// nothing to do it marks the writer stopped (idle reports true), under the
// same lock that producers queue under, so no frame is ever left unwritten.
func (c *client) next() (q [][]byte, ping bool, pong []byte, closed, idle bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		q, c.queue = c.queue, nil
		return q, false, nil, true, false
	}
	q, ping, pong = c.queue, c.pingDue, c.pong
	if len(q) == 0 && !ping && pong == nil {
		c.writing = false
		return nil, false, nil, false, true
	}
	if len(q) > 0 {
		c.takeQueueLocked()
	}
	c.pingDue, c.pong = false, nil
	return q, ping, pong, false, false
}

// takeQueueLocked returns the queued frames for the writer, leaving an
// empty queue, and wakes a sync waiting for queue space.
func (c *client) takeQueueLocked() [][]byte {
	q := c.queue
	c.queue = c.spare[:0]
	c.spare = nil
	if c.syncing && c.space != nil {
		c.space.Broadcast()
	}
	return q
}

// giveBackLocked returns the written batch's slice for reuse; all but small
// ones are dropped so an idle socket does not pin a burst's memory. Frames
// are mostly written as they come, one or two per batch; a slice of 16 kept
// by every idle socket was ~6 % of its memory (BENCHMARKS.md, S3).
func (c *client) giveBackLocked(q [][]byte) {
	if q == nil || cap(q) > 4 {
		return
	}
	clear(q)
	if !c.closed && c.spare == nil {
		c.spare = q[:0]
	}
}

// writeLoop is the socket's writer goroutine for data frames, pings and
// the close frame, for as long as there is something to write: it first
// finishes a batch a direct write left half written (writeDirect), and
// returns when nothing is left to write, or after closing the connection.
func (c *client) writeLoop() {
	if c.wr.rest != nil {
		if err := c.writeRest(); err != nil {
			c.close(0, "")
			c.finish()
			return
		}
	}
	for {
		q, ping, pong, closed, idle := c.next()
		switch {
		case idle:
			return
		case closed:
			// Frames kept for the close (closeAfterQueued); if they fail,
			// the close frame below fails too and the connection ends.
			_ = c.writeBatch(q, false, nil)
			c.finish()
			return
		}
		if err := c.writeBatch(q, ping, pong); err != nil {
			if len(q) > 0 {
				c.hub.metrics.deliveryErrors.Inc()
			}
			c.close(0, "")
			c.finish()
			return
		}
		if len(q) > 0 {
			c.hub.metrics.framesSent.Add(float64(len(q)))
			c.mu.Lock()
			c.giveBackLocked(q)
			c.mu.Unlock()
			if c.stalled(time.Now()) && c.close(CloseSlow, "slow") {
				c.hub.metrics.slowCloses.Inc()
			}
		}
	}
}

// finish sends the close frame (if close was given a code), lets the
// reader take the peer's reply, and closes the connection. Writer only.
func (c *client) finish() {
	defer close(c.writerDone)
	c.mu.Lock()
	code, reason := c.code, c.reason
	c.mu.Unlock()
	if code != 0 {
		_ = c.nc.SetWriteDeadline(time.Now().Add(closeGrace))
		if _, err := c.nc.Write(closeFrame(code, reason)); err == nil {
			// Let the reader take the peer's close reply, so the
			// peer sees a clean close rather than a reset.
			select {
			case <-c.readerDone:
			case <-time.After(closeGrace):
			}
		}
	}
	c.closeConn()
	// A reader that was not running sees the end and cleans up; before
	// startReading, the opening goroutine still owns the socket and
	// startReading does it.
	c.mu.Lock()
	started := c.readStarted
	c.mu.Unlock()
	if started {
		c.startReader()
	}
}

// closeConn closes the connection, after the poller stops watching it.
func (c *client) closeConn() {
	c.hub.poller.forget(c)
	c.nc.Close()
}

// open ends the socket's opening: its token's expiry is scheduled (4001
// then) and its frames are read from now on; joined tells whether its
// cleanup leaves the chat service's presence.
func (c *client) open(joined bool) {
	if !c.user.ExpiresAt.IsZero() {
		c.hub.expiries.add(c)
	}
	c.startReading(joined)
}

// startReading has the socket's frames read from now on (reader.go);
// joined tells whether its cleanup leaves the chat service's presence.
func (c *client) startReading(joined bool) {
	c.mu.Lock()
	c.readStarted, c.joined = true, joined
	c.mu.Unlock()
	if c.hub.poller.watch(c) != nil {
		c.startReader() // closed already: read the close reply, or see the end
	}
}

// handle applies the frame rules of docs/api.md to one client frame.
func (c *client) handle(op ws.OpCode, data []byte) {
	if op != ws.OpText {
		c.close(websocket.CloseUnsupportedData, "binary frames are not supported")
		return
	}
	if !utf8.Valid(data) {
		c.close(websocket.CloseInvalidFramePayloadData, "invalid UTF-8")
		return
	}
	now := time.Now()
	if ok, _ := c.hub.cfg.SendLimit.Allow(context.Background(), c.user.UserID); !ok {
		if now.Sub(c.rd.floodStart) > floodWindow {
			c.rd.floodStart, c.rd.floodCount = now, 0
		}
		if c.rd.floodCount++; c.rd.floodCount >= floodLimit {
			c.closeAfterQueued(websocket.ClosePolicyViolation, "flooding")
			return
		}
		c.send(chatjson.ErrorFrame(chatjson.ErrRateLimited, "Too many messages; slow down."))
		return
	}
	f, err := DecodeFrame(data)
	if c.stream != nil {
		err = errInvalid // /ws/user/ takes no client frames
	}
	if err != nil {
		var fe *FrameError
		if errors.As(err, &fe) && fe.Type == chatjson.ErrInvalidRequest {
			if c.rd.invalidRun++; c.rd.invalidRun >= maxInvalidRun {
				c.closeAfterQueued(websocket.ClosePolicyViolation, "too many invalid frames")
				return
			}
		}
		c.sendErr(err)
		return
	}
	c.rd.invalidRun = 0
	switch f.Type {
	case chatjson.TypeMessage:
		c.sendMessage(f)
	case chatjson.TypeTyping:
		if now.Before(c.rd.typingAfter) {
			return
		}
		c.rd.typingAfter = now.Add(typingInterval)
		c.call(func(ctx context.Context) error {
			_, err := c.hub.chat.Typing(ctx, &chatv1.TypingRequest{RoomId: c.roomID})
			return err
		})
	case chatjson.TypeEdit:
		c.call(func(ctx context.Context) error {
			_, err := c.hub.chat.EditMessage(ctx, &chatv1.EditMessageRequest{Id: f.ID, Text: f.Message, RoomId: c.roomID})
			return err
		})
	case chatjson.TypeDelete:
		c.call(func(ctx context.Context) error {
			_, err := c.hub.chat.DeleteMessage(ctx, &chatv1.DeleteMessageRequest{Id: f.ID, RoomId: c.roomID})
			return err
		})
	}
}

// sendMessage stores the message (batched with this replica's other
// sends, see sender) and offers the committed message to the room's
// stream, which sends it to this socket and the room's others unless its
// NATS copy came first: the ack does not depend on NATS.
func (c *client) sendMessage(f ClientFrame) {
	if !c.user.ExpiresAt.IsZero() && time.Now().After(c.user.ExpiresAt) {
		// The batch carries no token for the chat service to refuse: the
		// expiry is enforced here (the expiry timer closes the socket too).
		c.close(CloseTokenExpired, "token expired")
		return
	}
	ctx, cancel := c.rpcContext()
	defer cancel()
	m, err := c.hub.sends.send(ctx, c.user, &chatv1.SendMessageRequest{
		RoomId: c.roomID, Text: f.Message, ParentId: f.ParentChat, ClientMsgId: f.ClientMsgID,
	})
	if err != nil {
		c.sendErr(err)
		return
	}
	c.room.offerAck(m)
}

// rpcContext is the context of one chat service call made for the socket:
// its user's token, and RPCTimeout. A call in flight when the socket closes
// is not cancelled but ends within that timeout: a cancelable context per
// socket kept a map for its calls' contexts for the socket's life, ~0.5 KB
// of an idle socket's ~6 KB (BENCHMARKS.md, S3).
func (c *client) rpcContext() (context.Context, context.CancelFunc) {
	return context.WithTimeout(grpcauth.WithToken(context.Background(), c.user.Token), c.hub.cfg.RPCTimeout)
}

// messageEvent is the chat.message event of a message read from the chat
// service (an ack, or history filling a gap).
func messageEvent(m *chatv1.Message) Event {
	return Event{Kind: subjects.EventMessage, Seq: m.GetSeq(), Data: chatjson.MessageFrame(m), SenderID: m.GetSenderId(), Message: m}
}

func isNotFound(err error) bool { return status.Code(err) == codes.NotFound }

func (c *client) call(fn func(ctx context.Context) error) {
	ctx, cancel := c.rpcContext()
	defer cancel()
	if err := fn(ctx); err != nil {
		c.sendErr(err)
	}
}

// send queues a frame for this socket only.
func (c *client) send(data []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.pushLocked(data)
}

// sendErr answers a failed request with an error frame; gRPC errors map to
// error types here, once, and internal text never reaches the client.
func (c *client) sendErr(err error) {
	var fe *FrameError
	if errors.As(err, &fe) {
		c.send(chatjson.ErrorFrame(fe.Type, fe.Message))
		return
	}
	if c.isClosed() {
		return // the socket is closing
	}
	st := status.Convert(err)
	switch st.Code() {
	case codes.InvalidArgument:
		if isTooLong(st) {
			c.send(chatjson.ErrorFrame(chatjson.ErrMessageTooLong, st.Message()))
			return
		}
		c.send(chatjson.ErrorFrame(chatjson.ErrInvalidRequest, invalidFormatMsg))
	case codes.PermissionDenied:
		if hasReason(st, chatjson.ErrMuted) {
			c.send(chatjson.ErrorFrame(chatjson.ErrMuted, st.Message()))
			return
		}
		c.send(chatjson.ErrorFrame(chatjson.ErrForbidden, st.Message()))
	case codes.NotFound:
		c.send(chatjson.ErrorFrame(chatjson.ErrNotFound, st.Message()))
	case codes.ResourceExhausted:
		c.send(chatjson.ErrorFrame(chatjson.ErrRateLimited, st.Message()))
	case codes.Unauthenticated:
		c.close(CloseTokenExpired, "token expired")
	default:
		c.hub.log.Error("chat rpc failed", "room", c.roomID, "user", c.user.UserID, "code", st.Code().String(), "err", st.Message())
		c.send(chatjson.ErrorFrame(chatjson.ErrInternal, "Internal error."))
	}
}

// isTooLong reports the chat service's "message_too_long" ErrorInfo reason.
func isTooLong(st *status.Status) bool { return hasReason(st, chatjson.ErrMessageTooLong) }

// hasReason reports whether st carries the chat service's ErrorInfo reason.
func hasReason(st *status.Status, reason string) bool {
	for _, d := range st.Details() {
		if r, ok := d.(interface{ GetReason() string }); ok && r.GetReason() == reason {
			return true
		}
	}
	return false
}

// joinRequest records the socket in its room's presence, under the
// replica's lease (presence.go).
func (c *client) joinRequest() *chatv1.JoinRequest {
	return &chatv1.JoinRequest{RoomId: c.roomID, ConnectionId: c.connID, GatewayId: c.hub.cfg.GatewayID, Lease: c.hub.lease}
}

// rejoin registers the connection again after the chat service forgot it.
func (c *client) rejoin() {
	ctx, cancel := c.rpcContext()
	defer cancel()
	_, err := c.hub.chat.Join(ctx, c.joinRequest())
	if status.Code(err) == codes.Unauthenticated {
		c.close(CloseTokenExpired, "token expired")
	}
}
