// Package chatsocket is the gateway's live chat: the WebSocket endpoint
// /ws/chat/<room_id>/chat/ and the hub that bridges its sockets to the
// room events the chat service publishes on NATS.
//
// One Hub per gateway replica keeps rooms → local sockets. A room holds ONE
// broker subscription while at least one local socket is in it, and one
// stream that puts the room's messages in seq order, drops copies and fills
// gaps once for all of them (stream.go); each event's bytes (already the
// client frame) are appended to every member's bounded send queue without
// decoding or re-encoding. Fan-out takes no global lock: members are a
// copy-on-write slice read atomically; the hub mutex is only taken to join
// and leave.
package chatsocket

import (
	"context"
	"errors"
	"log/slog"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"

	"github.com/cobraspace/cobraspace/platform/subjects"
	chatv1 "github.com/cobraspace/cobraspace/proto/cobraspace/chat/v1"
	"github.com/cobraspace/cobraspace/services/gateway/internal/chatroute"
	"github.com/cobraspace/cobraspace/services/gateway/internal/ratelimit"
)

// Close codes used by the hub (docs/api.md).
const (
	CloseRoomDeleted  = 4000
	CloseTokenExpired = 4001
	CloseSlow         = 4008
)

// Event is one live room event as the broker delivers it.
type Event struct {
	Kind string // subjects.Event*
	Seq  int64  // message events only (0 when absent)
	Data []byte // the exact client frame; shared, never modified
	// Messages holds the message events of one commit, in seq order, for
	// Kind subjects.EventMessages (Data is then empty).
	Messages []Event
	// SenderID is the sender of a message or an edit (0 when unknown: a
	// chat service older than blocks), for hiding it from users who block
	// the sender.
	SenderID int64
	// Message is the message Data was encoded from (a message or an edit;
	// nil for frames from a chat service older than RoomEvent), from which
	// a socket whose user blocks the sender encodes its own view.
	Message *chatv1.Message
}

// ordered reports whether ev carries a sequence number its stream
// releases in order, once: a message's seq in its room, a notification's
// id for its user (stream.go).
func (ev Event) ordered() bool {
	return ev.Seq > 0 && (ev.Kind == subjects.EventMessage || ev.Kind == eventNotification)
}

// Broker delivers room events. fn is called from one goroutine per
// subscription, in the order the broker received the events.
// SubscribeRoom returns once the subscription is active on the server, so
// anything published afterwards is delivered.
type Broker interface {
	SubscribeRoom(roomID int64, fn func(Event)) (unsubscribe func(), err error)
}

// Config tunes the hub; zero fields take the defaults in brackets.
type Config struct {
	GatewayID         string        // replica id sent to the chat service
	SendQueue         int           // frames queued per socket before 4008 [1024]
	PingInterval      time.Duration // [25s]
	PongTimeout       time.Duration // no pong (or frame) for this long closes the socket [60s]
	WriteTimeout      time.Duration // one batch write [4s]; bounds how long a stuck reader is kept
	MaxSocketsPerUser int           // per replica; more → 429 [20]
	MaxSocketsPerIP   int           // per client IP per replica; more → 429 [0: unlimited]
	GapWait           time.Duration // an out-of-order message waits this long before history fills the gap [250ms]
	HeartbeatInterval time.Duration // presence refresh [10s]
	CloseSpread       time.Duration // shutdown closes are spread over this window [2s]
	RPCTimeout        time.Duration // per chat service call [5s]
	// KernelSendBuffer caps each socket's kernel send buffer (SO_SNDBUF,
	// which the kernel doubles) [0: the kernel's autotuning, up to
	// net.ipv4.tcp_wmem max]. Autotuning lets a reader that stopped absorb
	// MiBs (seconds of a busy room) before the bounded queue notices it,
	// delaying its cut-off; a cap (e.g. 256 KiB) cuts it off sooner but
	// tolerates smaller bursts from healthy readers.
	KernelSendBuffer int
	// SendBatchWait is how long a batch of socket sends may wait for more
	// before it goes to the chat service, while sends arrive closer
	// together than that (a send after a quiet spell goes at once) [0: at
	// once; a batch still gathers every send made while the previous call
	// is in flight; the gateway's CHAT_SEND_BATCH_WAIT defaults to 3 ms].
	// In busy rooms it makes batches, and so commits and socket writes,
	// fewer and larger (BENCHMARKS.md, S1).
	SendBatchWait time.Duration
	// Route picks the chat pod of a room's sends (chatroute.Router.Pick)
	// [nil: every send through the hub's chat client]. Call the hub's
	// ForgetChatPods when pods go away.
	Route func(roomID int64) chatroute.Endpoint
	// UserRooms is how many of a user's rooms their /ws/user/ stream
	// follows live on one replica (chat.unread): the most recently active
	// ones [100]. The others' counts come from GET /api/chat/rooms/mine/.
	UserRooms int
	// SendLimit is the per-user send limit every client frame counts
	// against, shared with REST sends and (through Redis) with the other
	// replicas [nil: this replica's own, without Redis].
	SendLimit *ratelimit.Users
	// BlockedIDs lists the users a user blocks (the user service), so a
	// socket hides their live messages (blocks.go); nil: nobody is hidden.
	BlockedIDs func(ctx context.Context, userID int64) ([]int64, error)
}

func (c Config) withDefaults() Config {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	if c.SendQueue <= 0 {
		c.SendQueue = 1024
	}
	if c.MaxSocketsPerUser <= 0 {
		c.MaxSocketsPerUser = 20
	}
	if c.UserRooms <= 0 {
		c.UserRooms = 100
	}
	def(&c.PingInterval, 25*time.Second)
	def(&c.PongTimeout, 60*time.Second)
	def(&c.WriteTimeout, 4*time.Second)
	def(&c.GapWait, 250*time.Millisecond)
	def(&c.HeartbeatInterval, 10*time.Second)
	def(&c.CloseSpread, 2*time.Second)
	def(&c.RPCTimeout, 5*time.Second)
	if c.SendLimit == nil {
		c.SendLimit = ratelimit.NewUsers(nil, "", nil)
	}
	return c
}

// Hub holds this replica's chat sockets by room.
type Hub struct {
	cfg     Config
	chat    chatv1.ChatServiceClient
	broker  Broker
	log     *slog.Logger
	metrics *Metrics

	mu    sync.Mutex
	rooms map[int64]*room
	// dmRooms are the DM rooms this replica has seen (GetRoom answered
	// kind "dm"): hasRoom never vouches for them, so every socket of a DM
	// room asks the chat service, whose reader check keeps it to its two
	// users. Guarded by mu.
	dmRooms  map[int64]struct{}
	users    map[int64]map[*client]struct{} // open sockets per user
	perUser  map[int64]int                  // sockets + handshakes in progress
	perIP    map[string]int                 // the same by client IP (only with MaxSocketsPerIP)
	conns    map[string]*client             // by connection id
	streams  map[int64]*userStream          // /ws/user/ state per user with a socket here
	pings    pingWheel                      // every open socket, by when it is pinged next
	draining bool

	userBroker UserBroker // nil: /ws/user/ answers 503

	live sync.WaitGroup // one per reserved socket until its cleanup ends

	buffers  *sync.Pool     // batch write buffers shared by all sockets
	sends    *sender        // socket sends, batched into SendMessages calls
	poller   *poller        // starts the readers of sockets with bytes to read
	expiries expirySchedule // closes sockets when their token expires
	lease    string         // this process's presence lease (presence.go)
}

// NewHub returns a hub using chat for RPCs and broker for room events.
func NewHub(cfg Config, chat chatv1.ChatServiceClient, broker Broker, log *slog.Logger, m *Metrics) *Hub {
	cfg = cfg.withDefaults()
	route := cfg.Route
	if route == nil {
		only := chatroute.Endpoint{Client: chat}
		route = func(int64) chatroute.Endpoint { return only }
	}
	ub, _ := broker.(UserBroker)
	return &Hub{
		userBroker: ub,
		streams:    make(map[int64]*userStream),
		cfg:        cfg,
		chat:       chat,
		broker:     broker,
		log:        log,
		metrics:    m,
		rooms:      make(map[int64]*room),
		users:      make(map[int64]map[*client]struct{}),
		perUser:    make(map[int64]int),
		perIP:      make(map[string]int),
		conns:      make(map[string]*client),
		buffers:    newBufferPool(),
		poller:     newPoller(),
		sends:      newSender(route, cfg.RPCTimeout, cfg.SendBatchWait, m.observeSendBatch),
		lease:      newLease(cfg.GatewayID),
	}
}

// room is one room with local members.
type room struct {
	id      int64
	hub     *Hub
	members atomic.Pointer[[]*client]
	// watchers are the unread counters of users with a /ws/user/ socket
	// here who are members of the room (userstream.go).
	watchers atomic.Pointer[[]*roomWatch]
	refs     int // local sockets + watchers; guarded by hub.mu

	ready chan struct{} // closed once the subscription attempt ended
	err   error         // set before ready is closed
	unsub func()

	stream *seqStream // the room's messages in order (stream.go)
}

// onEvent fans one event out to the room's local sockets: messages
// through the room's stream (stream.go), everything else as it comes.
func (r *room) onEvent(ev Event) {
	switch ev.Kind {
	case subjects.EventRoomDeleted:
		for _, c := range *r.members.Load() {
			c.close(CloseRoomDeleted, "room deleted")
		}
		r.watch(ev)
	case subjects.EventMessages:
		r.stream.offer(ev.Messages)
	default:
		fanOut(*r.members.Load(), func(c *client) { c.deliverEvent(ev) })
	}
}

// hasRoom reports whether the room has sockets on this replica and is
// readable by anyone (not a DM room).
func (h *Hub) hasRoom(roomID int64) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	r := h.rooms[roomID]
	_, dm := h.dmRooms[roomID]
	return r != nil && r.refs > 0 && !dm
}

// maxDMRooms bounds dmRooms (ids of DM rooms whose socket was refused
// stay until the map is reset; forgetting them only costs a GetRoom).
const maxDMRooms = 100_000

// markDM remembers that roomID is a DM room (see dmRooms).
func (h *Hub) markDM(roomID int64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.dmRooms == nil || len(h.dmRooms) >= maxDMRooms {
		h.dmRooms = map[int64]struct{}{}
	}
	h.dmRooms[roomID] = struct{}{}
}

// refusal is why reserve refused a socket ("" when it did not).
type refusal string

const (
	refusedDraining refusal = "draining"
	refusedUser     refusal = "user"
	refusedIP       refusal = "ip"
)

// reserve counts a handshake against the user's and the client IP's
// socket limits; a refusal means a limit is reached (429) or the hub is
// draining (503).
func (h *Hub) reserve(userID int64, ip string) refusal {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.draining {
		return refusedDraining
	}
	if h.perUser[userID] >= h.cfg.MaxSocketsPerUser {
		return refusedUser
	}
	if h.cfg.MaxSocketsPerIP > 0 {
		if h.perIP[ip] >= h.cfg.MaxSocketsPerIP {
			return refusedIP
		}
		h.perIP[ip]++
	}
	h.perUser[userID]++
	// Counted here, under mu and before draining, so Shutdown's Wait
	// never races an Add; done() ends it.
	h.live.Add(1)
	return ""
}

// done ends a socket reserved by reserve, after its cleanup.
func (h *Hub) done() { h.live.Done() }

func (h *Hub) release(userID int64, ip string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.releaseLocked(userID, ip)
}

func (h *Hub) releaseLocked(userID int64, ip string) {
	if h.perUser[userID]--; h.perUser[userID] <= 0 {
		delete(h.perUser, userID)
	}
	if h.cfg.MaxSocketsPerIP > 0 {
		if h.perIP[ip]--; h.perIP[ip] <= 0 {
			delete(h.perIP, ip)
		}
	}
}

// attach adds c to its room (subscribing the room on its first local
// socket) and waits until the subscription is active.
func (h *Hub) attach(c *client) error {
	h.mu.Lock()
	if h.draining {
		h.mu.Unlock()
		return errDraining
	}
	r, creator := h.roomLocked(c.roomID)
	old := *r.members.Load()
	next := make([]*client, len(old), len(old)+1)
	copy(next, old)
	next = append(next, c)
	r.members.Store(&next)
	c.room = r
	h.addSocketLocked(c)
	h.mu.Unlock()
	return h.subscribed(r, creator)
}

// roomLocked returns the room's entry, made (creator) when the room had no
// local socket or watcher, with one more reference. h.mu held.
func (h *Hub) roomLocked(id int64) (r *room, creator bool) {
	r = h.rooms[id]
	if r == nil {
		creator = true
		r = &room{id: id, hub: h, ready: make(chan struct{})}
		r.stream = newRoomStream(r)
		r.members.Store(&[]*client{})
		r.watchers.Store(&[]*roomWatch{})
		h.rooms[id] = r
	}
	r.refs++
	return r, creator
}

// subscribed subscribes r and starts its stream when creator, else waits
// for its creator's attempt; it returns once the subscription is active
// and the stream started (or either failed).
func (h *Hub) subscribed(r *room, creator bool) error {
	if creator {
		r.unsub, r.err = follow(func() (func(), error) { return h.broker.SubscribeRoom(r.id, r.onEvent) }, r.position)
		if r.err == nil {
			h.metrics.natsSubscriptions.Inc()
		}
		close(r.ready)
	}
	<-r.ready
	return r.err
}

// addSocketLocked registers c among its user's sockets (logout closes
// them) and by connection id. h.mu held.
func (h *Hub) addSocketLocked(c *client) {
	if h.users[c.user.UserID] == nil {
		h.users[c.user.UserID] = make(map[*client]struct{})
	}
	h.users[c.user.UserID][c] = struct{}{}
	h.conns[c.connID] = c
	if h.pings.addLocked(c) {
		go h.pingLoop()
	}
}

// removeSocketLocked undoes addSocketLocked and releases c's reservation.
// h.mu held.
func (h *Hub) removeSocketLocked(c *client) {
	if set := h.users[c.user.UserID]; set != nil {
		delete(set, c)
		if len(set) == 0 {
			delete(h.users, c.user.UserID)
		}
	}
	delete(h.conns, c.connID)
	h.pings.removeLocked(c)
	h.releaseLocked(c.user.UserID, c.ip)
}

// unrefLocked drops one reference of r and reports whether it was the
// last (the caller then calls unsubscribe after releasing h.mu). h.mu held.
func (h *Hub) unrefLocked(r *room) bool {
	if r.refs--; r.refs > 0 {
		return false
	}
	if h.rooms[r.id] == r {
		delete(h.rooms, r.id)
		delete(h.dmRooms, r.id)
	}
	return true
}

// unsubscribe ends the subscription of a room without references.
func (h *Hub) unsubscribe(r *room) {
	<-r.ready
	r.stream.stop()
	if r.unsub != nil {
		r.unsub()
		h.metrics.natsSubscriptions.Dec()
	}
}

// detach removes c from its room, unsubscribing when it was the last local
// socket, and forgets it.
func (h *Hub) detach(c *client) {
	h.mu.Lock()
	r := c.room
	last := false
	if r != nil {
		old := *r.members.Load()
		next := make([]*client, 0, len(old))
		for _, m := range old {
			if m != c {
				next = append(next, m)
			}
		}
		r.members.Store(&next)
		last = h.unrefLocked(r)
	}
	h.removeSocketLocked(c)
	h.mu.Unlock()

	if last {
		h.unsubscribe(r)
	}
}

// CloseSessions closes every local socket of userID opened with a token of
// one of sessionIDs, with 1008 (logout or session revocation); the user's
// other sessions (other devices) keep their sockets. Callers: the
// revocation listener of the gateway's Authenticator.
func (h *Hub) CloseSessions(userID int64, sessionIDs []string, reason string) {
	h.mu.Lock()
	var set []*client
	for c := range h.users[userID] {
		if slices.Contains(sessionIDs, c.user.SessionID) {
			set = append(set, c)
		}
	}
	h.mu.Unlock()
	for _, c := range set {
		c.close(websocket.ClosePolicyViolation, reason)
	}
}

// ForgetChatPods stops sending to chat pods that went away
// (chatroute.Router.OnChange).
func (h *Hub) ForgetChatPods(addrs []string) { h.sends.forget(addrs) }

// Sockets returns the number of open sockets on this replica.
func (h *Hub) Sockets() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.conns)
}

// Run renews the replica's presence (heartbeat, presence.go) until ctx
// ends.
func (h *Hub) Run(ctx context.Context) {
	t := time.NewTicker(h.cfg.HeartbeatInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			h.heartbeat(ctx)
		}
	}
}

// Shutdown stops accepting sockets and closes every open one with 1012
// (service restart), spread with jitter over CloseSpread (or half the time
// left before ctx's deadline) so clients do not all reconnect at the same
// instant. It returns when every socket is cleaned up (Leave sent) or ctx
// ends.
func (h *Hub) Shutdown(ctx context.Context) error {
	h.mu.Lock()
	h.draining = true
	all := make([]*client, 0, len(h.conns))
	for _, c := range h.conns {
		all = append(all, c)
	}
	h.mu.Unlock()

	spread := h.cfg.CloseSpread
	if dl, ok := ctx.Deadline(); ok {
		spread = min(spread, time.Until(dl)/2)
	}
	for _, c := range all {
		var d time.Duration
		if spread > 0 {
			d = rand.N(spread) //nolint:gosec // G404: jitter that spreads reconnects, not a secret
		}
		time.AfterFunc(d, func() { c.close(websocket.CloseServiceRestart, "service restart") })
	}
	done := make(chan struct{})
	go func() {
		h.live.Wait()
		h.sends.close() // every socket is gone: no send can come any more
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

var errDraining = errors.New("chatsocket: hub is draining")
