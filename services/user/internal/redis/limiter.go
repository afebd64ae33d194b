// Package redis holds the user service's Redis adapters: the login rate
// limiter shared by every replica. (The access-token denylist is
// platform/revocation.) go-redis types never leave this package.
package redis

import (
	"context"
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"errors"
	"fmt"
	"net/netip"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// LoginLimits configure the login limiter (README, "Login rate limits").
// Nothing here ever refuses an address that has not failed: limits only
// make addresses that keep failing wait, longer after each failure.
type LoginLimits struct {
	// AccountIP is how many attempts one address may make for one account
	// (since its last success there) before it has to wait.
	AccountIP int
	// Account is how many failures one account may collect from all
	// addresses together before every address gets a single attempt for it
	// before having to wait (guessing from many addresses is slowed; the
	// owner at an address without failures is not).
	Account int
	// IP is how many failures one address may collect over all accounts
	// before it has to wait for any account.
	IP int
	// Window: a counter is forgotten this long after its last increment.
	Window time.Duration
	// BaseDelay is the first wait; each further failure doubles it, up to
	// MaxDelay.
	BaseDelay, MaxDelay time.Duration
}

// DefaultLoginLimits returns 5 attempts per account and address, 10 failures per
// account and 20 per address, waits of 1 s doubling to 15 min, counters
// forgotten after 15 quiet minutes. The per-address budget is larger
// because offices and mobile carriers put many people behind one address.
func DefaultLoginLimits() LoginLimits {
	return LoginLimits{AccountIP: 5, Account: 10, IP: 20, Window: 15 * time.Minute, BaseDelay: time.Second, MaxDelay: 15 * time.Minute}
}

// Validate reports limits that cannot work.
func (l LoginLimits) Validate() error {
	switch {
	case l.AccountIP < 1 || l.Account < 1 || l.IP < 1:
		return errors.New("LOGIN_MAX_FAILURES_PER_ACCOUNT_IP, LOGIN_MAX_FAILURES_PER_ACCOUNT and LOGIN_MAX_FAILURES_PER_IP must be at least 1")
	case l.BaseDelay < time.Millisecond || l.MaxDelay < l.BaseDelay || l.Window < l.MaxDelay:
		// A counter that expired while its address waits would give that
		// address its free attempts again.
		return errors.New("need 1ms <= LOGIN_BACKOFF_BASE <= LOGIN_BACKOFF_MAX <= LOGIN_FAILURE_WINDOW")
	}
	return nil
}

// LoginLimiter implements user.LoginLimiter with counters and wait keys
// (a key whose TTL is the wait) in Redis.
//
// Keys, each under the configured prefix (<acct> is a hash of the
// lowercased email, so no address is stored in clear; <ip> an address
// as in addressKey):
//
//	{login:<acct>}:fails          failures of the account from anywhere
//	{login:<acct>}:tries:<ip>     attempts of the account from one address
//	{login:<acct>}:wait:<ip>      that pair has to wait (TTL = the wait)
//	{loginip:<ip>}:fails          failures of one address over all accounts
//	{loginip:<ip>}:wait           that address has to wait
//
// Every command or script touches keys of one hash tag only, so the
// limiter works on a Redis Cluster as on a single node.
type LoginLimiter struct {
	rdb    goredis.UniversalClient
	prefix string
	limits LoginLimits
}

// NewLoginLimiter returns a limiter keeping its keys under prefix.
func NewLoginLimiter(rdb goredis.UniversalClient, prefix string, limits LoginLimits) *LoginLimiter {
	return &LoginLimiter{rdb: rdb, prefix: prefix, limits: limits}
}

// countScript is the one atomic step of the limiter:
//
//	KEYS[1] a counter, KEYS[2] its wait key, KEYS[3] (optional) the
//	account-wide failure counter
//	ARGV[1] free attempts, ARGV[2] window ms, ARGV[3] base delay ms,
//	ARGV[4] max delay ms, ARGV[5] account-wide limit (with KEYS[3])
//
// While KEYS[2] exists it returns its remaining ms and counts nothing.
// Otherwise it counts, and from the free-th count on sets KEYS[2] for
// base·2^(count−free) ms (at most max). When the account-wide counter has
// reached its limit, one attempt is free.
//
//go:embed count.lua
var countLua string

var countScript = goredis.NewScript(countLua)

func (l *LoginLimiter) count(ctx context.Context, free int, keys ...string) (time.Duration, error) {
	ms, err := countScript.Run(ctx, l.rdb, keys, free, l.limits.Window.Milliseconds(),
		l.limits.BaseDelay.Milliseconds(), l.limits.MaxDelay.Milliseconds(), l.limits.Account).Int64()
	if err != nil {
		return 0, fmt.Errorf("count login attempt: %w", err)
	}
	return time.Duration(ms) * time.Millisecond, nil
}

// accountTag is the hash tag of every key of one account.
func (l *LoginLimiter) accountTag(account string) string {
	sum := sha256.Sum256([]byte(account))
	return l.prefix + "{login:" + hex.EncodeToString(sum[:16]) + "}"
}

// ipTag is the hash tag of every key of one address.
func (l *LoginLimiter) ipTag(ip string) string {
	return l.prefix + "{loginip:" + addressKey(ip) + "}"
}

// addressKey names the address an attempt comes from. IPv6 clients are
// limited per /64, the block one subscriber usually gets: per /128 an
// attacker could use a fresh address for every guess. Text that is not an
// address is hashed (short keys), and a caller that gave no address is
// "-": callers that do not say who they are share one budget.
func addressKey(ip string) string {
	if ip == "" {
		return "-"
	}
	a, err := netip.ParseAddr(ip)
	if err != nil {
		sum := sha256.Sum256([]byte(ip))
		return "h" + hex.EncodeToString(sum[:16])
	}
	a = a.Unmap().WithZone("")
	if a.Is6() {
		return netip.PrefixFrom(a, 64).Masked().String()
	}
	return a.String()
}

// Attempt implements user.LoginLimiter. The address is checked first, so
// an attempt refused for the address is not counted against the account.
// The pair's attempt is counted before the password is checked (and
// forgotten on success), so a burst of parallel guesses cannot all slip
// through before the first failure is recorded.
func (l *LoginLimiter) Attempt(ctx context.Context, account, ip string) (time.Duration, error) {
	ipTag := l.ipTag(ip)
	wait, err := l.rdb.PTTL(ctx, ipTag+":wait").Result()
	if err != nil {
		return 0, fmt.Errorf("read address wait: %w", err)
	}
	if wait > 0 {
		return wait, nil
	}
	acct, addr := l.accountTag(account), addressKey(ip)
	return l.count(ctx, l.limits.AccountIP, acct+":tries:"+addr, acct+":wait:"+addr, acct+":fails")
}

// Failed implements user.LoginLimiter: the failure counts for the account
// (from anywhere) and for the address (over all accounts).
func (l *LoginLimiter) Failed(ctx context.Context, account, ip string) error {
	fails := l.accountTag(account) + ":fails"
	pipe := l.rdb.Pipeline()
	pipe.Incr(ctx, fails)
	pipe.PExpire(ctx, fails, l.limits.Window)
	if _, err := pipe.Exec(ctx); err != nil {
		return fmt.Errorf("count account failure: %w", err)
	}
	ipTag := l.ipTag(ip)
	_, err := l.count(ctx, l.limits.IP, ipTag+":fails", ipTag+":wait")
	return err
}

// Succeeded implements user.LoginLimiter: the address proved it knows the
// password, so its attempts for the account are forgotten (the owner is
// not slowed by their own earlier typos). The account-wide and
// per-address failure counters stay: a valid account of their own must not
// let an attacker reset their address's budget.
func (l *LoginLimiter) Succeeded(ctx context.Context, account, ip string) error {
	acct, addr := l.accountTag(account), addressKey(ip)
	if err := l.rdb.Del(ctx, acct+":tries:"+addr, acct+":wait:"+addr).Err(); err != nil {
		return fmt.Errorf("forget login attempts: %w", err)
	}
	return nil
}
