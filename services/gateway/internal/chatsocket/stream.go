package chatsocket

import (
	"cmp"
	"context"
	"slices"
	"time"

	"github.com/gorilla/websocket"

	chatv1 "github.com/cobraspace/cobraspace/proto/cobraspace/chat/v1"
)

// The room stream: a replica puts each room's messages in seq order once,
// for all of its sockets and unread watchers of the room, instead of once
// per socket. Messages reach it from the room's NATS subscription and from
// the acks of the replica's own senders (the chat service publishes before
// it acknowledges, so an ack is usually a copy the stream already has and
// drops; when NATS is slow or lost the message, the ack delivers it). A
// seq beyond the next one is held; if the missing ones do not arrive within
// GapWait, the stream reads them from history, once per room, as the
// gateway service: the read is for every local socket, so its messages
// come unhidden and each socket hides the senders its user blocks
// (blocks.go).
//
// Where the stream starts: the room's last seq, read right after the
// subscription became active and before any socket of the room reads its
// history (sockets wait for the room to be ready). Everything after it
// arrives on the subscription; everything up to it is in every socket's
// own history, which that socket reads after joining the stream. So a
// socket that buffered the stream while it loaded history drops what its
// history covered and misses nothing (client.finishSync).

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

// position starts the room's stream at its last seq, read as the gateway
// service once the subscription is active; messages that arrived before
// are released if newer. An unknown room starts at 0 (its sockets' Join
// fails anyway).
func (r *room) position() error {
	ctx, cancel := context.WithTimeout(context.Background(), r.hub.cfg.RPCTimeout)
	defer cancel()
	room, err := r.hub.chat.GetRoom(ctx, &chatv1.GetRoomRequest{Id: r.id})
	if err != nil && !isNotFound(err) {
		return err
	}
	r.smu.Lock()
	defer r.smu.Unlock()
	r.order.last = room.GetLastSeq()
	r.positioned = true
	early := r.early
	r.early = nil
	var out []Event
	for _, ev := range early {
		out = r.order.add(ev, out)
	}
	r.releaseLocked(out)
	return nil
}

// offer puts message events (one commit's, in seq order, or an ack) into
// the room's order and fans out what they release.
func (r *room) offer(msgs []Event) {
	r.smu.Lock()
	defer r.smu.Unlock()
	if r.stopped {
		return
	}
	if !r.positioned {
		r.early = append(r.early, msgs...)
		return
	}
	var out []Event
	for _, m := range msgs {
		out = r.order.add(m, out)
	}
	r.releaseLocked(out)
}

// offerAck offers a message this replica's sender got acknowledged. Its
// NATS copy has usually been released by then (the chat service publishes
// before it answers), so the frame is only encoded when the stream still
// needs it. (A socket sends only once its opening sync ended, so its room
// is positioned by then.)
func (r *room) offerAck(m *chatv1.Message) {
	r.smu.Lock()
	defer r.smu.Unlock()
	if r.stopped || r.order.has(m.GetSeq()) {
		return
	}
	r.releaseLocked(r.order.add(messageEvent(m), nil))
}

// releaseLocked fans released messages out to the room's sockets and
// watchers, then arms (or stops) the gap repair. r.smu held, so messages
// reach every socket in the order they were released.
func (r *room) releaseLocked(out []Event) {
	if len(out) > 0 {
		for _, c := range *r.members.Load() {
			c.deliverMessages(out)
		}
		r.watch(Event{Messages: out})
	}
	switch {
	case len(r.order.held) > r.hub.cfg.SendQueue:
		r.overflowLocked()
	case len(r.order.held) == 0 && r.gapTimer != nil:
		r.gapTimer.Stop()
		r.gapTimer = nil
	case len(r.order.held) > 0 && r.gapTimer == nil:
		r.gapTimer = time.AfterFunc(r.hub.cfg.GapWait, r.repair)
	}
}

// overflowLocked gives up on a gap that history could not fill while more
// than SendQueue later messages piled up (the chat service unreachable for
// long): the room's sockets close with 1013 and resume from history when
// they reconnect, and the stream goes on after the held messages.
func (r *room) overflowLocked() {
	r.hub.log.Warn("chat room stream gave up on a gap", "room", r.id, "after", r.order.last, "held", len(r.order.held))
	for _, c := range *r.members.Load() {
		c.close(websocket.CloseTryAgainLater, "try again later")
	}
	r.order.last = r.order.held[len(r.order.held)-1].Seq
	r.order.held = nil
	if r.gapTimer != nil {
		r.gapTimer.Stop()
		r.gapTimer = nil
	}
}

// repair reads the messages missing before the first held one and
// releases them; a failed read is tried again a second later.
func (r *room) repair() {
	r.smu.Lock()
	r.gapTimer = nil
	after, upto, ok := r.order.gap()
	r.smu.Unlock()
	if !ok {
		return
	}
	evs, err := r.read(after, upto)
	r.smu.Lock()
	defer r.smu.Unlock()
	if r.stopped {
		return
	}
	if err != nil {
		r.hub.log.Warn("chat gap repair failed", "room", r.id, "err", err)
		if r.gapTimer == nil && len(r.order.held) > 0 {
			r.gapTimer = time.AfterFunc(time.Second, r.repair)
		}
		return
	}
	r.releaseLocked(r.order.fill(evs, upto, nil))
}

// stop ends the stream of a room without local sockets or watchers.
func (r *room) stop() {
	r.smu.Lock()
	defer r.smu.Unlock()
	r.stopped = true
	if r.gapTimer != nil {
		r.gapTimer.Stop()
		r.gapTimer = nil
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
