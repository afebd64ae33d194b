package ratelimit

import (
	"context"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/redis/go-redis/v9"

	"github.com/cobraspace/cobraspace/platform/testenv"
)

func testRedis(t testing.TB, url string) redis.UniversalClient {
	t.Helper()
	opt, err := redis.ParseURL(url)
	if err != nil {
		t.Fatal(err)
	}
	opt.MaxRetries = -1
	rdb := redis.NewClient(opt)
	t.Cleanup(func() { rdb.Close() })
	return rdb
}

// sends counts the allowed sends of user among n, taking turns on the
// limiters (replicas).
func sends(t *testing.T, user int64, n int, replicas ...*Users) (allowed int) {
	t.Helper()
	for i := range n {
		if ok, _ := replicas[i%len(replicas)].Allow(context.Background(), user); ok {
			allowed++
		}
	}
	return allowed
}

func TestMain(m *testing.M) { os.Exit(testenv.RunWithRedisCluster(m)) }

// Two replicas sharing Redis allow one user the burst once, not twice, on
// one node as on a Redis Cluster.
func TestUsersSharedAcrossReplicas(t *testing.T) {
	for _, tg := range testenv.RedisTargets(t) {
		t.Run(tg.Name, func(t *testing.T) {
			a, b := NewUsers(tg.Client, tg.Prefix, nil), NewUsers(tg.Client, tg.Prefix, nil)
			start := time.Now()
			got := sends(t, 1, 2*MessageBurst, a, b)
			refill := int(time.Since(start).Seconds()*MessagesPerSecond) + 1
			if got < MessageBurst || got > MessageBurst+refill {
				t.Fatalf("two replicas: %d of %d sends allowed, want the burst of %d (+%d refilled)", got, 2*MessageBurst, MessageBurst, refill)
			}
			ok, wait := a.Allow(context.Background(), 1)
			if ok || wait <= 0 || wait > time.Second/MessagesPerSecond {
				t.Fatalf("past the burst: got ok=%v retry after %v, want refused for at most 100ms", ok, wait)
			}
			if got := sends(t, 2, MessageBurst, a, b); got != MessageBurst {
				t.Fatalf("another user: %d of %d allowed, want all (own bucket)", got, MessageBurst)
			}
			if n := testutil.ToFloat64(a.localOnly) + testutil.ToFloat64(b.localOnly); n != 0 {
				t.Errorf("%v sends decided without Redis, want none (every Redis call must work here)", n)
			}
		})
	}
}

// With Redis gone every replica limits on its own: sends go on, the local
// burst applies, and the metric counts the local-only decisions.
func TestUsersRedisDown(t *testing.T) {
	url, stop := testenv.StartRedis(t)
	rdb := testRedis(t, url)
	u := NewUsers(rdb, "", nil)
	if ok, _ := u.Allow(context.Background(), 1); !ok {
		t.Fatal("first send with Redis: refused")
	}
	stop()
	start := time.Now()
	got := sends(t, 1, 2*MessageBurst, u)
	if d := time.Since(start); d > time.Second {
		t.Errorf("%d sends without Redis took %v, want a fast local answer", 2*MessageBurst, d)
	}
	refill := int(time.Since(start).Seconds()*MessagesPerSecond) + 1
	if want := MessageBurst - 1; got < want || got > want+refill {
		t.Fatalf("without Redis: %d of %d sends allowed, want the local burst (%d left)", got, 2*MessageBurst, want)
	}
	// The first send took a lease of leaseSize shared tokens, and the
	// sends after the stop used its leaseSize-1 others before asking Redis.
	if n, want := testutil.ToFloat64(u.localOnly), got-(leaseSize-1); n != float64(want) {
		t.Errorf("local-only metric: got %v, want %d (every allowed send past the lease)", n, want)
	}
}

// callCounter counts the script calls (EVALSHA, EVAL) a Redis client sends.
type callCounter struct{ n atomic.Int64 }

func (c *callCounter) DialHook(next redis.DialHook) redis.DialHook { return next }
func (c *callCounter) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if name := cmd.Name(); name == "evalsha" || name == "eval" {
			c.n.Add(1)
		}
		return next(ctx, cmd)
	}
}
func (c *callCounter) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}

// A replica takes shared tokens leaseSize at a time: a user's steady sends
// cost one Redis call per lease, and an unused lease lapses after leaseTTL.
func TestUsersLeases(t *testing.T) {
	opt, err := redis.ParseURL(testenv.RedisURL())
	if err != nil {
		t.Fatal(err)
	}
	rdb := redis.NewClient(opt)
	t.Cleanup(func() { rdb.Close() })
	var calls callCounter
	rdb.AddHook(&calls)
	u := NewUsers(rdb, testenv.Prefix(t), nil)
	ctx := context.Background()

	if got := sends(t, 1, 2*leaseSize, u); got != 2*leaseSize {
		t.Fatalf("%d of %d sends allowed, want all (within the burst)", got, 2*leaseSize)
	}
	// One call per lease; a first EVALSHA of a script Redis has not seen
	// yet is answered NOSCRIPT and retried as EVAL (one more call).
	if n := calls.n.Load(); n < 2 || n > 3 {
		t.Fatalf("%d sends made %d Redis calls, want 2 (one per lease of %d)", 2*leaseSize, n, leaseSize)
	}
	before := calls.n.Load()
	if ok, _ := u.Allow(ctx, 1); !ok {
		t.Fatal("a send past two leases: refused, want allowed (burst left)")
	}
	time.Sleep(leaseTTL + 50*time.Millisecond)
	if ok, _ := u.Allow(ctx, 1); !ok {
		t.Fatal("a send after the lease lapsed: refused, want allowed")
	}
	if n := calls.n.Load() - before; n != 2 {
		t.Fatalf("a send, then one after leaseTTL: %d Redis calls, want 2 (the lease lapsed)", n)
	}
}

// BenchmarkUsersAllow measures what the limit adds to one send: the local
// bucket alone, and with the shared bucket in Redis for users who send 5
// times each (one lease).
func BenchmarkUsersAllow(b *testing.B) {
	for _, tc := range []struct {
		name string
		rdb  redis.UniversalClient
	}{
		{"local", nil},
		{"redis", testRedis(b, testenv.RedisURL())},
	} {
		b.Run(tc.name, func(b *testing.B) {
			u := NewUsers(tc.rdb, testenv.Prefix(b), nil)
			ctx := context.Background()
			var n int64
			for b.Loop() {
				n++
				user := n / leaseSize // a fresh user every leaseSize sends: all allowed, one lease each
				if ok, _ := u.Allow(ctx, user); !ok {
					b.Fatal("refused")
				}
			}
		})
	}
}
