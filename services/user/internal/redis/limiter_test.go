package redis

import (
	"context"
	"strings"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/cobraspace/cobraspace/platform/testenv"
)

func newClient(t *testing.T) *goredis.Client {
	t.Helper()
	opt, err := goredis.ParseURL(testenv.RedisURL())
	if err != nil {
		t.Fatal(err)
	}
	rdb := goredis.NewClient(opt)
	t.Cleanup(func() { rdb.Close() })
	return rdb
}

func TestLoginLimiter(t *testing.T) {
	t.Parallel()
	rdb := newClient(t)
	prefix := testenv.Prefix(t)
	l := NewLoginLimiter(rdb, prefix, LoginLimits{Account: 3, IP: 5, Window: time.Minute})
	ctx := context.Background()

	blocked := func(account, ip string) bool {
		t.Helper()
		b, err := l.Blocked(ctx, account, ip)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	fail := func(account, ip string) {
		t.Helper()
		if err := l.Failed(ctx, account, ip); err != nil {
			t.Fatal(err)
		}
	}

	for i := range 3 {
		if blocked("a@example.com", "10.0.0.1") {
			t.Fatalf("blocked after %d failures, want 3 allowed", i)
		}
		fail("a@example.com", "10.0.0.1")
	}
	if !blocked("a@example.com", "10.0.0.2") {
		t.Error("account not blocked after 3 failures (from another IP)")
	}
	if blocked("b@example.com", "10.0.0.1") {
		t.Error("other account blocked by the IP after 3 failures, want the IP budget of 5")
	}
	fail("b@example.com", "10.0.0.1")
	fail("c@example.com", "10.0.0.1")
	if !blocked("d@example.com", "10.0.0.1") {
		t.Error("IP not blocked after 5 failures across accounts")
	}
	if blocked("d@example.com", "") {
		t.Error("empty IP must not be limited as an IP")
	}

	// Success resets the account budget only.
	if err := l.Succeeded(ctx, "a@example.com"); err != nil {
		t.Fatal(err)
	}
	if blocked("a@example.com", "10.0.0.9") {
		t.Error("account still blocked after a successful login")
	}

	// Keys carry the prefix and a window (TTL), and no email in clear.
	keys, err := rdb.Keys(ctx, prefix+"*").Result()
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) == 0 {
		t.Fatal("no keys under the prefix")
	}
	for _, k := range keys {
		if strings.Contains(k, "@") {
			t.Errorf("key %q contains an email", k)
		}
		ttl, err := rdb.TTL(ctx, k).Result()
		if err != nil || ttl <= 0 || ttl > time.Minute {
			t.Errorf("TTL(%q) = %v, %v; want within the 1m window", k, ttl, err)
		}
	}
}

func TestLoginLimiterWindowExpires(t *testing.T) {
	t.Parallel()
	rdb := newClient(t)
	l := NewLoginLimiter(rdb, testenv.Prefix(t), LoginLimits{Account: 1, IP: 10, Window: time.Second})
	ctx := context.Background()
	if err := l.Failed(ctx, "x@example.com", ""); err != nil {
		t.Fatal(err)
	}
	if b, _ := l.Blocked(ctx, "x@example.com", ""); !b {
		t.Fatal("not blocked after the only allowed failure")
	}
	time.Sleep(1100 * time.Millisecond)
	if b, _ := l.Blocked(ctx, "x@example.com", ""); b {
		t.Error("still blocked after the window")
	}
}

func TestLoginLimiterRedisDown(t *testing.T) {
	t.Parallel()
	rdb := goredis.NewClient(&goredis.Options{Addr: "127.0.0.1:1", DialTimeout: 200 * time.Millisecond, MaxRetries: -1})
	t.Cleanup(func() { rdb.Close() })
	l := NewLoginLimiter(rdb, "x.", DefaultLoginLimits())
	if _, err := l.Blocked(context.Background(), "a@example.com", "1.2.3.4"); err == nil {
		t.Error("Blocked with Redis down: nil error, want an error (the service then degrades)")
	}
}
