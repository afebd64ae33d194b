package gctune

import (
	"context"
	"testing"
	"time"
)

func TestIdleTuner(t *testing.T) {
	const live = 100 << 20
	var tu idleTuner
	var alloc uint64
	step := func(allocated uint64, live uint64) int {
		alloc += allocated
		return tu.sample(alloc, live)
	}
	// A small heap is never worth tuning, however quiet.
	for i := range 3 * idleAfter {
		if p := step(0, idleHeapMin-1); p != -1 {
			t.Fatalf("small heap, quiet second %d: got GOGC %d, want unchanged", i, p)
		}
	}
	// A large heap: idle after idleAfter quiet seconds, where a trickle
	// (pings, heartbeats) is still quiet.
	for i := 1; i < idleAfter; i++ {
		if p := step(live/idleAllocShare/2, live); p != -1 {
			t.Fatalf("quiet second %d: got GOGC %d, want unchanged", i, p)
		}
	}
	if p := step(0, live); p != idleGCPercent {
		t.Fatalf("after %d quiet seconds: got GOGC %d, want %d", idleAfter, p, idleGCPercent)
	}
	if p := step(0, live); p != -1 {
		t.Fatalf("still idle: got GOGC %d, want unchanged", p)
	}
	// The first busy second restores the default; idle needs another
	// idleAfter quiet seconds.
	if p := step(live/idleAllocShare+1, live); p != busyGCPercent {
		t.Fatalf("busy second: got GOGC %d, want %d", p, busyGCPercent)
	}
	for i := 1; i < idleAfter; i++ {
		if p := step(0, live); p != -1 {
			t.Fatalf("quiet second %d after work: got GOGC %d, want unchanged", i, p)
		}
	}
	if p := step(0, live); p != idleGCPercent {
		t.Fatalf("idle again: got GOGC %d, want %d", p, idleGCPercent)
	}
}

// An explicit GOGC wins: LowerWhenIdle returns at once instead of
// running until its context ends.
func TestLowerWhenIdleLeavesExplicitGOGC(t *testing.T) {
	done := make(chan struct{})
	go func() {
		LowerWhenIdle(context.Background(), func(k string) string { return map[string]string{"GOGC": "50"}[k] })
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("LowerWhenIdle kept running with GOGC set")
	}
}
