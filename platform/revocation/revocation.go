// Package revocation is the Redis denylist of revoked access tokens, keyed
// by token id (jti) until the token would have expired anyway. The user
// service writes it at logout; gateways read it on every authenticated
// request, so a logged-out token stops working at once on every replica.
package revocation

import (
	"context"
	"errors"
	"time"

	"github.com/redis/go-redis/v9"
)

// Denylist stores revoked token ids.
type Denylist struct {
	rdb    *redis.Client
	prefix string
}

// New returns a Denylist in rdb with keys under prefix.
func New(rdb *redis.Client, prefix string) *Denylist {
	return &Denylist{rdb: rdb, prefix: prefix}
}

func (d *Denylist) key(jti string) string { return d.prefix + "revoked:" + jti }

// Revoke denylists jti until expiresAt.
func (d *Denylist) Revoke(ctx context.Context, jti string, expiresAt time.Time) error {
	ttl := time.Until(expiresAt)
	if ttl <= 0 {
		return nil
	}
	return d.rdb.Set(ctx, d.key(jti), 1, ttl+time.Second).Err()
}

// IsRevoked reports whether jti was revoked. An error means Redis could not
// answer; callers decide whether to fail open or closed.
func (d *Denylist) IsRevoked(ctx context.Context, jti string) (bool, error) {
	err := d.rdb.Get(ctx, d.key(jti)).Err()
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, redis.Nil):
		return false, nil
	default:
		return false, err
	}
}
