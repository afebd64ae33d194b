package revocation

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/cobraspace/cobraspace/platform/testenv"
)

func TestMain(m *testing.M) { os.Exit(testenv.RunWithRedisCluster(m)) }

// eachDenylist runs test in subtests against a Denylist on the single node
// and on the package's Redis Cluster.
func eachDenylist(t *testing.T, test func(t *testing.T, d *Denylist)) {
	t.Helper()
	for _, tg := range testenv.RedisTargets(t) {
		t.Run(tg.Name, func(t *testing.T) { test(t, New(tg.Client, tg.Prefix)) })
	}
}

func TestDenylist(t *testing.T) {
	eachDenylist(t, func(t *testing.T, d *Denylist) {
		ctx := context.Background()

		if got, err := d.IsRevoked(ctx, "a"); err != nil || got {
			t.Fatalf("IsRevoked before Revoke: got %v, %v; want false, nil", got, err)
		}
		if err := d.Revoke(ctx, time.Now().Add(time.Minute), "a", "b"); err != nil {
			t.Fatal(err)
		}
		for _, id := range []string{"a", "b"} {
			if got, err := d.IsRevoked(ctx, id); err != nil || !got {
				t.Errorf("IsRevoked(%s) after Revoke: got %v, %v; want true, nil", id, got, err)
			}
		}
		if got, _ := d.IsRevoked(ctx, "c"); got {
			t.Error("IsRevoked(other session): got true")
		}
		// The entry lives as long as the session's tokens may, and no longer.
		ttl, err := d.rdb.TTL(ctx, d.key("a")).Result()
		if err != nil || ttl < 55*time.Second || ttl > 61*time.Second {
			t.Errorf("TTL: got %v, %v; want about a minute", ttl, err)
		}
		// Sessions whose tokens all expired already need no entry.
		if err := d.Revoke(ctx, time.Now().Add(-time.Minute), "old"); err != nil {
			t.Fatal(err)
		}
		if got, _ := d.IsRevoked(ctx, "old"); got {
			t.Error("IsRevoked(expired session): got true, want false (nothing stored)")
		}
		// Many sessions at once (a user's every session): on a cluster their
		// keys lie in many slots on every master, and the one pipeline
		// still stores them all.
		ids := make([]string, 64)
		for i := range ids {
			ids[i] = fmt.Sprint("s", i)
		}
		if err := d.Revoke(ctx, time.Now().Add(time.Minute), ids...); err != nil {
			t.Fatal(err)
		}
		for _, id := range ids {
			if got, err := d.IsRevoked(ctx, id); err != nil || !got {
				t.Fatalf("IsRevoked(%s) after revoking 64 sessions: got %v, %v; want true, nil", id, got, err)
			}
		}
	})
}

func TestRedisDown(t *testing.T) {
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", DialTimeout: 200 * time.Millisecond, MaxRetries: -1})
	defer rdb.Close()
	if _, err := New(rdb, "x.").IsRevoked(context.Background(), "a"); err == nil {
		t.Error("IsRevoked with Redis down: got nil error, want one (callers decide to fail open or closed)")
	}
}

// counting counts the look-ups that reach the wrapped Lookup.
type counting struct {
	Lookup
	calls atomic.Int32
}

func (c *counting) IsRevoked(ctx context.Context, id string) (bool, error) {
	c.calls.Add(1)
	return c.Lookup.IsRevoked(ctx, id)
}

func TestChecker(t *testing.T) {
	eachDenylist(t, func(t *testing.T, d *Denylist) {
		ctx := context.Background()
		if err := d.Revoke(ctx, time.Now().Add(time.Minute), "gone"); err != nil {
			t.Fatal(err)
		}
		c := NewChecker(d, slog.New(slog.NewJSONHandler(&bytes.Buffer{}, nil)))
		if !c.Revoked(ctx, "gone") {
			t.Error("revoked session: got false")
		}
		if c.Revoked(ctx, "live") {
			t.Error("live session: got true")
		}
	})
}

func TestCheckerFailsOpen(t *testing.T) {
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", DialTimeout: 200 * time.Millisecond, MaxRetries: -1})
	defer rdb.Close()
	down := &counting{Lookup: New(rdb, "x.")}
	var logs bytes.Buffer
	c := NewChecker(down, slog.New(slog.NewJSONHandler(&logs, nil)))
	for range 5 {
		if c.Revoked(context.Background(), "a") {
			t.Fatal("Redis down: got revoked, want fail open")
		}
	}
	// One look-up and one warning per Backoff window, not per request.
	if n, w := down.calls.Load(), strings.Count(logs.String(), "denylist unavailable"); n != 1 || w != 1 {
		t.Errorf("Redis down: %d look-ups and %d warnings, want 1 and 1", n, w)
	}
}
