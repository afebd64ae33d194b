// Package failopen holds the one mechanism behind every Redis-backed check
// that fails open (the session denylist, the per-user send limit): after a
// failure the dependency is skipped for a while, so an outage costs one
// timeout per Backoff instead of one per call on a hot path.
package failopen

import (
	"sync/atomic"
	"time"
)

// Skip tracks whether a dependency is being skipped after a failure. The
// zero value never skips until Failed is called.
type Skip struct {
	// Backoff is how long the dependency is skipped after a failure.
	Backoff time.Duration

	until atomic.Int64 // unix nanos
}

// Skipping reports whether the dependency is still being skipped at now.
func (s *Skip) Skipping(now time.Time) bool { return now.UnixNano() < s.until.Load() }

// Failed starts skipping the dependency for Backoff from now.
func (s *Skip) Failed(now time.Time) { s.until.Store(now.Add(s.Backoff).UnixNano()) }
