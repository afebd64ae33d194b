// Package chatload drives chat rooms over real WebSockets: it opens the
// members' sockets spread over the gateway replicas, sends chat.message
// frames at a fixed open-loop rate with the intended send time inside each
// message, and at every receiving socket records the latency from that
// intended time and checks that each acknowledged message arrives once and
// in seq order.
//
// A Session is opened once (rooms created, sockets connected) and can Run
// several load phases, e.g. the steps of a rate ramp.
package chatload

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/gorilla/websocket"

	"github.com/cobraspace/cobraspace/bench/internal/api"
	"github.com/cobraspace/cobraspace/bench/internal/frame"
	"github.com/cobraspace/cobraspace/bench/internal/latency"
	"github.com/cobraspace/cobraspace/bench/internal/openloop"
	"github.com/cobraspace/cobraspace/bench/internal/seqcheck"
)

// maxBackoff caps a reconnecting client's wait between attempts.
const maxBackoff = 5 * time.Second

// MaxSockets is the most sockets one generator process opens. Every process
// here is capped at 20,000 open files; the rest is headroom for HTTP and
// gRPC connections and the runtime. Larger counts need more processes.
const MaxSockets = 18000

// Config describes the rooms and sockets of a Session.
type Config struct {
	// Gateways are base URLs (http://host:port); sockets are spread over
	// them round robin.
	Gateways []string
	// Accounts own the sockets: member j of room r is account
	// (r*Members+j) mod len(Accounts), so a room holds distinct users when
	// len(Accounts) ≥ Members.
	Accounts []api.Account
	Rooms    int
	Members  int
	// SlowAccounts, when set, each get one extra socket in room 0 that
	// stops reading at RunOptions.SlowAfter (the slow-consumer scenario).
	// They never send.
	SlowAccounts []api.Account
	// RoomIDs reuses existing rooms instead of creating Rooms new ones.
	RoomIDs []int64
	// Reconnect makes a socket that the server drops dial the next gateway
	// with ?after_seq=<last seq seen> (the reconnect-storm scenario).
	Reconnect bool
	// ReconnectJitter spreads reconnects like real clients' backoff.
	ReconnectJitter time.Duration
	// FirstGatewayOnly opens every socket on Gateways[0] (the others are
	// only reconnect targets), e.g. to load or crash one replica.
	FirstGatewayOnly bool
	// MaxPerUserPerGateway is the gateway's limit of sockets per user and
	// replica (default 20, the gateway's default); Open refuses a layout
	// that would exceed it instead of failing with HTTP 429 midway.
	MaxPerUserPerGateway int
	// DialParallel bounds concurrent handshakes (default 256), so the
	// generator never opens more than that at once; reconnect storms should
	// set it high enough not to be what limits the connect rate.
	DialParallel int
	// RunID keeps client_msg_ids unique across runs (default random).
	RunID string
	// Logf receives progress lines (default: discarded).
	Logf func(format string, args ...any)
	// Centrifugo, when set, makes the session speak Centrifugo's JSON
	// protocol instead of Cobra Space's, so that both systems are measured
	// by the same generator in the same shape (the side-by-side scenarios).
	Centrifugo *Centrifugo
}

// Centrifugo describes a Centrifugo server as the target of a Session.
// Gateways[0] is its base URL and each account's Token is a Centrifugo
// connection JWT. A room is a channel of Namespace, which must keep history
// (so that each publication carries an offset, the counterpart of our seq)
// and allow subscribers to publish: members send over their own sockets,
// as in Cobra Space.
type Centrifugo struct {
	Namespace string
}

// RunOptions describe one load phase.
type RunOptions struct {
	// Rate is the total chat.message sends per second over all rooms; 0
	// sends nothing (idle sockets).
	Rate float64
	// Warmup runs at Rate before measuring; Duration is the measured window.
	Warmup, Duration time.Duration
	// Drain is the longest wait after the last send for acknowledgements
	// and deliveries (default 5 s).
	Drain time.Duration
	// Split, when set, also reports latency separately for messages sent
	// before and after Warmup+Split (e.g. before/after a fault).
	Split time.Duration
	// SlowAfter is when (from the start of the measured window) the slow
	// sockets stop reading.
	SlowAfter time.Duration
	// At runs hooks (e.g. killing a gateway) at offsets from the start of
	// the measured window.
	At []Hook
	// Pad adds this many filler bytes to each message text (e.g. to push
	// bytes at a slow reader faster).
	Pad int
	// Suffix is appended to each message text after a space, e.g.
	// "@nickname" to make every message a mention (plain ASCII without
	// quotes or backslashes: it is written into the JSON frame as is).
	Suffix string
}

// Hook is an action at a moment of a Run.
type Hook struct {
	After time.Duration
	Do    func()
}

// Result is what one Run measured.
type Result struct {
	Sockets    int     `json:"sockets"`
	Rooms      int     `json:"rooms"`
	Members    int     `json:"members"`
	Gateways   int     `json:"gateways"`
	TargetRate float64 `json:"target_sends_per_s"`
	DurationS  float64 `json:"duration_s"`

	Sent     int64 `json:"sent"`
	Acked    int64 `json:"acked"`
	Failed   int64 `json:"failed_writes"`
	Overflow int64 `json:"generator_overflow"`
	Unacked  int64 `json:"unacked"`

	// Delivered counts receipts of messages whose intended send time is in
	// the measured window, at every member.
	Delivered     int64   `json:"delivered"`
	DeliveredPerS float64 `json:"delivered_per_s"`
	// ReceivedInWindow counts receipts that arrived during the measured
	// window, whenever they were sent: the work done while CPU is sampled
	// over that window, so the count to divide by it (when the system falls
	// behind, deliveries of the window's sends spill past its end).
	ReceivedInWindow int64 `json:"received_in_window"`
	// FramesInWindow counts the WebSocket frames read during the window
	// (of any type): Centrifugo packs several messages into one frame.
	FramesInWindow int64           `json:"frames_in_window"`
	Latency        latency.Summary `json:"latency"`
	LatencyBefore  latency.Summary `json:"latency_before_split"`
	LatencyAfter   latency.Summary `json:"latency_after_split"`
	Check          seqcheck.Result `json:"check"`
	ErrorFrames    map[string]int  `json:"error_frames,omitempty"`
	Disconnects    int64           `json:"disconnects"`
	CloseCodes     map[string]int  `json:"close_codes,omitempty"`
	Reconnects     int64           `json:"reconnects"`
	ResumeFailures int64           `json:"resume_failures"`
	// ResumedAllS is the time from the first drop to the last socket's
	// chat.resume; 0 when nothing reconnected.
	ResumedAllS float64 `json:"resumed_all_s"`
	// ReconnectedAllS is the time from the first drop to the last
	// successful reconnect handshake.
	ReconnectedAllS float64 `json:"reconnected_all_s"`
	ReconnectPerS   float64 `json:"reconnects_per_s"`
	// NotResumed counts sockets still reconnecting when the run ended.
	NotResumed int64 `json:"not_resumed"`
	// ReconnectErrors counts failed reconnect attempts by kind.
	ReconnectErrors map[string]int `json:"reconnect_errors,omitempty"`
	// SlowCutoffS is when the server cut the slow sockets off, measured
	// from the moment they stopped reading (first chat.user.leave of a slow
	// user seen by another member); -1 when it never happened.
	SlowCutoffS    float64  `json:"slow_cutoff_s,omitempty"`
	SlowCloseCodes []int    `json:"slow_close_codes,omitempty"`
	Failures       []string `json:"failures,omitempty"`
}

// OK reports whether the run kept every guarantee.
func (r Result) OK() bool { return len(r.Failures) == 0 }

// Session is a set of open sockets in rooms.
type Session struct {
	cfg     Config
	run     string
	rooms   []int64
	sockets []*socket
	senders []*socket
	ledger  *seqcheck.Ledger
	dialer  *websocket.Dialer
	slowDlr *websocket.Dialer
	closing atomic.Bool
	wg      sync.WaitGroup
	logf    func(string, ...any)

	nextN atomic.Int64 // global send number, across runs
	// pendingResumes counts dropped sockets not yet resumed.
	pendingResumes atomic.Int64

	// Per-run state, swapped at the start of Run.
	win atomic.Pointer[window]

	dialSem chan struct{}
	slowEm  map[string]bool
}

type window struct {
	start, end, split time.Time
	pad               int
	suffix            string
	all, before       *latency.Sharded
	after             *latency.Sharded
	delivered         atomic.Int64
	receipts          atomic.Int64 // every new in-room message receipt
	inWindow          atomic.Int64 // receipts that arrived within [start, end)
	framesIn          atomic.Int64 // frames read within [start, end)
	expected          atomic.Int64 // receipts owed for acked messages
	sent, acked       atomic.Int64
	failed, overflow  atomic.Int64
	disconnects       atomic.Int64
	reconnects        atomic.Int64
	resumeFail        atomic.Int64
	firstDrop         atomic.Int64 // unix nanos
	lastResume        atomic.Int64
	lastReconnect     atomic.Int64
	slowStop          atomic.Int64
	slowCut           atomic.Int64
	errMu             sync.Mutex
	errs              map[string]int
	closes            map[string]int
	reconnectErrs     map[string]int
}

type socket struct {
	s      *Session
	idx    int
	room   int64
	acct   api.Account
	gw     int
	slow   bool
	recv   *seqcheck.Receiver
	out    chan outMsg
	ready  chan struct{}
	gone   chan struct{} // closed when the reader ends
	once   sync.Once
	paused atomic.Bool // slow socket not reading
	// awaitingResume is set from a drop until the chat.resume frame of the
	// reconnected socket.
	awaitingResume atomic.Bool
	backoff        int // reconnect attempts since the last resume (reader goroutine only)

	mu        sync.Mutex
	conn      *websocket.Conn
	closeCode int

	// wmu serialises writes to conn: the writer goroutine's sends and, for
	// Centrifugo, the reader's answers to the server's pings.
	wmu sync.Mutex
	// cmdID numbers Centrifugo commands (writer goroutine only; 1 and 2 are
	// connect and subscribe).
	cmdID int64
}

type outMsg struct {
	n        int64
	intended time.Time
}

// Open creates the rooms (unless cfg.RoomIDs) and connects every socket,
// waiting until each has received its presence frame (it has joined).
func Open(ctx context.Context, cfg Config) (*Session, error) {
	if len(cfg.Gateways) == 0 || len(cfg.Accounts) == 0 || cfg.Members < 1 {
		return nil, errors.New("chatload: need gateways, accounts and members")
	}
	if len(cfg.RoomIDs) > 0 {
		cfg.Rooms = len(cfg.RoomIDs)
	}
	total := cfg.Rooms*cfg.Members + len(cfg.SlowAccounts)
	if total > MaxSockets {
		return nil, fmt.Errorf("chatload: %d sockets > %d per process (open-file limit 20,000): use more processes", total, MaxSockets)
	}
	if cfg.Centrifugo != nil && (cfg.Reconnect || len(cfg.SlowAccounts) > 0) {
		return nil, errors.New("chatload: reconnects and slow members are only implemented for Cobra Space")
	}
	if cfg.MaxPerUserPerGateway <= 0 {
		cfg.MaxPerUserPerGateway = 20
	}
	if cfg.DialParallel <= 0 {
		cfg.DialParallel = 256
	}
	if cfg.RunID == "" {
		cfg.RunID = api.RunID()
	}
	logf := cfg.Logf
	if logf == nil {
		logf = func(string, ...any) {}
	}
	pool := &sync.Pool{}
	s := &Session{
		cfg: cfg, run: cfg.RunID, ledger: seqcheck.NewLedger(), logf: logf,
		dialer: &websocket.Dialer{
			HandshakeTimeout: 15 * time.Second, ReadBufferSize: 2048, WriteBufferSize: 1024,
			WriteBufferPool: pool,
		},
		dialSem: make(chan struct{}, cfg.DialParallel),
		slowEm:  map[string]bool{},
	}
	// A slow socket gets a small kernel receive buffer so that the
	// server's send queue fills in seconds rather than after megabytes.
	s.slowDlr = &websocket.Dialer{
		HandshakeTimeout: 15 * time.Second, ReadBufferSize: 1024, WriteBufferSize: 1024,
		// Set before connect, so the advertised window is small too.
		NetDialContext: (&net.Dialer{Control: func(_, _ string, rc syscall.RawConn) error {
			return rc.Control(func(fd uintptr) {
				_ = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096)
			})
		}}).DialContext,
	}
	s.win.Store(s.newWindow())

	if err := s.createRooms(ctx); err != nil {
		return nil, err
	}
	n := 0
	for r, room := range s.rooms {
		for j := range cfg.Members {
			acct := cfg.Accounts[(r*cfg.Members+j)%len(cfg.Accounts)]
			s.sockets = append(s.sockets, s.newSocket(n, room, acct, false))
			n++
		}
	}
	for _, a := range cfg.SlowAccounts {
		s.slowEm[a.Email] = true
		s.sockets = append(s.sockets, s.newSocket(n, s.rooms[0], a, true))
		n++
	}
	perUser := map[[2]int64]int{}
	for _, sk := range s.sockets {
		if !sk.slow {
			s.senders = append(s.senders, sk)
		}
		k := [2]int64{sk.acct.ID, int64(sk.gw)}
		if perUser[k]++; perUser[k] > cfg.MaxPerUserPerGateway && cfg.Centrifugo == nil {
			return nil, fmt.Errorf("chatload: %d sockets with %d accounts puts more than %d sockets of one user on one gateway (its limit): use more accounts",
				len(s.sockets), len(cfg.Accounts), cfg.MaxPerUserPerGateway)
		}
	}
	logf("chatload: connecting %d sockets in %d rooms over %d gateways", len(s.sockets), len(s.rooms), len(cfg.Gateways))
	t0 := time.Now()
	errc := make(chan error, len(s.sockets))
	var wg sync.WaitGroup
	for _, sk := range s.sockets {
		wg.Add(1)
		go func(sk *socket) {
			defer wg.Done()
			if err := sk.connect(ctx, 0, false); err != nil {
				errc <- err
				return
			}
			s.wg.Add(1)
			go sk.readLoop()
			s.wg.Add(1)
			go sk.writeLoop()
		}(sk)
	}
	wg.Wait()
	close(errc)
	if err := <-errc; err != nil {
		s.Close()
		return nil, err
	}
	deadline := time.NewTimer(120 * time.Second)
	defer deadline.Stop()
	for _, sk := range s.sockets {
		select {
		case <-sk.ready:
		case <-sk.gone:
			sk.mu.Lock()
			code := sk.closeCode
			sk.mu.Unlock()
			s.Close()
			return nil, fmt.Errorf("chatload: a socket was closed (code %d) before its chat.presence frame, while %d sockets joined", code, len(s.sockets))
		case <-deadline.C:
			s.Close()
			return nil, errors.New("chatload: sockets connected but no chat.presence frame within 120 s")
		case <-ctx.Done():
			s.Close()
			return nil, ctx.Err()
		}
	}
	logf("chatload: %d sockets joined in %.1fs", len(s.sockets), time.Since(t0).Seconds())
	return s, nil
}

func (s *Session) createRooms(ctx context.Context) error {
	if len(s.cfg.RoomIDs) > 0 {
		s.rooms = append([]int64(nil), s.cfg.RoomIDs...)
		return nil
	}
	if s.cfg.Centrifugo != nil {
		// A Centrifugo channel exists as soon as someone subscribes; the
		// run id in its name (channel) keeps runs apart.
		s.rooms = make([]int64, s.cfg.Rooms)
		for r := range s.rooms {
			s.rooms[r] = int64(r + 1)
		}
		return nil
	}
	c := api.New(s.cfg.Gateways[0])
	s.rooms = make([]int64, s.cfg.Rooms)
	for r := range s.rooms {
		owner := s.cfg.Accounts[r%len(s.cfg.Accounts)]
		room, err := c.CreateRoom(ctx, owner.Token, "bench "+s.run+" room "+strconv.Itoa(r))
		if err != nil {
			return fmt.Errorf("chatload: creating room: %w", err)
		}
		s.rooms[r] = room.ID
	}
	return nil
}

func (s *Session) newSocket(idx int, room int64, acct api.Account, slow bool) *socket {
	gw := idx % len(s.cfg.Gateways)
	if s.cfg.FirstGatewayOnly {
		gw = 0
	}
	return &socket{
		s: s, idx: idx, room: room, acct: acct, slow: slow, gw: gw,
		recv: seqcheck.NewReceiver(room, 0), out: make(chan outMsg, 256), ready: make(chan struct{}), gone: make(chan struct{}),
	}
}

// Rooms returns the ids of the session's rooms.
func (s *Session) Rooms() []int64 { return s.rooms }

// Sockets is the number of open sockets.
func (s *Session) Sockets() int { return len(s.sockets) }

// SocketsOn counts the sockets currently connected to gateway i.
func (s *Session) SocketsOn(i int) int {
	n := 0
	for _, sk := range s.sockets {
		sk.mu.Lock()
		if sk.conn != nil && sk.gw == i {
			n++
		}
		sk.mu.Unlock()
	}
	return n
}

func (s *Session) newWindow() *window {
	return &window{
		all: latency.NewSharded(64), before: latency.NewSharded(16), after: latency.NewSharded(16),
		errs: map[string]int{}, closes: map[string]int{}, reconnectErrs: map[string]int{},
	}
}

func (s *Session) window() *window { return s.win.Load() }

// connect dials the socket's gateway (trying the others in turn when it
// fails and reconnecting is on); afterSeq > 0 resumes.
func (sk *socket) connect(ctx context.Context, afterSeq int64, resume bool) error {
	s := sk.s
	s.dialSem <- struct{}{}
	defer func() { <-s.dialSem }()
	if s.cfg.Centrifugo != nil {
		return sk.connectCentrifugo(ctx)
	}
	hdr := http.Header{"Authorization": {"Bearer " + sk.acct.Token}}
	d := s.dialer
	if sk.slow {
		d = s.slowDlr
	}
	sk.mu.Lock()
	gw := sk.gw
	sk.mu.Unlock()
	u, err := url.Parse(s.cfg.Gateways[gw])
	if err != nil {
		return err
	}
	u.Scheme = strings.Replace(u.Scheme, "http", "ws", 1)
	u.Path = "/ws/chat/" + strconv.FormatInt(sk.room, 10) + "/chat/"
	if resume {
		u.RawQuery = "after_seq=" + strconv.FormatInt(afterSeq, 10)
	}
	c, resp, err := d.DialContext(ctx, u.String(), hdr) //nolint:bodyclose // gorilla/websocket: the handshake response's body needs no Close
	if err != nil {
		if resp != nil {
			return &dialError{status: resp.StatusCode, err: fmt.Errorf("chatload: dialing %s: %w (HTTP %d)", u.Redacted(), err, resp.StatusCode)}
		}
		return &dialError{err: fmt.Errorf("chatload: dialing %s: %w", u.Redacted(), err)}
	}
	c.SetReadLimit(1 << 20)
	sk.mu.Lock()
	sk.conn = c
	sk.mu.Unlock()
	return nil
}

// channel is the Centrifugo channel of room.
func (s *Session) channel(room int64) string {
	return s.cfg.Centrifugo.Namespace + ":" + s.run + "-" + strconv.FormatInt(room, 10)
}

// connectCentrifugo dials Centrifugo's WebSocket endpoint and sends the
// connect command (with the JWT) and the subscribe command in one frame;
// the socket is ready when the subscribe reply arrives.
func (sk *socket) connectCentrifugo(ctx context.Context) error {
	s := sk.s
	u, err := url.Parse(s.cfg.Gateways[0])
	if err != nil {
		return err
	}
	u.Scheme = strings.Replace(u.Scheme, "http", "ws", 1)
	u.Path = "/connection/websocket"
	c, resp, err := s.dialer.DialContext(ctx, u.String(), nil) //nolint:bodyclose // gorilla/websocket: the handshake response's body needs no Close
	if err != nil {
		if resp != nil {
			return &dialError{status: resp.StatusCode, err: fmt.Errorf("chatload: dialing %s: %w (HTTP %d)", u.Redacted(), err, resp.StatusCode)}
		}
		return &dialError{err: fmt.Errorf("chatload: dialing %s: %w", u.Redacted(), err)}
	}
	c.SetReadLimit(1 << 20)
	hello := `{"id":1,"connect":{"token":"` + sk.acct.Token + `"}}` + "\n" +
		`{"id":2,"subscribe":{"channel":"` + s.channel(sk.room) + `"}}`
	_ = c.SetWriteDeadline(time.Now().Add(5 * time.Second))
	if err := c.WriteMessage(websocket.TextMessage, []byte(hello)); err != nil {
		_ = c.Close()
		return fmt.Errorf("chatload: Centrifugo connect: %w", err)
	}
	sk.cmdID = 2
	sk.mu.Lock()
	sk.conn = c
	sk.mu.Unlock()
	return nil
}

// handleCentrifugo handles one frame of Centrifugo's JSON protocol (one or
// more messages separated by newlines).
func (sk *socket) handleCentrifugo(c *websocket.Conn, data []byte) {
	s := sk.s
	now := time.Now()
	w := s.window()
	if !now.Before(w.start) && now.Before(w.end) {
		w.framesIn.Add(1)
	}
	for len(data) > 0 {
		line := data
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			line, data = data[:i], data[i+1:]
		} else {
			data = nil
		}
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		m, err := frame.ParseCentrifugo(line)
		switch {
		case err != nil:
			sk.countError("unparseable")
		case m.Ping:
			// Centrifugo disconnects a client that does not answer its
			// application-level ping.
			sk.wmu.Lock()
			_ = c.SetWriteDeadline(time.Now().Add(5 * time.Second))
			_ = c.WriteMessage(websocket.TextMessage, []byte("{}"))
			sk.wmu.Unlock()
		case m.ErrorCode != 0:
			kind := "centrifugo_error_" + strconv.FormatInt(m.ErrorCode, 10)
			sk.countError(kind)
			if m.ID <= 2 {
				// Connect or subscribe refused: the socket is useless, and
				// Open says so instead of waiting for its deadline.
				s.logf("chatload: Centrifugo refused command %d: %s", m.ID, line)
				_ = c.Close()
			}
		case m.ID == 2:
			sk.once.Do(func() { close(sk.ready) })
		case m.Pub:
			if !sk.recv.Observe(m.Offset) {
				continue
			}
			w.receipts.Add(1)
			if !now.Before(w.start) && now.Before(w.end) {
				w.inWindow.Add(1)
			}
			if at, _, err := frame.ParseText(m.Message); err == nil {
				if !at.Before(w.start) && at.Before(w.end) {
					w.all.Record(sk.idx, now.Sub(at))
					w.delivered.Add(1)
				}
			}
			// As with Cobra Space, a send counts as acknowledged when the
			// sender sees its own message come back with its place in the
			// channel (the publish reply carries no offset).
			if n, ok := s.parseClientMsgID(m.ClientMsgID); ok && s.senderOf(n) == sk {
				s.ledger.Ack(sk.room, m.Offset)
				w.acked.Add(1)
				w.expected.Add(int64(s.cfg.Members))
			}
		}
	}
}

// dialError keeps the HTTP status of a refused handshake, to count
// reconnect failures by kind.
type dialError struct {
	status int
	err    error
}

func (e *dialError) Error() string { return e.err.Error() }
func (e *dialError) Unwrap() error { return e.err }

func (e *dialError) kind() string {
	if e.status != 0 {
		return "HTTP " + strconv.Itoa(e.status)
	}
	var op *net.OpError
	if errors.As(e.err, &op) {
		return op.Op + " " + strings.TrimPrefix(fmt.Sprint(op.Err), "connect: ")
	}
	return "other"
}

func (sk *socket) current() *websocket.Conn {
	sk.mu.Lock()
	defer sk.mu.Unlock()
	return sk.conn
}

func (sk *socket) readLoop() {
	s := sk.s
	defer s.wg.Done()
	defer close(sk.gone)
	for {
		c := sk.current()
		if c == nil || s.closing.Load() {
			return
		}
		if sk.paused.Load() {
			// Not reading: the server's queue for this socket fills.
			time.Sleep(20 * time.Millisecond)
			continue
		}
		_, data, err := c.ReadMessage()
		if err != nil {
			if sk.handleDrop(c, err) {
				continue
			}
			return
		}
		if s.cfg.Centrifugo != nil {
			sk.handleCentrifugo(c, data)
			continue
		}
		sk.handle(data)
	}
}

// handleDrop records why the socket ended and reconnects when configured;
// it reports whether reading should continue.
func (sk *socket) handleDrop(c *websocket.Conn, err error) bool {
	s := sk.s
	w := s.window()
	code := -1
	var ce *websocket.CloseError
	if errors.As(err, &ce) {
		code = ce.Code
	}
	if s.closing.Load() {
		return false
	}
	w.disconnects.Add(1)
	w.errMu.Lock()
	w.closes[strconv.Itoa(code)]++
	w.errMu.Unlock()
	sk.mu.Lock()
	sk.conn = nil
	sk.closeCode = code
	sk.mu.Unlock()
	_ = c.Close()
	if !s.cfg.Reconnect || sk.slow {
		return false
	}
	now := time.Now().UnixNano()
	w.firstDrop.CompareAndSwap(0, now)
	if !sk.awaitingResume.Swap(true) {
		s.pendingResumes.Add(1)
	}
	// Like a real client behind a load balancer: a replica that refuses
	// TCP connections (it is down) is skipped at once; a replica that
	// answers but turns the socket away (503, or a close during the
	// resume) is retried with jittered exponential backoff. The first wait
	// spreads the storm.
	for refused := 0; ; {
		wait := time.Duration(0)
		switch {
		case refused > 0 && refused < len(s.cfg.Gateways):
			// try the next replica now
		case sk.backoff == 0 && s.cfg.ReconnectJitter > 0:
			wait = rand.N(s.cfg.ReconnectJitter)
		case sk.backoff > 0:
			base := min(maxBackoff, 100*time.Millisecond<<min(sk.backoff, 8))
			wait = base/2 + rand.N(base)
		}
		time.Sleep(wait)
		if s.closing.Load() {
			return false
		}
		if refused == 0 || refused < len(s.cfg.Gateways) {
			sk.mu.Lock()
			sk.gw = (sk.gw + 1) % len(s.cfg.Gateways)
			sk.mu.Unlock()
		}
		err := sk.connect(context.Background(), sk.recv.Last(), true)
		if err == nil {
			break
		}
		kind := "other"
		var de *dialError
		if errors.As(err, &de) {
			kind = de.kind()
		}
		w.errMu.Lock()
		w.reconnectErrs[kind]++
		w.errMu.Unlock()
		if errors.Is(err, syscall.ECONNREFUSED) && refused < len(s.cfg.Gateways) {
			refused++
			continue
		}
		refused = 0
		sk.backoff++
	}
	// A socket that is accepted and then closed again during its resume
	// keeps backing off; only a completed resume resets it.
	sk.backoff++
	w.reconnects.Add(1)
	w.lastReconnect.Store(time.Now().UnixNano())
	return true
}

func (sk *socket) handle(data []byte) {
	s := sk.s
	now := time.Now()
	f, err := frame.Parse(data)
	if err != nil {
		sk.countError("unparseable")
		return
	}
	w := s.window()
	if !now.Before(w.start) && now.Before(w.end) && !sk.slow {
		w.framesIn.Add(1)
	}
	if f.ErrorType != "" {
		sk.countError(f.ErrorType)
		return
	}
	switch f.Type {
	case "chat.message":
		if f.Room != sk.room {
			sk.countError("foreign_room")
			return
		}
		if !sk.recv.Observe(f.Seq) {
			return
		}
		w.receipts.Add(1)
		if !now.Before(w.start) && now.Before(w.end) && !sk.slow {
			w.inWindow.Add(1)
		}
		// A slow member's latency is the point of its test, not a figure:
		// only the others' deliveries are measured.
		if at, _, err := frame.ParseText(f.Message); err == nil && !sk.slow {
			if !at.Before(w.start) && at.Before(w.end) {
				d := now.Sub(at)
				w.all.Record(sk.idx, d)
				w.delivered.Add(1)
				if !w.split.IsZero() {
					if at.Before(w.split) {
						w.before.Record(sk.idx, d)
					} else {
						w.after.Record(sk.idx, d)
					}
				}
			}
		}
		if n, ok := s.parseClientMsgID(f.ClientMsgID); ok && s.senderOf(n) == sk {
			s.ledger.Ack(sk.room, f.Seq)
			w.acked.Add(1)
			w.expected.Add(int64(s.cfg.Members))
		}
	case "chat.presence":
		sk.once.Do(func() { close(sk.ready) })
	case "chat.resume":
		if sk.awaitingResume.CompareAndSwap(true, false) {
			s.pendingResumes.Add(-1)
		}
		sk.backoff = 0
		if !f.Recovered {
			w.resumeFail.Add(1)
			sk.countError("resume_not_recovered")
		}
		w.lastResume.Store(now.UnixNano())
	case "chat.user.leave":
		if s.slowEm[f.Email] && !sk.slow {
			w.slowCut.CompareAndSwap(0, now.UnixNano())
		}
	}
}

func (sk *socket) countError(kind string) {
	w := sk.s.window()
	w.errMu.Lock()
	w.errs[kind]++
	w.errMu.Unlock()
}

func (s *Session) clientMsgID(n int64) string { return s.run + "-" + strconv.FormatInt(n, 10) }

func (s *Session) parseClientMsgID(id string) (int64, bool) {
	if len(id) <= len(s.run)+1 || id[:len(s.run)] != s.run || id[len(s.run)] != '-' {
		return 0, false
	}
	n, err := strconv.ParseInt(id[len(s.run)+1:], 10, 64)
	return n, err == nil
}

func (s *Session) senderOf(n int64) *socket { return s.senders[n%int64(len(s.senders))] }

func (sk *socket) writeLoop() {
	s := sk.s
	defer s.wg.Done()
	buf := make([]byte, 0, 160)
	for m := range sk.out {
		w := s.window()
		c := sk.current()
		if c == nil {
			w.failed.Add(1)
			continue
		}
		buf = buf[:0]
		if s.cfg.Centrifugo != nil {
			sk.cmdID++
			buf = append(buf, `{"id":`...)
			buf = strconv.AppendInt(buf, sk.cmdID, 10)
			buf = append(buf, `,"publish":{"channel":"`...)
			buf = append(buf, s.channel(sk.room)...)
			buf = append(buf, `","data":{"message":"`...)
		} else {
			buf = append(buf, `{"type":"chat.message","message":"`...)
		}
		buf = frame.AppendText(buf, m.intended, m.n, w.pad)
		if w.suffix != "" {
			buf = append(buf, ' ')
			buf = append(buf, w.suffix...)
		}
		buf = append(buf, `","client_msg_id":"`...)
		buf = append(buf, s.clientMsgID(m.n)...)
		buf = append(buf, `"}`...)
		if s.cfg.Centrifugo != nil {
			buf = append(buf, `}}`...)
		}
		sk.wmu.Lock()
		_ = c.SetWriteDeadline(time.Now().Add(5 * time.Second))
		err := c.WriteMessage(websocket.TextMessage, buf)
		sk.wmu.Unlock()
		if err != nil {
			w.failed.Add(1)
		}
	}
}

// Run sends at o.Rate for o.Warmup+o.Duration, drains, and checks every
// guarantee over everything the session has seen so far.
func (s *Session) Run(ctx context.Context, o RunOptions) Result {
	if o.Drain == 0 {
		o.Drain = 5 * time.Second
	}
	w := s.newWindow()
	w.pad = o.Pad
	w.suffix = o.Suffix
	begin := time.Now().Add(20 * time.Millisecond)
	w.start = begin.Add(o.Warmup)
	w.end = w.start.Add(o.Duration)
	if o.Split > 0 {
		w.split = w.start.Add(o.Split)
	}
	s.win.Store(w)

	var hooks sync.WaitGroup
	for _, h := range o.At {
		hooks.Add(1)
		t := time.AfterFunc(time.Until(w.start.Add(h.After)), func() { defer hooks.Done(); h.Do() })
		defer t.Stop()
	}
	if o.SlowAfter > 0 || len(s.cfg.SlowAccounts) > 0 {
		t := time.AfterFunc(time.Until(w.start.Add(o.SlowAfter)), func() {
			w.slowStop.Store(time.Now().UnixNano())
			for _, sk := range s.sockets {
				if sk.slow {
					sk.paused.Store(true)
				}
			}
		})
		defer t.Stop()
	}

	if o.Rate > 0 {
		base := s.nextN.Load()
		sched := openloop.Schedule{Start: begin, Rate: o.Rate}
		n := openloop.Run(ctx, sched, w.end, func(i int64, at time.Time) {
			m := outMsg{n: base + i, intended: at}
			w.sent.Add(1)
			select {
			case s.senderOf(m.n).out <- m:
			default:
				// The generator itself cannot keep up; the run is invalid.
				w.overflow.Add(1)
			}
		})
		s.nextN.Store(base + n)
	} else {
		select {
		case <-ctx.Done():
		case <-time.After(time.Until(w.end)):
		}
	}
	hooksDone := make(chan struct{})
	go func() { hooks.Wait(); close(hooksDone) }()

	// Drain: until every send is answered and every acked message reached
	// every member, or the drain time is over.
	// With reconnects, the outcome of sends in flight at a crash is
	// unknown, so the drain waits until every socket has resumed and then a
	// moment for the replays to arrive.
	deadline := time.Now().Add(o.Drain)
	var resumedAt time.Time
drain:
	for time.Now().Before(deadline) {
		answered := w.acked.Load()+w.failed.Load()+w.overflow.Load() >= w.sent.Load()
		delivered := w.receipts.Load() >= w.expected.Load()
		if s.cfg.Reconnect {
			switch {
			case s.pendingResumes.Load() > 0:
				resumedAt = time.Time{}
			case resumedAt.IsZero():
				resumedAt = time.Now()
			case time.Since(resumedAt) > 2*time.Second && delivered:
				break drain
			}
		} else if answered && delivered && len(s.cfg.SlowAccounts) == 0 {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	select {
	case <-hooksDone:
	case <-time.After(o.Drain):
	}
	s.resumeSlowReaders()
	return s.result(o, w)
}

func (s *Session) result(o RunOptions, w *window) Result {
	r := Result{
		Sockets: len(s.sockets), Rooms: len(s.rooms), Members: s.cfg.Members,
		Gateways: len(s.cfg.Gateways), TargetRate: o.Rate, DurationS: o.Duration.Seconds(),
		Sent: w.sent.Load(), Acked: w.acked.Load(), Failed: w.failed.Load(), Overflow: w.overflow.Load(),
		Delivered: w.delivered.Load(), ReceivedInWindow: w.inWindow.Load(), FramesInWindow: w.framesIn.Load(),
		Latency:     w.all.Snapshot().Summary(),
		Disconnects: w.disconnects.Load(), Reconnects: w.reconnects.Load(),
		ResumeFailures: w.resumeFail.Load(),
	}
	r.Unacked = r.Sent - r.Acked - r.Failed - r.Overflow
	if o.Duration > 0 {
		r.DeliveredPerS = float64(r.Delivered) / o.Duration.Seconds()
	}
	if !w.split.IsZero() {
		r.LatencyBefore = w.before.Snapshot().Summary()
		r.LatencyAfter = w.after.Snapshot().Summary()
	}
	if fd, lr := w.firstDrop.Load(), w.lastResume.Load(); fd != 0 && lr > fd {
		r.ResumedAllS = float64(lr-fd) / 1e9
	}
	if fd, lc := w.firstDrop.Load(), w.lastReconnect.Load(); fd != 0 && lc > fd {
		r.ReconnectedAllS = float64(lc-fd) / 1e9
		r.ReconnectPerS = float64(r.Reconnects) / r.ReconnectedAllS
	}
	r.NotResumed = s.pendingResumes.Load()
	w.errMu.Lock()
	if len(w.reconnectErrs) > 0 {
		r.ReconnectErrors = map[string]int{}
		for k, v := range w.reconnectErrs {
			r.ReconnectErrors[k] = v
		}
	}
	if len(w.errs) > 0 {
		r.ErrorFrames = map[string]int{}
		for k, v := range w.errs {
			r.ErrorFrames[k] = v
		}
	}
	if len(w.closes) > 0 {
		r.CloseCodes = map[string]int{}
		for k, v := range w.closes {
			r.CloseCodes[k] = v
		}
	}
	w.errMu.Unlock()

	var checked []*seqcheck.Receiver
	for _, sk := range s.sockets {
		if sk.slow {
			sk.mu.Lock()
			r.SlowCloseCodes = append(r.SlowCloseCodes, sk.closeCode)
			sk.mu.Unlock()
			continue
		}
		checked = append(checked, sk.recv)
	}
	r.Check = seqcheck.Check(s.ledger, checked)
	if len(s.cfg.SlowAccounts) > 0 {
		r.SlowCutoffS = -1
		if stop, cut := w.slowStop.Load(), w.slowCut.Load(); stop != 0 && cut > stop {
			r.SlowCutoffS = float64(cut-stop) / 1e9
		}
	}

	fail := func(format string, args ...any) { r.Failures = append(r.Failures, fmt.Sprintf(format, args...)) }
	if r.Check.Lost > 0 {
		fail("%d acknowledged messages lost", r.Check.Lost)
	}
	if r.Check.Duplicates > 0 {
		fail("%d duplicate deliveries", r.Check.Duplicates)
	}
	if r.Check.OutOfOrder > 0 {
		fail("%d out-of-order deliveries", r.Check.OutOfOrder)
	}
	if r.Overflow > 0 {
		fail("generator fell behind: %d sends dropped before the socket", r.Overflow)
	}
	if !s.cfg.Reconnect && (r.Unacked > 0 || r.Failed > 0) {
		fail("%d sends unacknowledged, %d failed writes", r.Unacked, r.Failed)
	}
	if r.ResumeFailures > 0 {
		fail("%d sockets resumed with recovered=false", r.ResumeFailures)
	}
	if r.NotResumed > 0 {
		fail("%d sockets still not resumed at the end of the run", r.NotResumed)
	}
	// Around a crash, sends may fail with an error frame (their outcome is
	// then known: not stored); that is reported, not a broken guarantee.
	if len(r.ErrorFrames) > 0 && !s.cfg.Reconnect {
		keys := make([]string, 0, len(r.ErrorFrames))
		for k := range r.ErrorFrames {
			keys = append(keys, k+"="+strconv.Itoa(r.ErrorFrames[k]))
		}
		sort.Strings(keys)
		fail("error frames: %s", strings.Join(keys, " "))
	}
	if r.Disconnects > 0 && !s.cfg.Reconnect && len(s.cfg.SlowAccounts) == 0 {
		fail("%d sockets dropped by the server", r.Disconnects)
	}
	return r
}

// resumeSlowReaders lets paused sockets read again, so that the frames
// queued for them and the server's close frame (4008) are seen, and waits
// briefly for them to end.
func (s *Session) resumeSlowReaders() {
	paused := false
	for _, sk := range s.sockets {
		if sk.paused.Swap(false) {
			paused = true
		}
	}
	if !paused {
		return
	}
	deadline := time.Now().Add(3 * time.Second)
	for time.Now().Before(deadline) {
		open := 0
		for _, sk := range s.sockets {
			if sk.slow && sk.current() != nil {
				open++
			}
		}
		if open == 0 {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Close closes every socket with a normal closure and waits for the
// session's goroutines.
func (s *Session) Close() {
	if !s.closing.CompareAndSwap(false, true) {
		return
	}
	for _, sk := range s.sockets {
		if c := sk.current(); c != nil {
			_ = c.WriteControl(websocket.CloseMessage,
				websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""), time.Now().Add(time.Second))
			_ = c.Close()
		}
		close(sk.out)
	}
	done := make(chan struct{})
	go func() { s.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
	}
}
