package gctune

import (
	"context"
	"runtime/debug"
	"runtime/metrics"
	"time"
)

// The gateway's live heap is mostly idle sockets, and its RSS is about the
// heap goal, live × (1 + GOGC/100): at Go's default of 100 the collector's
// headroom costs as much memory per idle socket as the socket itself
// (BENCHMARKS.md M3). A lower GOGC all the time would make every burst of
// work, above all a reconnect storm's handshakes, collect more often
// (GOGC 50 measured: GC from 16 % to 30 % of the gateway's CPU in M4). So
// LowerWhenIdle lowers GOGC only while the process is idle with a large
// heap, and goes back to the default as soon as work comes.
const (
	busyGCPercent = 100
	idleGCPercent = 25
	// idleHeapMin: below this live heap the headroom is not worth a
	// collection. An idle socket keeps ~3-4 KB of live heap (BENCHMARKS.md,
	// S3), so this is about a thousand sockets; one collection of such a
	// heap costs a few milliseconds once per idle period.
	idleHeapMin = 4 << 20
	// A second in which more than live/idleAllocShare bytes were
	// allocated is busy; idleAfter busy-free seconds in a row are idle.
	idleAllocShare = 8
	idleAfter      = 10
)

// LowerWhenIdle samples the heap once a second until ctx ends, setting
// GOGC to 25 while the process is idle with a live heap of 4 MiB or more
// and back to 100 when it is busy. It returns at once when GOGC is set.
// Run it in its own goroutine.
func LowerWhenIdle(ctx context.Context, getenv func(string) string) {
	if getenv("GOGC") != "" {
		return
	}
	samples := []metrics.Sample{{Name: "/gc/heap/allocs:bytes"}, {Name: "/gc/heap/live:bytes"}}
	var t idleTuner
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		metrics.Read(samples)
		switch p := t.sample(samples[0].Value.Uint64(), samples[1].Value.Uint64()); p {
		case idleGCPercent:
			debug.SetGCPercent(p)
			// A lower GOGC alone collects nothing until the heap grows
			// to the new goal, and an idle heap hardly grows: collect
			// now and return the freed memory, once per idle period.
			debug.FreeOSMemory()
		case busyGCPercent:
			debug.SetGCPercent(p)
		}
		select {
		case <-ctx.Done():
			if t.idle {
				debug.SetGCPercent(busyGCPercent)
			}
			return
		case <-tick.C:
		}
	}
}

// idleTuner decides GOGC from one sample per second. Not safe for
// concurrent use.
type idleTuner struct {
	lastAlloc uint64
	quiet     int  // busy-free samples in a row
	idle      bool // GOGC is idleGCPercent
}

// sample takes the cumulative allocated bytes and the live heap, and
// returns the GOGC to set, or -1 to leave it.
func (t *idleTuner) sample(allocated, live uint64) int {
	delta := allocated - t.lastAlloc
	t.lastAlloc = allocated
	if live < idleHeapMin || delta > live/idleAllocShare {
		t.quiet = 0
		if t.idle {
			t.idle = false
			return busyGCPercent
		}
		return -1
	}
	if t.quiet++; t.quiet >= idleAfter && !t.idle {
		t.idle = true
		return idleGCPercent
	}
	return -1
}
