package redis

import (
	"context"
	"errors"
	"os"
	"strings"
	"sync"
	"sync/atomic"
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

func TestMain(m *testing.M) { os.Exit(testenv.RunWithRedisCluster(m)) }

// limiterT drives a LoginLimiter on a real Redis under a fresh prefix.
type limiterT struct {
	t   *testing.T
	l   *LoginLimiter
	rdb goredis.UniversalClient
}

// eachLimiter runs test in parallel subtests against a limiter on the
// single node and on the package's Redis Cluster.
func eachLimiter(t *testing.T, limits LoginLimits, test func(t *testing.T, lt *limiterT)) {
	t.Helper()
	for _, tg := range testenv.RedisTargets(t) {
		t.Run(tg.Name, func(t *testing.T) {
			t.Parallel()
			test(t, &limiterT{t: t, l: NewLoginLimiter(tg.Client, tg.Prefix, limits), rdb: tg.Client})
		})
	}
}

// keys returns the keys matching pattern, from every master of a cluster.
func (lt *limiterT) keys(pattern string) []string {
	lt.t.Helper()
	ctx := context.Background()
	c, ok := lt.rdb.(*goredis.ClusterClient)
	if !ok {
		keys, err := lt.rdb.Keys(ctx, pattern).Result()
		if err != nil {
			lt.t.Fatal(err)
		}
		return keys
	}
	var mu sync.Mutex
	var all []string
	err := c.ForEachMaster(ctx, func(ctx context.Context, n *goredis.Client) error {
		keys, err := n.Keys(ctx, pattern).Result()
		mu.Lock()
		defer mu.Unlock()
		all = append(all, keys...)
		return err
	})
	if err != nil {
		lt.t.Fatal(err)
	}
	return all
}

// attempt is one login attempt: the wait it got, and when it went ahead,
// its outcome recorded as the limiter's caller records it.
func (lt *limiterT) attempt(account, ip string, passwordRight bool) time.Duration {
	lt.t.Helper()
	ctx := context.Background()
	wait, err := lt.l.Attempt(ctx, account, ip)
	if err != nil {
		lt.t.Fatal(err)
	}
	if wait > 0 {
		return wait
	}
	if passwordRight {
		err = lt.l.Succeeded(ctx, account, ip)
	} else {
		err = lt.l.Failed(ctx, account, ip)
	}
	if err != nil {
		lt.t.Fatal(err)
	}
	return 0
}

// fail makes n failed attempts that must all go ahead.
func (lt *limiterT) fail(n int, account, ip string) {
	lt.t.Helper()
	for i := range n {
		if w := lt.attempt(account, ip, false); w > 0 {
			lt.t.Fatalf("%s from %s: attempt %d told to wait %v, want it free", account, ip, i+1, w)
		}
	}
}

// near reports whether a wait read back from Redis is the delay that was
// set (minus the few ms that passed since).
func near(got, want time.Duration) bool { return got > want-100*time.Millisecond && got <= want }

func TestLoginLimiterOtherAddressesUnaffected(t *testing.T) {
	t.Parallel()
	eachLimiter(t, LoginLimits{AccountIP: 3, Account: 100, IP: 100, Window: time.Minute, BaseDelay: 10 * time.Second, MaxDelay: time.Minute}, func(t *testing.T, lt *limiterT) {
		const victim, attacker, owner = "victim@example.com", "198.51.100.66", "203.0.113.5"
		lt.fail(3, victim, attacker)
		if w := lt.attempt(victim, attacker, true); !near(w, 10*time.Second) {
			t.Errorf("attacker after 3 failures: wait %v, want ~10s even with the right password", w)
		}
		if w := lt.attempt(victim, owner, true); w != 0 {
			t.Errorf("owner at another address: wait %v, want none", w)
		}
		if w := lt.attempt("someone@example.com", attacker, true); w != 0 {
			t.Errorf("attacker's address for another account: wait %v, want none (budget per account and address)", w)
		}
	})
}

func TestLoginLimiterDelaysGrow(t *testing.T) {
	t.Parallel()
	base := 100 * time.Millisecond
	eachLimiter(t, LoginLimits{AccountIP: 2, Account: 100, IP: 100, Window: time.Minute, BaseDelay: base, MaxDelay: 500 * time.Millisecond}, func(t *testing.T, lt *limiterT) {
		const acct, ip = "a@example.com", "192.0.2.1"
		lt.fail(2, acct, ip)
		for _, want := range []time.Duration{base, 2 * base, 4 * base, 5 * base, 5 * base} {
			w := lt.attempt(acct, ip, false)
			if !near(w, want) {
				t.Fatalf("wait %v, want ~%v (doubling from %v, at most 500ms)", w, want, base)
			}
			time.Sleep(w + 10*time.Millisecond)
			if w := lt.attempt(acct, ip, false); w != 0 {
				t.Fatalf("after waiting: told to wait %v more", w)
			}
		}
		// The right password at the end forgets the pair's attempts.
		time.Sleep(510 * time.Millisecond)
		if w := lt.attempt(acct, ip, true); w != 0 {
			t.Fatalf("right password after the wait: wait %v", w)
		}
		lt.fail(2, acct, ip)
	})
}

func TestLoginLimiterAccountUnderAttackFromManyAddresses(t *testing.T) {
	t.Parallel()
	eachLimiter(t, LoginLimits{AccountIP: 5, Account: 4, IP: 100, Window: time.Minute, BaseDelay: 10 * time.Second, MaxDelay: time.Minute}, func(t *testing.T, lt *limiterT) {
		const victim = "victim@example.com"
		for _, ip := range []string{"198.51.100.1", "198.51.100.2", "198.51.100.3", "198.51.100.4"} {
			lt.fail(1, victim, ip)
		}
		// Four failures reached the account's limit: a new address still gets
		// its attempt, but only one.
		lt.fail(1, victim, "198.51.100.5")
		if w := lt.attempt(victim, "198.51.100.5", false); !near(w, 10*time.Second) {
			t.Errorf("second attempt of a new address while the account is attacked: wait %v, want ~10s", w)
		}
		// The earlier addresses (one failure each, below the pair budget of 5)
		// get one more each too.
		lt.fail(1, victim, "198.51.100.1")
		if w := lt.attempt(victim, "198.51.100.1", false); w == 0 {
			t.Error("an address that failed twice while the account is attacked was not told to wait")
		}
		// The owner at an address without failures is never refused.
		for range 3 {
			if w := lt.attempt(victim, "203.0.113.77", true); w != 0 {
				t.Fatalf("owner at a clean address while the account is attacked: wait %v", w)
			}
		}
		// Other accounts are not affected.
		lt.fail(2, "other@example.com", "198.51.100.1")
	})
}

func TestLoginLimiterPerAddress(t *testing.T) {
	t.Parallel()
	eachLimiter(t, LoginLimits{AccountIP: 5, Account: 100, IP: 4, Window: time.Minute, BaseDelay: 10 * time.Second, MaxDelay: time.Minute}, func(t *testing.T, lt *limiterT) {
		for _, acct := range []string{"a@example.com", "b@example.com", "c@example.com", "d@example.com"} {
			lt.fail(1, acct, "192.0.2.9")
		}
		if w := lt.attempt("e@example.com", "192.0.2.9", true); !near(w, 10*time.Second) {
			t.Errorf("address with 4 failures over 4 accounts: wait %v, want ~10s for any account", w)
		}
		if w := lt.attempt("e@example.com", "192.0.2.10", true); w != 0 {
			t.Errorf("another address: wait %v, want none", w)
		}
		// IPv6 addresses count per /64; no address at all is one address too.
		for _, ip := range []string{"2001:db8:1:2::1", "2001:db8:1:2::2", "2001:db8:1:2:ffff::3", "2001:db8:1:2::4"} {
			lt.fail(1, "v6-"+ip+"@example.com", ip)
		}
		if w := lt.attempt("v6@example.com", "2001:db8:1:2:abcd::9", true); w == 0 {
			t.Error("a fifth address of the same IPv6 /64 was not told to wait")
		}
		if w := lt.attempt("v6@example.com", "2001:db8:1:3::1", true); w != 0 {
			t.Errorf("a neighbouring /64: wait %v, want none", w)
		}
		lt.fail(4, "anon1@example.com", "")
		if w := lt.attempt("anon2@example.com", "", true); w == 0 {
			t.Error("callers without an address were not limited as one address")
		}
	})
}

// A burst of parallel attempts for one account from one address cannot
// get more than the free attempts past the limiter: each is counted
// before its password is checked.
func TestLoginLimiterParallelBurst(t *testing.T) {
	t.Parallel()
	eachLimiter(t, LoginLimits{AccountIP: 5, Account: 1000, IP: 1000, Window: time.Minute, BaseDelay: 10 * time.Second, MaxDelay: time.Minute}, func(t *testing.T, lt *limiterT) {
		var allowed atomic.Int32
		var wg sync.WaitGroup
		for range 50 {
			wg.Go(func() {
				wait, err := lt.l.Attempt(context.Background(), "burst@example.com", "192.0.2.77")
				if err != nil {
					t.Error(err)
				}
				if wait == 0 {
					allowed.Add(1)
				}
			})
		}
		wg.Wait()
		if n := allowed.Load(); n != 5 {
			t.Errorf("%d of 50 parallel attempts went ahead, want the 5 free ones", n)
		}
	})
}

func TestLoginLimiterKeys(t *testing.T) {
	t.Parallel()
	eachLimiter(t, LoginLimits{AccountIP: 1, Account: 1, IP: 1, Window: time.Minute, BaseDelay: time.Second, MaxDelay: 30 * time.Second}, func(t *testing.T, lt *limiterT) {
		lt.fail(1, "a@example.com", "10.0.0.1")
		ctx := context.Background()
		keys := lt.keys(lt.l.prefix + "*")
		if len(keys) != 5 { // tries, wait, fails of the account; fails, wait of the address
			t.Errorf("keys %q, want 5", keys)
		}
		for _, k := range keys {
			if strings.Contains(k, "@") {
				t.Errorf("key %q contains an email", k)
			}
			// One hash tag per account or address: every script or
			// multi-key command stays in one Redis Cluster slot.
			if !strings.HasPrefix(k, lt.l.prefix+"{login:") && !strings.HasPrefix(k, lt.l.prefix+"{loginip:10.0.0.1}") {
				t.Errorf("key %q has no account or address hash tag", k)
			}
			ttl, err := lt.rdb.PTTL(ctx, k).Result()
			if err != nil || ttl <= 0 || ttl > time.Minute {
				t.Errorf("PTTL(%q) = %v, %v; want within the 1m window", k, ttl, err)
			}
		}
	})
}

func TestLoginLimiterWindowExpires(t *testing.T) {
	t.Parallel()
	eachLimiter(t, LoginLimits{AccountIP: 2, Account: 100, IP: 100, Window: time.Second, BaseDelay: 100 * time.Millisecond, MaxDelay: time.Second}, func(_ *testing.T, lt *limiterT) {
		lt.fail(2, "x@example.com", "192.0.2.3")
		time.Sleep(1100 * time.Millisecond)
		// Forgotten: two free attempts again.
		lt.fail(2, "x@example.com", "192.0.2.3")
	})
}

func TestLoginLimitsValidate(t *testing.T) {
	t.Parallel()
	if err := DefaultLoginLimits().Validate(); err != nil {
		t.Errorf("defaults: %v", err)
	}
	bad := map[string]func(*LoginLimits){
		"zero budget":        func(l *LoginLimits) { l.AccountIP = 0 },
		"no base delay":      func(l *LoginLimits) { l.BaseDelay = 0 },
		"max below base":     func(l *LoginLimits) { l.MaxDelay = l.BaseDelay / 2 },
		"max beyond window":  func(l *LoginLimits) { l.MaxDelay = 2 * l.Window },
		"negative per-IP":    func(l *LoginLimits) { l.IP = -1 },
		"zero account limit": func(l *LoginLimits) { l.Account = 0 },
	}
	for name, mod := range bad {
		l := DefaultLoginLimits()
		mod(&l)
		if l.Validate() == nil {
			t.Errorf("%s: Validate() = nil", name)
		}
	}
}

func TestLoginLimiterRedisDown(t *testing.T) {
	t.Parallel()
	rdb := goredis.NewClient(&goredis.Options{Addr: "127.0.0.1:1", DialTimeout: 200 * time.Millisecond, MaxRetries: -1})
	t.Cleanup(func() { rdb.Close() })
	l := NewLoginLimiter(rdb, "x.", DefaultLoginLimits())
	if _, err := l.Attempt(context.Background(), "a@example.com", "1.2.3.4"); err == nil {
		t.Error("Attempt with Redis down: nil error, want an error (the service then degrades)")
	}
}

// TestErrorsNameTheOperation: with Redis unreachable every call says what
// the limiter was doing, and the client's error stays visible to errors.Is.
func TestErrorsNameTheOperation(t *testing.T) {
	rdb := newClient(t)
	l := NewLoginLimiter(rdb, testenv.Prefix(t), LoginLimits{})
	rdb.Close()
	ctx := context.Background()
	_, attemptErr := l.Attempt(ctx, "a@example.com", "192.0.2.1")
	for op, err := range map[string]error{
		"read address wait":     attemptErr,
		"count account failure": l.Failed(ctx, "a@example.com", "192.0.2.1"),
		"forget login attempts": l.Succeeded(ctx, "a@example.com", "192.0.2.1"),
	} {
		if !errors.Is(err, goredis.ErrClosed) || !strings.HasPrefix(err.Error(), op+": ") {
			t.Errorf("%s: got %v, want goredis.ErrClosed prefixed by %q", op, err, op)
		}
	}
}
