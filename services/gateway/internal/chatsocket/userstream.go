package chatsocket

import (
	"context"
	"errors"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/gorilla/websocket"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/cobraspace/cobraspace/platform/grpcauth"
	chatv1 "github.com/cobraspace/cobraspace/proto/cobraspace/chat/v1"
	"github.com/cobraspace/cobraspace/services/gateway/internal/chatsocket/chatjson"
)

// The per-user live stream /ws/user/ (docs/api.md, "Conversations").
//
// One userStream per user with at least one /ws/user/ socket on this
// replica holds what all of that user's sockets here share:
//   - ONE subscription of the user's NATS subject (subjects.UserEvents):
//     notifications, read markers and new memberships, published by the
//     chat service after commit;
//   - the unread counters of the user's rooms (unread.go), derived here
//     rather than published per member by the chat service: each watched
//     room is followed through the same per-room subscription room sockets
//     use, so a room costs this replica one subscription whatever mix of
//     room sockets and streams follows it.
//
// Notifications are ordered once per user stream, as a room's messages
// are once per room (stream.go): their ids are a gap-free sequence per
// user, so the stream drops an id it already has and fills a gap from the
// database after GapWait; it starts at the user's newest notification,
// read once the subscription is active, and each socket drops what its
// own replay (?after=) already sent.

// eventNotification is the Event kind of a notification on a user socket
// (Seq: the notification id).
const eventNotification = "notification"

// Resume bounds of ?after=: at most maxReplay notifications are replayed,
// read in pages of notificationPage (the chat service's page limit).
const (
	maxReplay        = 1000
	notificationPage = 100
)

// UserBroker delivers a user's live events; a Broker that also implements
// it enables /ws/user/.
type UserBroker interface {
	SubscribeUser(userID int64, fn func(*chatv1.UserEvent)) (unsubscribe func(), err error)
}

// userStream is one user's live state on this replica.
type userStream struct {
	hub    *Hub
	userID int64
	email  string

	sockets atomic.Pointer[[]*client]
	refs    int // sockets attached or attaching; guarded by hub.mu

	ready chan struct{} // closed once the subscription attempt ended
	err   error
	unsub func()

	ctx    context.Context // ends when the last socket left
	cancel context.CancelFunc

	mu     sync.Mutex
	token  string // the newest socket's access token, for the stream's own calls
	closed bool
	rooms  map[int64]*roomWatch
	tick   int64 // activity clock of rooms: the least recently active is evicted first

	notes *seqStream // the user's notifications in id order (stream.go)
}

// UserHandler serves GET /ws/user/.
type UserHandler struct{ h *Handler }

// NewUserHandler returns the /ws/user/ endpoint of hub, with the
// handshake rules of the room sockets.
func NewUserHandler(hub *Hub, hs Handshake) *UserHandler {
	return &UserHandler{h: NewHandler(hub, hs)}
}

// ServeHTTP checks the handshake (400, 401, 403, 429, 503 without an
// upgrade) and serves the socket.
func (u *UserHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := u.h
	fail := h.failer(w, r)
	user, ok := h.authorize(r, fail)
	if !ok {
		return
	}
	after := int64(-1)
	if v := r.URL.Query().Get("after"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 {
			h.hs.Error(w, r, http.StatusBadRequest, "after must be a non-negative integer.")
			return
		}
		after = n
	}
	if !websocket.IsWebSocketUpgrade(r) {
		fail(http.StatusBadRequest, "WebSocket upgrade required.")
		return
	}
	if h.hub.userBroker == nil {
		fail(http.StatusServiceUnavailable, "Live updates are unavailable.")
		return
	}
	// Without after= the stream starts at the newest notification as read
	// now, before the upgrade: whatever is committed once the client sees
	// the socket open is delivered, even if it beats the subscription (it
	// is then replayed like a resume, without notification.resume).
	announce := after >= 0
	if !announce {
		ctx, cancel := context.WithTimeout(grpcauth.WithToken(r.Context(), user.Token), h.hub.cfg.RPCTimeout)
		newest, err := newestNotification(ctx, h.hub.chat)
		cancel()
		switch status.Code(err) {
		case codes.OK:
		case codes.Unauthenticated:
			fail(http.StatusUnauthorized, "Given token not valid.")
			return
		default:
			h.hub.log.Error("chat ListNotifications failed", "user", user.UserID, "err", err)
			fail(http.StatusServiceUnavailable, "Chat is temporarily unavailable.")
			return
		}
		after = newest
	}
	nc, ip, ok := h.upgrade(w, r, user, fail)
	if !ok {
		return
	}
	go h.serveUser(nc, user, ip, after, announce)
}

// serveUser runs one /ws/user/ socket: attach to the user's stream, the
// notification replay, then its frames are read as they come.
func (h *Handler) serveUser(nc net.Conn, user Principal, ip string, after int64, announce bool) {
	hub := h.hub
	hub.metrics.socketsOpen.Inc()
	c := newClient(hub, nc, 0, user, ip, newConnID())
	if err := hub.attachUser(c); err != nil {
		switch {
		case errors.Is(err, errDraining):
			c.close(websocket.CloseServiceRestart, "service restart")
		case status.Code(err) == codes.Unauthenticated:
			// The stream's first read (its position) refused the token.
			c.closeUnauthenticated()
		default:
			hub.log.Error("user stream subscribe failed", "user", user.UserID, "err", err)
			c.close(websocket.CloseTryAgainLater, "try again later")
		}
		c.startReading(false)
		return
	}
	if err := c.syncNotifications(after, announce); err != nil {
		if !c.isClosed() {
			hub.log.Warn("user stream sync failed", "user", user.UserID, "err", err)
		}
		c.closeSyncFailed(err)
		c.startReading(false)
		return
	}
	c.open(false)
}

// syncNotifications sends the notifications with an id above after (then
// notification.resume when announce: the client asked with ?after=), and
// then the live ones that arrived meanwhile. The user's subject is
// subscribed before anything is read, so a notification committed
// meanwhile arrives live; the merge by id drops what the replay already
// sent.
func (c *client) syncNotifications(after int64, announce bool) error {
	// chat.unread carries the newest message: hidden, like in a room, when
	// the user blocks its sender.
	if err := c.rpc(c.loadHidden); err != nil {
		return err
	}
	var ns []*chatv1.Notification
	err := c.rpc(func(ctx context.Context) (err error) {
		ns, err = notificationsAfter(ctx, c.hub.chat, after, maxReplay)
		return err
	})
	if err != nil {
		return err
	}
	last := after
	if len(ns) > maxReplay {
		// Too far behind: the client pages over REST. The live stream
		// goes on from the newest notification.
		last = ns[len(ns)-1].GetId()
		err := c.rpc(func(ctx context.Context) error {
			newest, err := newestNotification(ctx, c.hub.chat)
			last = max(last, newest)
			return err
		})
		if err != nil {
			return err
		}
		if announce {
			c.pushWait(chatjson.NotificationResumeFrame(false))
		}
	} else {
		for _, n := range ns {
			c.pushWait(chatjson.NotificationFrame(n))
			last = max(last, n.GetId())
		}
		if announce {
			c.pushWait(chatjson.NotificationResumeFrame(true))
		}
	}
	c.finishSync(last)
	return nil
}

// newestNotification returns the id of the caller's newest notification
// (0: none yet). ctx carries the user's token.
func newestNotification(ctx context.Context, chat chatv1.ChatServiceClient) (int64, error) {
	resp, err := chat.ListNotifications(ctx, &chatv1.ListNotificationsRequest{Limit: 1})
	if ns := resp.GetNotifications(); len(ns) > 0 {
		return ns[0].GetId(), err
	}
	return 0, err
}

// notificationsAfter returns the caller's notifications with id > after,
// oldest first, stopping once it has more than limit (the caller then
// knows there are more). ctx carries the user's token.
func notificationsAfter(ctx context.Context, chat chatv1.ChatServiceClient, after int64, limit int) ([]*chatv1.Notification, error) {
	var out []*chatv1.Notification
	for len(out) <= limit {
		// OldestFirst: after_id 0 would otherwise mean "newest first".
		resp, err := chat.ListNotifications(ctx, &chatv1.ListNotificationsRequest{AfterId: after, OldestFirst: true, Limit: notificationPage})
		if err != nil {
			return nil, err
		}
		ns := resp.GetNotifications()
		out = append(out, ns...)
		if len(ns) < notificationPage {
			break
		}
		after = ns[len(ns)-1].GetId()
	}
	return out, nil
}

// newNotificationStream is the notification stream of s: ordered once
// for all of the user's sockets here, its gaps filled with the user's
// token.
func newNotificationStream(s *userStream) *seqStream {
	return newSeqStream(s.hub, func() []*client { return *s.sockets.Load() }, nil, s.history, "user", s.userID)
}

// position starts the notification stream at the user's newest
// notification, read once the subscription is active.
func (s *userStream) position() error {
	ctx, cancel := s.rpcCtx()
	defer cancel()
	newest, err := newestNotification(ctx, s.hub.chat)
	if err != nil {
		return err
	}
	s.notes.start(newest)
	return nil
}

// history returns the notifications with after < id ≤ upto.
func (s *userStream) history(after, upto int64) ([]Event, error) {
	s.hub.metrics.gapRepairs.Inc()
	ctx, cancel := s.rpcCtx()
	defer cancel()
	ns, err := notificationsAfter(ctx, s.hub.chat, after, int(min(upto-after, maxReplay)))
	if err != nil {
		return nil, err
	}
	// The stream's fill keeps only ids up to upto.
	out := make([]Event, len(ns))
	for i, n := range ns {
		out[i] = notificationEvent(n)
	}
	return out, nil
}

func notificationEvent(n *chatv1.Notification) Event {
	return Event{Kind: eventNotification, Seq: n.GetId(), Data: chatjson.NotificationFrame(n)}
}

// attachUser adds c to its user's stream, subscribing the user's subject
// and starting the unread counters on the user's first socket here.
func (h *Hub) attachUser(c *client) error {
	h.mu.Lock()
	if h.draining {
		h.mu.Unlock()
		return errDraining
	}
	s := h.streams[c.user.UserID]
	creator := s == nil
	if creator {
		ctx, cancel := context.WithCancel(context.Background())
		s = &userStream{hub: h, userID: c.user.UserID, email: c.user.Email, ready: make(chan struct{}),
			ctx: ctx, cancel: cancel, rooms: make(map[int64]*roomWatch)}
		s.notes = newNotificationStream(s)
		s.sockets.Store(&[]*client{})
		h.streams[c.user.UserID] = s
		h.metrics.userStreams.Inc()
	}
	s.refs++
	old := *s.sockets.Load()
	next := make([]*client, len(old), len(old)+1)
	copy(next, old)
	next = append(next, c)
	s.sockets.Store(&next)
	c.stream = s
	h.addSocketLocked(c)
	h.mu.Unlock()

	s.mu.Lock()
	s.token = c.user.Token
	s.mu.Unlock()
	if creator {
		s.unsub, s.err = follow(func() (func(), error) { return h.userBroker.SubscribeUser(s.userID, s.onEvent) }, s.position)
		close(s.ready)
		if s.err == nil {
			go s.seed()
		}
	}
	<-s.ready
	return s.err
}

// detachUser removes c from its stream; the last socket ends the stream:
// its subscription and its rooms' watches.
func (h *Hub) detachUser(c *client) {
	s := c.stream
	h.mu.Lock()
	old := *s.sockets.Load()
	next := make([]*client, 0, len(old))
	for _, m := range old {
		if m != c {
			next = append(next, m)
		}
	}
	s.sockets.Store(&next)
	h.removeSocketLocked(c)
	s.refs--
	last := s.refs == 0
	if last && h.streams[s.userID] == s {
		delete(h.streams, s.userID)
		h.metrics.userStreams.Dec()
	}
	h.mu.Unlock()
	if !last {
		return
	}
	<-s.ready
	s.notes.stop()
	if s.unsub != nil {
		s.unsub()
	}
	s.cancel()
	h.mu.Lock()
	s.mu.Lock()
	s.closed = true
	watches := make([]*roomWatch, 0, len(s.rooms))
	for _, w := range s.rooms {
		watches = append(watches, w)
	}
	s.rooms = nil
	s.mu.Unlock()
	var unsub []*room
	for _, w := range watches {
		if r := h.unwatchLocked(w); r != nil {
			unsub = append(unsub, r)
		}
	}
	h.mu.Unlock()
	for _, r := range unsub {
		h.unsubscribe(r)
	}
}

// onEvent handles one event of the user's subject (NATS goroutine).
func (s *userStream) onEvent(ev *chatv1.UserEvent) {
	switch e := ev.GetEvent().(type) {
	case *chatv1.UserEvent_Notification:
		if e.Notification.GetId() <= 0 {
			return
		}
		s.notes.offer([]Event{notificationEvent(e.Notification)})
	case *chatv1.UserEvent_Read:
		s.onRead(e.Read)
	case *chatv1.UserEvent_Joined:
		s.onJoined(e.Joined.GetRoomId())
	}
}

// broadcast queues a frame without seq on every socket of the user here.
func (s *userStream) broadcast(data []byte, senderID int64) {
	ev := Event{Kind: "user", Data: data, SenderID: senderID}
	fanOut(*s.sockets.Load(), func(c *client) { c.deliverEvent(ev) })
}

// rpcCtx is a context for one of the stream's own chat calls, made with
// the newest socket's token.
func (s *userStream) rpcCtx() (context.Context, context.CancelFunc) {
	s.mu.Lock()
	token := s.token
	s.mu.Unlock()
	return context.WithTimeout(grpcauth.WithToken(s.ctx, token), s.hub.cfg.RPCTimeout)
}

// own reports whether a room message's sender (its frame's "sender", an
// email) is the stream's user.
func (s *userStream) own(sender string) bool { return strings.EqualFold(sender, s.email) }
