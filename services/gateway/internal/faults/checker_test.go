package faults_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/cobraspace/cobraspace/platform/testenv"
)

// Outcome is what a sender learned about one send attempt.
type Outcome int

// Send outcomes.
const (
	Acked   Outcome = iota + 1 // echoed with its seq (committed)
	Failed                     // a clean error (error frame, HTTP error status)
	Unknown                    // connection lost or timed out before an answer
)

func (o Outcome) String() string {
	return [...]string{"?", "acked", "failed", "unknown"}[o]
}

// received is one chat message as a member saw it.
type received struct {
	seq  int64
	id   string // client_msg_id
	text string
}

type sendRecord struct {
	id, text string
	attempts []Outcome
	seq      int64 // when acked
}

// History is the checker of RELIABILITY.md: it records every send
// attempt (by client_msg_id) and everything every member received, per
// connection, and Check verifies the room's history and every member
// against them.
type History struct {
	mu      sync.Mutex
	sends   map[string]*sendRecord
	members map[string][][]received // member → connections → messages
}

// NewHistory returns an empty checker.
func NewHistory() *History {
	return &History{sends: map[string]*sendRecord{}, members: map[string][][]received{}}
}

// Attempt records the outcome of one send attempt of message id.
func (h *History) Attempt(id, text string, o Outcome, seq int64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	r := h.sends[id]
	if r == nil {
		r = &sendRecord{id: id, text: text}
		h.sends[id] = r
	}
	r.attempts = append(r.attempts, o)
	if o == Acked {
		r.seq = seq
	}
}

// Connected starts a new connection of member.
func (h *History) Connected(member string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.members[member] = append(h.members[member], nil)
}

// Received records a message member got on its current connection.
func (h *History) Received(member string, r received) {
	h.mu.Lock()
	defer h.mu.Unlock()
	conns := h.members[member]
	conns[len(conns)-1] = append(conns[len(conns)-1], r)
}

// Counts returns how many message ids ended in each final outcome (acked
// if any attempt was) and how many attempts had each outcome.
func (h *History) Counts() (final, attempts map[Outcome]int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	final, attempts = map[Outcome]int{}, map[Outcome]int{}
	for _, r := range h.sends {
		final[r.final()]++
		for _, o := range r.attempts {
			attempts[o]++
		}
	}
	return final, attempts
}

func (r *sendRecord) final() Outcome {
	final := Failed
	for _, o := range r.attempts {
		if o == Acked {
			return Acked
		}
		if o == Unknown {
			final = Unknown
		}
	}
	return final
}

// recovered returns how many message ids had an attempt with outcome o
// and were acknowledged in the end (by a retry with the same
// client_msg_id): proof that the fault hit sends in flight and that the
// retry path, not luck, kept them.
func (h *History) recovered(o Outcome) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	n := 0
	for _, r := range h.sends {
		if r.final() == Acked && slices.Contains(r.attempts, o) {
			n++
		}
	}
	return n
}

// maxSeen is the highest seq member has received.
func (h *History) maxSeen(member string) int64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	var top int64
	for _, c := range h.members[member] {
		for _, r := range c {
			top = max(top, r.seq)
		}
	}
	return top
}

// maxAcked is the highest acknowledged seq.
func (h *History) maxAcked() int64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	var top int64
	for _, r := range h.sends {
		if r.final() == Acked {
			top = max(top, r.seq)
		}
	}
	return top
}

// roomHistory reads the room's messages over REST, newest first in pages
// of 200 with ?before= (see RELIABILITY.md: ?after=0 returns the newest
// page, not the oldest), and returns them in seq order.
func roomHistory(base, token string, room int64) ([]received, error) {
	var pages [][]received
	before := ""
	for {
		url := roomURL(base, room) + "messages/?limit=200" + before
		code, body, err := do(call{method: "GET", url: url, token: token})
		if err != nil {
			return nil, err
		}
		if code != http.StatusOK {
			return nil, fmt.Errorf("GET %s: %d %s", url, code, body)
		}
		var page []struct {
			Seq         int64  `json:"seq"`
			Message     string `json:"message"`
			ClientMsgID string `json:"client_msg_id"`
		}
		if err := json.Unmarshal(body, &page); err != nil {
			return nil, err
		}
		var got []received
		for _, m := range page {
			got = append(got, received{seq: m.Seq, id: m.ClientMsgID, text: m.Message})
		}
		pages = append(pages, got)
		if len(page) < 200 {
			break
		}
		before = "&before=" + strconv.FormatInt(page[0].Seq, 10)
	}
	var all []received
	for i := len(pages) - 1; i >= 0; i-- {
		all = append(all, pages[i]...)
	}
	return all, nil
}

// Check verifies, after the senders have finished:
//   - the room's history (REST) is in strictly increasing seq order and
//     holds nothing that was never sent;
//   - every acknowledged message is in it exactly once, with the acked
//     seq; an unacknowledged (failed or unknown) one at most once;
//   - every member, within the given time, received every message of the
//     history exactly once and in seq order over all its connections (it
//     joined before the first send and resumes with after_seq), with the
//     same client_msg_id and text as the history.
func (h *History) Check(t testing.TB, base, token string, room int64, within time.Duration) {
	t.Helper()
	hist, err := roomHistory(base, token, room)
	if err != nil {
		t.Fatalf("checker: history: %v", err)
	}
	bySeq := map[int64]received{}
	ids := map[string]int{}
	var top int64
	for i, m := range hist {
		if i > 0 && m.seq <= hist[i-1].seq {
			t.Errorf("checker: history seq %d after %d", m.seq, hist[i-1].seq)
		}
		bySeq[m.seq] = m
		ids[m.id]++
		top = max(top, m.seq)
	}

	h.mu.Lock()
	for _, m := range hist {
		r := h.sends[m.id]
		if r == nil {
			t.Errorf("checker: history seq %d (client_msg_id %q) was never sent", m.seq, m.id)
		} else if r.text != m.text {
			t.Errorf("checker: seq %d: got text %q, want %q", m.seq, m.text, r.text)
		}
	}
	for id, r := range h.sends {
		switch r.final() {
		case Acked:
			if ids[id] != 1 {
				t.Errorf("checker: acked %s (seq %d) is in history %d times, want once", id, r.seq, ids[id])
			} else if bySeq[r.seq].id != id {
				t.Errorf("checker: acked %s: acked seq %d holds %q", id, r.seq, bySeq[r.seq].id)
			}
		default:
			if ids[id] > 1 {
				t.Errorf("checker: %s send (%v) is in history %d times, want at most once", r.final(), r.attempts, ids[id])
			}
		}
	}
	names := make([]string, 0, len(h.members))
	for name := range h.members {
		names = append(names, name)
	}
	h.mu.Unlock()
	sort.Strings(names)

	// Members converge on the history's last seq (live or by resume).
	deadline := time.Now().Add(within)
	for _, name := range names {
		for h.maxSeen(name) < top && time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond)
		}
	}

	h.mu.Lock()
	defer h.mu.Unlock()
	for _, name := range names {
		conns := h.members[name]
		got := map[int64]int{}
		var prev int64
		for ci, c := range conns {
			for _, r := range c {
				if r.seq <= prev {
					t.Errorf("checker: %s connection %d: seq %d after %d (duplicate or out of order)", name, ci+1, r.seq, prev)
				}
				prev = max(prev, r.seq)
				got[r.seq]++
				if want, ok := bySeq[r.seq]; !ok {
					t.Errorf("checker: %s received seq %d that is not in history", name, r.seq)
				} else if want.id != r.id || want.text != r.text {
					t.Errorf("checker: %s seq %d: got %q/%q, want %q/%q", name, r.seq, r.id, r.text, want.id, want.text)
				}
			}
		}
		var missing []int64
		for _, m := range hist {
			if got[m.seq] == 0 {
				missing = append(missing, m.seq)
			}
		}
		if len(missing) > 0 {
			t.Errorf("checker: %s (%d connections) is missing %d of %d messages: %v", name, len(conns), len(missing), len(hist), head(missing))
		}
	}
	t.Logf("checker: %d messages in history, %d senders' ids, %d members checked", len(hist), len(h.sends), len(names))
}

func head(s []int64) []int64 {
	if len(s) > 20 {
		return s[:20]
	}
	return s
}

// serverFrame is any frame the gateway sends.
type serverFrame struct {
	Type        string `json:"type"`
	Seq         int64  `json:"seq"`
	Message     string `json:"message"`
	ClientMsgID string `json:"client_msg_id"`
	Email       string `json:"email"`
	Recovered   *bool  `json:"recovered"`
	ErrorType   string `json:"error_type"`
	Messages    []struct {
		Seq         int64  `json:"seq"`
		Message     string `json:"message"`
		ClientMsgID string `json:"client_msg_id"`
	} `json:"messages"`
}

// closeEvent is how one connection of a participant ended.
type closeEvent struct {
	gateway int
	code    int // websocket close code; 0: no close frame
	at      time.Time
}

// pconn is one connection of a participant.
type pconn struct {
	ws      *websocket.Conn
	gateway int
	done    chan struct{}
	errs    chan string // error frames: "<error_type>: <message>"
	wmu     sync.Mutex
}

func (c *pconn) writeJSON(v any) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	_ = c.ws.SetWriteDeadline(time.Now().Add(5 * time.Second))
	return c.ws.WriteJSON(v)
}

// participant is one chat member that both sends and receives on one
// socket at a time. When the socket ends it reconnects through the
// balancer with ?after_seq=<last seq received>, as clients must; every
// frame and send outcome goes to the History.
type participant struct {
	name   string
	acct   account
	room   int64
	bal    *balancer
	prefer int // replica to try first (-1: round robin)
	h      *History

	mu       sync.Mutex
	conn     *pconn
	changed  chan struct{} // closed and replaced when conn changes
	last     int64
	seenIDs  map[string]int64
	acks     map[string]chan int64
	closes   []closeEvent
	errors   []string
	connects int
	failedAs map[string]int // error frame ("<error_type>: <message>") → attempts it failed
}

func newParticipant(name string, acct account, room int64, bal *balancer, prefer int, h *History) *participant {
	return &participant{name: name, acct: acct, room: room, bal: bal, prefer: prefer, h: h,
		changed: make(chan struct{}), seenIDs: map[string]int64{}, acks: map[string]chan int64{}, failedAs: map[string]int{}}
}

// start runs the participant's connect loop until ctx ends and waits
// (up to 20 s) for its first connection.
func (p *participant) start(t testing.TB, ctx context.Context) {
	t.Helper()
	go p.loop(ctx)
	if p.waitConn(ctx, 20*time.Second) == nil {
		t.Fatalf("%s: no connection within 20 s", p.name)
	}
}

func (p *participant) loop(ctx context.Context) {
	for ctx.Err() == nil {
		i, base, ok := p.bal.pick(p.prefer)
		if !ok {
			time.Sleep(100 * time.Millisecond)
			continue
		}
		p.mu.Lock()
		after := p.last
		p.mu.Unlock()
		url := "ws" + strings.TrimPrefix(base, "http") + "/ws/chat/" + strconv.FormatInt(p.room, 10) + "/chat/?after_seq=" + strconv.FormatInt(after, 10)
		h := http.Header{"Authorization": {"Bearer " + p.acct.Token}}
		dctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		ws, _, err := websocket.DefaultDialer.DialContext(dctx, url, h)
		cancel()
		if err != nil {
			time.Sleep(100 * time.Millisecond)
			continue
		}
		pc := &pconn{ws: ws, gateway: i, done: make(chan struct{}), errs: make(chan string, 64)}
		p.h.Connected(p.name)
		stop := context.AfterFunc(ctx, func() { ws.Close() })
		p.setConn(pc)
		code := p.read(pc)
		stop()
		ws.Close()
		p.mu.Lock()
		p.closes = append(p.closes, closeEvent{gateway: i, code: code, at: time.Now()})
		p.mu.Unlock()
		close(pc.done)
		p.setConn(nil)
		time.Sleep(50 * time.Millisecond)
	}
}

func (p *participant) setConn(c *pconn) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.conn = c
	if c != nil {
		p.connects++
	}
	close(p.changed)
	p.changed = make(chan struct{})
}

// waitConn returns the current connection, waiting up to d for one.
func (p *participant) waitConn(ctx context.Context, d time.Duration) *pconn {
	timeout := time.After(d)
	for {
		p.mu.Lock()
		c, ch := p.conn, p.changed
		p.mu.Unlock()
		if c != nil {
			return c
		}
		select {
		case <-ch:
		case <-timeout:
			return nil
		case <-ctx.Done():
			return nil
		}
	}
}

// read consumes frames until the connection ends and returns its close
// code (0 without a close frame).
func (p *participant) read(c *pconn) int {
	for {
		_, data, err := c.ws.ReadMessage()
		if err != nil {
			var ce *websocket.CloseError
			if errors.As(err, &ce) {
				return ce.Code
			}
			return 0
		}
		var f serverFrame
		if err := json.Unmarshal(data, &f); err != nil {
			p.fail("undecodable frame %q", data)
			continue
		}
		switch {
		case f.ErrorType != "":
			select {
			case c.errs <- f.ErrorType + ": " + f.Message:
			default:
			}
		case f.Type == "chat.message":
			p.receive(received{seq: f.Seq, id: f.ClientMsgID, text: f.Message})
		case f.Type == "chat.history":
			for _, m := range f.Messages {
				p.receive(received{seq: m.Seq, id: m.ClientMsgID, text: m.Message})
			}
		case f.Type == "chat.resume" && f.Recovered != nil && !*f.Recovered:
			p.fail("resume not recovered (more than 1,000 missed)")
		}
	}
}

func (p *participant) receive(r received) {
	p.h.Received(p.name, r)
	p.mu.Lock()
	defer p.mu.Unlock()
	p.last = max(p.last, r.seq)
	if r.id != "" {
		p.seenIDs[r.id] = r.seq
		if ch := p.acks[r.id]; ch != nil {
			select {
			case ch <- r.seq:
			default:
			}
		}
	}
}

func (p *participant) fail(format string, args ...any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.errors = append(p.errors, p.name+": "+fmt.Sprintf(format, args...))
}

// send sends one chat.message over the socket and waits for its ack,
// retrying with the same client_msg_id (after a reconnect if need be)
// until acked or attempts run out; every attempt is recorded.
func (p *participant) send(ctx context.Context, text string) Outcome {
	id := "m-" + testenv.ID()
	var last Outcome
	for attempt := 0; attempt < 10 && ctx.Err() == nil; attempt++ {
		if attempt > 0 {
			time.Sleep(200 * time.Millisecond)
		}
		c := p.waitConn(ctx, 10*time.Second)
		if c == nil {
			p.h.Attempt(id, text, Unknown, 0)
			last = Unknown
			continue
		}
		ch := make(chan int64, 1)
		p.mu.Lock()
		if seq, ok := p.seenIDs[id]; ok {
			// An earlier attempt was committed: it came back (e.g. in the
			// resume after a reconnect).
			p.mu.Unlock()
			p.h.Attempt(id, text, Acked, seq)
			return Acked
		}
		p.acks[id] = ch
		p.mu.Unlock()
		for len(c.errs) > 0 {
			<-c.errs
		}
		o, seq := Unknown, int64(0)
		if err := c.writeJSON(map[string]any{"type": "chat.message", "message": text, "client_msg_id": id}); err == nil {
			select {
			case seq = <-ch:
				o = Acked
			case e := <-c.errs:
				o = Failed
				p.mu.Lock()
				p.failedAs[e]++
				p.mu.Unlock()
			case <-c.done:
			case <-time.After(8 * time.Second):
			case <-ctx.Done():
			}
		}
		p.mu.Lock()
		delete(p.acks, id)
		p.mu.Unlock()
		p.h.Attempt(id, text, o, seq)
		last = o
		if o == Acked {
			return Acked
		}
	}
	return last
}

// restSend sends one message over REST (POST /api/chat/message/) through
// the balancer, retrying with the same client_msg_id like send. A 429 (the
// per-user send limit) is not a problem: like a client, it waits
// Retry-After (1 s) and tries again.
func restSend(ctx context.Context, bal *balancer, a account, room int64, text string, h *History) (Outcome, []string) {
	id := "r-" + testenv.ID()
	var problems []string
	var last Outcome
	for attempt := 0; attempt < 10 && ctx.Err() == nil; {
		_, base, ok := bal.pick(-1)
		if !ok {
			attempt++
			time.Sleep(200 * time.Millisecond)
			continue
		}
		code, body, err := do(call{method: "POST", url: base + "/api/chat/message/", token: a.Token,
			body: map[string]any{"room": room, "message": text, "client_msg_id": id}})
		var m struct {
			Seq int64 `json:"seq"`
		}
		switch {
		case err != nil:
			last = Unknown
			problems = append(problems, fmt.Sprintf("POST message/ on %s: %v", base, err))
		case code == http.StatusCreated && json.Unmarshal(body, &m) == nil:
			h.Attempt(id, text, Acked, m.Seq)
			return Acked, problems
		case code == http.StatusTooManyRequests:
			// Refused before anything was stored: not an attempt at all
			// (recording it as Failed would count a send the test's
			// workers abandon when they stop as a lost one).
			select {
			case <-ctx.Done():
			case <-time.After(time.Second):
			}
			continue
		default:
			last = Failed
			problems = append(problems, fmt.Sprintf("POST message/ on %s: %d %s", base, code, body))
		}
		h.Attempt(id, text, last, 0)
		attempt++
		time.Sleep(200 * time.Millisecond)
	}
	return last, problems
}

// sendLoop has p send n messages, one per interval.
func (p *participant) sendLoop(ctx context.Context, n int, interval time.Duration) {
	p.sendWhile(ctx, func(sent int) bool { return sent < n }, interval)
}

// sendWhile has p send messages, one per interval, as long as more(the
// number sent so far) holds.
func (p *participant) sendWhile(ctx context.Context, more func(sent int) bool, interval time.Duration) {
	for i := 0; more(i) && ctx.Err() == nil; i++ {
		p.send(ctx, fmt.Sprintf("%s #%d <b>&", p.name, i))
		time.Sleep(interval)
	}
}

// report fails the test on the participant's own findings.
func (p *participant) report(t testing.TB) {
	t.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, e := range p.errors {
		t.Error(e)
	}
}

// closesOn returns the close events of connections to replica gw.
func (p *participant) closesOn(gw int) []closeEvent {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []closeEvent
	for _, c := range p.closes {
		if c.gateway == gw {
			out = append(out, c)
		}
	}
	return out
}

// inFlight reports whether p waits for the ack of a socket send.
func (p *participant) inFlight() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.acks) > 0
}

// failedWith returns the error frames ("<error_type>: <message>") that
// failed socket send attempts, with counts.
func (p *participant) failedWith() map[string]int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return maps.Clone(p.failedAs)
}

// gateway returns the replica of the current connection (-1: none).
func (p *participant) gateway() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.conn == nil {
		return -1
	}
	return p.conn.gateway
}
