// Package revocation is the Redis denylist of revoked login sessions. A
// session is a refresh-token family (accesstoken.Claims.SessionID): the
// user service denylists it at logout and when a refresh token is reused,
// for as long as an access token of it may still be valid. Every process
// that verifies access tokens (each gateway replica, each gRPC service)
// asks the denylist on every request or call through a Checker, so every
// access token of a revoked session stops working at once, everywhere.
//
// Each session is one key (<prefix>revoked:<session id>) and no command,
// transaction or script spans two of them: Revoke's pipeline is not a
// transaction, so on a Redis Cluster go-redis sends each node its share.
// The key names are the ones every earlier release used, so processes of
// two releases agree during a rolling upgrade.
package revocation

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/cobraspace/cobraspace/platform/failopen"
)

// Denylist stores revoked session ids.
type Denylist struct {
	rdb    redis.UniversalClient
	prefix string
}

// New returns a Denylist in rdb with keys under prefix.
func New(rdb redis.UniversalClient, prefix string) *Denylist {
	return &Denylist{rdb: rdb, prefix: prefix}
}

func (d *Denylist) key(sessionID string) string { return d.prefix + "revoked:" + sessionID }

// Revoke denylists sessionIDs until until: the latest time at which an
// access token of theirs may still be accepted (issued now, plus the
// access-token lifetime and the verifier's leeway). One round trip.
func (d *Denylist) Revoke(ctx context.Context, until time.Time, sessionIDs ...string) error {
	ttl := time.Until(until)
	if ttl <= 0 || len(sessionIDs) == 0 {
		return nil
	}
	_, err := d.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for _, id := range sessionIDs {
			p.Set(ctx, d.key(id), 1, ttl+time.Second)
		}
		return nil
	})
	return err
}

// IsRevoked reports whether the session was revoked. An error means Redis
// could not answer; callers decide whether to fail open or closed (Checker
// fails open).
func (d *Denylist) IsRevoked(ctx context.Context, sessionID string) (bool, error) {
	err := d.rdb.Get(ctx, d.key(sessionID)).Err()
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, redis.Nil):
		return false, nil
	default:
		return false, err
	}
}

// Lookup answers whether a session was revoked (a *Denylist in production).
type Lookup interface {
	IsRevoked(ctx context.Context, sessionID string) (bool, error)
}

// CheckTimeout bounds one denylist look-up, so a hung Redis delays a
// request by at most this much before the Checker fails open.
const CheckTimeout = 500 * time.Millisecond

// Backoff is how long a Checker skips Redis after it failed.
const Backoff = 2 * time.Second

// Checker is the revocation check of every authenticated request or call.
// When Redis cannot answer it fails OPEN (the token is accepted and a
// warning logged): the token's signature was verified and it lives at most
// the access-token TTL, and a Redis outage must not log every user out
// (RELIABILITY.md F5). After a failure Redis is skipped for Backoff, so an
// outage adds no latency to requests and logs one warning per window.
type Checker struct {
	lookup Lookup
	log    *slog.Logger
	skip   failopen.Skip // Redis, for Backoff after a failure
}

// NewChecker returns a Checker asking lookup.
func NewChecker(lookup Lookup, log *slog.Logger) *Checker {
	return &Checker{lookup: lookup, log: log, skip: failopen.Skip{Backoff: Backoff}}
}

// Revoked reports whether sessionID is known to be revoked; false when
// Redis cannot answer (fail open, see Checker).
func (c *Checker) Revoked(ctx context.Context, sessionID string) bool {
	if c.skip.Skipping(time.Now()) {
		return false
	}
	lctx, cancel := context.WithTimeout(ctx, CheckTimeout)
	revoked, err := c.lookup.IsRevoked(lctx, sessionID)
	cancel()
	if err != nil {
		if ctx.Err() == nil { // not the caller giving up: Redis failed
			c.skip.Failed(time.Now())
			c.log.WarnContext(ctx, "session denylist unavailable; accepting verified tokens",
				"retry_in", Backoff.String(), "err", err)
		}
		return false
	}
	return revoked
}
