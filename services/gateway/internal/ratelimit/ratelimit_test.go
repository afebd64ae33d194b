package ratelimit

import (
	"testing"
	"time"
)

func TestKeyedBurstRateAndKeys(t *testing.T) {
	k := NewKeyed(MessagesPerSecond, MessageBurst)
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range MessageBurst {
		if ok, _ := k.Allow(1, now); !ok {
			t.Fatalf("send %d of the burst: got refused, want allowed", i+1)
		}
	}
	ok, wait := k.Allow(1, now)
	if ok || wait <= 0 || wait > 100*time.Millisecond {
		t.Fatalf("past the burst: got ok=%v wait=%v, want refused with a wait of at most 100ms", ok, wait)
	}
	if ok, _ := k.Allow(2, now); !ok {
		t.Fatal("another key: got refused, want its own bucket")
	}
	// 10/s: one more token every 100 ms.
	if ok, _ := k.Allow(1, now.Add(100*time.Millisecond)); !ok {
		t.Fatal("after 100ms: got refused, want one token back")
	}
	if ok, _ := k.Allow(1, now.Add(100*time.Millisecond)); ok {
		t.Fatal("second send after 100ms: got allowed, want refused")
	}
}

func TestKeyedForgetsIdleKeys(t *testing.T) {
	k := NewKeyed(MessagesPerSecond, MessageBurst)
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for key := int64(1); key <= 1000; key++ {
		k.Allow(key, now)
	}
	if got := k.Len(); got != 1000 {
		t.Fatalf("got %d keys, want 1000", got)
	}
	// Key 1 stays busy; the others are idle past the 2 s refill time.
	later := now.Add(2500 * time.Millisecond)
	k.Allow(1, now.Add(time.Second))
	k.Allow(1, later)
	if got := k.Len(); got != 1 {
		t.Fatalf("after 2.5 s: got %d keys, want 1 (the busy one)", got)
	}
}

func TestRetrySeconds(t *testing.T) {
	for _, tc := range []struct {
		wait time.Duration
		want int
	}{{0, 1}, {100 * time.Millisecond, 1}, {time.Second, 1}, {1500 * time.Millisecond, 2}} {
		if got := RetrySeconds(tc.wait); got != tc.want {
			t.Errorf("RetrySeconds(%v): got %d, want %d", tc.wait, got, tc.want)
		}
	}
}
