package latency

import (
	"math"
	"sync"
	"testing"
	"time"
)

func TestSummaryPercentiles(t *testing.T) {
	t.Parallel()
	h := New()
	// 1..1000 ms, one value each: p50 ≈ 500 ms, p99 ≈ 990 ms, max 1000 ms.
	for i := 1; i <= 1000; i++ {
		h.Record(time.Duration(i) * time.Millisecond)
	}
	s := h.Summary()
	tests := []struct {
		name      string
		got, want float64
	}{
		{"p50", s.P50Ms, 500},
		{"p90", s.P90Ms, 900},
		{"p99", s.P99Ms, 990},
		{"p99.9", s.P999Ms, 999},
		{"max", s.MaxMs, 1000},
		{"mean", s.MeanMs, 500.5},
	}
	for _, tt := range tests {
		// three significant digits: within 0.1 %.
		if math.Abs(tt.got-tt.want) > tt.want*0.001+0.001 {
			t.Errorf("%s: got %.3f ms, want %.3f ms", tt.name, tt.got, tt.want)
		}
	}
	if s.Count != 1000 {
		t.Errorf("count: got %d, want 1000", s.Count)
	}
}

func TestRecordClampsOutOfRange(t *testing.T) {
	t.Parallel()
	h := New()
	h.Record(-time.Second) // clock skew: counted as the smallest value
	h.Record(time.Hour)    // beyond range: counted as the largest
	h.Record(time.Nanosecond)
	if got := h.Count(); got != 3 {
		t.Fatalf("count: got %d, want 3 (no value may be dropped)", got)
	}
	if got := h.Summary().MaxMs; got < 299_000 {
		t.Errorf("max: got %.0f ms, want ≈ 300000 (clamped to 5 min)", got)
	}
}

func TestEmptySummaryIsZero(t *testing.T) {
	t.Parallel()
	if got := New().Summary(); got != (Summary{}) {
		t.Errorf("got %+v, want zero summary", got)
	}
}

func TestShardedMergesEveryShard(t *testing.T) {
	t.Parallel()
	s := NewSharded(8)
	var wg sync.WaitGroup
	for w := range 32 {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for range 1000 {
				s.Record(w, time.Duration(w+1)*time.Millisecond)
			}
		}(w)
	}
	wg.Wait()
	snap := s.Snapshot()
	if got := snap.Count(); got != 32000 {
		t.Fatalf("count: got %d, want 32000", got)
	}
	if got := snap.Summary().MaxMs; math.Abs(got-32) > 0.05 {
		t.Errorf("max: got %.3f ms, want 32", got)
	}
	if got := snap.Summary().P50Ms; math.Abs(got-16) > 0.05 {
		t.Errorf("p50: got %.3f ms, want 16", got)
	}
}
