// Package openloop schedules sends at a fixed rate regardless of how fast
// the system under test answers. Each send has an intended time fixed by
// the schedule; latency is measured from it, so a stall of the system (or
// of the generator) shows up as latency instead of silently lowering the
// rate — the "coordinated omission" that closed-loop generators suffer.
package openloop

import (
	"context"
	"time"
)

// Schedule is an infinite sequence of send times: send n (from 0) is due at
// Start + n/Rate seconds.
type Schedule struct {
	Start time.Time
	Rate  float64 // sends per second, > 0
}

// At returns the intended time of send n.
func (s Schedule) At(n int64) time.Time {
	return s.Start.Add(time.Duration(float64(n) * float64(time.Second) / s.Rate))
}

// DueBy returns how many sends are due at or before t.
func (s Schedule) DueBy(t time.Time) int64 {
	if t.Before(s.Start) {
		return 0
	}
	return int64(t.Sub(s.Start).Seconds()*s.Rate) + 1
}

// Run calls send for every send of s in order, from 0 until end (exclusive)
// or ctx is done, and returns how many it issued. When it falls behind (the
// process was descheduled, or send took long) it issues every overdue send
// at once with its original intended time, so the schedule — and the
// latency measured against it — never drifts. send must not block on the
// system under test (queue the work instead).
func Run(ctx context.Context, s Schedule, end time.Time, send func(n int64, intended time.Time)) int64 {
	var next int64
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		now := time.Now()
		due := s.DueBy(now)
		for ; next < due && s.At(next).Before(end); next++ {
			send(next, s.At(next))
		}
		at := s.At(next)
		if !at.Before(end) {
			return next
		}
		timer.Reset(time.Until(at))
		select {
		case <-ctx.Done():
			return next
		case <-timer.C:
		}
	}
}
