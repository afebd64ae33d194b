package httpapi

import (
	"sync"
	"time"
)

// postRefsMax bounds postRefs (~50 bytes an entry).
const postRefsMax = 50_000

// postRef is what a post detail needs before it can ask the user and chat
// services: the post's writer and room. Neither ever changes (UpdatePost
// keeps both; post ids are never reused), so they can be remembered for
// as long as there is room.
type postRef struct {
	writerID, roomID int64
}

// postRefs remembers the postRef of posts this replica has shown.
type postRefs struct {
	mu   sync.Mutex
	refs map[int64]postRef
}

func newPostRefs() *postRefs {
	return &postRefs{refs: map[int64]postRef{}}
}

func (p *postRefs) get(id int64) (postRef, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	r, ok := p.refs[id]
	return r, ok
}

// put remembers id's ref; when full it forgets one other post (map order
// is random, so that is a random eviction).
func (p *postRefs) put(id int64, r postRef) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if _, ok := p.refs[id]; !ok && len(p.refs) >= postRefsMax {
		for k := range p.refs {
			delete(p.refs, k)
			break
		}
	}
	p.refs[id] = r
}

// Anonymous readers of a post detail may get the writer's summary
// (nickname, picture) and the room's name and online count up to
// recentTTL old, so that such a view costs two calls (GetPost, counting
// the hit, and ListMessages, whose NOT_FOUND still shows a deleted room
// at once) instead of four. Signed-in callers always get them fresh,
// which also refreshes the cache.
const (
	recentTTL = time.Second
	recentMax = 10_000
)

type recentEntry[V any] struct {
	v  V
	at time.Time
}

// recent holds values fetched less than recentTTL ago, by id; at most
// recentMax of them.
type recent[V any] struct {
	mu sync.Mutex
	m  map[int64]recentEntry[V]
}

func newRecent[V any]() *recent[V] {
	return &recent[V]{m: map[int64]recentEntry[V]{}}
}

// get returns id's value when it is younger than recentTTL.
func (c *recent[V]) get(id int64) (V, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.m[id]; ok && time.Since(e.at) < recentTTL {
		return e.v, true
	}
	var zero V
	return zero, false
}

// put remembers a freshly fetched value; when full it first forgets the
// expired values, then random others.
func (c *recent[V]) put(id int64, v V) {
	now := time.Now()
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.m[id]; !ok && len(c.m) >= recentMax {
		for k, e := range c.m {
			if now.Sub(e.at) >= recentTTL {
				delete(c.m, k)
			}
		}
		for k := range c.m {
			if len(c.m) < recentMax {
				break
			}
			delete(c.m, k)
		}
	}
	c.m[id] = recentEntry[V]{v: v, at: now}
}
