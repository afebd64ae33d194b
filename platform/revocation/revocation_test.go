package revocation

import (
	"context"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/cobraspace/cobraspace/platform/testenv"
)

func TestDenylist(t *testing.T) {
	opt, err := redis.ParseURL(testenv.RedisURL())
	if err != nil {
		t.Fatal(err)
	}
	rdb := redis.NewClient(opt)
	defer rdb.Close()
	d := New(rdb, testenv.Prefix(t))
	ctx := context.Background()

	if got, err := d.IsRevoked(ctx, "a"); err != nil || got {
		t.Fatalf("IsRevoked before Revoke: got %v, %v; want false, nil", got, err)
	}
	if err := d.Revoke(ctx, "a", time.Now().Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if got, err := d.IsRevoked(ctx, "a"); err != nil || !got {
		t.Errorf("IsRevoked after Revoke: got %v, %v; want true, nil", got, err)
	}
	if got, _ := d.IsRevoked(ctx, "b"); got {
		t.Error("IsRevoked(other jti): got true")
	}
	// A token that already expired needs no entry.
	if err := d.Revoke(ctx, "old", time.Now().Add(-time.Minute)); err != nil {
		t.Fatal(err)
	}
	if got, _ := d.IsRevoked(ctx, "old"); got {
		t.Error("IsRevoked(expired token): got true, want false (nothing stored)")
	}
}

func TestRedisDown(t *testing.T) {
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", DialTimeout: 200 * time.Millisecond, MaxRetries: -1})
	defer rdb.Close()
	if _, err := New(rdb, "x.").IsRevoked(context.Background(), "a"); err == nil {
		t.Error("IsRevoked with Redis down: got nil error, want one (callers decide to fail open or closed)")
	}
}
