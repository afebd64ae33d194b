package httpapi

import (
	"time"

	lru "github.com/hashicorp/golang-lru/v2"
	"github.com/hashicorp/golang-lru/v2/expirable"
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

func newRecent[V any]() *expirable.LRU[int64, V] {
	return expirable.NewLRU[int64, V](recentMax, nil, recentTTL)
}
