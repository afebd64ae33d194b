package httpapi

import "sync"

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
