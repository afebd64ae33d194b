package chatsocket

// RoomsForTest returns how many rooms (so NATS subscriptions) h holds.
func RoomsForTest(h *Hub) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.rooms)
}

// WriterLinger is how long an idle socket's writer goroutine outlives its
// last frame.
const WriterLinger = writerLinger
