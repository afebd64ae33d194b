package chatsocket

import (
	"cmp"
	"context"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/gorilla/websocket"

	chatv1 "github.com/cobraspace/cobraspace/proto/cobraspace/chat/v1"
)

// Live streams: a replica puts each room's messages in seq order once,
// for all of its sockets and unread watchers of the room, instead of once
// per socket; a user's notifications get the same treatment once per user
// stream (userstream.go). Messages reach a room's stream from its NATS
// subscription and from the acks of the replica's own senders. The chat
// service publishes before it acknowledges, so with one NATS server an ack
// is usually a copy the stream already has and drops; when NATS is slower
// (a route between cluster nodes) or lost the message, the ack delivers it
// to the replica's other sockets of the room too. A seq beyond the next
// one is held; if the missing ones do not arrive within GapWait, the
// stream reads them from history, once per room, as the gateway service:
// the read is for every local socket, so its messages come unhidden and
// each socket hides the senders its user blocks (blocks.go).
//
// Where a stream starts: the room's last seq (the user's newest
// notification), read right after the subscription became active and
// before any socket of the stream reads its own history (sockets wait for
// the stream to be ready). Everything after it arrives on the
// subscription; everything up to it is in every socket's own history,
// read after the socket joined the stream. So a socket that buffered the
// stream while it loaded history drops what its history covered and
// misses nothing (client.finishSync); it also drops an older seq the
// stream releases later, when it fills a gap the socket's history had
// already covered.

// seqOrder releases numbered events in order, once each.
type seqOrder struct {
	last int64   // highest seq released, or skipped as deleted
	held []Event // seqs above last+1, sorted, without duplicates
}

// add takes ev and appends what it releases to out: nothing for a seq
// already released or held, ev and the held seqs that follow it when it is
// the next one; any other ev is held until the gap before it is filled.
func (o *seqOrder) add(ev Event, out []Event) []Event {
	switch {
	case ev.Seq <= o.last:
		return out
	case ev.Seq == o.last+1:
		o.last = ev.Seq
		return o.releaseHeld(append(out, ev))
	}
	if i, found := o.find(ev.Seq); !found {
		o.held = slices.Insert(o.held, i, ev)
	}
	return out
}

// has reports whether seq was released or is held.
func (o *seqOrder) has(seq int64) bool {
	_, held := o.find(seq)
	return seq <= o.last || held
}

// find is where seq is, or belongs, in held.
func (o *seqOrder) find(seq int64) (int, bool) {
	return slices.BinarySearchFunc(o.held, seq, func(e Event, seq int64) int { return cmp.Compare(e.Seq, seq) })
}

// gap is the range after < seq ≤ upto missing before the first held seq.
func (o *seqOrder) gap() (after, upto int64, ok bool) {
	if len(o.held) == 0 {
		return 0, 0, false
	}
	return o.last, o.held[0].Seq - 1, true
}

// fill releases the events history returned for a gap (sorted by seq),
// counts every seq up to upto as released (history leaves deleted
// messages out), then releases the held seqs that follow.
func (o *seqOrder) fill(evs []Event, upto int64, out []Event) []Event {
	for _, ev := range evs {
		if ev.Seq > o.last && ev.Seq <= upto {
			o.last = ev.Seq
			out = append(out, ev)
		}
	}
	o.last = max(o.last, upto)
	return o.releaseHeld(out)
}

func (o *seqOrder) releaseHeld(out []Event) []Event {
	n := 0
	for n < len(o.held) && o.held[n].Seq <= o.last+1 {
		if o.held[n].Seq == o.last+1 {
			o.last++
			out = append(out, o.held[n])
		}
		n++
	}
	if n > 0 {
		o.held = append(o.held[:0], o.held[n:]...)
	}
	return out
}

// seqStream is one ordered stream of numbered events on a replica,
// followed by any number of sockets: it releases each seq once and in
// order, and fills a gap that lasts GapWait with one read.
type seqStream struct {
	gapWait time.Duration
	maxHeld int
	// release fans released events out, under mu (so every socket gets
	// them in order).
	release func([]Event)
	// read returns the events with after < seq ≤ upto that history has.
	read func(after, upto int64) ([]Event, error)
	// overflow gives up on a gap with more than maxHeld events behind it
	// (history unreachable for long), under mu: the stream's sockets close
	// with 1013 and resume from history when they reconnect; the stream
	// goes on after the held events.
	overflow func()
	log      *slog.Logger

	mu         sync.Mutex
	order      seqOrder
	positioned bool        // order starts at the position (start)
	early      []Event     // events that arrived before start
	gapTimer   *time.Timer // repair of the gap before order's first held seq
	stopped    bool        // nobody follows the stream any more
}

// start sets the stream's position, the last seq every socket's own
// opening read covers, and releases the events that came before if newer.
func (s *seqStream) start(last int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.order.last = last
	s.positioned = true
	var out []Event
	for _, ev := range s.early {
		out = s.order.add(ev, out)
	}
	s.early = nil
	s.releaseLocked(out)
}

// offer puts events (one commit's, in seq order) into the order and fans
// out what they release.
func (s *seqStream) offer(evs []Event) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.stopped:
	case !s.positioned:
		s.early = append(s.early, evs...)
	default:
		var out []Event
		for _, ev := range evs {
			out = s.order.add(ev, out)
		}
		s.releaseLocked(out)
	}
}

// offerNew offers the event of seq made by ev, unless the stream already
// has that seq: ev is only called (its frame encoded) when needed, and
// offerNew reports whether it was. For events that come after start (a
// socket's ack).
func (s *seqStream) offerNew(seq int64, ev func() Event) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopped || !s.positioned || s.order.has(seq) {
		return false
	}
	s.releaseLocked(s.order.add(ev(), nil))
	return true
}

// releaseLocked fans released events out, then arms or stops the gap
// repair, or gives up on a gap with too much behind it. s.mu held.
func (s *seqStream) releaseLocked(out []Event) {
	if len(out) > 0 {
		s.release(out)
	}
	switch held := len(s.order.held); {
	case held > s.maxHeld:
		s.log.Warn("live stream gave up on a gap", "after", s.order.last, "held", held)
		s.overflow()
		s.order.last = s.order.held[held-1].Seq
		s.order.held = nil
		s.stopTimerLocked()
	case held == 0:
		s.stopTimerLocked()
	case s.gapTimer == nil:
		s.gapTimer = time.AfterFunc(s.gapWait, s.repair)
	}
}

func (s *seqStream) stopTimerLocked() {
	if s.gapTimer != nil {
		s.gapTimer.Stop()
		s.gapTimer = nil
	}
}

// repair reads the events missing before the first held one and releases
// them; a failed read is tried again a second later.
func (s *seqStream) repair() {
	s.mu.Lock()
	s.gapTimer = nil
	after, upto, ok := s.order.gap()
	s.mu.Unlock()
	if !ok {
		return
	}
	evs, err := s.read(after, upto)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopped {
		return
	}
	if err != nil {
		s.log.Warn("live stream gap repair failed", "err", err)
		if s.gapTimer == nil && len(s.order.held) > 0 {
			s.gapTimer = time.AfterFunc(time.Second, s.repair)
		}
		return
	}
	s.releaseLocked(s.order.fill(evs, upto, nil))
}

// stop ends the stream once nobody follows it.
func (s *seqStream) stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stopped = true
	s.stopTimerLocked()
}

// follow subscribes a stream's events (subscribe) and then starts it
// (start, which reads where it starts); a failed start undoes the
// subscription.
func follow(subscribe func() (unsubscribe func(), err error), start func() error) (func(), error) {
	unsubscribe, err := subscribe()
	if err != nil {
		return nil, err
	}
	if err := start(); err != nil {
		unsubscribe()
		return nil, err
	}
	return unsubscribe, nil
}

// newSeqStream is a stream of hub h that releases events to the sockets
// sockets returns (and to also, when not nil), fills gaps with read, and
// logs with logArgs.
func newSeqStream(h *Hub, sockets func() []*client, also func([]Event),
	read func(after, upto int64) ([]Event, error), logArgs ...any) *seqStream {
	return &seqStream{
		gapWait: h.cfg.GapWait,
		maxHeld: h.cfg.SendQueue,
		release: func(out []Event) {
			fanOut(sockets(), func(c *client) { c.deliverMessages(out) })
			if also != nil {
				also(out)
			}
		},
		read: read,
		overflow: func() {
			for _, c := range sockets() {
				c.close(websocket.CloseTryAgainLater, "try again later")
			}
		},
		log: h.log.With(logArgs...),
	}
}

// newRoomStream is the message stream of r: its sockets, then its unread
// watchers.
func newRoomStream(r *room) *seqStream {
	return newSeqStream(r.hub, func() []*client { return *r.members.Load() },
		func(out []Event) { r.watch(Event{Messages: out}) }, r.read, "room", r.id)
}

// position starts the room's stream at its last seq, read as the gateway
// service once the subscription is active. An unknown room starts at 0
// (its sockets' Join fails anyway).
func (r *room) position() error {
	ctx, cancel := context.WithTimeout(context.Background(), r.hub.cfg.RPCTimeout)
	defer cancel()
	room, err := r.hub.chat.GetRoom(ctx, &chatv1.GetRoomRequest{Id: r.id})
	if err != nil && !isNotFound(err) {
		return err
	}
	r.stream.start(room.GetLastSeq())
	return nil
}

// offerAck offers a message this replica's sender got acknowledged. With
// one NATS server its copy has usually been released by then (the chat
// service publishes before it answers), so the frame is only encoded when
// the stream still needs it; those it needs are counted (ackReleases: NATS
// late or lost).
func (r *room) offerAck(m *chatv1.Message) {
	if r.stream.offerNew(m.GetSeq(), func() Event { return messageEvent(m) }) {
		r.hub.metrics.ackReleases.Inc()
	}
}

// read returns the messages with after < seq ≤ upto, in order (deleted
// ones are absent), read as the gateway service in pages of 1,000.
func (r *room) read(after, upto int64) ([]Event, error) {
	r.hub.metrics.gapRepairs.Inc()
	var out []Event
	for after < upto {
		limit := int32(min(upto-after, 1000)) //nolint:gosec // G115: at most 1000
		ctx, cancel := context.WithTimeout(context.Background(), r.hub.cfg.RPCTimeout)
		// OldestFirst: a room repaired from 0 starts at seq 1.
		resp, err := r.hub.chat.ListMessages(ctx, &chatv1.ListMessagesRequest{
			RoomId: r.id, AfterSeq: after, OldestFirst: true, Limit: limit,
		})
		cancel()
		if err != nil {
			return nil, err
		}
		msgs := resp.GetMessages()
		for _, m := range msgs {
			if m.GetSeq() > upto {
				break
			}
			out = append(out, messageEvent(m))
		}
		if len(msgs) < int(limit) || msgs[len(msgs)-1].GetSeq() >= upto {
			break
		}
		after = msgs[len(msgs)-1].GetSeq()
	}
	return out, nil
}
