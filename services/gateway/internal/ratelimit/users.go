package ratelimit

import (
	"context"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/go-redis/redis_rate/v10"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/cobraspace/cobraspace/platform/failopen"
)

// Users is the chat send limit of each user across every gateway replica
// (sockets and REST share it): MessagesPerSecond in bursts of
// MessageBurst, counted in Redis (GCRA, go-redis/redis_rate, one key per
// user) so that N replicas do not allow N times the rate.
//
// A send is first checked against this replica's own bucket for the user,
// which costs no round trip: a flood beyond the limit is refused here and
// never reaches Redis. A send the local bucket allows then needs a token
// of the shared bucket. The replica takes them leaseSize at a time when
// the bucket has them (redis_rate's AllowAtMost, one EVALSHA round trip)
// and keeps the ones it does not use at once for leaseTTL, so a user
// sending steadily costs a Redis call every few sends instead of every
// send: that call was ~11% of a gateway's CPU and most of Redis's work in
// busy rooms (S1 profile). Leased tokens come out of the shared bucket
// before they are used, so all replicas together never allow more than
// it does; a token left unused lapses with its lease (a user who moves to
// another replica meanwhile finds up to leaseSize-1 fewer for leaseTTL).
//
// When Redis cannot answer, the limit degrades to the local bucket alone
// (per replica, as before Redis was used): chat never stops for a Redis
// outage. A warning is logged, cobra_gateway_chat_rate_limit_local_only_total
// counts the sends decided locally, and Redis is skipped for redisBackoff
// after each error so an outage adds no latency to sends.
type Users struct {
	local  *Keyed
	shared *redis_rate.Limiter // nil: this replica's bucket only
	prefix string
	log    *slog.Logger

	mu        sync.Mutex
	leases    map[int64]lease // shared tokens taken and not used yet, by user
	lastPrune time.Time

	skip      failopen.Skip // Redis, for redisBackoff after a failure
	localOnly prometheus.Counter
}

// lease is shared tokens a replica took for a user and may use until
// expires.
type lease struct {
	tokens  int
	expires time.Time
}

// leaseSize is how many shared tokens a replica takes at once (fewer when
// the shared bucket has fewer): at 5 sends a second, a user costs about
// two calls a second. leaseTTL bounds how long an unused token is kept
// from the other replicas, and how much later than the shared bucket
// allowed it it may be used. It is the time the shared bucket takes to
// refill a lease, so even a replica whose leases mostly lapse (a user who
// sends once in a while) draws tokens no faster than they come back.
const (
	leaseSize = 5
	leaseTTL  = leaseSize * time.Second / MessagesPerSecond
)

// Redis call bounds: a hung Redis delays a send by at most redisTimeout,
// once per redisBackoff.
const (
	redisTimeout = 200 * time.Millisecond
	redisBackoff = 2 * time.Second
)

var userLimit = redis_rate.Limit{Rate: MessagesPerSecond, Burst: MessageBurst, Period: time.Second}

// NewUsers returns the per-user send limit, shared through rdb under key
// prefix (REDIS_PREFIX); rdb nil limits per replica only (tests, tools).
func NewUsers(rdb redis.UniversalClient, prefix string, log *slog.Logger) *Users {
	u := &Users{
		local:  NewKeyed(MessagesPerSecond, MessageBurst),
		prefix: prefix,
		log:    log,
		leases: map[int64]lease{},
		skip:   failopen.Skip{Backoff: redisBackoff},
		localOnly: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "cobra_gateway_chat_rate_limit_local_only_total",
			Help: "Chat sends limited by this replica's bucket alone because Redis could not answer (the per-user limit is then per replica).",
		}),
	}
	if rdb != nil {
		u.shared = redis_rate.NewLimiter(rdb)
	}
	if u.log == nil {
		u.log = slog.Default()
	}
	return u
}

// Register adds the limiter's metric to reg.
func (u *Users) Register(reg prometheus.Registerer) error { return reg.Register(u.localOnly) }

// Allow takes one send of userID. When the user is over the limit it
// returns false and how long until the next send is allowed.
func (u *Users) Allow(ctx context.Context, userID int64) (ok bool, retryAfter time.Duration) {
	now := time.Now()
	if ok, wait := u.local.Allow(userID, now); !ok || u.shared == nil {
		return ok, wait
	}
	if u.useLease(userID, now) {
		return true, 0
	}
	if u.skip.Skipping(now) {
		u.localOnly.Inc()
		return true, 0
	}
	rctx, cancel := context.WithTimeout(ctx, redisTimeout)
	defer cancel()
	res, err := u.shared.AllowAtMost(rctx, u.prefix+"chat:send:"+strconv.FormatInt(userID, 10), userLimit, leaseSize)
	switch {
	case err != nil && ctx.Err() != nil:
		return true, 0 // the caller is gone; its send will not happen anyway
	case err != nil:
		u.skip.Failed(now)
		u.localOnly.Inc()
		u.log.Warn("chat rate limit: Redis unavailable; limiting per replica",
			"retry_in", redisBackoff.String(), "err", err)
		return true, 0
	case res.Allowed == 0:
		return false, res.RetryAfter
	}
	if res.Allowed > 1 {
		u.addLease(userID, res.Allowed-1, now)
	}
	return true, 0
}

// useLease takes one of userID's leased tokens, if it has one left.
func (u *Users) useLease(userID int64, now time.Time) bool {
	u.mu.Lock()
	defer u.mu.Unlock()
	l, ok := u.leases[userID]
	switch {
	case !ok:
		return false
	case now.After(l.expires):
		delete(u.leases, userID)
		return false
	case l.tokens == 1:
		delete(u.leases, userID)
	default:
		l.tokens--
		u.leases[userID] = l
	}
	return true
}

// addLease keeps n more shared tokens for userID (two sends that both
// found no lease may both have taken some), and forgets lapsed leases at
// most once per leaseTTL.
func (u *Users) addLease(userID int64, n int, now time.Time) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if now.Sub(u.lastPrune) >= leaseTTL {
		u.lastPrune = now
		for id, l := range u.leases {
			if now.After(l.expires) {
				delete(u.leases, id)
			}
		}
	}
	l := u.leases[userID]
	if now.After(l.expires) {
		l.tokens = 0
	}
	u.leases[userID] = lease{tokens: l.tokens + n, expires: now.Add(leaseTTL)}
}
