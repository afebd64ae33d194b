package chatsocket

import "github.com/prometheus/client_golang/prometheus/testutil"

// RoomsForTest returns how many rooms (so NATS subscriptions) h holds.
func RoomsForTest(h *Hub) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.rooms)
}

// AckReleasesForTest is how many messages h's room streams took from acks
// before NATS delivered them.
func AckReleasesForTest(h *Hub) float64 { return testutil.ToFloat64(h.metrics.ackReleases) }

// HandoffsForTest is how many direct writes on h were left half done for a
// writer goroutine.
func HandoffsForTest(h *Hub) float64 { return testutil.ToFloat64(h.metrics.handoffs) }
