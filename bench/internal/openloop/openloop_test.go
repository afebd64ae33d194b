package openloop

import (
	"context"
	"testing"
	"time"
)

func TestScheduleAtAndDueBy(t *testing.T) {
	t.Parallel()
	start := time.Unix(1000, 0)
	s := Schedule{Start: start, Rate: 1000}
	tests := []struct {
		name string
		t    time.Time
		want int64
	}{
		{"before start", start.Add(-time.Millisecond), 0},
		{"at start", start, 1},
		{"just before the second", start.Add(999 * time.Microsecond), 1},
		{"at the second", start.Add(time.Millisecond), 2},
		{"after one second", start.Add(time.Second), 1001},
	}
	for _, tt := range tests {
		if got := s.DueBy(tt.t); got != tt.want {
			t.Errorf("%s: DueBy got %d, want %d", tt.name, got, tt.want)
		}
	}
	if got, want := s.At(250), start.Add(250*time.Millisecond); !got.Equal(want) {
		t.Errorf("At(250): got %v, want %v", got, want)
	}
}

func TestRunIssuesEverySendAtItsIntendedTime(t *testing.T) {
	t.Parallel()
	start := time.Now().Add(10 * time.Millisecond)
	s := Schedule{Start: start, Rate: 2000}
	end := start.Add(200 * time.Millisecond)
	var got []time.Time
	var late time.Duration
	n := Run(context.Background(), s, end, func(_ int64, intended time.Time) {
		got = append(got, intended)
		if d := time.Since(intended); d > late {
			late = d
		}
	})
	if n != 400 || len(got) != 400 {
		t.Fatalf("sends: got %d (%d calls), want 400", n, len(got))
	}
	for i, at := range got {
		if want := s.At(int64(i)); !at.Equal(want) {
			t.Fatalf("send %d intended at %v, want %v", i, at, want)
		}
	}
	if late < 0 {
		t.Errorf("a send was issued before its intended time")
	}
}

func TestRunDoesNotWaitForSlowSends(t *testing.T) {
	t.Parallel()
	// Open loop: a send that stalls for 100 ms must not lower the number of
	// sends; the overdue ones are issued at once with their original times.
	start := time.Now()
	s := Schedule{Start: start, Rate: 1000}
	end := start.Add(300 * time.Millisecond)
	var calls int64
	var maxLag time.Duration
	Run(context.Background(), s, end, func(n int64, intended time.Time) {
		calls++
		if n == 10 {
			time.Sleep(100 * time.Millisecond)
		}
		if lag := time.Since(intended); lag > maxLag {
			maxLag = lag
		}
	})
	if calls != 300 {
		t.Errorf("calls: got %d, want 300", calls)
	}
	if maxLag < 90*time.Millisecond {
		t.Errorf("max lag behind the schedule: got %v, want ≥ 90ms (the stall must be visible)", maxLag)
	}
}

func TestRunStopsOnCancel(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	s := Schedule{Start: time.Now(), Rate: 100}
	n := Run(ctx, s, time.Now().Add(time.Hour), func(int64, time.Time) {})
	// About 5; a loaded machine may wake late, but never runs the hour out.
	if n < 3 || n > 200 {
		t.Errorf("sends in 50 ms at 100/s: got %d, want about 5", n)
	}
}
