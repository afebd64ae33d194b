package chatsocket

import (
	"container/heap"
	"sync"
	"time"
)

// expirySchedule closes each socket with 4001 when its access token
// expires, from one timer per replica: a timer per socket was ~0.2 KB of an
// idle socket's memory (BENCHMARKS.md, S3). Sockets wait in a heap by
// expiry; the timer is set for the first.
type expirySchedule struct {
	mu    sync.Mutex
	queue expiryQueue
	timer *time.Timer // nil until the first socket
}

// add schedules c's close at c.user.ExpiresAt (a time already past closes
// it at once, from the timer's goroutine).
func (s *expirySchedule) add(c *client) {
	s.mu.Lock()
	defer s.mu.Unlock()
	heap.Push(&s.queue, c)
	if c.expiryIndex == 0 {
		s.resetLocked()
	}
}

// remove forgets c (cleanup); a socket not scheduled is left alone.
func (s *expirySchedule) remove(c *client) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if c.expiryIndex < 0 {
		return
	}
	first := c.expiryIndex == 0
	heap.Remove(&s.queue, c.expiryIndex)
	if first {
		s.resetLocked()
	}
}

// resetLocked sets the timer for the first socket's expiry.
func (s *expirySchedule) resetLocked() {
	if len(s.queue) == 0 {
		if s.timer != nil {
			s.timer.Stop()
		}
		return
	}
	d := time.Until(s.queue[0].user.ExpiresAt)
	if s.timer == nil {
		s.timer = time.AfterFunc(d, s.fire)
		return
	}
	s.timer.Reset(d)
}

// fire closes the sockets whose token has expired.
func (s *expirySchedule) fire() {
	var due []*client
	s.mu.Lock()
	now := time.Now()
	for len(s.queue) > 0 && !s.queue[0].user.ExpiresAt.After(now) {
		due = append(due, heap.Pop(&s.queue).(*client))
	}
	s.resetLocked()
	s.mu.Unlock()
	for _, c := range due {
		c.close(CloseTokenExpired, "token expired")
	}
}

// expiryQueue is a heap of sockets by token expiry (container/heap); each
// socket's expiryIndex is its place, -1 when it is not in the queue.
type expiryQueue []*client

func (q expiryQueue) Len() int           { return len(q) }
func (q expiryQueue) Less(i, j int) bool { return q[i].user.ExpiresAt.Before(q[j].user.ExpiresAt) }
func (q expiryQueue) Swap(i, j int) {
	q[i], q[j] = q[j], q[i]
	q[i].expiryIndex, q[j].expiryIndex = i, j
}

func (q *expiryQueue) Push(x any) {
	c := x.(*client)
	c.expiryIndex = len(*q)
	*q = append(*q, c)
}

func (q *expiryQueue) Pop() any {
	old := *q
	c := old[len(old)-1]
	old[len(old)-1] = nil
	*q = old[:len(old)-1]
	c.expiryIndex = -1
	return c
}
