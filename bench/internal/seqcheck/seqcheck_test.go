package seqcheck

import "testing"

func TestCheck(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		acked    []int64 // room 1
		lastSeq  int64   // room's last seq when the receiver joined
		received []int64
		want     Result
	}{
		{
			name:     "all delivered in order",
			acked:    []int64{1, 2, 3},
			received: []int64{1, 2, 3},
			want:     Result{Acked: 3, Received: 3},
		},
		{
			name:     "one lost",
			acked:    []int64{1, 2, 3},
			received: []int64{1, 3},
			want:     Result{Acked: 3, Received: 2, Lost: 1},
		},
		{
			name:     "duplicate",
			acked:    []int64{1, 2},
			received: []int64{1, 2, 2},
			want:     Result{Acked: 2, Received: 2, Duplicates: 1},
		},
		{
			name:     "out of order",
			acked:    []int64{1, 2, 3},
			received: []int64{1, 3, 2},
			want:     Result{Acked: 3, Received: 3, OutOfOrder: 1},
		},
		{
			name:     "unacknowledged extra is not loss",
			acked:    []int64{1},
			received: []int64{1, 2},
			want:     Result{Acked: 1, Received: 2},
		},
		{
			name:     "messages before joining are not owed",
			acked:    []int64{1, 2, 3, 70, 130},
			lastSeq:  2,
			received: []int64{3, 70},
			want:     Result{Acked: 5, Received: 2, Lost: 1},
		},
		{
			name:     "seqs across many words",
			acked:    []int64{1, 64, 65, 127, 128, 1000},
			received: []int64{1, 64, 65, 127, 128},
			want:     Result{Acked: 6, Received: 5, Lost: 1},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			l := NewLedger()
			for _, s := range tt.acked {
				l.Ack(1, s)
			}
			r := NewReceiver(1, tt.lastSeq)
			for _, s := range tt.received {
				r.Observe(s)
			}
			got := Check(l, []*Receiver{r})
			if got != tt.want {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
			if got.OK() != (tt.want.Lost == 0 && tt.want.Duplicates == 0 && tt.want.OutOfOrder == 0) {
				t.Errorf("OK() = %v for %+v", got.OK(), got)
			}
		})
	}
}

func TestCheckSeparatesRooms(t *testing.T) {
	t.Parallel()
	l := NewLedger()
	l.Ack(1, 1)
	l.Ack(2, 1)
	l.Ack(2, 2)
	a, b := NewReceiver(1, 0), NewReceiver(2, 0)
	a.Observe(1)
	b.Observe(1)
	got := Check(l, []*Receiver{a, b})
	want := Result{Acked: 3, Received: 2, Lost: 1}
	if got != want {
		t.Errorf("got %+v, want %+v", got, want)
	}
}

func TestReceiverLastIsResumePoint(t *testing.T) {
	t.Parallel()
	r := NewReceiver(7, 10)
	if got := r.Last(); got != 10 {
		t.Fatalf("Last before any message: got %d, want 10", got)
	}
	for _, s := range []int64{11, 12, 14} {
		r.Observe(s)
	}
	if got := r.Last(); got != 14 {
		t.Errorf("Last: got %d, want 14", got)
	}
	if ok := r.Observe(12); ok {
		t.Errorf("Observe(12) again: got ok, want duplicate")
	}
}
