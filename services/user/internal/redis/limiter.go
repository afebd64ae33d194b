// Package redis holds the user service's Redis adapters: the login rate
// limiter shared by every replica. (The access-token denylist is
// platform/revocation.) go-redis types never leave this package.
package redis

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// LoginLimits are the failed-login budgets: at most Account failures per
// account and IP failures per client IP within Window.
type LoginLimits struct {
	Account int
	IP      int
	Window  time.Duration
}

// DefaultLoginLimits: 5 failures per account and 20 per IP per 15 minutes.
// The per-IP budget is larger because offices and mobile carriers put many
// people behind one address.
func DefaultLoginLimits() LoginLimits {
	return LoginLimits{Account: 5, IP: 20, Window: 15 * time.Minute}
}

// LoginLimiter implements user.LoginLimiter with fixed-window counters
// (INCR, and EXPIRE NX so the window starts at the first failure).
type LoginLimiter struct {
	rdb    *goredis.Client
	prefix string
	limits LoginLimits
}

// NewLoginLimiter returns a limiter keeping its counters under prefix.
func NewLoginLimiter(rdb *goredis.Client, prefix string, limits LoginLimits) *LoginLimiter {
	return &LoginLimiter{rdb: rdb, prefix: prefix, limits: limits}
}

// accountKey hashes the account so that no email address is written to
// Redis in clear.
func (l *LoginLimiter) accountKey(account string) string {
	sum := sha256.Sum256([]byte(account))
	return l.prefix + "login:fail:acct:" + hex.EncodeToString(sum[:16])
}

// ipKey keeps addresses readable for operators; anything longer than an
// IPv6 address with a zone is hashed, so a caller cannot make huge keys.
func (l *LoginLimiter) ipKey(ip string) string {
	if len(ip) > 64 {
		sum := sha256.Sum256([]byte(ip))
		ip = "h" + hex.EncodeToString(sum[:16])
	}
	return l.prefix + "login:fail:ip:" + ip
}

// Blocked implements user.LoginLimiter.
func (l *LoginLimiter) Blocked(ctx context.Context, account, ip string) (bool, error) {
	keys := []string{l.accountKey(account)}
	if ip != "" {
		keys = append(keys, l.ipKey(ip))
	}
	vals, err := l.rdb.MGet(ctx, keys...).Result()
	if err != nil {
		return false, err
	}
	limits := []int{l.limits.Account, l.limits.IP}
	for i, v := range vals {
		s, ok := v.(string)
		if !ok {
			continue // nil: no failures
		}
		if n, err := strconv.Atoi(s); err == nil && n >= limits[i] {
			return true, nil
		}
	}
	return false, nil
}

// Failed implements user.LoginLimiter.
func (l *LoginLimiter) Failed(ctx context.Context, account, ip string) error {
	_, err := l.rdb.TxPipelined(ctx, func(p goredis.Pipeliner) error {
		keys := []string{l.accountKey(account)}
		if ip != "" {
			keys = append(keys, l.ipKey(ip))
		}
		for _, k := range keys {
			p.Incr(ctx, k)
			p.ExpireNX(ctx, k, l.limits.Window)
		}
		return nil
	})
	return err
}

// Succeeded implements user.LoginLimiter: the account's budget is reset, so
// its owner is not locked out by their own earlier typos. The IP budget is
// not, or one valid account would let an attacker reset its IP's budget.
func (l *LoginLimiter) Succeeded(ctx context.Context, account string) error {
	return l.rdb.Del(ctx, l.accountKey(account)).Err()
}
