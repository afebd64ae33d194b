package ratelimit

import (
	"context"
	"log/slog"
	"strconv"
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
// never reaches Redis. Only a send the local bucket allows asks Redis (one
// EVALSHA round trip).
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

	skip      failopen.Skip // Redis, for redisBackoff after a failure
	localOnly prometheus.Counter
}

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
	if u.skip.Skipping(now) {
		u.localOnly.Inc()
		return true, 0
	}
	rctx, cancel := context.WithTimeout(ctx, redisTimeout)
	defer cancel()
	res, err := u.shared.Allow(rctx, u.prefix+"chat:send:"+strconv.FormatInt(userID, 10), userLimit)
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
	return true, 0
}
