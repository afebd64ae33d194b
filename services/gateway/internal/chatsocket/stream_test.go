package chatsocket

import (
	"errors"
	"log/slog"
	"slices"
	"testing"
	"time"
)

func seqsOf(evs []Event) []int64 {
	out := make([]int64, 0, len(evs))
	for _, ev := range evs {
		out = append(out, ev.Seq)
	}
	return out
}

// TestSeqOrder: the room stream's ordering releases each seq once, in
// order; holds what comes early; and after a repair counts the seqs
// history did not return (deleted messages) as released.
func TestSeqOrder(t *testing.T) {
	o := seqOrder{last: 3}
	var out []Event
	for _, seq := range []int64{2, 4, 4, 7, 6, 9, 7} {
		out = o.add(Event{Seq: seq}, out)
	}
	if got := seqsOf(out); !slices.Equal(got, []int64{4}) {
		t.Fatalf("released %v, want [4]", got)
	}
	if got := seqsOf(o.held); !slices.Equal(got, []int64{6, 7, 9}) {
		t.Fatalf("held %v, want [6 7 9]", got)
	}
	for seq, want := range map[int64]bool{3: true, 4: true, 5: false, 7: true, 8: false, 9: true, 10: false} {
		if o.has(seq) != want {
			t.Errorf("has(%d) = %v, want %v", seq, !want, want)
		}
	}
	after, upto, ok := o.gap()
	if !ok || after != 4 || upto != 5 {
		t.Fatalf("gap (%d, %d] %v, want (4, 5]", after, upto, ok)
	}
	// History has 5.
	if got := seqsOf(o.fill([]Event{{Seq: 5}}, upto, nil)); !slices.Equal(got, []int64{5, 6, 7}) {
		t.Fatalf("fill released %v, want [5 6 7]", got)
	}
	// 8 was deleted: history returns nothing, and 9 follows.
	after, upto, _ = o.gap()
	if after != 7 || upto != 8 {
		t.Fatalf("gap (%d, %d], want (7, 8]", after, upto)
	}
	if got := seqsOf(o.fill(nil, upto, nil)); !slices.Equal(got, []int64{9}) {
		t.Fatalf("fill over a deleted seq released %v, want [9]", got)
	}
	if _, _, ok := o.gap(); ok || o.last != 9 {
		t.Fatalf("after the repairs: last %d, gap %v; want 9 and none", o.last, ok)
	}
	// A late copy of a repaired seq is dropped.
	if got := o.add(Event{Seq: 8}, nil); len(got) != 0 {
		t.Fatalf("a late copy released %v", seqsOf(got))
	}
}

// TestSeqStreamOverflow: a gap history cannot fill while more than
// maxHeld events pile up behind it is given up: overflow is called (the
// stream's sockets close and resume from history), and the stream goes on
// after the held events.
func TestSeqStreamOverflow(t *testing.T) {
	var released []int64
	overflows := 0
	s := &seqStream{
		gapWait:  time.Hour, // no repair within the test
		maxHeld:  2,
		release:  func(out []Event) { released = append(released, seqsOf(out)...) },
		read:     func(int64, int64) ([]Event, error) { return nil, errors.New("history unreachable") },
		overflow: func() { overflows++ },
		log:      slog.New(slog.DiscardHandler),
	}
	defer s.stop()
	s.offer([]Event{{Seq: 2}}) // before start: kept, then released by it
	s.start(1)
	s.offer([]Event{{Seq: 4}, {Seq: 5}})
	if overflows != 0 || !slices.Equal(released, []int64{2}) {
		t.Fatalf("after 2 held: %d overflows, released %v", overflows, released)
	}
	s.offer([]Event{{Seq: 6}})
	if overflows != 1 {
		t.Fatalf("%d overflows with 3 held, want 1", overflows)
	}
	s.offer([]Event{{Seq: 3}, {Seq: 7}})
	if !slices.Equal(released, []int64{2, 7}) {
		t.Fatalf("released %v, want [2 7]: the stream goes on after the held events", released)
	}
}
