package httpapi

import (
	"context"
	"sync"
	"time"
)

// Anonymous post lists are the public front page of the site and by far
// the most frequent request; composing one costs a ListPosts and a
// GetUsers call, several PostgreSQL queries and a JSON encoding — about
// 2 ms of CPU across the processes. A replica therefore keeps each list
// answer it composed (body and Link header, keyed by path and query) for
// listCacheTTL and serves anonymous callers from it.
//
// Semantics (README "API"):
//   - Only anonymous requests are answered from the cache. A signed-in
//     caller (the only kind that can write) always gets a fresh list, so a
//     writer sees their new, edited or deleted post at once on every
//     replica. A fresh answer also refreshes the cache entry.
//   - A write through this replica (post write, edit, delete) empties its
//     cache at once; writes through another replica reach anonymous readers
//     here within listCacheTTL (plus one refresh, below).
//   - After listCacheTTL the next request starts one background refresh and
//     is still served the old answer, so a hot page never makes a caller
//     wait; an answer older than listCacheMaxAge is never served.
//   - Concurrent misses of one key share one fetch (singleflight).
//   - Errors are never cached.
const (
	listCacheTTL    = time.Second
	listCacheMaxAge = 5 * time.Second
	// listCacheMaxBytes bounds the keys and bodies held (so that a flood
	// of distinct queries with tiny answers is bounded too); an answer
	// above listCacheMaxEntry (100 posts of long content) is not kept.
	listCacheMaxBytes = 32 << 20
	listCacheMaxEntry = 1 << 20
	// listCacheFetchTimeout bounds a fetch that no request waits on (a
	// background refresh, or a shared miss whose first caller went away).
	listCacheFetchTimeout = 5 * time.Second
)

// cachedPage is one composed list answer.
type cachedPage struct {
	body []byte
	link string // the Link header's value, "" on the last page
}

type cacheEntry struct {
	page cachedPage
	at   time.Time
}

// pageFetch is one fetch in flight; its waiters read page/err after done.
type pageFetch struct {
	gen  uint64
	done chan struct{}
	page cachedPage
	err  error
}

// pageCache is a small in-process cache of list answers with
// stale-while-revalidate and singleflight (see above). The zero value is
// not usable; use newPageCache.
type pageCache struct {
	ttl, maxAge time.Duration
	now         func() time.Time

	mu       sync.Mutex
	gen      uint64 // bumped by invalidate; fetches of an older gen are not stored
	entries  map[string]*cacheEntry
	bytes    int
	inflight map[string]*pageFetch
}

func newPageCache(ttl, maxAge time.Duration) *pageCache {
	return &pageCache{
		ttl: ttl, maxAge: maxAge, now: time.Now,
		entries: map[string]*cacheEntry{}, inflight: map[string]*pageFetch{},
	}
}

// get returns the answer for key: from the cache when it is young enough,
// else from fetch (shared with concurrent callers of the same key). ctx
// bounds only this caller's wait; the fetch itself runs on a context
// detached from it, so one caller going away does not fail the others.
func (c *pageCache) get(ctx context.Context, key string, fetch func(context.Context) (cachedPage, error)) (cachedPage, error) {
	c.mu.Lock()
	if e, ok := c.entries[key]; ok {
		age := c.now().Sub(e.at)
		if age < c.ttl {
			c.mu.Unlock()
			return e.page, nil
		}
		if age < c.maxAge {
			if _, busy := c.inflight[key]; !busy {
				c.start(ctx, key, fetch)
			}
			c.mu.Unlock()
			return e.page, nil
		}
	}
	f, ok := c.inflight[key]
	if !ok || f.gen != c.gen {
		f = c.start(ctx, key, fetch)
	}
	c.mu.Unlock()
	select {
	case <-f.done:
		return f.page, f.err
	case <-ctx.Done():
		return cachedPage{}, ctx.Err()
	}
}

// start runs fetch for key in the background; c.mu is held.
func (c *pageCache) start(ctx context.Context, key string, fetch func(context.Context) (cachedPage, error)) *pageFetch {
	f := &pageFetch{gen: c.gen, done: make(chan struct{})}
	c.inflight[key] = f
	// Keep the caller's values (trace, request id), not its cancellation.
	fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), listCacheFetchTimeout)
	go func() {
		defer cancel()
		f.page, f.err = fetch(fctx)
		c.mu.Lock()
		if c.inflight[key] == f {
			delete(c.inflight, key)
		}
		if f.err == nil {
			c.storeLocked(key, f.gen, f.page)
		}
		c.mu.Unlock()
		close(f.done)
	}()
	return f
}

// store keeps page, fetched at generation gen, for key (a signed-in
// caller's fresh answer).
func (c *pageCache) store(key string, gen uint64, page cachedPage) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.storeLocked(key, gen, page)
}

func (c *pageCache) storeLocked(key string, gen uint64, page cachedPage) {
	size := entrySize(key, page)
	if gen != c.gen || size > listCacheMaxEntry {
		return // fetched before a write on this replica, or too big to keep
	}
	now := c.now()
	if old, ok := c.entries[key]; ok {
		c.bytes -= entrySize(key, old.page)
		delete(c.entries, key)
	}
	for k, e := range c.entries {
		if c.bytes+size <= listCacheMaxBytes {
			break
		}
		// Map order is random: expired entries go first only by chance,
		// which is fine for a bound that normal traffic never reaches.
		c.bytes -= entrySize(k, e.page)
		delete(c.entries, k)
	}
	c.entries[key] = &cacheEntry{page: page, at: now}
	c.bytes += size
}

// entrySize is what an entry counts against listCacheMaxBytes.
func entrySize(key string, page cachedPage) int {
	return len(key) + len(page.body) + len(page.link)
}

// generation returns the current generation, to be passed to store with
// an answer fetched after this call.
func (c *pageCache) generation() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.gen
}

// invalidate forgets every answer and makes fetches already running
// unable to store theirs (they may predate the write).
func (c *pageCache) invalidate() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	clear(c.entries)
	c.bytes = 0
}
