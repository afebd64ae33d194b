// Package grpcservice is the start-up and graceful stop every Cobra Space gRPC
// service (user, post, chat) shares, so that each service's run.go keeps
// only its own settings and wiring: the settings all of them read
// (LoadConfig), the JSON logger, tracing, the migrated PostgreSQL pool, the
// Redis client of the session denylist and the metrics registry (Start),
// and the gRPC server with its admin endpoints, served until the process's
// context ends and then drained (Serve).
package grpcservice

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	goredis "github.com/redis/go-redis/v9"

	"github.com/cobraspace/cobraspace/platform/accesstoken"
	"github.com/cobraspace/cobraspace/platform/adminhttp"
	"github.com/cobraspace/cobraspace/platform/envconfig"
	"github.com/cobraspace/cobraspace/platform/grpcserver"
	"github.com/cobraspace/cobraspace/platform/pgdb"
	"github.com/cobraspace/cobraspace/platform/redisconn"
	"github.com/cobraspace/cobraspace/platform/revocation"
	"github.com/cobraspace/cobraspace/platform/servicetrust"
	"github.com/cobraspace/cobraspace/platform/tracing"
)

// Config is the configuration every gRPC service reads (its README lists
// the variables); services embed it in their own.
type Config struct {
	Name                string // "user", "post" or "chat": logs, traces, service identity
	GRPCAddr, AdminAddr string
	DatabaseURL         string
	Redis               redisconn.Config
	RedisPrefix         string
	PublicKeyFile       string
	LogLevel            slog.Level
	DrainDelay          time.Duration
	Trust               servicetrust.Config
}

// LoadConfig reads the shared variables of the service called name, whose
// default addresses are defaults. Read the service's own variables with the
// same env first: the error then lists every missing or malformed value of
// both at once (envconfig).
func LoadConfig(env *envconfig.Reader, name string, defaults grpcserver.Addrs) (Config, error) {
	c := Config{
		Name:          name,
		GRPCAddr:      env.String("GRPC_ADDR", defaults.GRPC),
		AdminAddr:     env.String("ADMIN_ADDR", defaults.Admin),
		DatabaseURL:   env.Required("DATABASE_URL"),
		RedisPrefix:   env.String("REDIS_PREFIX", ""),
		PublicKeyFile: env.Required("JWT_PUBLIC_KEY_FILE"),
		DrainDelay:    env.Duration("DRAIN_DELAY", 0),
	}
	if err := c.LogLevel.UnmarshalText([]byte(env.String("LOG_LEVEL", "info"))); err != nil {
		return Config{}, fmt.Errorf("LOG_LEVEL: %w", err)
	}
	if err := env.Err(); err != nil {
		return Config{}, err
	}
	var err error
	if c.Redis, err = redisconn.Load(env); err != nil {
		return Config{}, err
	}
	if c.Trust, err = servicetrust.Load(env, name); err != nil {
		return Config{}, err
	}
	return c, nil
}

// Spec is what, besides its configuration, a service tells Start.
type Spec struct {
	Version, Commit string // the build, logged and exported as cobra_build_info
	Migrations      fs.FS  // the service's goose migrations
	// TuneRedis sets the Redis client's timeouts and retries: each service
	// fails fast in the way its README describes.
	TuneRedis func(*goredis.UniversalOptions)
	// StartAttrs are logged in the "starting" line after the build.
	StartAttrs []any
}

// Base is what every service builds on: Start makes it, Close releases it.
type Base struct {
	Logger   *slog.Logger
	Pool     *pgxpool.Pool
	Redis    goredis.UniversalClient
	Denylist *revocation.Denylist // revoked sessions, in Redis
	Metrics  *prometheus.Registry // with the pool's metrics and the build info

	cfg     Config
	stdout  io.Writer
	closers []func() // in the order they were opened
}

// Start logs "starting" to stdout, sets up tracing (before any gRPC client
// or server is built, so they trace), opens the database and migrates it,
// and creates the Redis client (dialled lazily: the service also starts
// while Redis is down) and the metrics registry. Close the Base at exit,
// also when run fails later.
func Start(ctx context.Context, cfg Config, spec Spec, getenv func(string) string, stdout io.Writer) (*Base, error) {
	b := &Base{
		Logger: slog.New(slog.NewJSONHandler(stdout, &slog.HandlerOptions{Level: cfg.LogLevel})),
		cfg:    cfg, stdout: stdout,
	}
	b.Logger.Info("starting", append([]any{"service", cfg.Name, "version", spec.Version, "commit", spec.Commit, "redis", cfg.Redis.Mode()}, spec.StartAttrs...)...)
	if err := b.open(ctx, spec, getenv); err != nil {
		b.Close()
		return nil, err
	}
	return b, nil
}

func (b *Base) open(ctx context.Context, spec Spec, getenv func(string) string) error {
	stopTracing, err := tracing.Setup(ctx, b.cfg.Name, getenv)
	if err != nil {
		return err
	}
	b.closers = append(b.closers, func() { tracing.Stop(ctx, stopTracing, b.Logger) })

	if b.Pool, err = pgdb.Open(ctx, b.cfg.DatabaseURL); err != nil {
		return err
	}
	b.closers = append(b.closers, b.Pool.Close)
	if err := pgdb.Migrate(ctx, b.Pool, spec.Migrations, b.Logger); err != nil {
		return err
	}

	if b.Redis, err = redisconn.New(b.cfg.Redis, spec.TuneRedis); err != nil {
		return err
	}
	b.closers = append(b.closers, func() { _ = b.Redis.Close() })
	b.Denylist = revocation.New(b.Redis, b.cfg.RedisPrefix)

	b.Metrics = adminhttp.NewRegistry()
	if err := pgdb.RegisterPoolMetrics(b.Metrics, b.Pool); err != nil {
		return err
	}
	return adminhttp.RegisterBuildInfo(b.Metrics, spec.Version, spec.Commit)
}

// NewServer returns the service's gRPC server: it verifies access tokens
// with verifier (except for the anonymous methods), identifies calling
// services and refuses revoked sessions (grpcserver). Register the
// service's implementation on it, then Serve it.
func (b *Base) NewServer(verifier *accesstoken.Verifier, anonymous []string) *grpcserver.Server {
	return grpcserver.New(grpcserver.Config{
		Logger: b.Logger, Metrics: b.Metrics, Verifier: verifier, AnonymousMethods: anonymous,
		Trust:   b.cfg.Trust,
		Revoked: revocation.NewChecker(b.Denylist, b.Logger).Revoked,
	})
}

// Serve listens on GRPC_ADDR and ADMIN_ADDR, writes the "listening" line
// the test harnesses read the ports from, and serves gs and the admin
// endpoints until ctx ends; then /readyz and health fail, and after
// DRAIN_DELAY in-flight calls finish (grpcserver.ListenAndServe). /readyz
// answers ready while ready returns nil (e.g. PingDatabase).
func (b *Base) Serve(ctx context.Context, gs *grpcserver.Server, ready func(context.Context) error) error {
	return gs.ListenAndServe(ctx, grpcserver.Addrs{GRPC: b.cfg.GRPCAddr, Admin: b.cfg.AdminAddr},
		b.cfg.DrainDelay, b.Metrics, ready, b.stdout)
}

// PingDatabase is the readiness of a service that is of no use without its
// database.
func (b *Base) PingDatabase(ctx context.Context) error { return b.Pool.Ping(ctx) }

// Close logs "stopped", closes Redis and the pool, and flushes the traces
// still buffered: the reverse order of Start.
func (b *Base) Close() {
	b.Logger.Info("stopped")
	for i := len(b.closers) - 1; i >= 0; i-- {
		b.closers[i]()
	}
}
