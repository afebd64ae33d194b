// Package latency records send→receive latencies in HdrHistograms and
// summarises them. Recording is sharded so that thousands of receiving
// sockets can record concurrently without one lock becoming the bottleneck,
// while memory stays a fixed number of histograms.
package latency

import (
	"sync"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// Values are recorded in microseconds from 1 µs to 5 minutes with three
// significant digits: enough resolution for p99.9 of sub-millisecond
// loopback latencies and range for multi-second stalls.
const (
	lowest   = 1
	highest  = int64(5 * time.Minute / time.Microsecond)
	sigFigs  = 3
	nsPerMic = int64(time.Microsecond)
)

// Histogram is one HdrHistogram of durations. It is not safe for concurrent
// use; Sharded is.
type Histogram struct {
	h *hdrhistogram.Histogram
}

// New returns an empty Histogram.
func New() *Histogram {
	return &Histogram{h: hdrhistogram.New(lowest, highest, sigFigs)}
}

// Record adds one duration. Values outside the trackable range are clamped so
// that a stall is never silently dropped.
func (h *Histogram) Record(d time.Duration) {
	v := int64(d) / nsPerMic
	if v < lowest {
		v = lowest
	}
	if v > highest {
		v = highest
	}
	_ = h.h.RecordValue(v) // cannot fail: v is clamped into range
}

// Merge adds every value of o into h.
func (h *Histogram) Merge(o *Histogram) { h.h.Merge(o.h) }

// Count is the number of recorded values.
func (h *Histogram) Count() int64 { return h.h.TotalCount() }

// Summary is the latency distribution in milliseconds, as reported.
type Summary struct {
	Count  int64   `json:"count"`
	MeanMs float64 `json:"mean_ms"`
	P50Ms  float64 `json:"p50_ms"`
	P90Ms  float64 `json:"p90_ms"`
	P99Ms  float64 `json:"p99_ms"`
	P999Ms float64 `json:"p999_ms"`
	MaxMs  float64 `json:"max_ms"`
}

// Summary returns the distribution of h; all zero when h is empty.
func (h *Histogram) Summary() Summary {
	if h.h.TotalCount() == 0 {
		return Summary{}
	}
	ms := func(us int64) float64 { return float64(us) / 1000 }
	return Summary{
		Count:  h.h.TotalCount(),
		MeanMs: h.h.Mean() / 1000,
		P50Ms:  ms(h.h.ValueAtPercentile(50)),
		P90Ms:  ms(h.h.ValueAtPercentile(90)),
		P99Ms:  ms(h.h.ValueAtPercentile(99)),
		P999Ms: ms(h.h.ValueAtPercentile(99.9)),
		MaxMs:  ms(h.h.Max()),
	}
}

// Sharded is a set of histograms behind their own locks. Each recorder
// (e.g. a socket's reader goroutine) uses the shard of its own index, so
// contention is rare, and Snapshot merges them.
type Sharded struct {
	shards []shard
}

type shard struct {
	mu sync.Mutex
	h  *Histogram
	_  [40]byte // keep shards on separate cache lines
}

// NewSharded returns n shards (at least one).
func NewSharded(n int) *Sharded {
	if n < 1 {
		n = 1
	}
	s := &Sharded{shards: make([]shard, n)}
	for i := range s.shards {
		s.shards[i].h = New()
	}
	return s
}

// Record adds d to the shard of recorder index i.
func (s *Sharded) Record(i int, d time.Duration) {
	sh := &s.shards[uint(i)%uint(len(s.shards))]
	sh.mu.Lock()
	sh.h.Record(d)
	sh.mu.Unlock()
}

// Snapshot returns a new histogram holding every value recorded so far.
func (s *Sharded) Snapshot() *Histogram {
	out := New()
	for i := range s.shards {
		sh := &s.shards[i]
		sh.mu.Lock()
		out.Merge(sh.h)
		sh.mu.Unlock()
	}
	return out
}
