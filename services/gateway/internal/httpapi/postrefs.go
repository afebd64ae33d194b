package httpapi

import (
	"time"

	lru "github.com/hashicorp/golang-lru/v2"
)

// postRef is what a post detail needs before it can ask the user and chat
// services: the post's writer and room. Neither ever changes (UpdatePost
// keeps both; post ids are never reused), so a replica remembers them for
// the postRefsMax posts it showed last (~50 bytes each).
type postRef struct {
	writerID, roomID int64
}

const postRefsMax = 50_000

func newPostRefs() *lru.Cache[int64, postRef] {
	c, err := lru.New[int64, postRef](postRefsMax)
	if err != nil {
		panic(err) // only for a size <= 0
	}
	return c
}

// Anonymous readers of a post detail may get the writer's summary
// (nickname, picture) and the room's name and online count up to
// recentTTL old, so that such a view costs two calls (GetPost, counting
// the hit, and ListMessages, whose NOT_FOUND still shows a deleted room
// at once) instead of four. Signed-in callers always get them fresh,
// which also refreshes these caches.
const (
	recentTTL = time.Second
	recentMax = 10_000
)

// recent is an LRU of values that count as absent once recentTTL old.
// Entries expire when read rather than by a sweeper: the library's
// expiring LRU runs a goroutine per cache that wakes every TTL/100 (10 ms
// here), which was most of an idle gateway's CPU.
type recent[V any] struct {
	c *lru.Cache[int64, recentEntry[V]]
}

type recentEntry[V any] struct {
	v  V
	at time.Time
}

func newRecent[V any]() recent[V] {
	c, err := lru.New[int64, recentEntry[V]](recentMax)
	if err != nil {
		panic(err) // only for a size <= 0
	}
	return recent[V]{c: c}
}

// Get returns the value of key unless it is missing or too old.
func (r recent[V]) Get(key int64) (V, bool) {
	e, ok := r.c.Get(key)
	if !ok || time.Since(e.at) > recentTTL {
		var zero V
		return zero, false
	}
	return e.v, true
}

// Add remembers v for key as of now.
func (r recent[V]) Add(key int64, v V) { r.c.Add(key, recentEntry[V]{v: v, at: time.Now()}) }
