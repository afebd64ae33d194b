package chatsocket

import "github.com/prometheus/client_golang/prometheus/testutil"

// RoomsForTest returns how many rooms (so NATS subscriptions) h holds.
func RoomsForTest(h *Hub) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.rooms)
}

// WriterLinger is how long an idle socket's writer goroutine outlives its
// last frame.
const WriterLinger = writerLinger

// AckReleasesForTest is how many messages h's room streams took from acks
// before NATS delivered them.
func AckReleasesForTest(h *Hub) float64 { return testutil.ToFloat64(h.metrics.ackReleases) }
