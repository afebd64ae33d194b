package httpapi

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// fakeClock is a settable pageCache clock.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func testCache() (*pageCache, *fakeClock) {
	clk := &fakeClock{t: time.Unix(1_000_000, 0)}
	c := newPageCache(time.Second, 5*time.Second)
	c.now = clk.now
	return c, clk
}

// counter is a fetch that answers "v<n>" for its n-th call.
type counter struct{ n atomic.Int64 }

func (f *counter) fetch(context.Context) (cachedPage, error) {
	return cachedPage{body: []byte("v" + strconv.FormatInt(f.n.Add(1), 10))}, nil
}

func mustGet(t *testing.T, c *pageCache, key string, fetch func(context.Context) (cachedPage, error)) string {
	t.Helper()
	p, err := c.get(context.Background(), key, fetch)
	if err != nil {
		t.Fatalf("get %q: %v", key, err)
	}
	return string(p.body)
}

// waitIdle waits until no fetch of key is running (background refreshes).
func waitIdle(t *testing.T, c *pageCache, key string) {
	t.Helper()
	for range 1000 {
		c.mu.Lock()
		_, busy := c.inflight[key]
		c.mu.Unlock()
		if !busy {
			return
		}
		time.Sleep(time.Millisecond)
	}
	t.Fatal("fetch still running")
}

func TestPageCacheTTLAndRefresh(t *testing.T) {
	c, clk := testCache()
	var f counter
	if got := mustGet(t, c, "a", f.fetch); got != "v1" {
		t.Fatalf("first get: %s", got)
	}
	clk.add(900 * time.Millisecond)
	if got := mustGet(t, c, "a", f.fetch); got != "v1" || f.n.Load() != 1 {
		t.Fatalf("within the TTL: got %s after %d fetches, want the cached v1", got, f.n.Load())
	}
	if got := mustGet(t, c, "b", f.fetch); got != "v2" {
		t.Fatalf("another key: %s", got)
	}
	// Past the TTL: the old answer now, a refresh in the background.
	clk.add(200 * time.Millisecond)
	if got := mustGet(t, c, "a", f.fetch); got != "v1" {
		t.Fatalf("stale get: %s, want v1 while refreshing", got)
	}
	waitIdle(t, c, "a")
	if got := mustGet(t, c, "a", f.fetch); got != "v3" {
		t.Fatalf("after the refresh: %s, want v3", got)
	}
	// Past the maximum age: never served; the caller waits for a fetch.
	clk.add(6 * time.Second)
	if got := mustGet(t, c, "a", f.fetch); got != "v4" {
		t.Fatalf("expired: %s, want a fresh v4", got)
	}
}

func TestPageCacheSingleflight(t *testing.T) {
	c, _ := testCache()
	release := make(chan struct{})
	var calls atomic.Int64
	fetch := func(context.Context) (cachedPage, error) {
		calls.Add(1)
		<-release
		return cachedPage{body: []byte("x")}, nil
	}
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() {
			if got := mustGet(t, c, "k", fetch); got != "x" {
				t.Errorf("got %s", got)
			}
		})
	}
	// Every caller is either waiting on the one fetch or about to join it.
	time.Sleep(20 * time.Millisecond)
	close(release)
	wg.Wait()
	if n := calls.Load(); n != 1 {
		t.Errorf("%d fetches for 20 concurrent misses, want 1", n)
	}
}

func TestPageCacheWaiterCancel(t *testing.T) {
	c, _ := testCache()
	release := make(chan struct{})
	defer close(release)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := c.get(ctx, "k", func(fctx context.Context) (cachedPage, error) {
		<-release
		return cachedPage{}, fctx.Err()
	})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("a caller that went away: %v, want context.Canceled", err)
	}
}

func TestPageCacheInvalidate(t *testing.T) {
	c, _ := testCache()
	var f counter
	mustGet(t, c, "a", f.fetch)
	c.invalidate()
	if got := mustGet(t, c, "a", f.fetch); got != "v2" {
		t.Fatalf("after invalidate: %s, want a fresh v2", got)
	}

	// A fetch that started before a write must not be stored, and a
	// request arriving after the write must not share it.
	started, release := make(chan struct{}), make(chan struct{})
	old := func(context.Context) (cachedPage, error) {
		close(started)
		<-release
		return cachedPage{body: []byte("before the write")}, nil
	}
	c.invalidate()
	done := make(chan string)
	go func() { done <- mustGet(t, c, "a", old) }()
	<-started
	c.invalidate()
	if got := mustGet(t, c, "a", f.fetch); got != "v3" {
		t.Errorf("request after the write: %s, want a fetch of its own (v3)", got)
	}
	close(release)
	<-done
	if got := mustGet(t, c, "a", f.fetch); got != "v3" {
		t.Errorf("cached after both: %s, want v3 (the older fetch is not stored)", got)
	}

	// store with the generation read before an invalidate is dropped too.
	gen := c.generation()
	c.invalidate()
	c.store("b", gen, cachedPage{body: []byte("stale")})
	if got := mustGet(t, c, "b", f.fetch); got != "v4" {
		t.Errorf("store of an old generation: served %s", got)
	}
}

func TestPageCacheErrorsNotCached(t *testing.T) {
	c, _ := testCache()
	boom := errors.New("boom")
	if _, err := c.get(context.Background(), "k", func(context.Context) (cachedPage, error) { return cachedPage{}, boom }); !errors.Is(err, boom) {
		t.Fatalf("got %v, want boom", err)
	}
	var f counter
	if got := mustGet(t, c, "k", f.fetch); got != "v1" {
		t.Errorf("after an error: %s, want a new fetch", got)
	}
}

func TestPageCacheBounds(t *testing.T) {
	c, _ := testCache()
	big := make([]byte, listCacheMaxEntry+1)
	c.store("big", c.generation(), cachedPage{body: big})
	if _, ok := c.entries["big"]; ok {
		t.Error("a body over listCacheMaxEntry was kept")
	}
	entry := make([]byte, listCacheMaxEntry-1) // with its 1-byte key: exactly the entry limit
	for i := range 2 * listCacheMaxBytes / listCacheMaxEntry {
		c.store(strconv.Itoa(i%10), c.generation(), cachedPage{body: entry}) // keys repeat: replaced, not added
		c.store(string(rune('a'+i%26)), c.generation(), cachedPage{body: entry})
		if c.bytes > listCacheMaxBytes {
			t.Fatalf("%d bytes held after %d stores, bound %d", c.bytes, 2*(i+1), listCacheMaxBytes)
		}
	}
	if len(c.entries) != listCacheMaxBytes/listCacheMaxEntry {
		t.Errorf("%d entries held, want the bound's %d", len(c.entries), listCacheMaxBytes/listCacheMaxEntry)
	}

	// Many distinct queries with tiny answers: their keys count too.
	c.invalidate()
	key := strings.Repeat("k", 4000)
	for i := range 2 * listCacheMaxBytes / 4000 {
		c.store(key+strconv.Itoa(i), c.generation(), cachedPage{body: []byte("[]\n")})
	}
	held := 0
	for k, e := range c.entries {
		held += len(k) + len(e.page.body) + len(e.page.link)
	}
	if held > listCacheMaxBytes || held != c.bytes {
		t.Errorf("tiny answers with long keys hold %d bytes (accounted %d), bound %d", held, c.bytes, listCacheMaxBytes)
	}
}
