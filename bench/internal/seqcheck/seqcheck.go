// Package seqcheck checks the delivery guarantees of chat rooms from the
// client side: every acknowledged message reaches every member exactly once
// and in seq order. Senders record acknowledgements in a Ledger; every
// receiving socket observes seqs through its own Receiver; Check compares
// them after the run has drained.
package seqcheck

import (
	"math/bits"
	"sync"
)

// bitset is a growable set of non-negative integers.
type bitset struct{ words []uint64 }

func (b *bitset) set(i int64) {
	w := int(i >> 6)
	if w >= len(b.words) {
		n := make([]uint64, w+1, 2*(w+1))
		copy(n, b.words)
		b.words = n
	}
	b.words[w] |= 1 << (i & 63)
}

func (b *bitset) has(i int64) bool {
	w := int(i >> 6)
	return i >= 0 && w < len(b.words) && b.words[w]&(1<<(i&63)) != 0
}

func (b *bitset) count() int64 {
	var n int
	for _, w := range b.words {
		n += bits.OnesCount64(w)
	}
	return int64(n)
}

// missing counts members of want that are not in have, considering only
// values ≥ from.
func missing(want, have *bitset, from int64) int64 {
	var n int64
	for wi, w := range want.words {
		if w == 0 {
			continue
		}
		base := int64(wi) << 6
		if base+63 < from {
			continue
		}
		if base < from {
			w &^= (1 << (from - base)) - 1 // drop values below from (1 ≤ from-base ≤ 63)
		}
		var h uint64
		if wi < len(have.words) {
			h = have.words[wi]
		}
		n += int64(bits.OnesCount64(w &^ h))
	}
	return n
}

// Ledger records which seqs of which rooms were acknowledged to senders. It
// is safe for concurrent use.
type Ledger struct {
	mu    sync.Mutex
	rooms map[int64]*bitset
}

// NewLedger returns an empty Ledger.
func NewLedger() *Ledger { return &Ledger{rooms: map[int64]*bitset{}} }

// Ack records that seq of room was acknowledged.
func (l *Ledger) Ack(room, seq int64) {
	l.mu.Lock()
	b := l.rooms[room]
	if b == nil {
		b = &bitset{}
		l.rooms[room] = b
	}
	b.set(seq)
	l.mu.Unlock()
}

// Acked is the number of distinct acknowledged messages in every room.
func (l *Ledger) Acked() int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	var n int64
	for _, b := range l.rooms {
		n += b.count()
	}
	return n
}

// Receiver is what one socket saw of its room. Observe is called from that
// socket's reader only; it is not safe for concurrent use.
type Receiver struct {
	Room int64
	// From is the first seq this member must receive (one more than the
	// room's last seq when the member joined).
	From int64

	mu         sync.Mutex // Observe runs in the socket's reader while Check may run
	seen       bitset
	last       int64
	received   int64
	dups       int64
	outOfOrder int64
}

// NewReceiver returns a Receiver for a member of room that joined when the
// room's last seq was lastSeq.
func NewReceiver(room, lastSeq int64) *Receiver {
	return &Receiver{Room: room, From: lastSeq + 1, last: lastSeq}
}

// Observe records one received message and reports whether it was new and
// in order.
func (r *Receiver) Observe(seq int64) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.seen.has(seq) {
		r.dups++
		return false
	}
	r.seen.set(seq)
	r.received++
	if seq < r.last {
		r.outOfOrder++
		return false
	}
	r.last = seq
	return true
}

// Last is the highest seq received so far: the after_seq for a resume.
func (r *Receiver) Last() int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.last
}

// Received is the number of distinct messages received.
func (r *Receiver) Received() int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.received
}

// Result sums the violations over every receiver.
type Result struct {
	Acked      int64 `json:"acked"`
	Received   int64 `json:"received"`
	Lost       int64 `json:"lost"`
	Duplicates int64 `json:"duplicates"`
	OutOfOrder int64 `json:"out_of_order"`
}

// OK reports whether no guarantee was broken.
func (r Result) OK() bool { return r.Lost == 0 && r.Duplicates == 0 && r.OutOfOrder == 0 }

// Check compares every receiver with the ledger: an acknowledged seq of a
// receiver's room that the receiver never saw is lost.
func Check(l *Ledger, receivers []*Receiver) Result {
	l.mu.Lock()
	defer l.mu.Unlock()
	var res Result
	for _, b := range l.rooms {
		res.Acked += b.count()
	}
	for _, r := range receivers {
		r.mu.Lock()
		res.Received += r.received
		res.Duplicates += r.dups
		res.OutOfOrder += r.outOfOrder
		if want := l.rooms[r.Room]; want != nil {
			res.Lost += missing(want, &r.seen, r.From)
		}
		r.mu.Unlock()
	}
	return res
}
