package chatsocket

import (
	"errors"
	"time"
)

// Pings come from one goroutine per replica rather than a timer per
// socket. An idle socket's only work is its ping every PingInterval and
// the pong that answers it (BENCHMARKS.md S3): with a timer each, every
// ping was a timer firing on its own goroutine, a scheduler wake-up and a
// writer started and ended for a two-byte frame. The wheel below visits
// 1/pingSlots of the sockets per tick and writes each ping straight from
// the pinger's goroutine when the kernel takes it without waiting, so a
// tick's pings (and the pongs that come back) are one burst of work.
//
// A socket's first ping comes a little under PingInterval after it
// opened; the wheel's slot spreads sockets by when they opened, as the
// timers did.

// pingSlots is how many ticks one PingInterval has.
const pingSlots = 32

// pingWheel holds the replica's sockets by the slot of their next ping.
// Guarded by hub.mu.
type pingWheel struct {
	slots   [pingSlots]map[*client]struct{}
	cur     int  // the slot the next tick pings
	n       int  // sockets in the wheel
	running bool // a pingLoop goroutine runs
}

// addLocked puts c in the slot pinged last, one PingInterval (less a
// tick) from now, and reports whether a pingLoop must be started.
func (w *pingWheel) addLocked(c *client) (start bool) {
	s := (w.cur + pingSlots - 1) % pingSlots
	if w.slots[s] == nil {
		w.slots[s] = make(map[*client]struct{})
	}
	w.slots[s][c] = struct{}{}
	c.pingSlot = s
	w.n++
	if w.running {
		return false
	}
	w.running = true
	return true
}

func (w *pingWheel) removeLocked(c *client) {
	if _, ok := w.slots[c.pingSlot][c]; ok {
		delete(w.slots[c.pingSlot], c)
		w.n--
	}
}

// pingLoop pings one slot of sockets per tick. It ends when the wheel is
// empty (the next socket starts another), so a replica or test without
// sockets runs no pinger.
func (h *Hub) pingLoop() {
	t := time.NewTicker(max(h.cfg.PingInterval/pingSlots, time.Millisecond))
	defer t.Stop()
	var due []*client
	for range t.C {
		h.mu.Lock()
		w := &h.pings
		if w.n == 0 {
			w.running = false
			h.mu.Unlock()
			return
		}
		for c := range w.slots[w.cur] {
			due = append(due, c)
		}
		w.cur = (w.cur + 1) % pingSlots
		h.mu.Unlock()
		for _, c := range due {
			c.ping()
		}
		clear(due)
		due = due[:0]
	}
}

// ping sends the socket's ping: written here when no writer runs (what
// the kernel has no room for now goes to a writer goroutine, see
// writeDirect), else left to the running writer (pingDue), so a socket
// whose peer stopped reading never holds up the others' pings.
func (c *client) ping() {
	if time.Since(time.Unix(0, c.lastRead.Load())) > c.hub.cfg.PongTimeout {
		// Silent past the pong timeout: dropped as a dead peer, which
		// also ends a reader waiting for the rest of a frame.
		c.close(0, "")
		c.closeConn()
		return
	}
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return
	}
	if c.writing {
		c.pingDue = true // the running writer sends it
		c.mu.Unlock()
		return
	}
	c.writing = true // this goroutine is the writer for one frame
	c.mu.Unlock()
	c.writeDirect(nil, true, nil)
}

// errWouldBlock is writeSome's answer when the kernel did not take all it
// was given without waiting.
var errWouldBlock = errors.New("chatsocket: write would block")
