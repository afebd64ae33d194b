package chatsocket

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/websocket"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/cobraspace/cobraspace/platform/grpcauth"
	chatv1 "github.com/cobraspace/cobraspace/proto/cobraspace/chat/v1"
	"github.com/cobraspace/cobraspace/services/gateway/internal/chatsocket/chatjson"
)

// Principal is the authenticated user of a socket.
type Principal struct {
	UserID    int64
	Email     string
	Token     string    // raw access token, forwarded to the chat service
	SessionID string    // the token's login session: its revocation closes the socket
	ExpiresAt time.Time // the socket is closed with 4001 then
}

// Authenticate identifies the caller of r (Authorization header or the
// access_token cookie); an error means 401.
type Authenticate func(r *http.Request) (Principal, error)

// Handshake holds what the socket handler needs from the gateway core.
type Handshake struct {
	Authenticate Authenticate
	// OriginAllowed reports whether a present Origin header is allowed.
	OriginAllowed func(r *http.Request) bool
	// Error writes a plain HTTP error in the contract's JSON
	// ({"detail": msg}).
	Error func(w http.ResponseWriter, r *http.Request, status int, msg string)
	// ClientIP returns the request's client IP (the gateway's
	// trusted-proxy rules), for Config.MaxSocketsPerIP; nil: the TCP peer.
	ClientIP func(r *http.Request) string
}

// Handler serves GET /ws/chat/{room_id}/chat/.
type Handler struct {
	hub      *Hub
	hs       Handshake
	upgrader websocket.Upgrader
}

// NewHandler returns the socket endpoint of hub.
func NewHandler(hub *Hub, hs Handshake) *Handler {
	return &Handler{
		hub: hub,
		hs:  hs,
		upgrader: websocket.Upgrader{
			HandshakeTimeout: 10 * time.Second,
			// Gorilla does the handshake only: frames are read by
			// reader.go and written by framewriter.go, and the
			// connection gorilla makes is dropped at once, so its
			// buffers are kept small and shared.
			ReadBufferSize:  128,
			WriteBufferSize: 128,
			WriteBufferPool: &sync.Pool{},
			// The Origin was checked before the upgrade (403 in JSON).
			CheckOrigin: func(*http.Request) bool { return true },
		},
	}
}

// ServeHTTP checks the handshake (401, 403, 404, 429, 503 without an
// upgrade), upgrades and hands the socket to its own goroutines, which join
// the room and serve it until it closes.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	fail := h.failer(w, r)
	user, ok := h.authorize(r, fail)
	if !ok {
		return
	}
	roomID, ok := roomIDOf(r)
	if !ok {
		fail(http.StatusNotFound, "Not found.")
		return
	}
	afterSeq := int64(-1)
	if v := r.URL.Query().Get("after_seq"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 {
			h.hs.Error(w, r, http.StatusBadRequest, "after_seq must be a non-negative integer.")
			return
		}
		afterSeq = n
	}
	if !websocket.IsWebSocketUpgrade(r) {
		fail(http.StatusBadRequest, "WebSocket upgrade required.")
		return
	}
	// A room with sockets on this replica exists (its deletion would have
	// closed them), so only the first local socket of a room pays for the
	// GetRoom call: a reconnect storm needs one fewer RPC per socket. A
	// room deleted meanwhile still ends in 4000 (Join answers NOT_FOUND).
	// DM rooms always pay: GetRoom is their reader check (404, no upgrade).
	var err error
	if !h.hub.hasRoom(roomID) {
		ctx, cancel := context.WithTimeout(grpcauth.WithToken(r.Context(), user.Token), h.hub.cfg.RPCTimeout)
		var room *chatv1.Room
		room, err = h.hub.chat.GetRoom(ctx, &chatv1.GetRoomRequest{Id: roomID})
		cancel()
		if room.GetKind() == "dm" {
			h.hub.markDM(roomID)
		}
	}
	switch status.Code(err) {
	case codes.OK:
	case codes.NotFound:
		fail(http.StatusNotFound, "Not found.")
		return
	case codes.Unauthenticated:
		fail(http.StatusUnauthorized, "Given token not valid.")
		return
	default:
		h.hub.log.Error("chat GetRoom failed", "room", roomID, "err", err)
		fail(http.StatusServiceUnavailable, "Chat is temporarily unavailable.")
		return
	}
	nc, ip, ok := h.upgrade(w, r, user, fail)
	if !ok {
		return
	}
	// Serve the socket on a fresh goroutine and return: net/http then
	// frees the connection's request state and its 4 KiB read and write
	// buffers, which would otherwise live as long as the socket
	// (BENCHMARKS.md M3).
	go h.serve(nc, roomID, user, ip, afterSeq)
}

// The handshake steps every socket endpoint shares (/ws/chat/ and
// /ws/user/): the same 401, 403, 429 and 503 answers, the same limits.

// failer answers a refused handshake and counts it.
func (h *Handler) failer(w http.ResponseWriter, r *http.Request) func(code int, msg string) {
	return func(code int, msg string) {
		h.hub.metrics.handshakes.WithLabelValues(strconv.Itoa(code)).Inc()
		h.hs.Error(w, r, code, msg)
	}
}

// authorize identifies the caller (401) and checks a present Origin (403).
func (h *Handler) authorize(r *http.Request, fail func(int, string)) (Principal, bool) {
	user, err := h.hs.Authenticate(r)
	if err != nil {
		fail(http.StatusUnauthorized, "Authentication credentials were not provided or are invalid.")
		return Principal{}, false
	}
	if r.Header.Get("Origin") != "" && !h.hs.OriginAllowed(r) {
		fail(http.StatusForbidden, "Origin not allowed.")
		return Principal{}, false
	}
	return user, true
}

// upgrade counts the socket against the user's and the client IP's limits
// (429; 503 while draining) and upgrades the connection. On success the
// caller owns the reservation: its cleanup releases it and calls done.
func (h *Handler) upgrade(w http.ResponseWriter, r *http.Request, user Principal, fail func(int, string)) (net.Conn, string, bool) {
	ip := h.clientIP(r)
	switch h.hub.reserve(user.UserID, ip) {
	case "":
	case refusedDraining:
		fail(http.StatusServiceUnavailable, "Server is restarting; reconnect.")
		return nil, "", false
	case refusedIP:
		fail(http.StatusTooManyRequests, "Too many open chat sockets from this address.")
		return nil, "", false
	default:
		fail(http.StatusTooManyRequests, "Too many open chat sockets.")
		return nil, "", false
	}
	ws, err := h.upgrader.Upgrade(w, r, nil)
	if err != nil {
		// Upgrade already answered the client.
		h.hub.release(user.UserID, ip)
		h.hub.done()
		return nil, "", false
	}
	h.hub.metrics.handshakes.WithLabelValues("101").Inc()
	nc := ws.NetConn()
	if tc, ok := nc.(*net.TCPConn); ok && h.hub.cfg.KernelSendBuffer > 0 {
		_ = tc.SetWriteBuffer(h.hub.cfg.KernelSendBuffer)
	}
	return nc, ip, true
}

// clientIP is the client IP of r by Handshake.ClientIP, else its TCP peer.
func (h *Handler) clientIP(r *http.Request) string {
	if h.hs.ClientIP != nil {
		return h.hs.ClientIP(r)
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// serve opens one socket: join, initial frames, then its frames are read
// as they come (reader.go) until the connection ends, and cleanup leaves
// the room.
func (h *Handler) serve(nc net.Conn, roomID int64, user Principal, ip string, afterSeq int64) {
	hub := h.hub
	hub.metrics.socketsOpen.Inc()
	c := newClient(hub, nc, roomID, user, ip, newConnID())

	if err := hub.attach(c); err != nil {
		if errors.Is(err, errDraining) {
			c.close(websocket.CloseServiceRestart, "service restart")
		} else {
			hub.log.Error("chat subscribe failed", "room", roomID, "err", err)
			c.close(websocket.CloseTryAgainLater, "try again later")
		}
		c.startReading(false) // reads the peer's close reply
		return
	}
	joined, err := c.sync(afterSeq)
	if err != nil {
		if !c.isClosed() {
			hub.log.Warn("chat socket sync failed", "room", roomID, "err", err)
		}
		c.closeSyncFailed(err)
		c.startReading(joined)
		return
	}
	c.open(true)
}

// cleanup runs once the reading ended: it stops the writer, leaves the
// room (unsubscribing with the last local socket) and, when the chat
// service was joined, tells it (best effort: presence expires anyway).
func (c *client) cleanup(joined bool) {
	hub := c.hub
	defer hub.done()
	defer hub.metrics.socketsOpen.Dec()
	c.close(0, "")
	<-c.writerDone
	hub.expiries.remove(c)
	switch {
	case c.room != nil:
		hub.detach(c)
	case c.stream != nil:
		hub.detachUser(c)
	default:
		hub.release(c.user.UserID, c.ip)
	}
	if !joined || c.room == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if _, err := hub.chat.Leave(ctx, &chatv1.LeaveRequest{RoomId: c.roomID, ConnectionId: c.connID}); err != nil {
		hub.log.Warn("chat leave failed", "room", c.roomID, "err", err)
	}
}

// sync joins presence and sends history (or the resume) and presence,
// then the live events that arrived meanwhile. The room is subscribed
// before anything is read, so nothing committed in between is missed; the
// merge by seq drops what history already covered.
func (c *client) sync(afterSeq int64) (joined bool, err error) {
	hub := c.hub
	if err := c.rpc(c.loadHidden); err != nil {
		return false, err
	}
	var jr *chatv1.JoinResponse
	err = c.rpc(func(ctx context.Context) (err error) {
		jr, err = hub.chat.Join(ctx, c.joinRequest())
		return err
	})
	if err != nil {
		return false, err
	}
	last := jr.GetRoom().GetLastSeq()
	if afterSeq >= 0 && afterSeq >= last {
		// The client missed nothing: the room's last seq was read after
		// the subscription became active, so every later message arrives
		// live. Most sockets of a reconnect storm are here, and skip a
		// history read (BENCHMARKS.md M4).
		c.pushWait(chatjson.ResumeFrame(true))
		c.pushWait(chatjson.PresenceFrame(jr.GetOnline()))
		c.finishSync(afterSeq)
		return true, nil
	}
	req := &chatv1.ListMessagesRequest{RoomId: c.roomID, Limit: 50}
	if afterSeq >= 0 {
		// OldestFirst: a resume from after_seq 0 starts at seq 1.
		req = &chatv1.ListMessagesRequest{RoomId: c.roomID, AfterSeq: afterSeq, OldestFirst: true, Limit: 1001}
	}
	var resp *chatv1.ListMessagesResponse
	err = c.rpc(func(ctx context.Context) (err error) {
		resp, err = hub.chat.ListMessages(ctx, req)
		return err
	})
	if err != nil {
		return true, err
	}
	msgs := resp.GetMessages()
	if afterSeq >= 0 {
		last = max(last, afterSeq)
		if len(msgs) > 1000 {
			c.pushWait(chatjson.ResumeFrame(false))
		} else {
			for _, m := range msgs {
				c.pushWait(chatjson.MessageFrame(m))
				last = max(last, m.GetSeq())
			}
			c.pushWait(chatjson.ResumeFrame(true))
		}
	} else {
		for _, m := range msgs {
			last = max(last, m.GetSeq())
		}
		c.pushWait(chatjson.HistoryFrame(msgs))
	}
	c.pushWait(chatjson.PresenceFrame(jr.GetOnline()))
	c.finishSync(last)
	return true, nil
}

// rpc runs one chat call of the socket's opening with its own timeout,
// trying once more when the service was unavailable or slow: in a
// reconnect storm a retry here is far cheaper than closing the socket and
// having the client reconnect. (Join is idempotent per connection id.)
func (c *client) rpc(call func(ctx context.Context) error) error {
	var err error
	for range 2 {
		ctx, cancel := c.rpcContext()
		err = call(ctx)
		cancel()
		switch status.Code(err) {
		case codes.Unavailable, codes.DeadlineExceeded:
			if c.isClosed() {
				return err
			}
			continue
		}
		return err
	}
	return err
}

// roomIDOf takes the room id from the {room_id} path value, or from the
// path itself when the route was registered without a pattern.
func roomIDOf(r *http.Request) (int64, bool) {
	v := r.PathValue("room_id")
	if v == "" {
		parts := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
		if len(parts) >= 3 && parts[0] == "ws" && parts[1] == "chat" {
			v = parts[2]
		}
	}
	id, err := strconv.ParseInt(v, 10, 64)
	return id, err == nil && id > 0
}

func newConnID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go ≥ 1.24)
	return hex.EncodeToString(b[:])
}
