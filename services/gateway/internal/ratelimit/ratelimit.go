// Package ratelimit holds the chat send rate shared by sockets and REST,
// and a per-key limiter that forgets keys once they are idle.
package ratelimit

import (
	"math"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// MessagesPerSecond and MessageBurst bound chat sends: per socket, and per
// user on each gateway replica for REST sends (docs/api.md: at least 10 per
// second, bursts of 20).
const (
	MessagesPerSecond = 10
	MessageBurst      = 20
)

// Keyed is a token bucket per key (a user id). A bucket left alone until it
// is full again behaves exactly like a new one, so such buckets are
// dropped: the map holds only keys active in the last few seconds.
type Keyed struct {
	limit rate.Limit
	burst int
	idle  time.Duration // time to refill an empty bucket: after it, forgetting is lossless

	mu        sync.Mutex
	buckets   map[int64]*bucket
	lastPrune time.Time
}

type bucket struct {
	lim  *rate.Limiter
	seen time.Time
}

// NewKeyed returns a limiter allowing perSecond events per key, in bursts
// of burst.
func NewKeyed(perSecond float64, burst int) *Keyed {
	return &Keyed{
		limit:   rate.Limit(perSecond),
		burst:   burst,
		idle:    time.Duration(float64(burst) / perSecond * float64(time.Second)),
		buckets: make(map[int64]*bucket),
	}
}

// Allow takes one token of key's bucket at now. When none is left it
// returns false and how long until one is (the bucket is left untouched).
func (k *Keyed) Allow(key int64, now time.Time) (ok bool, retryAfter time.Duration) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.pruneLocked(now)
	b := k.buckets[key]
	if b == nil {
		b = &bucket{lim: rate.NewLimiter(k.limit, k.burst)}
		k.buckets[key] = b
	}
	b.seen = now
	if b.lim.AllowN(now, 1) {
		return true, 0
	}
	r := b.lim.ReserveN(now, 1)
	wait := r.DelayFrom(now)
	r.CancelAt(now)
	return false, wait
}

// Len is the number of keys currently remembered.
func (k *Keyed) Len() int {
	k.mu.Lock()
	defer k.mu.Unlock()
	return len(k.buckets)
}

// pruneLocked drops idle buckets, scanning at most once per idle period so
// a busy replica does not scan the map on every call.
func (k *Keyed) pruneLocked(now time.Time) {
	if now.Sub(k.lastPrune) < k.idle {
		return
	}
	k.lastPrune = now
	for key, b := range k.buckets {
		if now.Sub(b.seen) >= k.idle {
			delete(k.buckets, key)
		}
	}
}

// RetrySeconds rounds a wait up to whole seconds, at least 1, for a
// Retry-After header.
func RetrySeconds(wait time.Duration) int {
	return max(1, int(math.Ceil(wait.Seconds())))
}
