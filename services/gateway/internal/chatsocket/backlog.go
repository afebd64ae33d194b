package chatsocket

import "time"

// A reader that stops reading is first absorbed by the kernel: its socket
// send buffer autotunes to several MiB, seconds of a busy room, before the
// gateway's bounded queue sees anything. So the writer also watches the
// kernel's backlog for the peer: more than backlogLimit bytes unsent for
// stallLimit in a row closes the socket as slow (4008), which cuts a
// stopped reader off within seconds (BENCHMARKS.md M7) while a healthy
// reader's burst (a backlog that drains) is left alone.
const (
	backlogLimit  = 512 << 10
	stallLimit    = 1500 * time.Millisecond
	backlogSample = 250 * time.Millisecond // at most one ioctl per socket per sample
)

// stalled reports, after a batch was written, whether the peer has left
// more than backlogLimit bytes unread for stallLimit. Writer goroutine only.
func (c *client) stalled(now time.Time) bool {
	if now.Sub(c.wr.backlogAt) < backlogSample {
		return false
	}
	c.wr.backlogAt = now
	if unsentBytes(c.nc) < backlogLimit {
		c.wr.stallSince = time.Time{}
		return false
	}
	if c.wr.stallSince.IsZero() {
		c.wr.stallSince = now
		return false
	}
	return now.Sub(c.wr.stallSince) >= stallLimit
}
